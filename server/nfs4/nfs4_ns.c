/*
 * nfs4_ns.c - the NFSv4 namespace operations that are not OPEN: ACCESS,
 * CREATE (directories, symlinks, devices, sockets, fifos), REMOVE, RENAME,
 * LINK and READLINK.  Each is one vfs call on the current (and saved)
 * filehandle; the pseudo filesystem is read-only.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"

#define ALL_ACCESS (ACCESS4_READ | ACCESS4_LOOKUP | ACCESS4_MODIFY | ACCESS4_EXTEND | ACCESS4_DELETE | ACCESS4_EXECUTE)

NFS4_HANDLER(nfs4_op_access)
{
	ACCESS4args *a = args;
	ACCESS4res *r = res;
	uint32_t want = a->access & ALL_ACCESS, granted = 0;

	if (a->access & ~ALL_ACCESS)
		return NFS4ERR_INVAL;
	if (c->cur.kind == NFS4_FH_PSEUDO) {
		granted = want & (ACCESS4_READ | ACCESS4_LOOKUP | ACCESS4_EXECUTE);
	} else {
		struct gfs_attr attr;
		int rc = gfs_access(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, want, &granted, &attr);
		if (rc < 0)
			return nfs4_status(rc);
		if (c->cur.acc.read_only)
			granted &= ~(uint32_t)(ACCESS4_MODIFY | ACCESS4_EXTEND | ACCESS4_DELETE);
	}
	r->ACCESS4res_u.resok4.supported = want;
	r->ACCESS4res_u.resok4.access = granted & want;
	return NFS4_OK;
}

/* The object CREATE makes, by type. */
static int create_object(struct nfs4_compound *c, const createtype4 *t, const char *name, uint32_t mode,
			 struct gfs_attr *attr, struct gfs_wcc *wcc)
{
	struct gfs_vfs *vfs = c->call->vfs;
	const struct gfs_cred *cred = &c->cur.acc.cred;
	struct gfs_ref dir = c->cur.acc.ref;

	switch (t->type) {
	case NF4DIR:
		return gfs_mkdir(vfs, cred, dir, name, mode, attr, wcc);
	case NF4LNK: {
		size_t len = t->createtype4_u.linkdata.linktext4_len;
		if (len == 0 || len > GFS_PATH_MAX || memchr(t->createtype4_u.linkdata.linktext4_val, '\0', len))
			return -EINVAL;
		char *target = malloc(len + 1);
		if (!target)
			return -ENOMEM;
		memcpy(target, t->createtype4_u.linkdata.linktext4_val, len);
		target[len] = '\0';
		int rc = gfs_symlink(vfs, cred, dir, name, target, mode, attr, wcc);
		free(target);
		return rc;
	}
	case NF4BLK:
	case NF4CHR:
		return gfs_mknod(vfs, cred, dir, name, t->type == NF4BLK ? GFS_BLK : GFS_CHR, mode,
				 t->createtype4_u.devdata.specdata1, t->createtype4_u.devdata.specdata2, attr, wcc);
	case NF4SOCK:
		return gfs_mknod(vfs, cred, dir, name, GFS_SOCK, mode, 0, 0, attr, wcc);
	case NF4FIFO:
		return gfs_mknod(vfs, cred, dir, name, GFS_FIFO, mode, 0, 0, attr, wcc);
	default:
		return -EBADF; /* NFS4ERR_BADTYPE below */
	}
}

NFS4_HANDLER(nfs4_op_create)
{
	CREATE4args *a = args;
	CREATE4res *r = res;
	char name[GFS_NAME_MAX + 1];
	struct gfs_setattr sa;
	struct gfs_attr attr;
	struct gfs_wcc wcc;
	bitmap4 set = {0, NULL};
	nfsstat4 st = nfs4_need_export(c, true);

	if (st == NFS4_OK)
		st = nfs4_name(&a->objname, name);
	if (st == NFS4_OK)
		st = nfs4_decode_sattr(&a->createattrs, &sa, &set);
	if (st != NFS4_OK) {
		nfs4_bitmap_free(&set);
		return st;
	}
	uint32_t mode = (sa.valid & GFS_SET_MODE) ? sa.mode : 0777;
	int rc = create_object(c, &a->objtype, name, mode, &attr, &wcc);
	if (rc < 0) {
		nfs4_bitmap_free(&set);
		return rc == -EBADF ? NFS4ERR_BADTYPE : nfs4_status(rc);
	}
	struct gfs_ref obj = {attr.ino, attr.gen};
	sa.valid &= ~(uint32_t)(GFS_SET_MODE | GFS_SET_SIZE);
	if (sa.valid) {
		struct gfs_wcc owcc;
		/* The object exists now; a failure here is reported, and the
		 * client sees the object with its default attributes. */
		rc = gfs_setattr(c->call->vfs, &c->cur.acc.cred, obj, &sa, NULL, &owcc);
		if (rc < 0) {
			nfs4_bitmap_free(&set);
			return nfs4_status(rc);
		}
	}
	nfs4_cinfo(&wcc, &r->CREATE4res_u.resok4.cinfo);
	r->CREATE4res_u.resok4.attrset = set;
	c->cur.acc.ref = obj;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_remove)
{
	REMOVE4args *a = args;
	REMOVE4res *r = res;
	char name[GFS_NAME_MAX + 1];
	struct gfs_wcc wcc;
	nfsstat4 st = nfs4_need_export(c, true);

	if (st == NFS4_OK)
		st = nfs4_name(&a->target, name);
	if (st != NFS4_OK)
		return st;
	int rc = gfs_remove(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, name, &wcc);
	if (rc == -EISDIR)
		rc = gfs_rmdir(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, name, &wcc);
	if (rc < 0)
		return nfs4_status(rc);
	nfs4_cinfo(&wcc, &r->REMOVE4res_u.resok4.cinfo);
	return NFS4_OK;
}

/* RENAME and LINK use the saved filehandle too; both must be in the
 * current one's export. */
static nfsstat4 need_saved(const struct nfs4_compound *c)
{
	if (c->saved.kind == NFS4_FH_NONE)
		return NFS4ERR_NOFILEHANDLE;
	if (c->saved.kind == NFS4_FH_PSEUDO)
		return NFS4ERR_ROFS;
	if (c->saved.acc.export != c->cur.acc.export)
		return NFS4ERR_XDEV;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_rename)
{
	RENAME4args *a = args;
	RENAME4res *r = res;
	char from[GFS_NAME_MAX + 1], to[GFS_NAME_MAX + 1];
	struct gfs_wcc src, dst;
	nfsstat4 st = nfs4_need_export(c, true);

	if (st == NFS4_OK)
		st = need_saved(c);
	if (st == NFS4_OK)
		st = nfs4_name(&a->oldname, from);
	if (st == NFS4_OK)
		st = nfs4_name(&a->newname, to);
	if (st != NFS4_OK)
		return st;
	int rc = gfs_rename(c->call->vfs, &c->cur.acc.cred, c->saved.acc.ref, from, c->cur.acc.ref, to, &src, &dst);
	if (rc < 0)
		return nfs4_status(rc);
	nfs4_cinfo(&src, &r->RENAME4res_u.resok4.source_cinfo);
	nfs4_cinfo(&dst, &r->RENAME4res_u.resok4.target_cinfo);
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_link)
{
	LINK4args *a = args;
	LINK4res *r = res;
	char name[GFS_NAME_MAX + 1];
	struct gfs_attr attr;
	struct gfs_wcc wcc;
	nfsstat4 st = nfs4_need_export(c, true);

	if (st == NFS4_OK)
		st = need_saved(c);
	if (st == NFS4_OK)
		st = nfs4_name(&a->newname, name);
	if (st != NFS4_OK)
		return st;
	int rc = gfs_link(c->call->vfs, &c->cur.acc.cred, c->saved.acc.ref, c->cur.acc.ref, name, &attr, &wcc);
	if (rc < 0)
		return nfs4_status(rc);
	nfs4_cinfo(&wcc, &r->LINK4res_u.resok4.cinfo);
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_readlink)
{
	READLINK4res *r = res;
	size_t len = 0;
	char *buf;
	nfsstat4 st = nfs4_need_export(c, false);
	(void)args;

	if (st != NFS4_OK)
		return st == NFS4ERR_ACCESS ? NFS4ERR_INVAL : st;
	buf = malloc(GFS_PATH_MAX);
	if (!buf)
		return NFS4ERR_DELAY;
	int rc = gfs_readlink(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, buf, GFS_PATH_MAX, &len);
	if (rc < 0) {
		free(buf);
		return nfs4_status(rc);
	}
	r->READLINK4res_u.resok4.link.linktext4_val = buf;
	r->READLINK4res_u.resok4.link.linktext4_len = (u_int)len;
	return NFS4_OK;
}
