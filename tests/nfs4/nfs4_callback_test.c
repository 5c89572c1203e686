/*
 * nfs4_callback_test.c - the NFSv4.1 backchannel and CB_NOTIFY_LOCK
 * against two real gateways of one volume.  The client's side of the
 * backchannel is done by hand: the record the gateway sends on the
 * session's own connection is read from the client's socket (CLGET_FD),
 * decoded with the generated XDR of nfs4_prot.x, checked (CB_SEQUENCE on
 * slot 0 with the session and the next sequence id, CB_NOTIFY_LOCK naming
 * the file and the lock owner) and answered.  Also: a release through the
 * other gateway notifies too; BACKCHANNEL_CTL changes the program and the
 * security; a client whose backchannel never answers does not slow the
 * gateway, is reported CB_PATH_DOWN and is not offered MAY_NOTIFY_LOCK
 * again until it binds a connection anew.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nfs4_test.h"

#define CB_CONF "nfs4 = on\n"
#define EOF64 UINT64_MAX

static struct v4_pair pair = {.conf = CB_CONF};
static struct gateway *const g1 = &pair.g1, *const g2 = &pair.g2;

static bool up(void)
{
	return v4_pair_up(&pair);
}

static int read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* One RPC record from fd within ms: 0 and *buf (malloc'ed, the caller
 * frees), or -1 (nothing came, or the connection failed). */
static int read_record(int fd, int ms, uint8_t **buf, size_t *len)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, ms) != 1)
		return -1;
	*buf = NULL;
	*len = 0;
	for (;;) {
		uint32_t mark;
		if (read_full(fd, &mark, 4) < 0)
			break;
		mark = ntohl(mark);
		size_t frag = mark & 0x7fffffffu;
		if (frag > (1u << 20))
			break;
		uint8_t *grown = realloc(*buf, *len + frag + 1);
		if (!grown)
			break;
		*buf = grown;
		if (read_full(fd, *buf + *len, frag) < 0)
			break;
		*len += frag;
		if (mark & 0x80000000u)
			return 0;
	}
	free(*buf);
	*buf = NULL;
	return -1;
}

struct cb_seen {
	uint32_t xid, prog, vers, proc, flavor;
	CB_COMPOUND4args args;
};

/* Waits up to ms for a callback on the client's connection and decodes it.
 * 0, or -1 if none came. */
static int receive_callback(struct v4 *s, int ms, struct cb_seen *out)
{
	int fd = -1;
	uint8_t *buf;
	size_t len;
	memset(out, 0, sizeof(*out));
	if (!clnt_control(s->cl, CLGET_FD, (char *)&fd) || read_record(fd, ms, &buf, &len) < 0)
		return -1;
	XDR x;
	struct rpc_msg msg;
	char cred[MAX_AUTH_BYTES], verf[MAX_AUTH_BYTES];
	memset(&msg, 0, sizeof(msg));
	msg.rm_call.cb_cred.oa_base = cred;
	msg.rm_call.cb_verf.oa_base = verf;
	xdrmem_create(&x, (char *)buf, (u_int)len, XDR_DECODE);
	int rc = -1;
	if (xdr_callmsg(&x, &msg) && msg.rm_direction == CALL && xdr_CB_COMPOUND4args(&x, &out->args)) {
		out->xid = msg.rm_xid;
		out->prog = (uint32_t)msg.rm_call.cb_prog;
		out->vers = (uint32_t)msg.rm_call.cb_vers;
		out->proc = (uint32_t)msg.rm_call.cb_proc;
		out->flavor = (uint32_t)msg.rm_call.cb_cred.oa_flavor;
		rc = 0;
	}
	xdr_destroy(&x);
	free(buf);
	return rc;
}

/* Answers the callback as a client does: NFS4_OK for each op, the
 * CB_SEQUENCE result echoing the arguments. */
static int answer_callback(struct v4 *s, const struct cb_seen *cb)
{
	int fd = -1;
	nfs_cb_resop4 ops[NFS4_CB_MAX_OPS];
	CB_COMPOUND4res res;
	memset(ops, 0, sizeof(ops));
	memset(&res, 0, sizeof(res));
	u_int n = cb->args.argarray.argarray_len;
	for (u_int i = 0; i < n && i < NFS4_CB_MAX_OPS; i++) {
		const nfs_cb_argop4 *a = &cb->args.argarray.argarray_val[i];
		ops[i].resop = a->argop;
		if (a->argop == OP_CB_SEQUENCE) {
			const CB_SEQUENCE4args *q = &a->nfs_cb_argop4_u.opcbsequence;
			CB_SEQUENCE4resok *ok = &ops[i].nfs_cb_resop4_u.opcbsequence.CB_SEQUENCE4res_u.csr_resok4;
			memcpy(ok->csr_sessionid, q->csa_sessionid, NFS4_SESSIONID_SIZE);
			ok->csr_sequenceid = q->csa_sequenceid;
			ok->csr_slotid = q->csa_slotid;
			ok->csr_highest_slotid = 0;
			ok->csr_target_highest_slotid = 0;
		}
	}
	res.resarray.resarray_len = n;
	res.resarray.resarray_val = ops;
	struct rpc_msg r;
	memset(&r, 0, sizeof(r));
	r.rm_xid = cb->xid;
	r.rm_direction = REPLY;
	r.rm_reply.rp_stat = MSG_ACCEPTED;
	r.acpted_rply.ar_verf = _null_auth;
	r.acpted_rply.ar_stat = SUCCESS;
	r.acpted_rply.ar_results.where = (caddr_t)&res;
	r.acpted_rply.ar_results.proc = (xdrproc_t)xdr_CB_COMPOUND4res;
	static char out[4096];
	XDR x;
	xdrmem_create(&x, out + 4, sizeof(out) - 4, XDR_ENCODE);
	if (!xdr_replymsg(&x, &r)) {
		xdr_destroy(&x);
		return -1;
	}
	uint32_t len = xdr_getpos(&x);
	xdr_destroy(&x);
	uint32_t mark = htonl(0x80000000u | len);
	memcpy(out, &mark, 4);
	if (!clnt_control(s->cl, CLGET_FD, (char *)&fd))
		return -1;
	return write(fd, out, len + 4) == (ssize_t)(len + 4) ? 0 : -1;
}

struct lk {
	stateid4 sid;
};

static int lock(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, const char *owner, nfs_lock_type4 type,
		uint64_t off, uint64_t len, stateid4 *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	LOCK4args *a = &v4_add(s, OP_LOCK)->nfs_argop4_u.oplock;
	a->locktype = type;
	a->offset = off;
	a->length = len;
	a->locker.new_lock_owner = owner != NULL;
	if (owner) {
		open_to_lock_owner4 *o = &a->locker.locker4_u.open_owner;
		o->open_stateid = *sid;
		o->lock_owner.clientid = s->clientid;
		o->lock_owner.owner.owner_val = (char *)owner;
		o->lock_owner.owner.owner_len = (u_int)strlen(owner);
	} else
		a->locker.locker4_u.lock_owner.lock_stateid = *sid;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK && out)
		*out = s->res.resarray.resarray_val[2].nfs_resop4_u.oplock.LOCK4res_u.resok4.lock_stateid;
	return st;
}

static int locku(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, stateid4 *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	LOCKU4args *a = &v4_add(s, OP_LOCKU)->nfs_argop4_u.oplocku;
	a->locktype = WRITE_LT;
	a->lock_stateid = *sid;
	a->offset = 0;
	a->length = EOF64;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK && out)
		*out = s->res.resarray.resarray_val[2].nfs_resop4_u.oplocku.LOCKU4res_u.lock_stateid;
	return st;
}

/* OPEN as v4_open; *rflags gets the result flags. */
static int open_flags(struct v4 *s, const nfs_fh4 *dir, const char *owner, const char *name, bool create, stateid4 *sid,
		      nfs_fh4 *fh, uint32_t *rflags)
{
	int st = v4_open(s, dir, owner, name, OPEN4_SHARE_ACCESS_BOTH, 0, create, sid, fh);
	if (st == 0)
		*rflags = s->res.resarray.resarray_val[2].nfs_resop4_u.opopen.OPEN4res_u.resok4.rflags;
	return st;
}

/* SEQUENCE alone: its status; *flags the status flags. */
static int sequence_flags(struct v4 *s, uint32_t *flags)
{
	v4_begin(s);
	v4_seq(s, 0);
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 0);
	if (st == NFS4_OK)
		*flags =
		    s->res.resarray.resarray_val[0].nfs_resop4_u.opsequence.SEQUENCE4res_u.sr_resok4.sr_status_flags;
	return st;
}

/* Checks that cb is CB_SEQUENCE(session of s, seq, slot 0) +
 * CB_NOTIFY_LOCK(fh, s's clientid, owner). */
static void check_notify(const struct cb_seen *cb, const struct v4 *s, uint32_t seq, const nfs_fh4 *fh,
			 const char *owner)
{
	CHECK_EQ(cb->proc, CB_COMPOUND);
	CHECK_EQ(cb->vers, NFS_CB);
	CHECK_EQ(cb->args.minorversion, 1); /* the session's (v4client speaks 4.1) */
	REQUIRE_EQ(cb->args.argarray.argarray_len, 2);
	const nfs_cb_argop4 *o = cb->args.argarray.argarray_val;
	REQUIRE_EQ(o[0].argop, OP_CB_SEQUENCE);
	const CB_SEQUENCE4args *q = &o[0].nfs_cb_argop4_u.opcbsequence;
	CHECK(memcmp(q->csa_sessionid, s->sessionid, NFS4_SESSIONID_SIZE) == 0);
	CHECK_EQ(q->csa_sequenceid, seq);
	CHECK_EQ(q->csa_slotid, 0);
	CHECK_EQ(q->csa_highest_slotid, 0);
	CHECK_EQ(q->csa_referring_call_lists.csa_referring_call_lists_len, 0);
	REQUIRE_EQ(o[1].argop, OP_CB_NOTIFY_LOCK);
	const CB_NOTIFY_LOCK4args *n = &o[1].nfs_cb_argop4_u.opcbnotify_lock;
	CHECK_EQ(n->cnla_fh.nfs_fh4_len, fh->nfs_fh4_len);
	CHECK(n->cnla_fh.nfs_fh4_len == fh->nfs_fh4_len &&
	      memcmp(n->cnla_fh.nfs_fh4_val, fh->nfs_fh4_val, fh->nfs_fh4_len) == 0);
	CHECK_EQ(n->cnla_lock_owner.clientid, s->clientid);
	CHECK(n->cnla_lock_owner.owner.owner_len == strlen(owner) &&
	      memcmp(n->cnla_lock_owner.owner.owner_val, owner, strlen(owner)) == 0);
}

/* One waiter (a, with a backchannel, on g1) blocked by holder b (on gb);
 * b unlocks; a must be told within limit_s and gets the lock.  seq: the
 * CB_SEQUENCE id expected. */
static void blocked_then_notified(struct gateway *gb, const char *tag, uint32_t seq, double limit_s)
{
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 oa, ob, lb, la;
	uint32_t rflags = 0;
	char owner_a[32], owner_b[32], name[32];
	snprintf(owner_a, sizeof(owner_a), "cb-a-%s", tag);
	snprintf(owner_b, sizeof(owner_b), "cb-b-%s", tag);
	snprintf(name, sizeof(name), "cbfile-%s", tag);
	REQUIRE_EQ(v4_open_session_cb(&a, g1->nfs_port, 0, 0, owner_a, true), 0);
	CHECK(a.back_chan);
	REQUIRE_EQ(v4_open_session(&b, gb->nfs_port, 0, 0, owner_b), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(open_flags(&b, &hf, "ob", name, true, &ob, NULL, &rflags), 0);
	CHECK_EQ(rflags & OPEN4_RESULT_MAY_NOTIFY_LOCK, 0); /* b has no backchannel */
	REQUIRE_EQ(open_flags(&a, &hf, "oa", name, false, &oa, &f, &rflags), 0);
	CHECK(rflags & OPEN4_RESULT_MAY_NOTIFY_LOCK);

	REQUIRE_EQ(lock(&b, &f, &ob, "holder", WRITE_LT, 0, EOF64, &lb), NFS4_OK);
	REQUIRE_EQ(lock(&a, &f, &oa, "waiter", WRITEW_LT, 0, EOF64, NULL), NFS4ERR_DENIED);
	struct cb_seen cb;
	CHECK(receive_callback(&a, 300, &cb) < 0); /* nothing while it is held */
	REQUIRE_EQ(locku(&b, &f, &lb, NULL), NFS4_OK);
	double t0 = v4_now_s();
	REQUIRE_EQ(receive_callback(&a, 5000, &cb), 0);
	double waited = v4_now_s() - t0;
	fprintf(stderr, "  %s: CB_NOTIFY_LOCK %.3f s after the release\n", tag, waited);
	CHECK(waited < limit_s);
	CHECK_EQ(cb.prog, NFS4_CALLBACK);
	CHECK_EQ(cb.flavor, AUTH_SYS);
	check_notify(&cb, &a, seq, &f, "waiter");
	REQUIRE_EQ(answer_callback(&a, &cb), 0);
	xdr_free((xdrproc_t)xdr_CB_COMPOUND4args, (char *)&cb.args);
	/* the client asks again and gets it */
	REQUIRE_EQ(lock(&a, &f, &oa, "waiter", WRITEW_LT, 0, EOF64, &la), NFS4_OK);
	uint32_t flags = 1;
	CHECK_EQ(sequence_flags(&a, &flags), NFS4_OK);
	CHECK_EQ(flags, 0); /* the backchannel works */
	CHECK_EQ(locku(&a, &f, &la, NULL), NFS4_OK);
	CHECK_EQ(v4_close_file(&a, &f, &oa), NFS4_OK);
	CHECK_EQ(v4_close_file(&b, &f, &ob), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

TEST(cb_notify_lock_same_gateway)
{
	REQUIRE(up());
	blocked_then_notified(g1, "same", 1, 1.0);
}

TEST(cb_notify_lock_across_gateways)
{
	REQUIRE(up());
	/* g2's release reaches g1 through the lock script's announcement
	 * (pub/sub): within 0.5 s, which g1's once-a-second check of the
	 * waiter alone would not make (it comes about 0.7 s after the
	 * release here: the waiter was made 0.3 s before it). */
	blocked_then_notified(g2, "cross", 1, 0.5);
}

TEST(cb_backchannel_ctl_and_sequence)
{
	REQUIRE(up());
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 oa, ob, lb;
	uint32_t rflags = 0;
	REQUIRE_EQ(v4_open_session_cb(&a, g1->nfs_port, 0, 0, "cb-ctl-a", true), 0);
	REQUIRE_EQ(v4_open_session(&b, g1->nfs_port, 0, 0, "cb-ctl-b"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(open_flags(&b, &hf, "ob", "cbctl", true, &ob, NULL, &rflags), 0);
	REQUIRE_EQ(open_flags(&a, &hf, "oa", "cbctl", false, &oa, &f, &rflags), 0);

	/* BACKCHANNEL_CTL: another program, AUTH_NONE */
	v4_begin(&a);
	v4_seq(&a, 0);
	BACKCHANNEL_CTL4args *c = &v4_add(&a, OP_BACKCHANNEL_CTL)->nfs_argop4_u.opbackchannel_ctl;
	callback_sec_parms4 none;
	memset(&none, 0, sizeof(none));
	c->bca_cb_program = NFS4_CALLBACK + 7;
	c->bca_sec_parms.bca_sec_parms_val = &none;
	c->bca_sec_parms.bca_sec_parms_len = 1;
	REQUIRE_EQ(v4_send(&a), RPC_SUCCESS);
	CHECK_EQ(v4_status(&a, 1), NFS4_OK);
	/* b has no backchannel to change */
	v4_begin(&b);
	v4_seq(&b, 0);
	c = &v4_add(&b, OP_BACKCHANNEL_CTL)->nfs_argop4_u.opbackchannel_ctl;
	c->bca_cb_program = NFS4_CALLBACK;
	c->bca_sec_parms.bca_sec_parms_val = &none;
	c->bca_sec_parms.bca_sec_parms_len = 1;
	REQUIRE_EQ(v4_send(&b), RPC_SUCCESS);
	CHECK_EQ(v4_status(&b, 1), NFS4ERR_INVAL);

	/* two notifications in a row: the backchannel slot's sequence goes up */
	for (uint32_t seq = 1; seq <= 2; seq++) {
		stateid4 la;
		struct cb_seen cb;
		REQUIRE_EQ(lock(&b, &f, seq == 1 ? &ob : &lb, seq == 1 ? "holder" : NULL, WRITE_LT, 0, EOF64, &lb),
			   NFS4_OK);
		REQUIRE_EQ(lock(&a, &f, &oa, "waiter", READW_LT, 10, 10, NULL), NFS4ERR_DENIED);
		REQUIRE_EQ(locku(&b, &f, &lb, &lb), NFS4_OK);
		REQUIRE_EQ(receive_callback(&a, 3000, &cb), 0);
		CHECK_EQ(cb.prog, NFS4_CALLBACK + 7);
		CHECK_EQ(cb.flavor, AUTH_NONE);
		check_notify(&cb, &a, seq, &f, "waiter");
		REQUIRE_EQ(answer_callback(&a, &cb), 0);
		xdr_free((xdrproc_t)xdr_CB_COMPOUND4args, (char *)&cb.args);
		/* the reply is in before the next call: a SEQUENCE round trip
		 * after it cannot overtake it on one connection */
		REQUIRE_EQ(lock(&a, &f, &oa, "waiter", READW_LT, 10, 10, &la), NFS4_OK);
		REQUIRE_EQ(locku(&a, &f, &la, NULL), NFS4_OK);
		/* a waiter that got the lock by itself is not notified */
	}
	CHECK_EQ(v4_close_file(&a, &f, &oa), NFS4_OK);
	CHECK_EQ(v4_close_file(&b, &f, &ob), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

TEST(cb_silent_client_does_not_hang_the_gateway)
{
	REQUIRE(up());
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 oa, ob, lb;
	uint32_t rflags = 0, flags = 0;
	REQUIRE_EQ(v4_open_session_cb(&a, g1->nfs_port, 0, 0, "cb-silent-a", true), 0);
	REQUIRE_EQ(v4_open_session(&b, g1->nfs_port, 0, 0, "cb-silent-b"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(open_flags(&b, &hf, "ob", "cbsilent", true, &ob, NULL, &rflags), 0);
	REQUIRE_EQ(open_flags(&a, &hf, "oa", "cbsilent", false, &oa, &f, &rflags), 0);
	CHECK(rflags & OPEN4_RESULT_MAY_NOTIFY_LOCK);
	REQUIRE_EQ(lock(&b, &f, &ob, "holder", WRITE_LT, 0, EOF64, &lb), NFS4_OK);
	REQUIRE_EQ(lock(&a, &f, &oa, "waiter", WRITEW_LT, 0, EOF64, NULL), NFS4ERR_DENIED);
	REQUIRE_EQ(locku(&b, &f, &lb, &lb), NFS4_OK);
	/* a never answers.  Meanwhile the gateway serves at full speed,
	 * also a's own fore channel (libtirpc skips the callback record). */
	double worst = 0;
	for (int i = 0; i < 20; i++) {
		double t = v4_now_s();
		CHECK_EQ(sequence_flags(&b, &flags), NFS4_OK);
		double d = v4_now_s() - t;
		worst = d > worst ? d : worst;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(worst < 0.5);
	/* after the callback's time limit (2 s) its backchannel is down */
	double t0 = v4_now_s();
	flags = 0;
	while (v4_now_s() - t0 < 10) {
		CHECK_EQ(sequence_flags(&a, &flags), NFS4_OK);
		if (flags)
			break;
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(flags & SEQ4_STATUS_CB_PATH_DOWN_SESSION);
	CHECK(flags & SEQ4_STATUS_CB_PATH_DOWN);
	stateid4 o2;
	REQUIRE_EQ(open_flags(&a, &hf, "oa2", "cbsilent2", true, &o2, NULL, &rflags), 0);
	CHECK_EQ(rflags & OPEN4_RESULT_MAY_NOTIFY_LOCK, 0); /* it must poll now */
	/* a blocked lock now leaves no waiter: nothing is sent */
	REQUIRE_EQ(lock(&b, &f, &lb, NULL, WRITE_LT, 0, EOF64, &lb), NFS4_OK);
	REQUIRE_EQ(lock(&a, &f, &oa, "waiter", WRITEW_LT, 0, EOF64, NULL), NFS4ERR_DENIED);
	REQUIRE_EQ(locku(&b, &f, &lb, &lb), NFS4_OK);
	/* (libtirpc skipped the first, unanswered callback record while a's
	 * SEQUENCEs waited for their replies.) */
	struct cb_seen cb;
	CHECK(receive_callback(&a, 1500, &cb) < 0);

	/* binding the connection again brings it back */
	v4_begin(&a);
	BIND_CONN_TO_SESSION4args *bc = &v4_add(&a, OP_BIND_CONN_TO_SESSION)->nfs_argop4_u.opbind_conn_to_session;
	memcpy(bc->bctsa_sessid, a.sessionid, NFS4_SESSIONID_SIZE);
	bc->bctsa_dir = CDFC4_FORE_OR_BOTH;
	REQUIRE_EQ(v4_send(&a), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&a, 0), NFS4_OK);
	CHECK_EQ(a.res.resarray.resarray_val[0]
		     .nfs_resop4_u.opbind_conn_to_session.BIND_CONN_TO_SESSION4res_u.bctsr_resok4.bctsr_dir,
		 CDFS4_BOTH);
	CHECK_EQ(sequence_flags(&a, &flags), NFS4_OK);
	CHECK_EQ(flags, 0);
	/* a session without a backchannel binds the fore channel only */
	v4_begin(&b);
	bc = &v4_add(&b, OP_BIND_CONN_TO_SESSION)->nfs_argop4_u.opbind_conn_to_session;
	memcpy(bc->bctsa_sessid, b.sessionid, NFS4_SESSIONID_SIZE);
	bc->bctsa_dir = CDFC4_FORE_OR_BOTH;
	REQUIRE_EQ(v4_send(&b), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&b, 0), NFS4_OK);
	CHECK_EQ(b.res.resarray.resarray_val[0]
		     .nfs_resop4_u.opbind_conn_to_session.BIND_CONN_TO_SESSION4res_u.bctsr_resok4.bctsr_dir,
		 CDFS4_FORE);

	CHECK_EQ(v4_close_file(&a, &f, &oa), NFS4_OK);
	CHECK_EQ(v4_close_file(&b, &f, &ob), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
	/* the gateway still answers, and stops cleanly (no leak of the
	 * connection references the backchannels held) */
	struct v4 c;
	CHECK_EQ(v4_open_session(&c, g1->nfs_port, 0, 0, "cb-after"), 0);
	v4_close(&c);
}

TEST(cb_gateways_stop_cleanly)
{
	if (pair.state != 1)
		return;
	CHECK_EQ(gw_stop(g2), 0);
	CHECK_EQ(gw_stop(g1), 0);
	pair.state = 0;
}
