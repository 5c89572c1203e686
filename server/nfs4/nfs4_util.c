/*
 * nfs4_util.c - small helpers the NFSv4 operations share: the errno ->
 * nfsstat4 table, component name checks, the handle of a filehandle,
 * change_info4 from wcc data, and stateid checking for I/O.
 */
#include <string.h>

#include "nfs4_impl.h"
#include "server.h"

static const struct {
	int err;
	nfsstat4 status;
} status_table[] = {
    {0, NFS4_OK},
    {-EPERM, NFS4ERR_PERM},
    {-ENOENT, NFS4ERR_NOENT},
    {-EIO, NFS4ERR_IO},
    {-ENXIO, NFS4ERR_NXIO},
    {-EACCES, NFS4ERR_ACCESS},
    {-EEXIST, NFS4ERR_EXIST},
    {-EXDEV, NFS4ERR_XDEV},
    {-ENOTDIR, NFS4ERR_NOTDIR},
    {-EISDIR, NFS4ERR_ISDIR},
    {-EINVAL, NFS4ERR_INVAL},
    {-EFBIG, NFS4ERR_FBIG},
    {-ENOSPC, NFS4ERR_NOSPC},
    {-EROFS, NFS4ERR_ROFS},
    {-EMLINK, NFS4ERR_MLINK},
    {-ENAMETOOLONG, NFS4ERR_NAMETOOLONG},
    {-ENOTEMPTY, NFS4ERR_NOTEMPTY},
    {-EDQUOT, NFS4ERR_DQUOT},
    {-ESTALE, NFS4ERR_STALE},
    {-EBADMSG, NFS4ERR_BADHANDLE},
    {-EBADCOOKIE, NFS4ERR_BAD_COOKIE},
    {-ENOTSUP, NFS4ERR_NOTSUPP},
    {-EAGAIN, NFS4ERR_DELAY},
    {-ENOMEM, NFS4ERR_DELAY},
    {-GFS_ENOTSYNC, NFS4ERR_NOT_SAME},
};

void nfs4_put_verifier(const struct nfs4_compound *c, char out[NFS4_VERIFIER_SIZE])
{
	uint64_t v = gfs_write_verifier(c->call->vfs);
	for (int i = 0; i < NFS4_VERIFIER_SIZE; i++)
		out[i] = (char)(v >> (56 - 8 * i));
}

nfsstat4 nfs4_file_type_status(enum gfs_ftype t)
{
	switch (t) {
	case GFS_REG:
		return NFS4_OK;
	case GFS_DIR:
		return NFS4ERR_ISDIR;
	case GFS_LNK:
		return NFS4ERR_SYMLINK;
	default:
		return NFS4ERR_WRONG_TYPE;
	}
}

nfsstat4 nfs4_status(int err)
{
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].err == err)
			return status_table[i].status;
	return NFS4ERR_IO;
}

nfsstat4 nfs4_name(const component4 *name, char out[GFS_NAME_MAX + 1])
{
	size_t len = name->utf8string_len;

	if (len == 0)
		return NFS4ERR_INVAL;
	if (len > GFS_NAME_MAX)
		return NFS4ERR_NAMETOOLONG;
	if (memchr(name->utf8string_val, '/', len) || memchr(name->utf8string_val, '\0', len))
		return NFS4ERR_BADNAME;
	memcpy(out, name->utf8string_val, len);
	out[len] = '\0';
	if (!strcmp(out, ".") || !strcmp(out, ".."))
		return NFS4ERR_BADNAME;
	return NFS4_OK;
}

nfsstat4 nfs4_need_export(const struct nfs4_compound *c, bool write)
{
	switch (c->cur.kind) {
	case NFS4_FH_NONE:
		return NFS4ERR_NOFILEHANDLE;
	case NFS4_FH_PSEUDO:
		return write ? NFS4ERR_ROFS : NFS4ERR_ACCESS;
	case NFS4_FH_EXPORT:
		break;
	}
	if (write && c->cur.acc.read_only)
		return NFS4ERR_ROFS;
	return NFS4_OK;
}

/* Pseudo-fs handles: [0] kind, [1..3] zero, [4..7] node id, [8..15] volume
 * id.  They name public directories only, so they carry no MAC; their
 * length (16) differs from the export handles' (fh.c). */
#define PSEUDO_FH_KIND 0xF4

void nfs4_fh_bytes(const struct nfs4_compound *c, const struct nfs4_fh *f, struct fh *out)
{
	const struct server *srv = c->call->server;

	if (f->kind == NFS4_FH_EXPORT) {
		fh_encode(srv->vol, f->acc.export->id, f->acc.ref, out);
		return;
	}
	uint32_t id = c->nfs4->pseudo[f->pseudo].id;
	uint64_t vol = srv->vol->volume_id;
	memset(out, 0, sizeof(*out));
	out->len = 16;
	out->data[0] = PSEUDO_FH_KIND;
	for (int i = 0; i < 4; i++)
		out->data[4 + i] = (uint8_t)(id >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		out->data[8 + i] = (uint8_t)(vol >> (56 - 8 * i));
}

void nfs4_cinfo(const struct gfs_wcc *w, change_info4 *out)
{
	out->atomic = w->has_pre && w->has_post;
	out->before = w->has_pre ? w->pre_change : 0;
	out->after = w->has_post ? w->post.change : 0;
}

bool nfs4_stateid_special(const stateid4 *sid)
{
	static const char zeros[NFS4_OTHER_SIZE],
	    ones[NFS4_OTHER_SIZE] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
	if (sid->seqid == 0 && memcmp(sid->other, zeros, sizeof(zeros)) == 0)
		return true;
	return sid->seqid == 0xffffffffu && memcmp(sid->other, ones, sizeof(ones)) == 0;
}

const stateid4 *nfs4_resolve_stateid(const struct nfs4_compound *c, const stateid4 *sid)
{
	static const char zeros[NFS4_OTHER_SIZE];
	if (sid->seqid == 1 && memcmp(sid->other, zeros, sizeof(zeros)) == 0 && c->have_cur_stateid)
		return &c->cur_stateid;
	return sid;
}

void nfs4_set_cur_stateid(struct nfs4_compound *c, const stateid4 *sid)
{
	c->cur_stateid = *sid;
	c->have_cur_stateid = true;
}

static bool is_current_stateid(const stateid4 *sid)
{
	static const char zeros[NFS4_OTHER_SIZE];
	return sid->seqid == 1 && memcmp(sid->other, zeros, sizeof(zeros)) == 0;
}

nfsstat4 nfs4_check_stateid(struct nfs4_compound *c, const stateid4 *sid, uint32_t want)
{
	if (is_current_stateid(sid)) {
		if (!c->have_cur_stateid)
			return NFS4ERR_BAD_STATEID;
		sid = &c->cur_stateid;
	}
	if (nfs4_stateid_special(sid))
		return NFS4_OK;
	return nfs4_open_check(c->nfs4->state, c->clientid, sid, c->cur.acc.ref.ino, want);
}
