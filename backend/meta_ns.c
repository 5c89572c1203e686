/*
 * meta_ns.c - namespace operations: lookup, getattr, setattr, access,
 * readlink, create/mkdir/symlink/mknod, link, remove/rmdir, rename.  Each
 * mutation is one Lua script (backend/lua/) that checks permissions and
 * changes everything atomically; this file only packs arguments and unpacks
 * replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int meta_lookup(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, struct gfs_attr *out)
{
	if (!name || !name[0] || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > GFS_NAME_MAX)
		return -ENAMETOOLONG;
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, dir);
	meta_args_str(&a, name);
	redisReply *r = NULL;
	int rc = run(m, MS_LOOKUP, cred, &a, &r);
	if (rc < 0)
		return rc;
	rc = meta_parse_attr_row(elem(r, 1), out);
	freeReplyObject(r);
	return rc < 0 ? -EIO : 0;
}

int meta_getattr(struct meta *m, struct gfs_ref ref, struct gfs_attr *out)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "i%llu", (unsigned long long)ref.ino);
	int err = 0;
	redisReply *r = meta_command(m, &err, "HGETALL %s", key);
	if (!r)
		return err;
	struct gfs_attr attr;
	int rc = meta_parse_attr(r, &attr);
	freeReplyObject(r);
	if (rc == -ESTALE || (rc == 0 && ref.gen && attr.gen != ref.gen))
		return -ESTALE;
	if (rc < 0)
		return rc;
	*out = attr;
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
	redisReply *r = NULL;
	int rc = run(m, MS_SETATTR, cred, &a, &r);
	if (rc < 0)
		return rc;
	meta_parse_wcc(elem(r, 1), elem(r, 2), wcc);
	freeReplyObject(r);
	return 0;
}

int meta_access(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, uint32_t want, uint32_t *granted,
		struct gfs_attr *attr_out)
{
	struct meta_args a;
	meta_args_init(&a);
	args_ref(&a, ref);
	meta_args_u64(&a, want);
	redisReply *r = NULL;
	int rc = run(m, MS_ACCESS, cred, &a, &r);
	if (rc < 0)
		return rc;
	*granted = (uint32_t)meta_reply_u64(elem(r, 1));
	if (attr_out)
		rc = meta_parse_attr(elem(r, 2), attr_out);
	freeReplyObject(r);
	return rc < 0 ? -EIO : 0;
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
	rc = run(m, MS_MKNODE, cred, &a, &r);
	if (rc < 0)
		return rc;
	const redisReply *found = elem(r, 1);
	struct gfs_wcc wcc;
	if (found && found->type == REDIS_REPLY_ARRAY) { /* an existing file (unchecked or exclusive retry) */
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
	return rc < 0 ? -EIO : 0;
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
	rc = run(m, MS_LINK, cred, &a, &r);
	if (rc < 0)
		return rc;
	if (target_out)
		rc = meta_parse_attr(elem(r, 1), target_out);
	meta_parse_wcc(elem(r, 2), elem(r, 3), dir_wcc);
	freeReplyObject(r);
	return rc < 0 ? -EIO : 0;
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
	redisReply *r = NULL;
	rc = run(m, MS_UNLINK, cred, &a, &r);
	if (rc < 0)
		return rc;
	if (dir_wcc) /* a malformed wcc leaves none, which NFS allows */
		meta_parse_wcc_str(elem(r, 1), dir_wcc);
	freeReplyObject(r);
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
	rc = run(m, MS_RENAME, cred, &a, &r);
	if (rc < 0)
		return rc;
	meta_parse_wcc(elem(r, 1), elem(r, 2), src_wcc);
	meta_parse_wcc(elem(r, 3), elem(r, 4), dst_wcc);
	freeReplyObject(r);
	return 0;
}
