/*
 * nfs4_compound.c - the NFSv4 program (RFC 8881 section 16): NULL and
 * COMPOUND.  COMPOUND is decoded op by op from the table in nfs4_ops.c, so
 * that decoding stops at an operation gatefs does not know instead of
 * failing the whole request; the operations run in order until the first
 * one that fails; the reply is encoded here into one buffer, which is what
 * the session's slot keeps for a retransmission (nfs4_session.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <rpc/svc.h>

#include "log.h"
#include "metrics.h"
#include "nfs4_impl.h"
#include "rpc_transport.h"
#include "server.h"

#define XDR_FN(fn) ((rpc_xdr_fn)(void (*)(void))(fn))
#define REPLY_LIMIT (16u << 20)

static bool decode_ops(XDR *xdrs, struct nfs4_compound_args *a)
{
	a->ops = calloc(a->nops ? a->nops : 1, sizeof(*a->ops));
	if (!a->ops)
		return false;
	for (uint32_t i = 0; i < a->nops; i++) {
		uint32_t opnum;
		if (!xdr_u_int32_t(xdrs, &opnum)) {
			a->stop_status = NFS4ERR_BADXDR;
			break;
		}
		a->ops[i].argop = (nfs_opnum4)opnum;
		a->ndecoded = i + 1;
		const struct nfs4_op *op = nfs4_op_find(opnum);
		if (!op) {
			a->stop_status = opnum >= OP_ACCESS && opnum <= OP_CLONE ? NFS4ERR_NOTSUPP : NFS4ERR_OP_ILLEGAL;
			break;
		}
		if (op->decode_args && !NFS4_XDRPROC(op->decode_args)(xdrs, &a->ops[i].nfs_argop4_u)) {
			a->stop_status = NFS4ERR_BADXDR;
			break;
		}
	}
	return true;
}

bool nfs4_xdr_compound_args(XDR *xdrs, void *obj)
{
	struct nfs4_compound_args *a = obj;

	if (xdrs->x_op == XDR_FREE) {
		for (uint32_t i = 0; a->ops && i < a->ndecoded; i++) {
			const struct nfs4_op *op = nfs4_op_find(a->ops[i].argop);
			if (op && op->decode_args)
				xdr_free(NFS4_XDRPROC(op->decode_args), &a->ops[i].nfs_argop4_u);
		}
		free(a->ops);
		a->ops = NULL;
		xdr_free(NFS4_XDRPROC(xdr_utf8str_cs), &a->tag);
		return true;
	}
	if (xdrs->x_op != XDR_DECODE)
		return false;
	u_int start = XDR_GETPOS(xdrs);
	if (!xdr_utf8str_cs(xdrs, &a->tag) || !xdr_u_int32_t(xdrs, &a->minorversion) || !xdr_u_int32_t(xdrs, &a->nops))
		return false;
	if (a->minorversion != 1 && a->minorversion != 2)
		a->stop_status = NFS4ERR_MINOR_VERS_MISMATCH;
	else if (a->nops > NFS4_MAX_OPS)
		a->stop_status = NFS4ERR_TOO_MANY_OPS;
	else if (!decode_ops(xdrs, a))
		return false;
	a->request_bytes = XDR_GETPOS(xdrs) - start;
	return true;
}

static void read_lent_give_back(void *ctx)
{
	struct nfs4_reply_seg *seg = ctx;
	gfs_read_release(seg->vfs, &seg->lent);
}

bool nfs4_xdr_compound_reply(XDR *xdrs, void *obj)
{
	struct nfs4_compound_reply *r = obj;

	if (xdrs->x_op == XDR_FREE) {
		for (uint32_t i = 0; i < r->nsegs; i++)
			if (r->segs[i].vfs)
				read_lent_give_back(&r->segs[i]);
		r->nsegs = 0;
		free(r->data);
		r->data = NULL;
		return true;
	}
	static const char zeros[4];
	bool by_reference = r->tcp_ops && xdrs->x_ops == r->tcp_ops;
	uint32_t pos = 0;
	for (uint32_t i = 0; i < r->nsegs; i++) {
		struct nfs4_reply_seg *seg = &r->segs[i];
		uint32_t len = seg->len;
		if (!XDR_PUTBYTES(xdrs, (char *)r->data + pos, seg->at - pos))
			return false;
		pos = seg->at;
		if (!by_reference) {
			if (!XDR_PUTBYTES(xdrs, (const char *)seg->lent.data, len))
				return false;
		} else {
			struct nfs4_reply_seg lent = *seg;
			seg->vfs = NULL; /* the transport gives the bytes back once sent */
			if (!rpc_put_lent(xdrs, lent.lent.data, len, read_lent_give_back, &lent, sizeof(lent)))
				return false;
		}
		/* The padding is sent here, not kept in data, where it would
		 * leave what follows unaligned. */
		if (len % 4 && !XDR_PUTBYTES(xdrs, zeros, 4 - len % 4))
			return false;
	}
	return r->len == pos || XDR_PUTBYTES(xdrs, (char *)r->data + pos, r->len - pos);
}

/* What goes on the wire: data, and the segments with their padding. */
static uint64_t reply_bytes(const struct nfs4_compound_reply *r)
{
	uint64_t n = r->len;
	for (uint32_t i = 0; i < r->nsegs; i++)
		n += (r->segs[i].len + 3ull) & ~3ull;
	return n;
}

/* A READ result whose data can go out by reference. */
static bool read_lendable(const nfs_resop4 *r)
{
	const struct nfs4_read_res *rr = (const struct nfs4_read_res *)&r->nfs_resop4_u;
	return r->resop == OP_READ && rr->res.status == NFS4_OK && rr->vfs && rr->res.READ4res_u.resok4.data.data_len;
}

/* READ4res up to its data, which segment seg (at the position after the
 * length) stands for with its XDR padding. */
static bool encode_read_lent(XDR *x, const nfs_resop4 *r, uint32_t i, struct nfs4_reply_seg *seg)
{
	const struct nfs4_read_res *rr = (const struct nfs4_read_res *)&r->nfs_resop4_u;
	nfsstat4 st = NFS4_OK;
	bool_t eof = rr->res.READ4res_u.resok4.eof;
	uint32_t len = rr->res.READ4res_u.resok4.data.data_len;

	if (!xdr_nfsstat4(x, &st) || !xdr_bool(x, &eof) || !xdr_u_int32_t(x, &len))
		return false;
	*seg = (struct nfs4_reply_seg){.at = XDR_GETPOS(x), .len = len, .res = i};
	return true;
}

/* One op's result: its number, then its result (status only for an op
 * without a table row).  With lend, a READ's data is left out and noted in
 * out's segments instead, while there is room for them. */
static bool encode_result(XDR *x, const nfs_resop4 *r, uint32_t i, bool lend, struct nfs4_compound_reply *out)
{
	uint32_t opnum = r->resop;
	const struct nfs4_op *op = nfs4_op_find(opnum);

	if (!xdr_u_int32_t(x, &opnum))
		return false;
	if (!op || !op->encode_result) {
		nfsstat4 st = r->nfs_resop4_u.opillegal.status;
		return xdr_nfsstat4(x, &st);
	}
	if (lend && out->nsegs < NFS4_REPLY_SEGS && read_lendable(r))
		return encode_read_lent(x, r, i, &out->segs[out->nsegs++]);
	return NFS4_XDRPROC(op->encode_result)(x, (void *)&r->nfs_resop4_u);
}

/* Room for the reply's bulk: READ data (when copied) and READDIR entries.
 * Without it a 1 MiB READ was encoded into five growing buffers (8 KiB to
 * 2 MiB) before one held it; the v4 benchmark's READ rate was half
 * ganesha's. */
static size_t reply_size_hint(const nfs_resop4 *res, uint32_t nres, bool lend)
{
	size_t n = 8192;
	uint32_t lent = 0;

	for (uint32_t i = 0; i < nres; i++) {
		if (res[i].nfs_resop4_u.opillegal.status != NFS4_OK)
			continue;
		if (lend && lent < NFS4_REPLY_SEGS && read_lendable(&res[i]))
			lent++;
		else if (res[i].resop == OP_READ)
			n += res[i].nfs_resop4_u.opread.READ4res_u.resok4.data.data_len;
		else if (res[i].resop == OP_READDIR)
			n += ((const struct nfs4_readdir_res *)&res[i].nfs_resop4_u)->entries_len;
	}
	return n < REPLY_LIMIT ? n : REPLY_LIMIT;
}

/* Encodes the reply into out.  With lend, READ data stays out of out->data
 * and out->segs name the results it is in (their bytes still the
 * results'; take_segments moves them). */
static int encode_reply(nfsstat4 status, utf8str_cs *tag, const nfs_resop4 *res, uint32_t nres, bool lend,
			struct nfs4_compound_reply *out)
{
	for (size_t cap = reply_size_hint(res, nres, lend); cap <= REPLY_LIMIT; cap *= 4) {
		char *buf = malloc(cap);
		XDR x;
		bool ok;

		if (!buf)
			return -ENOMEM;
		out->nsegs = 0;
		xdrmem_ncreate(&x, buf, (u_int)cap, XDR_ENCODE);
		ok = xdr_nfsstat4(&x, &status) && xdr_utf8str_cs(&x, tag) && xdr_u_int32_t(&x, &nres);
		for (uint32_t i = 0; ok && i < nres; i++)
			ok = encode_result(&x, &res[i], i, lend, out);
		if (ok)
			out->len = XDR_GETPOS(&x);
		if (x.x_ops->x_destroy)
			x.x_ops->x_destroy(&x);
		if (ok) {
			out->data = buf;
			return 0;
		}
		free(buf);
	}
	out->nsegs = 0;
	return -EMSGSIZE;
}

/* The lent bytes of the reply's segments move from the READ results into
 * the reply, which gives them back once sent (or freed). */
static void take_segments(nfs_resop4 *res, struct nfs4_compound_reply *reply)
{
	for (uint32_t i = 0; i < reply->nsegs; i++) {
		struct nfs4_reply_seg *seg = &reply->segs[i];
		struct nfs4_read_res *rr = (struct nfs4_read_res *)&res[seg->res].nfs_resop4_u;
		seg->vfs = rr->vfs;
		seg->lent = rr->lent;
		rr->vfs = NULL;
		rr->res.READ4res_u.resok4.data.data_val = NULL;
	}
}

/* The reply is larger than the session's ca_maxresponsesize: the client
 * could not take it (RFC 8881 section 2.10.6.4).  Re-encodes the results
 * of the first k ops with op k answered NFS4ERR_REP_TOO_BIG, for the
 * largest k that fits.  res stays owned by the caller. */
static int shrink_reply(utf8str_cs *tag, const nfs_resop4 *res, uint32_t nres, uint32_t limit,
			struct nfs4_compound_reply *reply)
{
	nfs_resop4 *tmp = calloc(nres ? nres : 1, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	int rc = -EMSGSIZE;
	for (uint32_t k = nres; k-- > 0 && rc != 0;) {
		memcpy(tmp, res, k * sizeof(*tmp)); /* shallow: encoding only */
		tmp[k] = (nfs_resop4){.resop = res[k].resop};
		tmp[k].nfs_resop4_u.opillegal.status = NFS4ERR_REP_TOO_BIG;
		struct nfs4_compound_reply out = {0};
		rc = encode_reply(NFS4ERR_REP_TOO_BIG, tag, tmp, k + 1, false, &out);
		if (rc == 0 && out.len > limit) {
			free(out.data);
			rc = -EMSGSIZE;
		} else if (rc == 0) {
			free(reply->data);
			*reply = out;
		}
	}
	free(tmp);
	if (rc != 0) {
		free(reply->data);
		reply->data = NULL;
	}
	return rc;
}

/* Runs op i; returns its status. */
static nfsstat4 run_op(struct nfs4_compound *c, const struct nfs4_compound_args *a, uint32_t i, nfs_resop4 *r)
{
	nfs_opnum4 opnum = a->ops[i].argop;
	const struct nfs4_op *op = nfs4_op_find(opnum);

	r->resop = opnum;
	if (!op) {
		if (a->stop_status == NFS4ERR_OP_ILLEGAL)
			r->resop = OP_ILLEGAL;
		return a->stop_status;
	}
	if (i + 1 == a->ndecoded && a->stop_status == NFS4ERR_BADXDR)
		return NFS4ERR_BADXDR;
	if (i == 0 && opnum != OP_SEQUENCE) {
		if (!(op->flags & NFS4_OP_NO_SESSION))
			return NFS4ERR_OP_NOT_IN_SESSION;
		if (a->nops > 1)
			return NFS4ERR_NOT_ONLY_OP;
	}
	if (i > 0 && opnum == OP_SEQUENCE)
		return NFS4ERR_SEQUENCE_POS;
	if ((op->flags & NFS4_OP_NEED_FH) && c->cur.kind == NFS4_FH_NONE)
		return NFS4ERR_NOFILEHANDLE;
	return op->handler(c, (void *)&a->ops[i].nfs_argop4_u, &r->nfs_resop4_u);
}

static void free_results(nfs_resop4 *res, uint32_t nres)
{
	for (uint32_t i = 0; i < nres; i++) {
		const struct nfs4_op *op = nfs4_op_find(res[i].resop);
		if (op && op->encode_result)
			xdr_free(NFS4_XDRPROC(op->encode_result), &res[i].nfs_resop4_u);
	}
	free(res);
}

static enum rpc_disposition nfs4_compound(struct rpc_call *call, void *args, void *result)
{
	struct nfs4_compound_args *a = args;
	struct nfs4_compound_reply *reply = result;
	struct nfs4_compound c = {
	    .call = call,
	    .nfs4 = call->server->nfs4,
	    .minorversion = a->minorversion,
	    .nops = a->nops,
	    .request_bytes = a->request_bytes,
	};
	nfs_resop4 *res = calloc(a->ndecoded ? a->ndecoded : 1, sizeof(*res));
	nfsstat4 status = NFS4_OK;
	uint32_t nres = 0;

	if (!res || !c.nfs4)
		return RPC_SYSTEM_ERR;
	if (a->stop_status == NFS4ERR_MINOR_VERS_MISMATCH || a->stop_status == NFS4ERR_TOO_MANY_OPS)
		status = a->stop_status;
	for (uint32_t i = 0; status == NFS4_OK && i < a->ndecoded; i++) {
		uint64_t op_start = metric_now_ns();
		status = run_op(&c, a, i, &res[i]);
		nfs4_metrics_op(res[i].resop, status, op_start);
		if (status != NFS4_OK) {
			const struct nfs4_op *op = nfs4_op_find(res[i].resop);
			log_debug("nfs4: xid %08x op %u %s: status %d", call->xid, i, op ? op->name : "?", (int)status);
		}
		/* Every result type starts with its status. */
		res[i].nfs_resop4_u.opillegal.status = status;
		nres = i + 1;
		if (c.replay)
			break;
	}
	if (c.replay) {
		free_results(res, nres);
		reply->data = c.replay;
		reply->len = (uint32_t)c.replay_len;
		return RPC_OK;
	}
	/* A reply the slot does not keep (sa_cachethis false: a replay gets
	 * RETRY_UNCACHED_REP, RFC 8881 section 2.10.6.1.3) sends its READ data
	 * by reference, as the v3 READ does; one the slot keeps is copied
	 * whole. */
	bool lend = c.in_session && !c.cachethis && call->req->rq_xprt->xp_type == XPRT_TCP;
	int rc = encode_reply(status, &a->tag, res, nres, lend, reply);
	if (rc == 0 && c.in_session && reply_bytes(reply) > c.grant.params.max_response)
		rc = shrink_reply(&a->tag, res, nres, c.grant.params.max_response, reply);
	if (rc == 0 && reply->nsegs) {
		take_segments(res, reply);
		reply->tcp_ops = call->req->rq_xdrs->x_ops;
	}
	free_results(res, nres);
	/* A lone SEQUENCE is kept whatever it says: its whole reply is the
	 * SEQUENCE result a slot keeps anyway (RFC 8881 section 2.10.6.1.3),
	 * as knfsd does.  A reply with lent segments is never whole in data,
	 * so it is never kept. */
	bool keep =
	    (c.cachethis || a->nops == 1) && reply->nsegs == 0 && reply->len <= c.grant.params.max_response_cached;
	if (c.in_session)
		nfs4_slot_finish(c.nfs4->state, c.sessionid, c.slot, rc == 0 ? reply->data : NULL, reply->len, keep);
	if (rc < 0) {
		log_warn("nfs4: xid %08x: reply of %u ops could not be encoded", call->xid, nres);
		return RPC_SYSTEM_ERR;
	}
	return RPC_OK;
}

static enum rpc_disposition nfs4_null(struct rpc_call *call, void *args, void *result)
{
	(void)call;
	(void)args;
	(void)result;
	return RPC_OK;
}

static const struct rpc_proc nfs4_procs[] = {
    [NFSPROC4_NULL] = {"NULL", XDR_FN(xdr_void), 0, XDR_FN(xdr_void), 0, nfs4_null, 0},
    /* Not in the DRC: sessions give exactly-once semantics themselves. */
    [NFSPROC4_COMPOUND] = {"COMPOUND", XDR_FN(nfs4_xdr_compound_args), sizeof(struct nfs4_compound_args),
			   XDR_FN(nfs4_xdr_compound_reply), sizeof(struct nfs4_compound_reply), nfs4_compound, 0},
};

const struct rpc_program nfs4_program = {
    .name = "nfs4",
    .prog = 100003,
    .vers = 4,
    .nprocs = sizeof(nfs4_procs) / sizeof(nfs4_procs[0]),
    .procs = nfs4_procs,
};

int nfs4_start(struct server *srv, uint32_t lease_seconds, const char *idmap_domain)
{
	struct nfs4_server *n = calloc(1, sizeof(*n));
	struct nfs4_state_config sc = {
	    .lease_seconds = lease_seconds ? lease_seconds : 90,
	    .max_slots = 64,
	};
	struct timespec ts;

	if (!n)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	n->boot_time.sec = ts.tv_sec;
	n->boot_time.nsec = (uint32_t)ts.tv_nsec;
	n->state = nfs4_state_create(&sc);
	if (!n->state || RAND_bytes(n->server_id, sizeof(n->server_id)) != 1 || nfs4_pseudo_build(n, srv) < 0) {
		nfs4_state_destroy(n->state);
		free(n->pseudo);
		free(n);
		return -ENOMEM;
	}
	int rc = nfs4_cb_start(n, srv->vfs);
	if (rc < 0) {
		nfs4_state_destroy(n->state);
		free(n->pseudo);
		free(n);
		return rc;
	}
	srv->nfs4 = n;
	nfs4_idmap_set_domain(idmap_domain);
	nfs4_metrics_register();
	return 0;
}

void nfs4_stop(struct server *srv)
{
	struct nfs4_server *n = srv->nfs4;

	if (!n)
		return;
	nfs4_cb_destroy(n);
	nfs4_state_destroy(n->state);
	free(n->pseudo);
	free(n);
	srv->nfs4 = NULL;
}

void nfs4_quiesce(struct server *srv)
{
	if (srv->nfs4)
		nfs4_cb_stop(srv->nfs4);
}
