/*
 * nfs4_space.c - the NFSv4.2 operations on a file's space (RFC 7862
 * sections 15.1, 15.4, 15.11): ALLOCATE, DEALLOCATE (punch a hole) and
 * SEEK (the next data or hole), through gfs_allocate, gfs_deallocate and
 * gfs_seek.  Minor version 1 has none of them (NFS4ERR_NOTSUPP).
 */
#include "nfs4_impl.h"

/* Checks shared by the three: minor version, export, a stateid open for
 * want on this file, and a regular file (the errors RFC 7862 lists). */
static nfsstat4 space_check(struct nfs4_compound *c, const stateid4 *sid, uint32_t want, bool write)
{
	if (c->minorversion < 2)
		return NFS4ERR_NOTSUPP;
	nfsstat4 st = nfs4_need_export(c, write);
	if (st == NFS4_OK)
		st = nfs4_check_stateid(c, sid, want);
	if (st != NFS4_OK)
		return st;
	struct gfs_attr a;
	int rc = gfs_getattr(c->call->vfs, c->cur.acc.ref, &a);
	if (rc < 0)
		return nfs4_status(rc);
	return nfs4_file_type_status(a.type);
}

/* offset + length must not wrap (RFC 7862 15.1.3, 15.4.3). */
static bool range_ok(offset4 offset, length4 length)
{
	return length <= UINT64_MAX - offset;
}

NFS4_HANDLER(nfs4_op_allocate)
{
	ALLOCATE4args *a = args;
	(void)res;
	nfsstat4 st = space_check(c, &a->aa_stateid, OPEN4_SHARE_ACCESS_WRITE, true);
	if (st != NFS4_OK)
		return st;
	if (!range_ok(a->aa_offset, a->aa_length))
		return NFS4ERR_INVAL;
	return nfs4_status(
	    gfs_allocate(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, a->aa_offset, a->aa_length, NULL));
}

NFS4_HANDLER(nfs4_op_deallocate)
{
	DEALLOCATE4args *a = args;
	(void)res;
	nfsstat4 st = space_check(c, &a->da_stateid, OPEN4_SHARE_ACCESS_WRITE, true);
	if (st != NFS4_OK)
		return st;
	if (!range_ok(a->da_offset, a->da_length))
		return NFS4ERR_INVAL;
	return nfs4_status(
	    gfs_deallocate(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, a->da_offset, a->da_length, NULL));
}

NFS4_HANDLER(nfs4_op_seek)
{
	SEEK4args *a = args;
	SEEK4res *r = res;
	nfsstat4 st = space_check(c, &a->sa_stateid, OPEN4_SHARE_ACCESS_READ, false);
	if (st != NFS4_OK)
		return st;
	if (a->sa_what != NFS4_CONTENT_DATA && a->sa_what != NFS4_CONTENT_HOLE)
		return NFS4ERR_UNION_NOTSUPP;
	uint64_t where = 0;
	int eof = 0;
	int rc = gfs_seek(c->call->vfs, c->cur.acc.ref, a->sa_offset, a->sa_what == NFS4_CONTENT_DATA, &where, &eof);
	if (rc < 0)
		return nfs4_status(rc);
	r->SEEK4res_u.resok4.sr_offset = where;
	r->SEEK4res_u.resok4.sr_eof = eof != 0;
	return NFS4_OK;
}
