/*
 * nfs3_attr.c - the conversions every NFSv3 handler needs: admitting a call
 * on a handle, vfs errno -> nfsstat3, gfs_attr -> fattr3 / wcc_data,
 * sattr3 -> gfs_setattr, handles for new objects, and wire name checks.
 */
#include <stdlib.h>
#include <string.h>

#include "fh.h"
#include "nfs3_impl.h"

nfsstat3 nfs3_admit(const struct rpc_call *call, const nfs_fh3 *fh, struct export_access *acc)
{
	int err = export_admit(call, fh->data.data_val, fh->data.data_len, acc);
	switch (err) {
	case 0:
		return NFS3_OK;
	case -EBADMSG:
		return NFS3ERR_BADHANDLE;
	case -ESTALE:
		return NFS3ERR_STALE;
	case -EACCES:
		/* As Linux nfsd: the export refuses this client, so the object is
		 * not accessible to it; the RPC itself is well formed. */
		return NFS3ERR_ACCES;
	default:
		return nfs3_status(err);
	}
}

nfsstat3 nfs3_admit_write(const struct rpc_call *call, const nfs_fh3 *fh, struct export_access *acc)
{
	nfsstat3 st = nfs3_admit(call, fh, acc);
	if (st == NFS3_OK && acc->read_only)
		return NFS3ERR_ROFS;
	return st;
}

static const struct {
	int err;
	nfsstat3 status;
} status_table[] = {
    {ENOENT, NFS3ERR_NOENT},
    {EEXIST, NFS3ERR_EXIST},
    {ENOTDIR, NFS3ERR_NOTDIR},
    {EISDIR, NFS3ERR_ISDIR},
    {ENOTEMPTY, NFS3ERR_NOTEMPTY},
    {EACCES, NFS3ERR_ACCES},
    {EPERM, NFS3ERR_PERM},
    {EINVAL, NFS3ERR_INVAL},
    {ENAMETOOLONG, NFS3ERR_NAMETOOLONG},
    {ESTALE, NFS3ERR_STALE},
    {ENOSPC, NFS3ERR_NOSPC},
    {EDQUOT, NFS3ERR_DQUOT},
    {EROFS, NFS3ERR_ROFS},
    {EXDEV, NFS3ERR_XDEV},
    {EFBIG, NFS3ERR_FBIG},
    {EMLINK, NFS3ERR_MLINK},
    {ENOTSUP, NFS3ERR_NOTSUPP},
    {EBADCOOKIE, NFS3ERR_BAD_COOKIE},
    {GFS_ENOTSYNC, NFS3ERR_NOT_SYNC},
    {EAGAIN, NFS3ERR_JUKEBOX},
    {EBADMSG, NFS3ERR_BADHANDLE},
    {ENXIO, NFS3ERR_NXIO},
    {ENODEV, NFS3ERR_NODEV},
    {ERANGE, NFS3ERR_INVAL},
    {EIO, NFS3ERR_IO},
};

nfsstat3 nfs3_status(int err)
{
	if (err == 0)
		return NFS3_OK;
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].err == err)
			return status_table[i].status;
	return NFS3ERR_IO;
}

nfsstat3 nfs3_name(const filename3 *name, char out[GFS_NAME_MAX + 1])
{
	out[0] = '\0';
	if (name->filename3_len == 0)
		return NFS3ERR_INVAL;
	if (name->filename3_len > GFS_NAME_MAX)
		return NFS3ERR_NAMETOOLONG;
	if (memchr(name->filename3_val, '\0', name->filename3_len) ||
	    memchr(name->filename3_val, '/', name->filename3_len))
		return NFS3ERR_INVAL;
	memcpy(out, name->filename3_val, name->filename3_len);
	out[name->filename3_len] = '\0';
	return NFS3_OK;
}

static const ftype3 ftype_table[] = {
    [GFS_REG] = NF3REG, [GFS_DIR] = NF3DIR,   [GFS_LNK] = NF3LNK,   [GFS_BLK] = NF3BLK,
    [GFS_CHR] = NF3CHR, [GFS_SOCK] = NF3SOCK, [GFS_FIFO] = NF3FIFO,
};

static nfstime3 nfs3_time(struct gfs_time t)
{
	/* nfstime3 seconds are unsigned 32-bit; clamp rather than wrap. */
	nfstime3 out = {0, t.nsec};
	if (t.sec < 0)
		out.nseconds = 0;
	else if (t.sec > (int64_t)UINT32_MAX)
		out.seconds = UINT32_MAX;
	else
		out.seconds = (uint32_t)t.sec;
	return out;
}

void nfs3_fattr(const struct gfs_vfs *vfs, const struct gfs_attr *a, fattr3 *out)
{
	memset(out, 0, sizeof(*out));
	out->type = (a->type >= GFS_REG && a->type <= GFS_FIFO) ? ftype_table[a->type] : NF3REG;
	out->mode = a->mode & 07777;
	out->nlink = a->nlink;
	out->uid = a->uid;
	out->gid = a->gid;
	out->size = a->size;
	out->used = a->used;
	out->rdev.specdata1 = a->rdev_major;
	out->rdev.specdata2 = a->rdev_minor;
	out->fsid = gfs_vfs_info(vfs)->volume_id;
	out->fileid = a->ino;
	out->atime = nfs3_time(a->atime);
	out->mtime = nfs3_time(a->mtime);
	out->ctime = nfs3_time(a->ctime);
}

void nfs3_post_op(const struct gfs_vfs *vfs, const struct gfs_attr *a, post_op_attr *out)
{
	out->attributes_follow = a != NULL;
	if (a)
		nfs3_fattr(vfs, a, &out->post_op_attr_u.attributes);
}

void nfs3_post_op_ref(struct gfs_vfs *vfs, struct gfs_ref ref, post_op_attr *out)
{
	struct gfs_attr a;
	nfs3_post_op(vfs, gfs_getattr(vfs, ref, &a) == 0 ? &a : NULL, out);
}

void nfs3_wcc(const struct gfs_vfs *vfs, const struct gfs_wcc *w, wcc_data *out)
{
	out->before.attributes_follow = w->has_pre != 0;
	if (w->has_pre) {
		wcc_attr *b = &out->before.pre_op_attr_u.attributes;
		b->size = w->pre_size;
		b->mtime = nfs3_time(w->pre_mtime);
		b->ctime = nfs3_time(w->pre_ctime);
	}
	nfs3_post_op(vfs, w->has_post ? &w->post : NULL, &out->after);
}

void nfs3_wcc_ref(struct gfs_vfs *vfs, struct gfs_ref ref, wcc_data *out)
{
	out->before.attributes_follow = FALSE;
	nfs3_post_op_ref(vfs, ref, &out->after);
}

int nfs3_make_fh(const struct rpc_call *call, const struct export_access *acc, struct gfs_ref ref, nfs_fh3 *out)
{
	struct fh fh;
	fh_encode(gfs_vfs_info(call->vfs), acc->export->id, ref, &fh);
	out->data.data_val = malloc(fh.len);
	if (!out->data.data_val) {
		out->data.data_len = 0;
		return -ENOMEM;
	}
	memcpy(out->data.data_val, fh.data, fh.len);
	out->data.data_len = fh.len;
	return 0;
}

void nfs3_post_op_fh(const struct rpc_call *call, const struct export_access *acc, const struct gfs_attr *a,
		     post_op_fh3 *out)
{
	struct gfs_ref ref = {a->ino, a->gen};
	/* A handle is optional in these replies: on allocation failure the
	 * client looks the name up instead. */
	out->handle_follows = nfs3_make_fh(call, acc, ref, &out->post_op_fh3_u.handle) == 0;
}

/* One time of a sattr3: unchanged, the server's clock, or the client's. */
static nfsstat3 sattr_time(time_how how, const nfstime3 *t, uint32_t now_flag, uint32_t set_flag, uint32_t *valid,
			   struct gfs_time *out)
{
	switch (how) {
	case DONT_CHANGE:
		return NFS3_OK;
	case SET_TO_SERVER_TIME:
		*valid |= now_flag;
		return NFS3_OK;
	case SET_TO_CLIENT_TIME:
		*valid |= set_flag;
		out->sec = t->seconds;
		out->nsec = t->nseconds;
		return NFS3_OK;
	default:
		return NFS3ERR_INVAL;
	}
}

nfsstat3 nfs3_sattr(const sattr3 *in, struct gfs_setattr *out)
{
	memset(out, 0, sizeof(*out));
	if (in->mode.set_it) {
		out->valid |= GFS_SET_MODE;
		out->mode = in->mode.set_mode3_u.mode & 07777;
	}
	if (in->uid.set_it) {
		out->valid |= GFS_SET_UID;
		out->uid = in->uid.set_uid3_u.uid;
	}
	if (in->gid.set_it) {
		out->valid |= GFS_SET_GID;
		out->gid = in->gid.set_gid3_u.gid;
	}
	if (in->size.set_it) {
		out->valid |= GFS_SET_SIZE;
		out->size = in->size.set_size3_u.size;
	}
	nfsstat3 st = sattr_time(in->atime.set_it, &in->atime.set_atime_u.atime, GFS_SET_ATIME_NOW, GFS_SET_ATIME,
				 &out->valid, &out->atime);
	if (st == NFS3_OK)
		st = sattr_time(in->mtime.set_it, &in->mtime.set_mtime_u.mtime, GFS_SET_MTIME_NOW, GFS_SET_MTIME,
				&out->valid, &out->mtime);
	if (st != NFS3_OK)
		return st;
	if ((out->atime.nsec >= 1000000000u) || (out->mtime.nsec >= 1000000000u))
		return NFS3ERR_INVAL;
	return NFS3_OK;
}
