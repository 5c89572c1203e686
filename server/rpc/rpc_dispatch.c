/*
 * rpc_dispatch.c - runs one RPC call against the program tables of
 * rpc_service.h: authentication flavor, program/version/procedure lookup with the
 * exact RFC 5531 errors, argument decoding, the duplicate request cache for
 * non-idempotent procedures, the handler, the reply, and freeing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rpc/rpc.h>
#include <rpc/svc.h>
#include <rpc/svc_auth.h>

#include "log.h"
#include "drc.h"
#include "rpc_metrics.h"
#include "rpc_transport.h"

#define NFS_PROGRAM_NUMBER 100003
#define ENCODE_LIMIT (4u * RPC_MAX_RECORD)

/* Already-encoded result bytes, sent as the body of a successful reply. */
struct encoded {
	void *data;
	size_t len;
};

static bool xdr_encoded(XDR *xdrs, void *obj)
{
	struct encoded *e = obj;

	return e->len == 0 || XDR_PUTBYTES(xdrs, e->data, (u_int)e->len);
}

static xdrproc_t xdr_fn(rpc_xdr_fn fn)
{
	return fn ? (xdrproc_t)fn : (xdrproc_t)xdr_void;
}

/* Encodes obj into a malloc'ed buffer (grown until it fits). */
static int encode_to_memory(rpc_xdr_fn fn, void *obj, struct encoded *out)
{
	for (size_t cap = 4096; cap <= ENCODE_LIMIT; cap *= 4) {
		char *buf = malloc(cap);
		XDR xdrs;
		bool ok;

		if (!buf)
			return -ENOMEM;
		xdrmem_ncreate(&xdrs, buf, (u_int)cap, XDR_ENCODE);
		ok = xdr_fn(fn)(&xdrs, obj);
		if (ok)
			out->len = XDR_GETPOS(&xdrs);
		if (xdrs.x_ops->x_destroy)
			xdrs.x_ops->x_destroy(&xdrs);
		if (ok) {
			out->data = buf;
			return 0;
		}
		free(buf);
	}
	return -EMSGSIZE;
}

/* AUTH_SYS body (RFC 5531 section 14): stamp, machinename<255>, uid, gid,
 * gids<16>.  Decoded here so that the limits are ours, not the library's. */
static int parse_auth_sys(const struct opaque_auth *cred, struct gfs_cred *out)
{
	const uint8_t *p = (const uint8_t *)cred->oa_body;
	size_t len = cred->oa_length, pos = 4;
	uint32_t v;

#define TAKE_U32(dst)                                                                                                  \
	do {                                                                                                           \
		if (pos + 4 > len)                                                                                     \
			return -EINVAL;                                                                                \
		memcpy(&v, p + pos, 4);                                                                                \
		(dst) = ntohl(v);                                                                                      \
		pos += 4;                                                                                              \
	} while (0)

	if (len > sizeof(cred->oa_body))
		return -EINVAL;
	uint32_t namelen;
	TAKE_U32(namelen);
	if (namelen > 255)
		return -EINVAL;
	pos += (namelen + 3) & ~3u;
	TAKE_U32(out->uid);
	TAKE_U32(out->gid);
	TAKE_U32(out->ngroups);
	if (out->ngroups > GFS_MAX_GROUPS)
		return -EINVAL;
	for (uint32_t i = 0; i < out->ngroups; i++)
		TAKE_U32(out->groups[i]);
#undef TAKE_U32
	return 0;
}

static void send_result(struct svc_req *req, xdrproc_t proc, void *where)
{
	req->rq_msg.RPCM_ack.ar_results.proc = proc;
	req->rq_msg.RPCM_ack.ar_results.where = where;
	svc_sendreply(req);
}

static void send_disposition(struct svc_req *req, enum rpc_disposition d)
{
	switch (d) {
	case RPC_GARBAGE:
		svcerr_decode(req);
		break;
	case RPC_SYSTEM_ERR:
		svcerr_systemerr(req);
		break;
	case RPC_AUTH_TOOWEAK:
		svcerr_auth(req, AUTH_TOOWEAK);
		break;
	case RPC_OK:
	case RPC_DROP:
		break;
	}
}

/* A non-idempotent call: consult the DRC, run, keep the encoded reply.
 * Returns what became of the call (a replay is RPC_OK). */
static enum rpc_disposition run_cached(struct rpc_service *svc, struct rpc_call *call, const struct rpc_proc *p,
				       void *args, void *result)
{
	struct svc_req *req = call->req;
	struct drc_key key;
	struct encoded enc = {0};
	void *replay = NULL;
	size_t replay_len = 0;

	memset(&key, 0, sizeof(key));
	drc_key_set_addr(&key, (const struct sockaddr *)&call->peer);
	key.xid = call->xid;
	key.prog = req->rq_msg.cb_prog;
	key.vers = req->rq_msg.cb_vers;
	key.proc = req->rq_msg.cb_proc;
	if (encode_to_memory(p->decode_args, args, &enc) == 0) {
		key.args_hash = drc_hash(enc.data, enc.len);
		free(enc.data);
	}

	switch (drc_begin(svc->drc, &key, &replay, &replay_len)) {
	case DRC_IN_PROGRESS:
		log_debug("rpc: xid %08x %s retransmitted while in progress; dropped", call->xid, p->name);
		return RPC_DROP;
	case DRC_REPLAY:
		log_debug("rpc: xid %08x %s retransmitted; replaying the first reply", call->xid, p->name);
		enc.data = replay;
		enc.len = replay_len;
		send_result(req, xdr_encoded, &enc);
		free(replay);
		return RPC_OK;
	case DRC_NEW:
		break;
	}

	enum rpc_disposition d = p->handler(call, args, result);
	if (d != RPC_OK) {
		drc_abandon(svc->drc, &key);
		send_disposition(req, d);
		return d;
	}
	if (encode_to_memory(p->encode_result, result, &enc) < 0) {
		drc_abandon(svc->drc, &key);
		svcerr_systemerr(req);
		return RPC_SYSTEM_ERR;
	}
	drc_finish(svc->drc, &key, enc.data, enc.len);
	send_result(req, xdr_encoded, &enc);
	free(enc.data);
	return RPC_OK;
}

static bool auth_flavor_allowed(const struct rpc_service *svc, uint32_t prog, uint32_t proc, uint32_t flavor)
{
	if (flavor == AUTH_SYS)
		return true;
	/* AUTH_NONE: always fine for NULL, MOUNT and the portmapper; for NFS
	 * only when the configuration offers it. */
	return proc == 0 || prog != NFS_PROGRAM_NUMBER || svc->nfs_auth_none;
}

int rpc_dispatch(struct rpc_service *svc, struct svc_req *req)
{
	struct rpc_msg *msg = &req->rq_msg;
	uint32_t flavor = msg->cb_cred.oa_flavor;
	struct rpc_call call;
	bool no_dispatch = false;

	if (flavor != AUTH_NONE && flavor != AUTH_SYS) {
		svcerr_auth(req, AUTH_REJECTEDCRED);
		return 0;
	}
	enum auth_stat why = svc_auth_authenticate(req, &no_dispatch);
	if (why != AUTH_OK) {
		svcerr_auth(req, why);
		return 0;
	}
	if (no_dispatch)
		return 0;

	memset(&call, 0, sizeof(call));
	call.req = req;
	call.xid = msg->rm_xid;
	call.auth_flavor = flavor;
	call.vfs = svc->vfs;
	call.server = svc->server;
	call.peer_len = req->rq_xprt->xp_remote.nb.len;
	if (call.peer_len > sizeof(call.peer))
		call.peer_len = sizeof(call.peer);
	memcpy(&call.peer, svc_getrpccaller(req->rq_xprt), sizeof(call.peer));
	if (flavor == AUTH_SYS) {
		if (parse_auth_sys(&msg->cb_cred, &call.raw_cred) < 0) {
			svcerr_auth(req, AUTH_BADCRED);
			return 0;
		}
		call.have_unix_cred = true;
	}

	bool prog_known;
	uint32_t low, high;
	const struct rpc_program *prog = rpc_service_find(svc, msg->cb_prog, msg->cb_vers, &prog_known, &low, &high);
	if (!prog) {
		if (prog_known)
			svcerr_progvers(req, low, high);
		else
			svcerr_noprog(req);
		return 0;
	}
	if (msg->cb_proc >= prog->nprocs || !prog->procs[msg->cb_proc].handler) {
		svcerr_noproc(req);
		return 0;
	}
	if (!auth_flavor_allowed(svc, msg->cb_prog, msg->cb_proc, flavor)) {
		svcerr_auth(req, AUTH_TOOWEAK);
		return 0;
	}

	const struct rpc_proc *p = &prog->procs[msg->cb_proc];
	uint64_t started = metric_now_ns();
	void *args = calloc(1, p->args_size ? p->args_size : 1);
	void *result = calloc(1, p->result_size ? p->result_size : 1);
	if (!args || !result) {
		free(args);
		free(result);
		svcerr_systemerr(req);
		return 0;
	}

	msg->rm_xdr.proc = xdr_fn(p->decode_args);
	msg->rm_xdr.where = args;
	enum rpc_disposition d = RPC_GARBAGE;
	if (!SVCAUTH_UNWRAP(req)) {
		log_debug("rpc: xid %08x %s.%s: garbage arguments", call.xid, prog->name, p->name);
		svcerr_decode(req);
	} else if (p->flags & RPC_PROC_NONIDEMPOTENT) {
		d = run_cached(svc, &call, p, args, result);
	} else {
		d = p->handler(&call, args, result);
		if (d == RPC_OK)
			send_result(req, xdr_fn(p->encode_result), result);
		else
			send_disposition(req, d);
	}
	struct rpc_proc_metrics *pm = rpc_metrics_find(prog);
	if (pm) {
		pm += msg->cb_proc;
		metric_inc(&pm->calls);
		metric_observe_since(&pm->latency, started);
		/* A replayed reply leaves result zeroed, which reads as OK. */
		if (d != RPC_OK || (prog->status_first && p->result_size >= sizeof(int32_t) && *(int32_t *)result != 0))
			metric_inc(&pm->errors);
	}
	xdr_free(xdr_fn(p->decode_args), args);
	xdr_free(xdr_fn(p->encode_result), result);
	free(args);
	free(result);
	return 0;
}
