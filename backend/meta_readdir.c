/*
 * meta_readdir.c - directory listing with stable cookies.  "." and ".." are
 * cookies 1 and 2; an entry's cookie is its per-directory sequence number
 * + 2.  Entries are fetched in batches by the readdir script (with their
 * attributes for readdirplus) until the callback stops or the directory ends.
 */
#include <stdlib.h>
#include <string.h>

#include "meta_internal.h"

#define READDIR_BATCH 512

/* Parses "TYPE,INO,GEN,SEQ". */
static int parse_entry(const char *rec, struct gfs_dirent *d, uint64_t *seq)
{
	unsigned long long t, ino, gen, s;
	if (sscanf(rec, "%llu,%llu,%llu,%llu", &t, &ino, &gen, &s) != 4)
		return -EIO;
	d->type = (enum gfs_ftype)t;
	d->ino = ino;
	d->gen = (uint32_t)gen;
	*seq = s;
	return 0;
}

/* Emits "." (cookie 1) and ".." (cookie 2) as needed; 1 if the callback stopped. */
static int dot_entries(const struct gfs_attr *dir, uint64_t cookie, int plus, gfs_readdir_cb cb, void *arg,
		       struct gfs_attr *parent_attr, int have_parent)
{
	if (cookie < 1) {
		struct gfs_dirent d = {".", dir->ino, dir->gen, GFS_DIR, 1, plus ? dir : NULL};
		int rc = cb(arg, &d);
		if (rc)
			return rc;
	}
	if (cookie < 2) {
		struct gfs_dirent d = {"..",	dir->parent, have_parent ? parent_attr->gen : 0,
				       GFS_DIR, 2,	     plus && have_parent ? parent_attr : NULL};
		int rc = cb(arg, &d);
		if (rc)
			return rc;
	}
	return 0;
}

int meta_readdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, uint64_t cookie,
		 uint64_t cookie_verifier, int plus, gfs_readdir_cb cb, void *arg, int *eof, uint64_t *verifier_out,
		 struct gfs_attr *dir_attr)
{
	int first = 1, rc = 0, stopped = 0;
	*eof = 0;
	while (!stopped) {
		struct meta_args a;
		meta_args_init(&a);
		meta_args_u64(&a, dir.ino);
		meta_args_u64(&a, dir.gen);
		meta_args_u64(&a, cookie);
		meta_args_u64(&a, cookie_verifier);
		meta_args_str(&a, plus ? "1" : "0");
		meta_args_u64(&a, READDIR_BATCH);
		int err = 0;
		redisReply *r = meta_eval(m, MS_READDIR, cred, &err, a.argc, a.argv, a.argvlen);
		if (!r)
			return err;
		rc = meta_reply_status(r);
		if (rc < 0 || r->elements != 5 || r->element[3]->type != REDIS_REPLY_ARRAY ||
		    r->element[4]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return rc < 0 ? rc : -EIO;
		}
		struct gfs_attr dattr;
		if (meta_parse_attr(r->element[1], &dattr) < 0) {
			freeReplyObject(r);
			return -EIO;
		}
		if (first) {
			/* The verifier is the directory's own; cookies stay valid for its lifetime. */
			const redisReply *da = r->element[1];
			for (size_t i = 0; i + 1 < da->elements; i += 2)
				if (strcmp(da->element[i]->str, "cv") == 0)
					*verifier_out = meta_reply_u64(da->element[i + 1]);
			if (dir_attr)
				*dir_attr = dattr;
			if (cookie < 2) {
				struct gfs_attr pattr;
				int have_parent = 0;
				if (plus && meta_getattr(m, (struct gfs_ref){dattr.parent, 0}, &pattr) == 0)
					have_parent = 1;
				rc = dot_entries(&dattr, cookie, plus, cb, arg, &pattr, have_parent);
				if (rc) {
					freeReplyObject(r);
					return rc < 0 ? rc : 0;
				}
				cookie = 2;
			}
			first = 0;
		}
		const redisReply *ents = r->element[3], *attrs = r->element[4];
		size_t n = ents->elements / 2;
		for (size_t i = 0; i < n && !stopped; i++) {
			struct gfs_dirent d;
			uint64_t seq;
			if (parse_entry(ents->element[2 * i + 1]->str, &d, &seq) < 0) {
				freeReplyObject(r);
				return -EIO;
			}
			d.name = ents->element[2 * i]->str;
			d.cookie = seq + 2;
			struct gfs_attr ea;
			d.attr = NULL;
			if (plus && i < attrs->elements && meta_parse_attr(attrs->element[i], &ea) == 0)
				d.attr = &ea;
			rc = cb(arg, &d);
			if (rc < 0) {
				freeReplyObject(r);
				return rc;
			}
			if (rc == 1)
				stopped = 1;
			else
				cookie = d.cookie;
		}
		int batch_eof = (int)meta_reply_u64(r->element[2]);
		freeReplyObject(r);
		if (!stopped && batch_eof) {
			*eof = 1;
			break;
		}
		cookie_verifier = *verifier_out;
	}
	return 0;
}
