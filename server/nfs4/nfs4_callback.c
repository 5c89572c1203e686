/*
 * nfs4_callback.c - the NFSv4.1 backchannel on the fore connection (RFC
 * 8881 section 2.10.3.1) and CB_NOTIFY_LOCK (section 20.11) to blocked
 * lockers.
 *
 * Backchannels.  CREATE_SESSION with CONN_BACK_CHAN, or
 * BIND_CONN_TO_SESSION with BACK or BOTH, binds the connection the request
 * came on: an ntirpc client handle is made on that accepted transport
 * (clnt_vc_ncreate_svc) while the request is running, so the transport is
 * certainly alive and the handle names it, not a descriptor number that a
 * later connection may reuse.  The handle holds a reference to the
 * transport and this file holds another (SVC_REF), released only by the
 * sender thread, so neither is ever used after free.  ntirpc's own
 * svc_vc decoder routes REPLY records on the transport to the client
 * handle's pending calls (clnt_req_process_reply): server/rpc needs no
 * change for replies to arrive.
 *
 * Waiters.  A LOCK of type READW_LT or WRITEW_LT answered NFS4ERR_DENIED
 * leaves a waiter (file, range, type, client, session, lock owner).  The
 * sender thread tests each waiter's lock in Redis (gfs_lock_test, which
 * also frees the locks of holders whose lease ran out) at once when a
 * lock on its file is released through this gateway (nfs4_cb_released)
 * and otherwise once a second, so a release through another gateway, or
 * an expired holder, is seen within a second.  A waiter whose lock could
 * now be granted gets CB_NOTIFY_LOCK and is dropped; the client then sends
 * LOCK again (a new denial makes a new waiter).  Waiters are bounded
 * (MAX_WAITERS) and dropped after a lease (at least 40 s: the Linux
 * client sleeps up to 30 s between its own retries).  Other gateways' releases
 * arrive through vfs.h gfs_lock_watch (Redis pub/sub, FORMAT.md section
 * 13) and wake the check at once too; the periodic check stays, because
 * pub/sub may drop a message.
 *
 * Sending.  Only the sender thread sends, one CB_COMPOUND at a time
 * (CB_SEQUENCE on backchannel slot 0 with the session's own sequence, then
 * the operation), waiting at most CB_TIMEOUT_S for the reply, so no NFS
 * worker ever waits for a client.  A callback that fails marks the
 * session's backchannel down: OPEN stops offering MAY_NOTIFY_LOCK to it
 * (its clients poll, as without a backchannel), SEQUENCE reports
 * CB_PATH_DOWN, and nothing is sent on it again until the client binds a
 * connection anew (until MAX_FAILURES callbacks failed, so a client whose callbacks
 * never work does not cycle forever).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rpc/rpc.h>
#include <rpc/clnt.h>
#include <rpc/svc.h>

#include "log.h"
#include "nfs4_impl.h"
#include "server.h"
#include "vfs.h"

#define MAX_WAITERS 1024
#define MIN_WAITER_MS 40000
#define POLL_MS 1000
#define CB_TIMEOUT_S 2
#define MAX_FAILURES 3
#define MAX_DUE 64

/* One CB_COMPOUND in flight.  Heap-allocated as a whole because ntirpc
 * decodes a reply into res on its own thread: a call that got no reply is
 * kept (late) for LATE_KEEP_MS after ntirpc released it, since a reply
 * that was being looked up as the call timed out may still write it. */
#define LATE_KEEP_MS 30000
struct cb_call {
	struct clnt_req cc; /* first: ntirpc's free callback gets &cc */
	struct nfs4_cb *cb;
	CB_COMPOUND4args args;
	CB_COMPOUND4res res;
	nfs_cb_argop4 ops[2];
	bool replied;
	uint64_t freed_ms;
	struct cb_call *next;
};

struct cb_session {
	struct cb_session *next;
	uint8_t id[NFS4_SESSIONID_SIZE];
	clientid4 clientid;
	uint32_t program;
	/* The minor version of the client's session: CB_COMPOUND must carry
	 * it (Linux finds the session of a callback only among clients of
	 * that minor version, and answers BADSESSION otherwise). */
	uint32_t minorversion;
	bool want;	   /* the client asked for a backchannel */
	bool up;	   /* bound and no callback failed since */
	bool gone;	   /* DESTROY_SESSION: freed by the sender thread */
	uint32_t failures; /* callbacks that failed; a lost connection is not one */
	sequenceid4 seq;   /* the last CB_SEQUENCE sequence id on slot 0 */
	SVCXPRT *xprt;	   /* SVC_REF'ed */
	CLIENT *clnt;
	AUTH *auth;
};

struct cb_waiter {
	struct cb_waiter *next;
	uint64_t id;
	uint64_t ino;
	uint8_t session[NFS4_SESSIONID_SIZE];
	clientid4 clientid;
	char key[NFS4_CLIENT_KEY_LEN + 1];
	enum gfs_lock_type type;
	uint64_t offset, length;
	struct fh fh;
	size_t owner_len;
	uint8_t owner[NFS4_OPAQUE_LIMIT];
	uint64_t expires_ms, next_ms;
	bool kicked;
};

struct nfs4_cb {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stopping;
	struct nfs4_server *n;
	struct gfs_vfs *vfs;
	struct gfs_lock_watch *watch; /* other gateways' releases; NULL: polling only */
	struct cb_session *sessions;
	struct cb_session *graveyard; /* handles to free on the sender thread */
	struct cb_waiter *waiters;
	size_t nwaiters;
	struct cb_call *late;
	uint64_t next_waiter_id;
	/* Counters for tests and logs. */
	uint64_t sent, failed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void free_call(struct cb_call *call)
{
	xdr_free(NFS4_XDRPROC(xdr_CB_COMPOUND4res), &call->res);
	free(call);
}

/* ntirpc's cc_free_cb, from clnt_req_release (the call is off the
 * transport's table and its mutex destroyed by then). */
static void release_call(struct clnt_req *cc, size_t size)
{
	struct cb_call *call = (struct cb_call *)cc;
	(void)size;
	if (call->replied) {
		free_call(call);
		return;
	}
	pthread_mutex_lock(&call->cb->mu);
	call->freed_ms = now_ms();
	call->next = call->cb->late;
	call->cb->late = call;
	pthread_mutex_unlock(&call->cb->mu);
}

/* Sender thread only (or at stop, with the thread gone). */
static void free_handles(struct cb_session *s)
{
	if (s->clnt)
		CLNT_DESTROY(s->clnt);
	if (s->auth)
		AUTH_DESTROY(s->auth);
	if (s->xprt)
		SVC_RELEASE(s->xprt, SVC_RELEASE_FLAG_NONE);
	s->clnt = NULL;
	s->auth = NULL;
	s->xprt = NULL;
}

static struct cb_session *find_session(struct nfs4_cb *cb, const uint8_t *id)
{
	for (struct cb_session *s = cb->sessions; s; s = s->next)
		if (!s->gone && memcmp(s->id, id, NFS4_SESSIONID_SIZE) == 0)
			return s;
	return NULL;
}

/* Moves the connection handles of s (not its security) to the
 * graveyard, a session struct of their own, for the sender thread to free:
 * it may be sending on them right now.  false if there was no memory: s
 * then keeps them, down, until it goes. */
static bool bury_handles(struct nfs4_cb *cb, struct cb_session *s)
{
	if (!s->clnt && !s->xprt)
		return true;
	struct cb_session *g = calloc(1, sizeof(*g));
	if (!g) {
		s->up = false;
		return false;
	}
	g->clnt = s->clnt;
	g->xprt = s->xprt;
	g->next = cb->graveyard;
	cb->graveyard = g;
	s->clnt = NULL;
	s->xprt = NULL;
	return true;
}

/* The same for a security handle replaced by BACKCHANNEL_CTL or a new
 * CREATE_SESSION's (leaked if there is no memory: freeing it could pull
 * it from under a callback being sent). */
static void bury_auth(struct nfs4_cb *cb, AUTH *auth)
{
	if (!auth)
		return;
	struct cb_session *g = calloc(1, sizeof(*g));
	if (!g)
		return;
	g->auth = auth;
	g->next = cb->graveyard;
	cb->graveyard = g;
}

/* The AUTH of the first flavor in sec we can send with: AUTH_NONE or
 * AUTH_SYS with the client's parameters; NULL if none is usable. */
static AUTH *make_auth(const callback_sec_parms4 *sec, u_int nsec)
{
	for (u_int i = 0; i < nsec; i++) {
		if (sec[i].cb_secflavor == 0)
			return authnone_ncreate();
		if (sec[i].cb_secflavor == 1) {
			const cb_authsys_parms4 *p = &sec[i].callback_sec_parms4_u.cbsp_sys_cred;
			char name[256];
			uid_t gids[16];
			u_int len = p->machinename.machinename_len;
			if (len >= sizeof(name))
				len = sizeof(name) - 1;
			memcpy(name, p->machinename.machinename_val, len);
			name[len] = 0;
			u_int ng = p->gids.gids_len > 16 ? 16 : p->gids.gids_len;
			for (u_int g = 0; g < ng; g++)
				gids[g] = p->gids.gids_val[g];
			AUTH *a = authunix_ncreate(name, p->uid, p->gid, (int)ng, gids);
			if (a && a->ah_error.re_status != RPC_SUCCESS) {
				AUTH_DESTROY(a);
				a = NULL;
			}
			return a;
		}
	}
	return NULL;
}

nfsstat4 nfs4_cb_bind(struct nfs4_compound *c, const uint8_t sessionid[NFS4_SESSIONID_SIZE], clientid4 clientid,
		      bool set_sec, uint32_t program, const callback_sec_parms4 *sec, u_int nsec, bool *bound)
{
	struct nfs4_cb *cb = c->nfs4->cb;
	SVCXPRT *xprt = c->call->req ? c->call->req->rq_xprt : NULL;

	*bound = false;
	if (!cb || !xprt)
		return NFS4_OK;
	pthread_mutex_lock(&cb->mu);
	struct cb_session *s = find_session(cb, sessionid);
	if (!s && !set_sec) {
		pthread_mutex_unlock(&cb->mu);
		return NFS4ERR_INVAL; /* BIND_CONN_TO_SESSION BACK for a session that never asked */
	}
	uint32_t prog = set_sec ? program : s->program;
	pthread_mutex_unlock(&cb->mu);

	/* Made outside the lock: allocation only, no I/O. */
	AUTH *auth = set_sec ? make_auth(sec, nsec) : NULL;
	if (set_sec && !auth)
		return NFS4ERR_ENCR_ALG_UNSUPP; /* only RPCSEC_GSS offered */
	CLIENT *clnt = clnt_vc_ncreate_svc(xprt, prog, NFS_CB, CLNT_CREATE_FLAG_NONE);
	if (!clnt || CLNT_FAILURE(clnt)) {
		log_warn("nfs4: cannot make a backchannel client on fd %d", xprt->xp_fd);
		if (clnt)
			CLNT_DESTROY(clnt);
		if (auth)
			AUTH_DESTROY(auth);
		return NFS4_OK; /* the session simply has no backchannel */
	}
	SVC_REF(xprt, SVC_REF_FLAG_NONE);

	pthread_mutex_lock(&cb->mu);
	s = find_session(cb, sessionid);
	if (cb->stopping || (!s && !set_sec)) {
		pthread_mutex_unlock(&cb->mu);
		CLNT_DESTROY(clnt);
		if (auth)
			AUTH_DESTROY(auth);
		SVC_RELEASE(xprt, SVC_RELEASE_FLAG_NONE);
		return NFS4_OK;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&cb->mu);
			CLNT_DESTROY(clnt);
			AUTH_DESTROY(auth);
			SVC_RELEASE(xprt, SVC_RELEASE_FLAG_NONE);
			return NFS4ERR_DELAY;
		}
		memcpy(s->id, sessionid, NFS4_SESSIONID_SIZE);
		s->clientid = clientid;
		s->next = cb->sessions;
		cb->sessions = s;
	} else if (!set_sec) {
		if (s->failures >= MAX_FAILURES) {
			/* Its callbacks failed again and again: it polls. */
			pthread_mutex_unlock(&cb->mu);
			CLNT_DESTROY(clnt);
			SVC_RELEASE(xprt, SVC_RELEASE_FLAG_NONE);
			*bound = true;
			return NFS4_OK;
		}
	}
	if (!bury_handles(cb, s)) {
		pthread_mutex_unlock(&cb->mu);
		CLNT_DESTROY(clnt);
		if (auth)
			AUTH_DESTROY(auth);
		SVC_RELEASE(xprt, SVC_RELEASE_FLAG_NONE);
		return NFS4ERR_DELAY;
	}
	if (set_sec) {
		bury_auth(cb, s->auth);
		s->auth = auth;
		s->program = program;
	}
	s->want = true;
	s->minorversion = c->minorversion;
	s->clnt = clnt;
	s->xprt = xprt;
	s->up = s->auth != NULL;
	*bound = true;
	pthread_mutex_unlock(&cb->mu);
	return NFS4_OK;
}

nfsstat4 nfs4_cb_set_sec(struct nfs4_compound *c, uint32_t program, const callback_sec_parms4 *sec, u_int nsec)
{
	struct nfs4_cb *cb = c->nfs4->cb;
	if (!cb)
		return NFS4_OK;
	AUTH *auth = make_auth(sec, nsec);
	if (!auth)
		return NFS4ERR_ENCR_ALG_UNSUPP;
	pthread_mutex_lock(&cb->mu);
	struct cb_session *s = find_session(cb, c->sessionid);
	if (!s || !s->clnt) {
		pthread_mutex_unlock(&cb->mu);
		AUTH_DESTROY(auth);
		return NFS4ERR_INVAL; /* no backchannel bound to change */
	}
	bury_auth(cb, s->auth);
	s->auth = auth;
	s->program = program;
	/* The program is in the client handle's call header. */
	CLNT_CONTROL(s->clnt, CLSET_PROG, &program);
	pthread_mutex_unlock(&cb->mu);
	return NFS4_OK;
}

void nfs4_cb_forget(struct nfs4_server *n, const uint8_t sessionid[NFS4_SESSIONID_SIZE])
{
	struct nfs4_cb *cb = n->cb;
	if (!cb)
		return;
	pthread_mutex_lock(&cb->mu);
	struct cb_session *s = find_session(cb, sessionid);
	if (s) {
		s->gone = true;
		s->up = false;
	}
	pthread_mutex_unlock(&cb->mu);
}

static bool session_usable(const struct cb_session *s)
{
	return s && s->up && s->xprt && !(s->xprt->xp_flags & SVC_XPRT_FLAG_DESTROYED);
}

bool nfs4_cb_usable(struct nfs4_server *n, const uint8_t sessionid[NFS4_SESSIONID_SIZE])
{
	struct nfs4_cb *cb = n->cb;
	if (!cb)
		return false;
	pthread_mutex_lock(&cb->mu);
	bool ok = session_usable(find_session(cb, sessionid));
	pthread_mutex_unlock(&cb->mu);
	return ok;
}

uint32_t nfs4_cb_sequence_flags(struct nfs4_server *n, const uint8_t sessionid[NFS4_SESSIONID_SIZE])
{
	struct nfs4_cb *cb = n->cb;
	uint32_t flags = 0;
	if (!cb)
		return 0;
	pthread_mutex_lock(&cb->mu);
	struct cb_session *s = find_session(cb, sessionid);
	/* Only a session that asked for a backchannel, and only while the
	 * client may still fix it by binding a connection. */
	if (s && s->want && !session_usable(s) && s->failures < MAX_FAILURES)
		flags = SEQ4_STATUS_CB_PATH_DOWN | SEQ4_STATUS_CB_PATH_DOWN_SESSION;
	pthread_mutex_unlock(&cb->mu);
	return flags;
}

void nfs4_cb_wait(struct nfs4_compound *c, uint64_t ino, const char *key, const void *owner, size_t owner_len,
		  enum gfs_lock_type type, uint64_t offset, uint64_t length)
{
	struct nfs4_cb *cb = c->nfs4->cb;
	if (!cb || !c->in_session || owner_len > NFS4_OPAQUE_LIMIT)
		return;
	uint64_t now = now_ms();
	pthread_mutex_lock(&cb->mu);
	if (!session_usable(find_session(cb, c->sessionid))) {
		pthread_mutex_unlock(&cb->mu);
		return; /* nothing could tell it: it polls */
	}
	struct cb_waiter *w = NULL;
	for (struct cb_waiter *x = cb->waiters; x; x = x->next)
		if (x->ino == ino && x->clientid == c->clientid && x->owner_len == owner_len &&
		    memcmp(x->owner, owner, owner_len) == 0)
			w = x;
	if (!w) {
		if (cb->nwaiters >= MAX_WAITERS || !(w = calloc(1, sizeof(*w)))) {
			pthread_mutex_unlock(&cb->mu);
			return; /* the client polls: slower, never stuck */
		}
		w->id = ++cb->next_waiter_id;
		w->next = cb->waiters;
		cb->waiters = w;
		cb->nwaiters++;
	}
	w->ino = ino;
	memcpy(w->session, c->sessionid, NFS4_SESSIONID_SIZE);
	w->clientid = c->clientid;
	memcpy(w->key, key, sizeof(w->key));
	w->type = type;
	w->offset = offset;
	w->length = length;
	nfs4_fh_bytes(c, &c->cur, &w->fh);
	w->owner_len = owner_len;
	memcpy(w->owner, owner, owner_len);
	/* A lease, but never less than the longest a Linux client told
	 * MAY_NOTIFY_LOCK sleeps before it sends LOCK again (30 s): a waiter
	 * dropped before that would leave the client asleep after a release.
	 * Each new denial renews it. */
	uint64_t keep = nfs4_state_lease(c->nfs4->state) * 1000ull;
	w->expires_ms = now + (keep > MIN_WAITER_MS ? keep : MIN_WAITER_MS);
	w->next_ms = now + POLL_MS;
	w->kicked = false;
	pthread_mutex_unlock(&cb->mu);
}

void nfs4_cb_granted(struct nfs4_server *n, uint64_t ino, clientid4 clientid, const void *owner, size_t owner_len)
{
	struct nfs4_cb *cb = n->cb;
	if (!cb)
		return;
	pthread_mutex_lock(&cb->mu);
	for (struct cb_waiter **p = &cb->waiters; *p;) {
		struct cb_waiter *w = *p;
		if (w->ino == ino && w->clientid == clientid && w->owner_len == owner_len &&
		    memcmp(w->owner, owner, owner_len) == 0) {
			*p = w->next;
			cb->nwaiters--;
			free(w);
		} else {
			p = &w->next;
		}
	}
	pthread_mutex_unlock(&cb->mu);
}

void nfs4_cb_released(struct nfs4_server *n, uint64_t ino)
{
	struct nfs4_cb *cb = n ? n->cb : NULL;
	if (!cb)
		return;
	bool any = false;
	pthread_mutex_lock(&cb->mu);
	for (struct cb_waiter *w = cb->waiters; w; w = w->next)
		if (ino == 0 || w->ino == ino) {
			w->kicked = true;
			any = true;
		}
	if (any)
		pthread_cond_signal(&cb->cond);
	pthread_mutex_unlock(&cb->mu);
}

/* The sender thread's sweep: sessions whose connection is gone lose their
 * handles (down), sessions destroyed or dropped by the state go.  Returns
 * the handles to free, off the list. */
static struct cb_session *sweep(struct nfs4_cb *cb)
{
	struct cb_session *dead = cb->graveyard;
	cb->graveyard = NULL;
	for (struct cb_session **p = &cb->sessions; *p;) {
		struct cb_session *s = *p;
		bool exists = !s->gone && nfs4_session_check(cb->n->state, s->id) == NFS4_OK;
		if (!exists) {
			*p = s->next;
			s->next = dead;
			dead = s;
			continue;
		}
		if (s->xprt && (s->xprt->xp_flags & SVC_XPRT_FLAG_DESTROYED)) {
			/* The client closed the connection: release it now
			 * (the security stays for a later bind). */
			s->up = false;
			if (bury_handles(cb, s)) {
				struct cb_session *g = cb->graveyard;
				cb->graveyard = g->next;
				g->next = dead;
				dead = g;
			}
		}
		p = &s->next;
	}
	return dead;
}

static void free_dead(struct cb_session *dead)
{
	while (dead) {
		struct cb_session *s = dead;
		dead = s->next;
		free_handles(s);
		free(s);
	}
}

/* Sends CB_COMPOUND(CB_SEQUENCE, CB_NOTIFY_LOCK) for w; false if it
 * failed (the session's backchannel is then down). */
static bool send_notify(struct nfs4_cb *cb, const struct cb_waiter *w)
{
	pthread_mutex_lock(&cb->mu);
	struct cb_session *s = find_session(cb, w->session);
	if (!session_usable(s) || !s->auth) {
		pthread_mutex_unlock(&cb->mu);
		return false;
	}
	/* Only this thread frees or replaces the handles of a session that
	 * stays on the list (others bury them here), so they stay valid
	 * while the lock is dropped below. */
	CLIENT *clnt = s->clnt;
	AUTH *auth = s->auth;
	sequenceid4 seq = s->seq + 1;
	uint32_t minorversion = s->minorversion;
	pthread_mutex_unlock(&cb->mu);

	struct cb_call *call = calloc(1, sizeof(*call));
	if (!call)
		return true; /* not the client's fault: it polls this time */
	CB_SEQUENCE4args *sq = &call->ops[0].nfs_cb_argop4_u.opcbsequence;
	call->ops[0].argop = OP_CB_SEQUENCE;
	memcpy(sq->csa_sessionid, w->session, NFS4_SESSIONID_SIZE);
	sq->csa_sequenceid = seq;
	sq->csa_slotid = 0;
	sq->csa_highest_slotid = 0;
	sq->csa_cachethis = false;
	CB_NOTIFY_LOCK4args *nl = &call->ops[1].nfs_cb_argop4_u.opcbnotify_lock;
	call->ops[1].argop = OP_CB_NOTIFY_LOCK;
	/* Pointers into w, which the caller keeps until we return; the
	 * arguments are encoded before the call is sent. */
	nl->cnla_fh.nfs_fh4_len = w->fh.len;
	nl->cnla_fh.nfs_fh4_val = (char *)w->fh.data;
	nl->cnla_lock_owner.clientid = w->clientid;
	nl->cnla_lock_owner.owner.owner_len = (u_int)w->owner_len;
	nl->cnla_lock_owner.owner.owner_val = (char *)w->owner;
	call->args.minorversion = minorversion;
	call->args.argarray.argarray_len = 2;
	call->args.argarray.argarray_val = call->ops;

	clnt_req_fill(&call->cc, clnt, auth, CB_COMPOUND, NFS4_XDRPROC(xdr_CB_COMPOUND4args), &call->args,
		      NFS4_XDRPROC(xdr_CB_COMPOUND4res), &call->res);
	call->cb = cb;
	call->cc.cc_free_cb = release_call;
	call->cc.cc_size = sizeof(*call);
	enum clnt_stat rs = clnt_req_setup(&call->cc, (struct timespec){CB_TIMEOUT_S, 0});
	if (rs == RPC_SUCCESS) {
		call->cc.cc_refreshes = 0; /* one try: a failure means polling, not a retry loop */
		rs = CLNT_CALL_WAIT(&call->cc);
		/* A wake-up without the reply (timeout, or spurious) is no answer. */
		call->replied = (call->cc.cc_flags & CLNT_REQ_FLAG_ACKSYNC) != 0;
	}
	/* The arguments point into w and the stack; they were never ours to free. */
	call->args.argarray.argarray_len = 0;
	call->args.argarray.argarray_val = NULL;
	bool replied = call->replied;
	bool ok = rs == RPC_SUCCESS && replied && call->res.status == NFS4_OK;
	nfsstat4 status = replied ? call->res.status : NFS4_OK;
	bool seq_ok = replied && rs == RPC_SUCCESS && call->res.resarray.resarray_len >= 1 &&
		      call->res.resarray.resarray_val[0].resop == OP_CB_SEQUENCE &&
		      call->res.resarray.resarray_val[0].nfs_cb_resop4_u.opcbsequence.csr_status == NFS4_OK;
	clnt_req_release(&call->cc); /* frees the call, or keeps it late */

	pthread_mutex_lock(&cb->mu);
	s = find_session(cb, w->session);
	if (seq_ok && s)
		s->seq = seq; /* the client's slot moved on, whatever the op said */
	if (!ok) {
		cb->failed++;
		if (s && s->clnt == clnt) {
			s->up = false;
			s->failures++;
			log_warn("nfs4: a callback to client %llx failed (%s, status %d); its backchannel is down, "
				 "its blocked locks poll",
				 (unsigned long long)w->clientid, clnt_sperrno(rs), (int)status);
		}
	} else {
		cb->sent++;
	}
	pthread_mutex_unlock(&cb->mu);
	return ok;
}

static void *sender_main(void *arg)
{
	struct nfs4_cb *cb = arg;
	struct cb_waiter *due = calloc(MAX_DUE, sizeof(*due));
	if (!due) {
		log_error("nfs4: no memory for the callback sender; blocked locks poll");
		return NULL;
	}
	pthread_mutex_lock(&cb->mu);
	while (!cb->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		bool kicked = false;
		for (struct cb_waiter *w = cb->waiters; w; w = w->next)
			kicked = kicked || w->kicked;
		if (!kicked)
			pthread_cond_timedwait(&cb->cond, &cb->mu, &until);
		if (cb->stopping)
			break;
		struct cb_session *dead = sweep(cb);
		uint64_t now = now_ms();
		struct cb_call *expired = NULL;
		for (struct cb_call **p = &cb->late; *p;) {
			struct cb_call *call = *p;
			if (call->freed_ms + LATE_KEEP_MS <= now) {
				*p = call->next;
				call->next = expired;
				expired = call;
			} else {
				p = &call->next;
			}
		}
		size_t ndue = 0;
		for (struct cb_waiter **p = &cb->waiters; *p;) {
			struct cb_waiter *w = *p;
			if (w->expires_ms <= now) {
				*p = w->next;
				cb->nwaiters--;
				free(w);
				continue;
			}
			if ((w->kicked || w->next_ms <= now) && ndue < MAX_DUE) {
				due[ndue++] = *w;
				w->kicked = false;
				w->next_ms = now + POLL_MS;
			}
			p = &w->next;
		}
		pthread_mutex_unlock(&cb->mu);
		free_dead(dead);
		while (expired) {
			struct cb_call *call = expired;
			expired = call->next;
			free_call(call);
		}

		for (size_t i = 0; i < ndue; i++) {
			struct cb_waiter *w = &due[i];
			struct gfs_lock_conflict cf;
			int rc = gfs_lock_test(cb->vfs, w->ino, w->key, w->owner, w->owner_len, w->type, w->offset,
					       w->length, &cf);
			if (rc != 0)
				continue; /* still held (-EAGAIN), or Redis failed: next round */
			/* Off the list first: the client's next LOCK makes a new
			 * one if it loses the race for the lock. */
			pthread_mutex_lock(&cb->mu);
			bool found = false;
			for (struct cb_waiter **p = &cb->waiters; *p; p = &(*p)->next)
				if ((*p)->id == w->id) {
					struct cb_waiter *x = *p;
					*p = x->next;
					cb->nwaiters--;
					free(x);
					found = true;
					break;
				}
			pthread_mutex_unlock(&cb->mu);
			if (found)
				send_notify(cb, w);
		}
		pthread_mutex_lock(&cb->mu);
	}
	pthread_mutex_unlock(&cb->mu);
	free(due);
	return NULL;
}

/* The lock watch's thread: a release through any gateway (0: unknown). */
static void watch_released(void *arg, gfs_ino_t ino)
{
	struct nfs4_cb *cb = arg;
	nfs4_cb_released(cb->n, ino);
}

int nfs4_cb_start(struct nfs4_server *n, struct gfs_vfs *vfs)
{
	struct nfs4_cb *cb = calloc(1, sizeof(*cb));
	if (!cb)
		return -ENOMEM;
	pthread_mutex_init(&cb->mu, NULL);
	pthread_cond_init(&cb->cond, NULL);
	cb->n = n;
	cb->vfs = vfs;
	int rc = pthread_create(&cb->thread, NULL, sender_main, cb);
	if (rc != 0) {
		pthread_cond_destroy(&cb->cond);
		pthread_mutex_destroy(&cb->mu);
		free(cb);
		return -rc;
	}
	cb->running = true;
	n->cb = cb;
	/* Without it, releases through other gateways are still found by the
	 * periodic check of each waiter, a second later at most. */
	rc = vfs ? gfs_lock_watch_start(vfs, watch_released, cb, &cb->watch) : 0;
	if (rc < 0)
		log_warn("nfs4: cannot watch lock releases (%s); blocked lockers are told within a second",
			 gfs_strerror(rc));
	return 0;
}

void nfs4_cb_stop(struct nfs4_server *n)
{
	struct nfs4_cb *cb = n->cb;
	if (!cb)
		return;
	gfs_lock_watch_stop(cb->watch); /* it calls into cb */
	cb->watch = NULL;
	pthread_mutex_lock(&cb->mu);
	cb->stopping = true;
	pthread_cond_signal(&cb->cond);
	pthread_mutex_unlock(&cb->mu);
	if (cb->running)
		pthread_join(cb->thread, NULL);
	/* The thread is gone: nothing else sends, and binds see stopping. */
	pthread_mutex_lock(&cb->mu);
	struct cb_session *dead = cb->graveyard;
	cb->graveyard = NULL;
	while (cb->sessions) {
		struct cb_session *s = cb->sessions;
		cb->sessions = s->next;
		s->next = dead;
		dead = s;
	}
	while (cb->waiters) {
		struct cb_waiter *w = cb->waiters;
		cb->waiters = w->next;
		free(w);
	}
	struct cb_call *late = cb->late;
	cb->late = NULL;
	pthread_mutex_unlock(&cb->mu);
	free_dead(dead);
	while (late) {
		struct cb_call *call = late;
		late = call->next;
		free_call(call);
	}
	cb->running = false;
}

void nfs4_cb_destroy(struct nfs4_server *n)
{
	struct nfs4_cb *cb = n->cb;
	if (!cb)
		return;
	nfs4_cb_stop(n);
	pthread_cond_destroy(&cb->cond);
	pthread_mutex_destroy(&cb->mu);
	free(cb);
	n->cb = NULL;
}
