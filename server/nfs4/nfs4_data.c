/*
 * nfs4_data.c - opening and file data (RFC 8881 sections 18.16-18.32):
 * OPEN (CLAIM_NULL and CLAIM_FH, and CLAIM_PREVIOUS during the grace
 * period; UNCHECKED4, GUARDED4, EXCLUSIVE4 and EXCLUSIVE4_1), CLOSE,
 * OPEN_DOWNGRADE, READ, WRITE and COMMIT.  Opens and stateids live behind
 * nfs4_state.h, share reservations also in Redis (nfs4_share.c); the data
 * path is the vfs's, as for NFSv3.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"

/* Creates or opens name in the current directory; *created tells which. */
static nfsstat4 open_create(struct nfs4_compound *c, const OPEN4args *a, const char *name, struct gfs_attr *attr,
			    struct gfs_wcc *wcc, bool *created, bitmap4 *set)
{
	const createhow4 *how = &a->openhow.openflag4_u.how;
	const fattr4 *attrs = NULL;
	const uint8_t *verf = NULL;
	enum gfs_create_how mode_how = GFS_CREATE_UNCHECKED;
	struct gfs_setattr sa = {0};
	static const fattr4 none = {{0, NULL}, {0, NULL}};

	switch (how->mode) {
	case UNCHECKED4:
	case GUARDED4:
		attrs = &how->createhow4_u.createattrs;
		mode_how = how->mode == GUARDED4 ? GFS_CREATE_GUARDED : GFS_CREATE_UNCHECKED;
		break;
	case EXCLUSIVE4:
		attrs = &none;
		verf = (const uint8_t *)how->createhow4_u.createverf;
		mode_how = GFS_CREATE_EXCLUSIVE;
		break;
	case EXCLUSIVE4_1:
		attrs = &how->createhow4_u.ch_createboth.cva_attrs;
		verf = (const uint8_t *)how->createhow4_u.ch_createboth.cva_verf;
		mode_how = GFS_CREATE_EXCLUSIVE;
		break;
	default:
		return NFS4ERR_INVAL;
	}
	nfsstat4 st = nfs4_decode_sattr(attrs, &sa, set);
	if (st != NFS4_OK)
		return st;
	uint32_t mode = (sa.valid & GFS_SET_MODE) ? sa.mode : 0644;
	int rc = gfs_create(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, name, mode, mode_how, verf, attr, wcc);
	if (rc < 0)
		return nfs4_status(rc);
	*created = wcc->has_pre && wcc->has_post && wcc->pre_change != wcc->post.change;
	sa.valid &= ~(uint32_t)GFS_SET_MODE;
	if (!*created)
		sa.valid &= GFS_SET_SIZE; /* an existing file: only O_TRUNC applies */
	if (sa.valid) {
		struct gfs_wcc fw;
		rc =
		    gfs_setattr(c->call->vfs, &c->cur.acc.cred, (struct gfs_ref){attr->ino, attr->gen}, &sa, NULL, &fw);
		if (rc < 0)
			return nfs4_status(rc);
		attr->size = fw.has_post ? fw.post.size : attr->size;
	}
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_open)
{
	OPEN4args *a = args;
	OPEN4res *r = res;
	OPEN4resok *ok = &r->OPEN4res_u.resok4;
	uint32_t access = a->share_access & OPEN4_SHARE_ACCESS_BOTH, deny = a->share_deny;
	bool create = a->openhow.opentype == OPEN4_CREATE, created = false;
	struct gfs_attr attr;
	struct gfs_wcc wcc = {0};
	bitmap4 set = {0, NULL};
	nfsstat4 st;

	if (access == 0 || deny > OPEN4_SHARE_DENY_BOTH)
		return NFS4ERR_INVAL;
	st = nfs4_need_export(c, create || (access & OPEN4_SHARE_ACCESS_WRITE));
	if (st != NFS4_OK)
		return st == NFS4ERR_ACCESS ? NFS4ERR_ISDIR : st;
	switch (a->claim.claim) {
	case CLAIM_NULL: {
		char name[GFS_NAME_MAX + 1];
		if ((st = nfs4_name(&a->claim.open_claim4_u.file, name)) != NFS4_OK)
			return st;
		if (create)
			st = open_create(c, a, name, &attr, &wcc, &created, &set);
		else {
			int rc = gfs_lookup(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, name, &attr);
			st = nfs4_status(rc);
			if (rc == 0 && gfs_getattr(c->call->vfs, c->cur.acc.ref, &wcc.post) == 0) {
				wcc.has_pre = wcc.has_post = 1;
				wcc.pre_change = wcc.post.change;
			}
		}
		break;
	}
	case CLAIM_FH:
		if (create)
			return NFS4ERR_INVAL;
		st = nfs4_status(gfs_getattr(c->call->vfs, c->cur.acc.ref, &attr));
		break;
	case CLAIM_PREVIOUS:
		/* The current fh is the file.  Opens are per gateway; locks and
		 * share reservations are in Redis under the client's key (its own
		 * reservation is found there and kept), so a reclaim during the
		 * first lease after the start is an ordinary open of the file
		 * (docs/architecture/nfs4.md). */
		if (create)
			return NFS4ERR_INVAL;
		if (!nfs4_client_may_reclaim(c->nfs4->state, c->clientid))
			return NFS4ERR_NO_GRACE;
		st = nfs4_status(gfs_getattr(c->call->vfs, c->cur.acc.ref, &attr));
		break;
	default:
		return NFS4ERR_NOTSUPP; /* no delegations are granted */
	}
	if (st == NFS4_OK)
		st = nfs4_file_type_status(attr.type);
	struct gfs_ref file = {attr.ino, attr.gen};
	if (st == NFS4_OK && !created) {
		uint32_t want = ((access & OPEN4_SHARE_ACCESS_READ) ? GFS_ACCESS_READ : 0) |
				((access & OPEN4_SHARE_ACCESS_WRITE) ? GFS_ACCESS_MODIFY : 0);
		uint32_t granted = 0;
		struct gfs_attr ignored;
		int rc = gfs_access(c->call->vfs, &c->cur.acc.cred, file, want, &granted, &ignored);
		st = rc < 0 ? nfs4_status(rc) : (granted & want) != want ? NFS4ERR_ACCESS : NFS4_OK;
	}
	const void *owner = a->owner.owner.owner_val;
	size_t owner_len = a->owner.owner.owner_len;
	if (st == NFS4_OK && (st = nfs4_share_acquire(c, owner, owner_len, attr.ino, access, deny)) == NFS4_OK) {
		st = nfs4_open_acquire(c->nfs4->state, c->clientid, owner, owner_len, attr.ino, access, deny,
				       &ok->stateid);
		if (st != NFS4_OK)
			nfs4_share_undo(c, owner, owner_len, attr.ino);
	}
	nfs4_release_expired(c); /* clients the share check found expired */
	if (st != NFS4_OK) {
		nfs4_bitmap_free(&set);
		memset(&ok->stateid, 0, sizeof(ok->stateid));
		return st;
	}
	nfs4_cinfo(&wcc, &ok->cinfo);
	ok->rflags = OPEN4_RESULT_LOCKTYPE_POSIX;
	/* Only when a callback can reach the client now: a Linux client told
	 * MAY_NOTIFY_LOCK waits for CB_NOTIFY_LOCK (up to 30 s) instead of
	 * polling a blocked lock. */
	if (c->in_session && nfs4_cb_usable(c->nfs4, c->sessionid))
		ok->rflags |= OPEN4_RESULT_MAY_NOTIFY_LOCK;
	ok->attrset = set;
	ok->delegation.delegation_type = OPEN_DELEGATE_NONE;
	c->cur.acc.ref = file;
	nfs4_set_cur_stateid(c, &ok->stateid);
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_close)
{
	CLOSE4args *a = args;
	CLOSE4res *r = res;
	nfsstat4 st = nfs4_need_export(c, false);

	if (st == NFS4_OK)
		st = nfs4_locks_held_by_open(c, nfs4_resolve_stateid(c, &a->open_stateid));
	if (st != NFS4_OK)
		return st;
	struct nfs4_open_owner who;
	st = nfs4_open_close(c->nfs4->state, c->clientid, nfs4_resolve_stateid(c, &a->open_stateid), c->cur.acc.ref.ino,
			     &r->CLOSE4res_u.open_stateid, &who);
	if (st == NFS4_OK) {
		nfs4_share_narrow(c, c->cur.acc.ref.ino, &who);
		nfs4_set_cur_stateid(c, &r->CLOSE4res_u.open_stateid);
	}
	return st;
}

NFS4_HANDLER(nfs4_op_open_downgrade)
{
	OPEN_DOWNGRADE4args *a = args;
	OPEN_DOWNGRADE4res *r = res;
	nfsstat4 st = nfs4_need_export(c, false);

	if (st != NFS4_OK)
		return st;
	struct nfs4_open_owner who;
	st = nfs4_open_downgrade(c->nfs4->state, c->clientid, nfs4_resolve_stateid(c, &a->open_stateid),
				 c->cur.acc.ref.ino, a->share_access & OPEN4_SHARE_ACCESS_BOTH, a->share_deny,
				 &r->OPEN_DOWNGRADE4res_u.resok4.open_stateid, &who);
	if (st == NFS4_OK) {
		nfs4_share_narrow(c, c->cur.acc.ref.ino, &who);
		nfs4_set_cur_stateid(c, &r->OPEN_DOWNGRADE4res_u.resok4.open_stateid);
	}
	return st;
}

NFS4_HANDLER(nfs4_op_read)
{
	READ4args *a = args;
	struct nfs4_read_res *rr = res;
	size_t count = a->count < NFS4_MAX_IO ? a->count : NFS4_MAX_IO, nread = 0;
	struct gfs_attr attr;
	int eof = 0;
	nfsstat4 st = nfs4_need_export(c, false);

	if (st == NFS4_OK)
		st = nfs4_check_stateid(c, &a->stateid, OPEN4_SHARE_ACCESS_READ);
	if (st != NFS4_OK)
		return st;
	/* The bytes stay the vfs's (a cached block, or its own buffer when
	 * the range spans blocks): the reply either copies them (a reply the
	 * slot keeps) or sends them by reference (nfs4_compound.c). */
	int rc = gfs_read_lend(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, a->offset, count, &rr->lent, &nread,
			       &eof, &attr);
	if (rc < 0)
		return nfs4_status(rc);
	rr->vfs = c->call->vfs;
	rr->res.READ4res_u.resok4.eof = eof != 0;
	rr->res.READ4res_u.resok4.data.data_val = (char *)rr->lent.data;
	rr->res.READ4res_u.resok4.data.data_len = (u_int)nread;
	return NFS4_OK;
}

bool nfs4_xdr_read_res(XDR *xdrs, void *obj)
{
	struct nfs4_read_res *rr = obj;

	if (xdrs->x_op != XDR_FREE)
		return xdr_READ4res(xdrs, &rr->res);
	/* The bytes are the vfs's, not ours to free(); nothing else in a
	 * READ4res is allocated. */
	if (rr->vfs)
		gfs_read_release(rr->vfs, &rr->lent);
	rr->vfs = NULL;
	rr->res.READ4res_u.resok4.data.data_val = NULL;
	return true;
}

NFS4_HANDLER(nfs4_op_write)
{
	WRITE4args *a = args;
	WRITE4res *r = res;
	enum gfs_stable committed = GFS_UNSTABLE;
	struct gfs_wcc wcc;
	nfsstat4 st = nfs4_need_export(c, true);

	if (st == NFS4_OK)
		st = nfs4_check_stateid(c, &a->stateid, OPEN4_SHARE_ACCESS_WRITE);
	if (st != NFS4_OK)
		return st;
	if (a->stable > FILE_SYNC4)
		return NFS4ERR_INVAL;
	int rc = gfs_write(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, a->offset, a->data.data_len,
			   a->data.data_val, (enum gfs_stable)a->stable, &committed, &wcc);
	if (rc < 0)
		return nfs4_status(rc);
	r->WRITE4res_u.resok4.count = a->data.data_len;
	r->WRITE4res_u.resok4.committed = (stable_how4)committed;
	nfs4_put_verifier(c, r->WRITE4res_u.resok4.writeverf);
	return NFS4_OK;
}

bool nfs4_xdr_write_args(XDR *xdrs, void *obj)
{
	struct nfs4_write_args *w = obj;
	WRITE4args *a = &w->args;

	if (xdrs->x_op == XDR_FREE) {
		if (w->data_in_place)
			a->data.data_val = NULL; /* the receive buffer's, not ours */
		w->data_in_place = false;
		return xdr_WRITE4args(xdrs, a);
	}
	if (xdrs->x_op != XDR_DECODE)
		return xdr_WRITE4args(xdrs, a);
	uint32_t len;
	if (!xdr_stateid4(xdrs, &a->stateid) || !xdr_offset4(xdrs, &a->offset) || !xdr_stable_how4(xdrs, &a->stable) ||
	    !xdr_uint32_t(xdrs, &len) || len > NFS4_MAXIO)
		return false;
	a->data.data_len = len;
	if (len == 0)
		return true;
	size_t padded = ((size_t)len + 3) & ~(size_t)3;
	if (xdr_tail_inline(xdrs) >= padded) {
		/* Contiguous in the record as received: the write buffer
		 * copies it once from there. */
		a->data.data_val = (char *)xdrs->x_data;
		xdrs->x_data += padded;
		w->data_in_place = true;
		return true;
	}
	/* Spread over the stream's buffers, or cut short (a malformed
	 * record: decoding fails, and the op is BADXDR). */
	a->data.data_val = malloc(len);
	return a->data.data_val && xdr_opaque_decode(xdrs, a->data.data_val, len);
}

NFS4_HANDLER(nfs4_op_commit)
{
	COMMIT4res *r = res;
	struct gfs_attr attr;
	nfsstat4 st = nfs4_need_export(c, false);
	(void)args;

	if (st != NFS4_OK)
		return st;
	int rc = gfs_commit(c->call->vfs, c->cur.acc.ref, &attr);
	if (rc < 0)
		return nfs4_status(rc);
	nfs4_put_verifier(c, r->COMMIT4res_u.resok4.writeverf);
	return NFS4_OK;
}
