/*
 * meta_xattr.c - extended attributes: one hash per inode (name -> value),
 * read and changed by the xattr script, which checks permissions.
 */
#include <string.h>

#include "meta_internal.h"

static int check_xattr_name(const char *name)
{
	if (!name || !name[0])
		return -EINVAL;
	return strlen(name) > GFS_XATTR_NAME_MAX ? -ERANGE : 0;
}

static redisReply *xattr_op(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *op,
			    const char *name, const void *value, size_t len, int flags, int *rc)
{
	struct meta_args a;
	meta_args_init(&a);
	meta_args_str(&a, op);
	meta_args_u64(&a, ref.ino);
	meta_args_u64(&a, ref.gen);
	meta_args_str(&a, name ? name : "");
	meta_args_bin(&a, value ? value : "", value ? len : 0);
	meta_args_u64(&a, (uint64_t)flags);
	redisReply *r = meta_eval(m, MS_XATTR, cred, rc, a.argc, a.argv, a.argvlen);
	if (!r)
		return NULL;
	*rc = meta_reply_status(r);
	if (*rc < 0) {
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

int meta_getxattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *name, void *buf,
		  size_t bufsize, size_t *len)
{
	int rc = check_xattr_name(name);
	if (rc < 0)
		return rc;
	redisReply *r = xattr_op(m, cred, ref, "get", name, NULL, 0, 0, &rc);
	if (!r)
		return rc;
	const redisReply *v = r->elements > 1 ? r->element[1] : NULL;
	if (!v || v->type != REDIS_REPLY_STRING)
		rc = -EIO;
	else if (bufsize && v->len > bufsize)
		rc = -ERANGE;
	else {
		if (bufsize)
			memcpy(buf, v->str, v->len);
		*len = v->len;
	}
	freeReplyObject(r);
	return rc;
}

int meta_setxattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *name, const void *value,
		  size_t len, int flags)
{
	int rc = check_xattr_name(name);
	if (rc < 0)
		return rc;
	if (len > GFS_XATTR_SIZE_MAX)
		return -ERANGE;
	if ((flags & GFS_XATTR_CREATE) && (flags & GFS_XATTR_REPLACE))
		return -EINVAL;
	redisReply *r = xattr_op(m, cred, ref, "set", name, value, len, flags, &rc);
	if (r)
		freeReplyObject(r);
	return rc;
}

int meta_listxattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		   size_t *len)
{
	int rc = 0;
	redisReply *r = xattr_op(m, cred, ref, "list", NULL, NULL, 0, 0, &rc);
	if (!r)
		return rc;
	const redisReply *names = r->elements > 1 ? r->element[1] : NULL;
	if (!names || names->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return -EIO;
	}
	size_t need = 0;
	for (size_t i = 0; i < names->elements; i++)
		need += names->element[i]->len + 1;
	if (bufsize && need > bufsize) {
		rc = -ERANGE;
	} else {
		if (bufsize) {
			size_t off = 0;
			for (size_t i = 0; i < names->elements; i++) {
				memcpy(buf + off, names->element[i]->str, names->element[i]->len + 1);
				off += names->element[i]->len + 1;
			}
		}
		*len = need;
	}
	freeReplyObject(r);
	return rc;
}

int meta_removexattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *name)
{
	int rc = check_xattr_name(name);
	if (rc < 0)
		return rc;
	redisReply *r = xattr_op(m, cred, ref, "remove", name, NULL, 0, 0, &rc);
	if (r)
		freeReplyObject(r);
	return rc;
}
