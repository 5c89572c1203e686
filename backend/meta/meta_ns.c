/*
 * meta_ns.c - namespace operations: lookup, getattr, setattr, access,
 * readlink, create/mkdir/symlink/mknod, link, remove/rmdir, rename.  Each
 * mutation is one Lua script (backend/meta/lua/) that checks permissions and
 * changes everything atomically; this file only packs arguments and unpacks
 * replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_cache.h"
#include "meta_perm.h"
#include "meta_internal.h"

/* Runs a script and returns its status; *out keeps the reply on success. */
static int run(struct meta *m, enum meta_script_id id, const struct gfs_cred *cred, struct meta_args *a,
	       redisReply **out)
{
	int err = 0;
	redisReply *r = meta_eval(m, id, cred, &err, a->argc, a->argv, a->argvlen);
	if (!r)
		return err;
	int st = meta_reply_status(r);
	if (st < 0) {
		freeReplyObject(r);
		return st;
	}
	*out = r;
	return 0;
}

static void args_ref(struct meta_args *a, struct gfs_ref ref)
{
	meta_args_u64(a, ref.ino);
	meta_args_u64(a, ref.gen);
}

static const redisReply *elem(const redisReply *r, size_t i)
{
	return i < r->elements ? r->element[i] : NULL;
}

/* Caches the directory attributes a mutation returned (token: taken for
 * the directory before the mutation was sent). */
static void put_wcc(struct meta *m, const struct gfs_wcc *wcc, uint64_t token)
{
	if (wcc && wcc->has_post)
		meta_cache_put(m, &wcc->post, token);
}

/* LOOKUP from the caches: the directory's attributes (for the search
 * permission and "..") and the entry.  1 = not answered: the caller runs
 * the lookup script. */
static int lookup_cached(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
			 struct gfs_attr *out)
{
	struct gfs_attr d;
	if (!meta_cache_usable(m) || meta_cache_peek(m, dir.ino, &d) < 0 || (dir.gen && d.gen != dir.gen))
		return 1;
	if (d.type != GFS_DIR)
		return -ENOTDIR;
	if (!meta_permit(cred, &d, META_MAY_EXEC))
		return -EACCES;
	if (strcmp(name, ".") == 0) {
		*out = d;
		return 0;
	}
	if (strcmp(name, "..") == 0)
		return meta_cache_peek(m, d.parent, out) == 0 ? 0 : 1;
	return meta_dentry_get(m, dir.ino, name, out) == 0 ? 0 : 1;
}

int meta_lookup(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, struct gfs_attr *out)
{
	if (!name || !name[0] || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > GFS_NAME_MAX)
		return -ENAMETOOLONG;
	int rc = lookup_cached(m, cred, dir, name, out);
	if (rc <= 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, dir);
	meta_args_str(&a, name);
	redisReply *r = NULL;
	uint64_t dir_token = meta_cache_token(m, dir.ino);
	rc = run(m, MS_LOOKUP, cred, &a, &r);
	if (rc < 0)
		return rc;
	rc = meta_parse_attr_row(elem(r, 1), out);
	freeReplyObject(r);
	if (rc < 0)
		return -EIO;
	/* The child's number was not known before the script: its attributes
	 * go in as a candidate, to be re-read; the entry is exact (the script
	 * read the name and the change counter together). */
	meta_cache_put(m, out, out->ino == dir.ino ? dir_token : 0);
	if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
		meta_dentry_put(m, dir.ino, name, out);
	return 0;
}

int meta_getattr(struct meta *m, struct gfs_ref ref, struct gfs_attr *out)
{
	struct gfs_attr attr;
	if (meta_cache_get(m, ref.ino, &attr) == 0) {
		if (ref.gen && attr.gen != ref.gen)
			return -ESTALE;
		*out = attr;
		return 0;
	}
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "i%llu", (unsigned long long)ref.ino);
	uint64_t token = meta_cache_token(m, ref.ino);
	int err = 0;
	redisReply *r = meta_command(m, &err, "HGETALL %s", key);
	if (!r)
		return err;
	int rc = meta_parse_attr(r, &attr);
	freeReplyObject(r);
	if (rc == 0)
		meta_cache_put(m, &attr, token);
	if (rc == -ESTALE || (rc == 0 && ref.gen && attr.gen != ref.gen))
		return -ESTALE;
	if (rc < 0)
		return rc;
	*out = attr;
	return 0;
}

/* Runs a script that changes one file's attributes and answers {0, pre,
 * attrs[, n]}: wcc from the reply (when wcc is NULL, still parsed for the
 * cache), the new attributes cached under the token taken before the
 * change, and *n (optional) from the fourth element. */
static int run_file_change(struct meta *m, enum meta_script_id id, const struct gfs_cred *cred, struct meta_args *a,
			   gfs_ino_t ino, struct gfs_wcc *wcc, uint64_t *n)
{
	redisReply *r = NULL;
	uint64_t token = meta_cache_token(m, ino);
	int rc = run(m, id, cred, a, &r);
	if (rc < 0)
		return rc;
	struct gfs_wcc local;
	if (!wcc)
		wcc = &local;
	meta_parse_wcc(elem(r, 1), elem(r, 2), wcc);
	if (n)
		*n = r->elements > 3 ? meta_reply_u64(elem(r, 3)) : 0;
	freeReplyObject(r);
	if (wcc->has_post)
		meta_cache_put(m, &wcc->post, token);
	return 0;
}

int meta_setattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const struct gfs_setattr *sa,
		 const struct gfs_time *guard_ctime, struct gfs_wcc *wcc)
{
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, ref);
	meta_args_u64(&a, sa->valid);
	meta_args_u64(&a, sa->mode);
	meta_args_u64(&a, sa->uid);
	meta_args_u64(&a, sa->gid);
	meta_args_u64(&a, sa->size);
	meta_args_i64(&a, sa->atime.sec);
	meta_args_u64(&a, sa->atime.nsec);
	meta_args_i64(&a, sa->mtime.sec);
	meta_args_u64(&a, sa->mtime.nsec);
	meta_args_str(&a, guard_ctime ? "1" : "0");
	meta_args_i64(&a, guard_ctime ? guard_ctime->sec : 0);
	meta_args_u64(&a, guard_ctime ? guard_ctime->nsec : 0);
	return run_file_change(m, MS_SETATTR, cred, &a, ref.ino, wcc, NULL);
}

int meta_punch(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, uint64_t length,
	       struct gfs_wcc *wcc)
{
	/* No file reaches past GFS_MAX_FILE_SIZE: clamping there keeps the
	 * script's arithmetic exact (Lua numbers are doubles). */
	if (offset > GFS_MAX_FILE_SIZE)
		offset = GFS_MAX_FILE_SIZE;
	if (length > GFS_MAX_FILE_SIZE - offset)
		length = GFS_MAX_FILE_SIZE - offset;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, ref);
	meta_args_u64(&a, offset);
	meta_args_u64(&a, length);
	return run_file_change(m, MS_PUNCH, cred, &a, ref.ino, wcc, NULL);
}

int meta_clone(struct meta *m, const struct gfs_cred *cred, struct gfs_ref src, struct gfs_ref dst, uint64_t src_off,
	       uint64_t dst_off, uint64_t count, struct gfs_wcc *wcc, uint64_t *copied)
{
	/* Beyond GFS_MAX_FILE_SIZE nothing exists to copy and nothing may be
	 * written: the script's doubles stay exact below it. */
	if (src_off > GFS_MAX_FILE_SIZE)
		src_off = GFS_MAX_FILE_SIZE;
	if (count > GFS_MAX_FILE_SIZE)
		count = GFS_MAX_FILE_SIZE;
	if (dst_off > GFS_MAX_FILE_SIZE)
		return -EFBIG;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, src);
	args_ref(&a, dst);
	meta_args_u64(&a, src_off);
	meta_args_u64(&a, dst_off);
	meta_args_u64(&a, count);
	return run_file_change(m, MS_CLONE, cred, &a, dst.ino, wcc, copied);
}

int meta_access(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, uint32_t want, uint32_t *granted,
		struct gfs_attr *attr_out)
{
	struct gfs_attr cached;
	if (meta_cache_get(m, ref.ino, &cached) == 0) {
		if (ref.gen && cached.gen != ref.gen)
			return -ESTALE;
		*granted = meta_access_granted(cred, &cached, want);
		if (attr_out)
			*attr_out = cached;
		return 0;
	}
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, ref);
	meta_args_u64(&a, want);
	redisReply *r = NULL;
	uint64_t token = meta_cache_token(m, ref.ino);
	int rc = run(m, MS_ACCESS, cred, &a, &r);
	if (rc < 0)
		return rc;
	*granted = (uint32_t)meta_reply_u64(elem(r, 1));
	struct gfs_attr attr;
	rc = meta_parse_attr(elem(r, 2), &attr);
	freeReplyObject(r);
	if (rc < 0)
		return -EIO;
	meta_cache_put(m, &attr, token);
	if (attr_out)
		*attr_out = attr;
	return 0;
}

int meta_readlink(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		  size_t *len)
{
	(void)cred; /* reading a symlink needs no permission on it */
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "i%llu", (unsigned long long)ref.ino);
	int err = 0;
	redisReply *r = meta_command(m, &err, "HMGET %s t gen l", key);
	if (!r)
		return err;
	int rc = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING)
		rc = -ESTALE;
	else if (ref.gen && meta_reply_u64(r->element[1]) != ref.gen)
		rc = -ESTALE;
	else if (meta_reply_u64(r->element[0]) != GFS_LNK || r->element[2]->type != REDIS_REPLY_STRING)
		rc = -EINVAL;
	else if (r->element[2]->len > bufsize)
		rc = -ERANGE;
	else {
		memcpy(buf, r->element[2]->str, r->element[2]->len);
		*len = r->element[2]->len;
	}
	freeReplyObject(r);
	return rc;
}

/* A new inode's attributes: the script returns only what it decided
 * ({0, ino, mode, gid, dir wcc}); the rest is what was sent, and its times
 * are the directory's new mtime (post fields 0 and 1 of the wcc). */
static int new_inode_attr(const redisReply *r, const struct gfs_wcc *dir, enum gfs_ftype type,
			  const struct gfs_cred *cred, uint32_t gen, uint64_t dir_ino, uint32_t rdev_major,
			  uint32_t rdev_minor, const char *target, struct gfs_attr *out)
{
	if (r->elements != 5)
		return -EIO;
	memset(out, 0, sizeof(*out));
	out->ino = meta_reply_u64(elem(r, 1));
	out->gen = gen;
	out->type = type;
	out->mode = (uint32_t)meta_reply_u64(elem(r, 2)) & 07777;
	out->uid = cred ? cred->uid : 0;
	out->gid = (uint32_t)meta_reply_u64(elem(r, 3));
	out->nlink = type == GFS_DIR ? 2 : 1;
	out->size = type == GFS_DIR ? 4096 : type == GFS_LNK ? strlen(target) : 0;
	if (type == GFS_BLK || type == GFS_CHR) {
		out->rdev_major = rdev_major;
		out->rdev_minor = rdev_minor;
	}
	out->mtime = dir->post.mtime;
	out->atime = out->ctime = out->mtime;
	out->change = 1;
	out->parent = type == GFS_DIR ? dir_ino : 0;
	meta_attr_set_used(out);
	return out->ino ? 0 : -EIO;
}

/* create, mkdir, symlink and mknod share one script. */
static int mknode(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
		  enum gfs_ftype type, uint32_t mode, enum gfs_create_how how, const uint8_t verifier[8],
		  uint32_t rdev_major, uint32_t rdev_minor, const char *target, struct gfs_attr *out,
		  struct gfs_wcc *dir_wcc)
{
	int rc = meta_check_name(name);
	if (rc < 0)
		return rc;
	char verf[17] = "";
	if (how == GFS_CREATE_EXCLUSIVE && verifier)
		for (int i = 0; i < 8; i++)
			snprintf(verf + 2 * i, 3, "%02x", verifier[i]);
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, dir);
	meta_args_str(&a, name);
	meta_args_u64(&a, type);
	meta_args_u64(&a, mode & 07777);
	meta_args_u64(&a, how);
	meta_args_str(&a, verf);
	uint32_t gen = meta_random_u32_nonzero();
	meta_args_u64(&a, gen);
	/* The rest only as far as the type uses them: every argument costs the
	 * script time. */
	if (type == GFS_DIR || type == GFS_BLK || type == GFS_CHR || type == GFS_LNK)
		meta_args_u64(&a,
			      type == GFS_DIR ? meta_random_u64() >> 12 : 0); /* cookie verifier: exact in a double */
	if (type == GFS_BLK || type == GFS_CHR || type == GFS_LNK) {
		meta_args_u64(&a, rdev_major);
		meta_args_u64(&a, rdev_minor);
	}
	if (type == GFS_LNK)
		meta_args_str(&a, target);
	redisReply *r = NULL;
	uint64_t dir_token = meta_cache_token(m, dir.ino);
	struct meta_cache_snapshot snap;
	meta_cache_snapshot(m, &snap);
	rc = run(m, MS_MKNODE, cred, &a, &r);
	if (rc < 0)
		return rc;
	const redisReply *found = elem(r, 1);
	struct gfs_wcc wcc;
	int existed = found && found->type == REDIS_REPLY_ARRAY;
	if (existed) { /* an existing file (unchecked or exclusive retry) */
		rc = meta_parse_attr(found, out);
		meta_parse_wcc_str(elem(r, 2), &wcc); /* malformed: no wcc, which NFS allows */
	} else if (meta_parse_wcc_str(elem(r, 4), &wcc) == 1) {
		rc = new_inode_attr(r, &wcc, type, cred, gen, dir.ino, rdev_major, rdev_minor, target, out);
	} else {
		rc = -EIO;
	}
	if (dir_wcc)
		*dir_wcc = wcc;
	freeReplyObject(r);
	if (rc < 0)
		return -EIO;
	put_wcc(m, &wcc, dir_token);
	if (existed)
		meta_cache_put(m, out, 0); /* its number was not known before: a candidate, re-read */
	else
		meta_cache_put_new(m, out, &snap);
	meta_dentry_put(m, dir.ino, name, out);
	return 0;
}

int meta_create(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
		enum gfs_create_how how, const uint8_t verifier[8], struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	if (how == GFS_CREATE_EXCLUSIVE && !verifier)
		return -EINVAL;
	return mknode(m, cred, dir, name, GFS_REG, mode, how, verifier, 0, 0, NULL, out, dir_wcc);
}

int meta_mkdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
	       struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	return mknode(m, cred, dir, name, GFS_DIR, mode, GFS_CREATE_GUARDED, NULL, 0, 0, NULL, out, dir_wcc);
}

int meta_symlink(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, const char *target,
		 uint32_t mode, struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	if (!target || !target[0])
		return -EINVAL;
	if (strlen(target) >= GFS_PATH_MAX)
		return -ENAMETOOLONG;
	return mknode(m, cred, dir, name, GFS_LNK, mode ? mode : 0777, GFS_CREATE_GUARDED, NULL, 0, 0, target, out,
		      dir_wcc);
}

int meta_mknod(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, enum gfs_ftype type,
	       uint32_t mode, uint32_t rdev_major, uint32_t rdev_minor, struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	if (type == GFS_DIR || type == GFS_LNK || type < GFS_REG || type > GFS_FIFO)
		return -EINVAL;
	return mknode(m, cred, dir, name, type, mode, GFS_CREATE_GUARDED, NULL, rdev_major, rdev_minor, NULL, out,
		      dir_wcc);
}

int meta_link(struct meta *m, const struct gfs_cred *cred, struct gfs_ref target, struct gfs_ref dir, const char *name,
	      struct gfs_attr *target_out, struct gfs_wcc *dir_wcc)
{
	int rc = meta_check_name(name);
	if (rc < 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, target);
	args_ref(&a, dir);
	meta_args_str(&a, name);
	redisReply *r = NULL;
	uint64_t target_token = meta_cache_token(m, target.ino), dir_token = meta_cache_token(m, dir.ino);
	rc = run(m, MS_LINK, cred, &a, &r);
	if (rc < 0)
		return rc;
	struct gfs_attr target_attr;
	rc = meta_parse_attr(elem(r, 1), &target_attr);
	meta_parse_wcc(elem(r, 2), elem(r, 3), dir_wcc);
	freeReplyObject(r);
	if (rc < 0)
		return -EIO;
	meta_cache_put(m, &target_attr, target_token);
	put_wcc(m, dir_wcc, dir_token);
	meta_dentry_put(m, dir.ino, name, &target_attr);
	if (target_out)
		*target_out = target_attr;
	return 0;
}

static int unlink_entry(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, int rmdir,
			struct gfs_wcc *dir_wcc)
{
	int rc = meta_check_name(name);
	if (rc < 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, dir);
	meta_args_str(&a, name);
	meta_args_str(&a, rmdir ? "1" : "0");
	/* The inode the name held, if this gateway knows it: once the name is
	 * gone it need not be re-read (it may be deleted). */
	gfs_ino_t victim = meta_dentry_peek_ino(m, dir.ino, name);
	redisReply *r = NULL;
	uint64_t dir_token = meta_cache_token(m, dir.ino);
	rc = run(m, MS_UNLINK, cred, &a, &r);
	if (rc < 0)
		return rc;
	if (dir_wcc) /* a malformed wcc leaves none, which NFS allows */
		meta_parse_wcc_str(elem(r, 1), dir_wcc);
	freeReplyObject(r);
	put_wcc(m, dir_wcc, dir_token);
	meta_dentry_drop(m, dir.ino, name);
	if (victim)
		meta_cache_forget(m, victim);
	return 0;
}

int meta_remove(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
		struct gfs_wcc *dir_wcc)
{
	return unlink_entry(m, cred, dir, name, 0, dir_wcc);
}

int meta_rmdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	       struct gfs_wcc *dir_wcc)
{
	return unlink_entry(m, cred, dir, name, 1, dir_wcc);
}

int meta_rename(struct meta *m, const struct gfs_cred *cred, struct gfs_ref src_dir, const char *src_name,
		struct gfs_ref dst_dir, const char *dst_name, struct gfs_wcc *src_wcc, struct gfs_wcc *dst_wcc)
{
	int rc = meta_check_name(src_name);
	if (rc == 0)
		rc = meta_check_name(dst_name);
	if (rc < 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, src_dir);
	meta_args_str(&a, src_name);
	args_ref(&a, dst_dir);
	meta_args_str(&a, dst_name);
	redisReply *r = NULL;
	uint64_t src_token = meta_cache_token(m, src_dir.ino), dst_token = meta_cache_token(m, dst_dir.ino);
	rc = run(m, MS_RENAME, cred, &a, &r);
	if (rc < 0)
		return rc;
	meta_parse_wcc(elem(r, 1), elem(r, 2), src_wcc);
	meta_parse_wcc(elem(r, 3), elem(r, 4), dst_wcc);
	freeReplyObject(r);
	put_wcc(m, src_wcc, src_token);
	put_wcc(m, dst_wcc, dst_token);
	meta_dentry_drop(m, src_dir.ino, src_name);
	meta_dentry_drop(m, dst_dir.ino, dst_name);
	return 0;
}
