/*
 * nfs4_clone.c - NFSv4.2 CLONE and COPY (RFC 7862 sections 15.13, 15.2)
 * within one export: SAVED_FH is the source, CURRENT_FH the destination.
 * Both are gfs_clone, which shares the source's slices with the
 * destination in one metadata script: no byte is read or stored again, so
 * COPY is always synchronous and complete (no callback id, no offload
 * state), and `cp --reflink` of any size returns at once.
 */
#include "nfs4_impl.h"

/* The checks CLONE and COPY share: minor version 2, two regular files of
 * one writable export, a stateid allowing READ of the source and one
 * allowing WRITE of the destination.  *src_size: the source's size. */
static nfsstat4 pair_check(struct nfs4_compound *c, const stateid4 *src_sid, const stateid4 *dst_sid,
			   uint64_t *src_size)
{
	if (c->minorversion < 2)
		return NFS4ERR_NOTSUPP;
	if (c->saved.kind == NFS4_FH_NONE)
		return NFS4ERR_NOFILEHANDLE;
	nfsstat4 st = nfs4_need_export(c, true);
	if (st != NFS4_OK)
		return st;
	if (c->saved.kind != NFS4_FH_EXPORT || c->saved.acc.export != c->cur.acc.export)
		return NFS4ERR_XDEV;
	/* The source's stateid names the saved file: check it there. */
	struct nfs4_fh cur = c->cur;
	c->cur = c->saved;
	st = nfs4_check_stateid(c, src_sid, OPEN4_SHARE_ACCESS_READ);
	c->cur = cur;
	if (st == NFS4_OK)
		st = nfs4_check_stateid(c, dst_sid, OPEN4_SHARE_ACCESS_WRITE);
	if (st != NFS4_OK)
		return st;
	const struct gfs_ref refs[2] = {c->saved.acc.ref, c->cur.acc.ref};
	for (int i = 0; i < 2; i++) {
		struct gfs_attr a;
		int rc = gfs_getattr(c->call->vfs, refs[i], &a);
		if (rc < 0)
			return nfs4_status(rc);
		if (a.type != GFS_REG)
			return nfs4_file_type_status(a.type);
		if (i == 0)
			*src_size = a.size;
	}
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_clone)
{
	CLONE4args *a = args;
	(void)res;
	uint64_t size = 0;
	nfsstat4 st = pair_check(c, &a->cl_src_stateid, &a->cl_dst_stateid, &size);
	if (st != NFS4_OK)
		return st;
	/* A range reaching past the source's end is INVAL (15.13.3): CLONE has
	 * no count in its result to report a shorter clone with. */
	if (a->cl_src_offset > size || (a->cl_count && a->cl_count > size - a->cl_src_offset) ||
	    a->cl_count > UINT64_MAX - a->cl_dst_offset)
		return NFS4ERR_INVAL;
	return nfs4_status(gfs_clone(c->call->vfs, &c->cur.acc.cred, c->saved.acc.ref, c->cur.acc.ref, a->cl_src_offset,
				     a->cl_dst_offset, a->cl_count, NULL, NULL));
}

NFS4_HANDLER(nfs4_op_copy)
{
	COPY4args *a = args;
	COPY4res *r = res;
	if (a->ca_source_server.ca_source_server_len > 0)
		return NFS4ERR_NOTSUPP; /* inter-server copy */
	uint64_t size = 0;
	nfsstat4 st = pair_check(c, &a->ca_src_stateid, &a->ca_dst_stateid, &size);
	if (st != NFS4_OK)
		return st;
	if (a->ca_src_offset > size || a->ca_count > UINT64_MAX - a->ca_dst_offset)
		return NFS4ERR_INVAL;
	uint64_t copied = 0;
	int rc = gfs_clone(c->call->vfs, &c->cur.acc.cred, c->saved.acc.ref, c->cur.acc.ref, a->ca_src_offset,
			   a->ca_dst_offset, a->ca_count, &copied, NULL);
	if (rc < 0)
		return nfs4_status(rc);
	COPY4resok *ok = &r->COPY4res_u.cr_resok4;
	ok->cr_response.wr_callback_id.wr_callback_id_len = 0;
	ok->cr_response.wr_count = copied;	   /* to the source's end: the client sees a short copy */
	ok->cr_response.wr_committed = FILE_SYNC4; /* one Redis script: as stable as a COMMIT */
	nfs4_put_verifier(c, ok->cr_response.wr_writeverf);
	ok->cr_requirements.cr_consecutive = true;
	ok->cr_requirements.cr_synchronous = true;
	return NFS4_OK;
}
