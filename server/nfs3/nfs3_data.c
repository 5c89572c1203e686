/*
 * nfs3_data.c - the NFSv3 procedures that move file data or describe the
 * file system: READ WRITE COMMIT FSSTAT FSINFO PATHCONF.  The write
 * verifier (gfs_write_verifier) is new at every process start and whenever
 * the gateway finds its Redis restarted, so a client resends whatever it
 * wrote UNSTABLE before a crash of either.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rpc/svc.h>

#include "nfs3_impl.h"
#include "rpc_transport.h"

static void put_verifier(struct gfs_vfs *vfs, writeverf3 out)
{
	uint64_t v = gfs_write_verifier(vfs);
	for (int i = 0; i < NFS3_WRITEVERFSIZE; i++)
		out[i] = (char)(v >> (56 - 8 * i));
}

enum rpc_disposition nfs3_read(struct rpc_call *call, void *args, void *result)
{
	READ3args *a = args;
	struct nfs3_read_result *rr = result;
	READ3res *r = &rr->res;
	struct export_access acc;
	struct gfs_attr attr;
	size_t nread = 0;
	int eof = 0;

	r->status = nfs3_admit(call, &a->file, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	size_t count = a->count < NFS3_MAX_IO ? a->count : NFS3_MAX_IO;
	int err = gfs_read_lend(call->vfs, &acc.cred, acc.ref, a->offset, count, &rr->lent, &nread, &eof, &attr);
	r->status = nfs3_status(err);
	if (r->status != NFS3_OK) {
		nfs3_post_op_ref(call->vfs, acc.ref, &r->READ3res_u.resfail.file_attributes);
		return RPC_OK;
	}
	rr->vfs = call->vfs; /* the codec gives the bytes back once encoded */
	/* On TCP the reply is encoded into the same kind of stream (xdr_ioq) as
	 * the call arrived in: the codec can then hand it the bytes by reference. */
	if (call->req->rq_xprt->xp_type == XPRT_TCP)
		rr->tcp_ops = call->req->rq_xdrs->x_ops;
	READ3resok *ok = &r->READ3res_u.resok;
	nfs3_post_op(call->vfs, &attr, &ok->file_attributes);
	ok->count = (count3)(nread < count ? nread : count);
	ok->eof = eof != 0;
	ok->data.data_len = ok->count;
	ok->data.data_val = (char *)rr->lent.data;
	return RPC_OK;
}

/* What gives a READ's lent bytes back to the vfs once they are sent. */
struct read_lent {
	struct gfs_vfs *vfs;
	struct gfs_lent lent;
};

static void read_lent_give_back(void *ctx)
{
	struct read_lent *rl = ctx;
	gfs_read_release(rl->vfs, &rl->lent);
}

/* READ3resok with the data by reference; the lent bytes move to the
 * transport.  Only for ntirpc's TCP record stream (xdr_ioq), whose
 * reference counting rpc_put_lent follows. */
static bool encode_read_ok_borrowed(XDR *xdrs, struct nfs3_read_result *rr)
{
	READ3resok *ok = &rr->res.READ3res_u.resok;
	uint32_t len = ok->data.data_len;
	if (!xdr_nfsstat3(xdrs, &rr->res.status) || !xdr_post_op_attr(xdrs, &ok->file_attributes) ||
	    !xdr_count3(xdrs, &ok->count) || !xdr_bool(xdrs, &ok->eof) || !xdr_uint32_t(xdrs, &len))
		return false;
	struct read_lent rl = {.vfs = rr->vfs, .lent = rr->lent};
	rr->vfs = NULL; /* the transport owns the bytes now */
	ok->data.data_val = NULL;
	bool put = rpc_put_lent(xdrs, rl.lent.data, len, read_lent_give_back, &rl, sizeof(rl));
	static const char zeros[4];
	return put && (len % 4 == 0 || XDR_PUTBYTES(xdrs, zeros, 4 - len % 4));
}

bool nfs3_xdr_read_result(XDR *xdrs, void *obj)
{
	struct nfs3_read_result *rr = obj;
	if (xdrs->x_op == XDR_ENCODE && rr->vfs && rr->tcp_ops && xdrs->x_ops == rr->tcp_ops &&
	    rr->res.status == NFS3_OK && rr->res.READ3res_u.resok.data.data_len > 0)
		return encode_read_ok_borrowed(xdrs, rr);
	if (xdrs->x_op != XDR_FREE)
		return xdr_READ3res(xdrs, &rr->res);
	/* The bytes are the vfs's (a cached block or its buffer), not ours to
	 * free(); nothing else in a READ3res is allocated. */
	if (rr->vfs) {
		gfs_read_release(rr->vfs, &rr->lent);
		rr->res.READ3res_u.resok.data.data_val = NULL;
		rr->vfs = NULL;
	}
	return true;
}

static const enum gfs_stable stable_table[] = {
    [UNSTABLE] = GFS_UNSTABLE,
    [DATA_SYNC] = GFS_DATA_SYNC,
    [FILE_SYNC] = GFS_FILE_SYNC,
};

bool nfs3_xdr_write_args(XDR *xdrs, void *obj)
{
	struct nfs3_write_args *w = obj;
	WRITE3args *a = &w->args;
	if (xdrs->x_op == XDR_FREE) {
		if (w->data_in_place)
			a->data.data_val = NULL; /* the receive buffer's, not ours */
		w->data_in_place = false;
		return xdr_WRITE3args(xdrs, a);
	}
	if (xdrs->x_op != XDR_DECODE)
		return xdr_WRITE3args(xdrs, a);
	uint32_t len;
	if (!xdr_nfs_fh3(xdrs, &a->file) || !xdr_offset3(xdrs, &a->offset) || !xdr_count3(xdrs, &a->count) ||
	    !xdr_stable_how(xdrs, &a->stable) || !xdr_uint32_t(xdrs, &len) || len > NFS3_MAX_IO)
		return false;
	a->data.data_len = len;
	size_t padded = ((size_t)len + 3) & ~(size_t)3;
	if (len > 0 && xdr_tail_inline(xdrs) >= padded) {
		/* The whole payload is contiguous in the record as received:
		 * point at it there; the write buffer copies it once. */
		a->data.data_val = (char *)xdrs->x_data;
		xdrs->x_data += padded;
		w->data_in_place = true;
		return true;
	}
	if (len == 0)
		return true;
	a->data.data_val = malloc(len);
	return a->data.data_val && xdr_opaque_decode(xdrs, a->data.data_val, len);
}

enum rpc_disposition nfs3_write(struct rpc_call *call, void *args, void *result)
{
	WRITE3args *a = &((struct nfs3_write_args *)args)->args;
	WRITE3res *r = result;
	struct export_access acc;
	struct gfs_wcc w = {0};
	enum gfs_stable committed = GFS_UNSTABLE;

	r->status = nfs3_admit_write(call, &a->file, &acc);
	if (r->status == NFS3_OK && (a->count > a->data.data_len || (unsigned)a->stable > FILE_SYNC))
		r->status = NFS3ERR_INVAL;
	if (r->status == NFS3_OK && a->offset > (uint64_t)INT64_MAX - a->count)
		r->status = NFS3ERR_FBIG;
	if (r->status != NFS3_OK) {
		if (acc.export) /* admitted: the inode may be shown */
			nfs3_wcc_ref(call->vfs, acc.ref, &r->WRITE3res_u.resfail.file_wcc);
		return RPC_OK;
	}
	int err = gfs_write(call->vfs, &acc.cred, acc.ref, a->offset, a->count, a->data.data_val,
			    stable_table[a->stable], &committed, &w);
	r->status = nfs3_status(err);
	if (r->status != NFS3_OK) {
		if (w.has_pre || w.has_post)
			nfs3_wcc(call->vfs, &w, &r->WRITE3res_u.resfail.file_wcc);
		else
			nfs3_wcc_ref(call->vfs, acc.ref, &r->WRITE3res_u.resfail.file_wcc);
		return RPC_OK;
	}
	WRITE3resok *ok = &r->WRITE3res_u.resok;
	nfs3_wcc(call->vfs, &w, &ok->file_wcc);
	ok->count = a->count;
	ok->committed = committed >= GFS_FILE_SYNC ? FILE_SYNC : committed == GFS_DATA_SYNC ? DATA_SYNC : UNSTABLE;
	put_verifier(call->vfs, ok->verf);
	return RPC_OK;
}

enum rpc_disposition nfs3_commit(struct rpc_call *call, void *args, void *result)
{
	COMMIT3args *a = args;
	COMMIT3res *r = result;
	struct export_access acc;
	struct gfs_attr attr;
	struct gfs_attr before;

	/* COMMIT changes no data; a read-only export may commit (nothing). */
	r->status = nfs3_admit(call, &a->file, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	int have_before = gfs_getattr(call->vfs, acc.ref, &before) == 0;
	int err = gfs_commit(call->vfs, acc.ref, &attr);
	r->status = nfs3_status(err);
	/* resok and resfail both start with file_wcc. */
	wcc_data *wcc = &r->COMMIT3res_u.resok.file_wcc;
	if (have_before) {
		wcc->before.attributes_follow = TRUE;
		wcc->before.pre_op_attr_u.attributes.size = before.size;
		wcc->before.pre_op_attr_u.attributes.mtime.seconds = (uint32_t)before.mtime.sec;
		wcc->before.pre_op_attr_u.attributes.mtime.nseconds = before.mtime.nsec;
		wcc->before.pre_op_attr_u.attributes.ctime.seconds = (uint32_t)before.ctime.sec;
		wcc->before.pre_op_attr_u.attributes.ctime.nseconds = before.ctime.nsec;
	}
	if (err == 0)
		nfs3_post_op(call->vfs, &attr, &wcc->after);
	else
		nfs3_post_op_ref(call->vfs, acc.ref, &wcc->after);
	if (err == 0)
		put_verifier(call->vfs, r->COMMIT3res_u.resok.verf);
	return RPC_OK;
}

enum rpc_disposition nfs3_fsstat(struct rpc_call *call, void *args, void *result)
{
	FSSTAT3args *a = args;
	FSSTAT3res *r = result;
	struct export_access acc;
	struct gfs_statfs st;

	r->status = nfs3_admit(call, &a->fsroot, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	r->status = nfs3_status(gfs_statfs(call->vfs, &st));
	if (r->status != NFS3_OK) {
		nfs3_post_op_ref(call->vfs, acc.ref, &r->FSSTAT3res_u.resfail.obj_attributes);
		return RPC_OK;
	}
	FSSTAT3resok *ok = &r->FSSTAT3res_u.resok;
	nfs3_post_op_ref(call->vfs, acc.ref, &ok->obj_attributes);
	ok->tbytes = st.total_bytes;
	ok->fbytes = st.free_bytes;
	ok->abytes = st.avail_bytes;
	ok->tfiles = st.total_files;
	ok->ffiles = st.free_files;
	ok->afiles = st.free_files;
	ok->invarsec = 0; /* other gateways change the volume at any time */
	return RPC_OK;
}

enum rpc_disposition nfs3_fsinfo(struct rpc_call *call, void *args, void *result)
{
	FSINFO3args *a = args;
	FSINFO3res *r = result;
	struct export_access acc;

	r->status = nfs3_admit(call, &a->fsroot, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	FSINFO3resok *ok = &r->FSINFO3res_u.resok;
	nfs3_post_op_ref(call->vfs, acc.ref, &ok->obj_attributes);
	ok->rtmax = ok->rtpref = NFS3_MAX_IO;
	ok->wtmax = ok->wtpref = NFS3_MAX_IO;
	ok->rtmult = ok->wtmult = 4096;
	ok->dtpref = NFS3_DTPREF;
	ok->maxfilesize = GFS_MAX_FILE_SIZE;
	ok->time_delta.seconds = 0;
	ok->time_delta.nseconds = 1;
	ok->properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
	return RPC_OK;
}

enum rpc_disposition nfs3_pathconf(struct rpc_call *call, void *args, void *result)
{
	PATHCONF3args *a = args;
	PATHCONF3res *r = result;
	struct export_access acc;

	r->status = nfs3_admit(call, &a->object, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	PATHCONF3resok *ok = &r->PATHCONF3res_u.resok;
	nfs3_post_op_ref(call->vfs, acc.ref, &ok->obj_attributes);
	ok->linkmax = UINT32_MAX;
	ok->name_max = GFS_NAME_MAX;
	ok->no_trunc = TRUE;
	ok->chown_restricted = TRUE;
	ok->case_insensitive = FALSE;
	ok->case_preserving = TRUE;
	return RPC_OK;
}
