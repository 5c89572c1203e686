/*
 * rpc_transport.c - the RPC transport on libntirpc (call sequence in
 * docs/architecture/server.md): ntirpc's epoll event channel receives,
 * its thread pool runs rpc_dispatch for each call; this file creates the
 * sockets, wires the callbacks and tears it all down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <time.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rpc/rpc.h>
#include <rpc/svc.h>
#include <rpc/svc_rqst.h>

#include "log.h"
#include "rpc_metrics.h"
#include "rpc_transport.h"

/* One call in flight: ntirpc's request with our context around it. */
struct rpc_request {
	struct svc_req req;
};

#define MAX_LISTENERS 8

static struct rpc_service *the_service;
static uint32_t event_channel;
static SVCXPRT *listeners[MAX_LISTENERS];
static size_t nlisteners;

/* Shutdown: once stopping is set, new calls are dropped unanswered (the
 * client retries against the next server), and rpc_transport_stop waits
 * for the calls in flight before the volume is closed under them. */
static atomic_bool stopping;
static atomic_int in_flight;
static atomic_int borrowed_replies;
static atomic_int live_connections; /* accepted and not yet freed */

void rpc_borrowed_reply_begin(void)
{
	atomic_fetch_add(&borrowed_replies, 1);
}

void rpc_borrowed_reply_end(void)
{
	atomic_fetch_sub(&borrowed_replies, 1);
}

/* Bytes handed to ntirpc's TCP sender by reference (XDR_PUTBUFS): ntirpc
 * holds one reference per vector and calls uio_release for each once it
 * has written the reply, possibly after the call returned; the last
 * release gives the bytes back to their owner.  The owner's context is
 * copied behind the vector, so one allocation carries it all. */
struct lent_uio {
	void (*give_back)(void *ctx);
	void *ctx;
	xdr_uio uio; /* last: uio_vio[1] follows, then the context */
};

static void lent_uio_release(xdr_uio *uio, u_int flags)
{
	(void)flags;
	if (__atomic_sub_fetch(&uio->uio_references, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	struct lent_uio *lu = (struct lent_uio *)((char *)uio - offsetof(struct lent_uio, uio));
	lu->give_back(lu->ctx);
	free(lu);
	rpc_borrowed_reply_end();
}

bool rpc_put_lent(XDR *xdrs, const void *data, uint32_t len, void (*give_back)(void *ctx), void *ctx, size_t ctx_size)
{
	const size_t align = _Alignof(max_align_t);
	size_t head = (sizeof(struct lent_uio) + sizeof(xdr_vio) + align - 1) & ~(align - 1);
	struct lent_uio *lu = malloc(head + ctx_size);
	if (!lu) {
		/* No memory for the reference: the bytes are copied instead. */
		bool put = XDR_PUTBYTES(xdrs, data, len);
		give_back(ctx);
		return put;
	}
	*lu = (struct lent_uio){.give_back = give_back, .ctx = (char *)lu + head};
	memcpy(lu->ctx, ctx, ctx_size);
	uint8_t *p = (uint8_t *)data;
	lu->uio.uio_vio[0] = (xdr_vio){.vio_base = p,
				       .vio_head = p,
				       .vio_tail = p + len,
				       .vio_wrap = p + len,
				       .vio_length = len,
				       .vio_type = VIO_DATA};
	lu->uio.uio_count = 1;
	lu->uio.uio_release = lent_uio_release;
	lu->uio.uio_references = 1; /* ours, until XDR_PUTBUFS has taken its own */
	rpc_borrowed_reply_begin();
	bool put = XDR_PUTBUFS(xdrs, &lu->uio, XDR_PUTBUFS_FLAG_RDNLY);
	lent_uio_release(&lu->uio, 0);
	return put;
}

static struct svc_req *request_alloc(SVCXPRT *xprt, XDR *xdrs)
{
	struct rpc_request *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	SVC_REF(xprt, SVC_REF_FLAG_NONE);
	r->req.rq_xprt = xprt;
	r->req.rq_xdrs = xdrs;
	r->req.rq_refcnt = 1;
	return &r->req;
}

static void request_free(struct svc_req *req, enum xprt_stat stat)
{
	struct rpc_request *r = (struct rpc_request *)req;
	SVCXPRT *xprt = req->rq_xprt;

	(void)stat;
	free(r);
	SVC_RELEASE(xprt, SVC_RELEASE_FLAG_NONE);
}

static enum xprt_stat connection_closed(SVCXPRT *xprt)
{
	rpc_recordcap_untrack(xprt->xp_fd);
	return XPRT_DESTROYED;
}

/* Marks the transports of accepted connections (xp_u2), so that only they
 * are counted out. */
static char accepted_connection;

/* ntirpc 4.3 calls this as it frees a transport (the socket is closed by
 * then); unlike disconnect_cb, it runs for every accepted connection. */
static enum xprt_stat connection_freed(SVCXPRT *xprt)
{
	if (xprt->xp_u2 == &accepted_connection) {
		xprt->xp_u2 = NULL;
		rpc_metrics_connection(-1);
		atomic_fetch_sub(&live_connections, 1);
	}
	return XPRT_DESTROYED;
}

static enum xprt_stat process_call(struct svc_req *req)
{
	atomic_fetch_add(&in_flight, 1);
	if (!atomic_load(&stopping))
		rpc_dispatch(the_service, req);
	atomic_fetch_sub(&in_flight, 1);
	return XPRT_IDLE;
}

static enum xprt_stat connection_accepted(SVCXPRT *xprt)
{
	rpc_recordcap_track(xprt->xp_fd, RPC_MAX_RECORD);
	xprt->xp_u2 = &accepted_connection;
	rpc_metrics_connection(1);
	atomic_fetch_add(&live_connections, 1);
	SVC_CONTROL(xprt, SVCSET_XP_FREE_USER_DATA, (void *)connection_freed);
	xprt->xp_dispatch.process_cb = process_call;
	return XPRT_IDLE;
}

/* On UDP, ntirpc makes a transport per datagram and hands it here; we
 * process it at once (SVC_RECV), which also destroys it afterwards. */
static enum xprt_stat datagram_arrived(SVCXPRT *xprt)
{
	xprt->xp_dispatch.process_cb = process_call;
	return SVC_RECV(xprt);
}

int rpc_transport_start(struct rpc_service *svc, uint32_t threads)
{
	struct svc_init_params params;

	the_service = svc;
	memset(&params, 0, sizeof(params));
	params.disconnect_cb = connection_closed;
	params.alloc_cb = request_alloc;
	params.free_cb = request_free;
	params.flags = SVC_INIT_EPOLL | SVC_INIT_NOREG_XPRTS;
	params.max_connections = 16384;
	params.max_events = 1024;
	params.ioq_thrd_min = 2;
	params.ioq_thrd_max = threads ? threads : 16;
	params.channels = 1;
	params.idle_timeout = 0;
	if (!svc_init(&params)) {
		log_error("rpc: svc_init failed");
		return -EIO;
	}
	if (svc_rqst_new_evchan(&event_channel, NULL, SVC_RQST_FLAG_NONE) != 0) {
		log_error("rpc: cannot create the event channel");
		return -EIO;
	}
	return 0;
}

static int make_socket(const char *addr, int port, int type, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	int one = 1;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* TCP only: on UDP, SO_REUSEADDR would let two servers share a port. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)ss, *len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int bound_port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int add_listener(SVCXPRT *xprt)
{
	if (nlisteners == MAX_LISTENERS) {
		SVC_DESTROY(xprt);
		return -ENOSPC;
	}
	if (svc_rqst_evchan_reg(event_channel, xprt, SVC_RQST_FLAG_XPRT_UREG) != 0) {
		SVC_DESTROY(xprt);
		return -EIO;
	}
	listeners[nlisteners++] = xprt;
	return 0;
}

int rpc_listen(const char *addr, int port, bool udp, int *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int tcp_fd = -1, udp_fd = -1, actual = 0;

	/* With port 0 the kernel picks a TCP port that may be taken on UDP:
	 * then try another. */
	for (int attempt = 0; attempt < 16; attempt++) {
		tcp_fd = make_socket(addr, port, SOCK_STREAM, &ss, &len);
		if (tcp_fd < 0)
			return tcp_fd;
		actual = bound_port_of(tcp_fd);
		if (!udp)
			break;
		udp_fd = make_socket(addr, actual, SOCK_DGRAM, &ss, &len);
		if (udp_fd >= 0)
			break;
		close(tcp_fd);
		tcp_fd = -1;
		if (port != 0 || udp_fd != -EADDRINUSE)
			return udp_fd;
	}
	if (tcp_fd < 0)
		return -EADDRINUSE;

	SVCXPRT *tcp =
	    svc_vc_ncreatef(tcp_fd, RPC_MAX_RECORD, RPC_MAX_RECORD, SVC_CREATE_FLAG_CLOSE | SVC_CREATE_FLAG_LISTEN);
	if (!tcp) {
		close(tcp_fd);
		if (udp_fd >= 0)
			close(udp_fd);
		return -EIO;
	}
	tcp->xp_dispatch.rendezvous_cb = connection_accepted;
	int rc = add_listener(tcp);
	if (rc < 0) {
		if (udp_fd >= 0)
			close(udp_fd);
		return rc;
	}
	if (udp) {
		SVCXPRT *dg = svc_dg_ncreatef(udp_fd, 65536, 65536, SVC_CREATE_FLAG_CLOSE);
		if (!dg) {
			close(udp_fd);
			return -EIO;
		}
		dg->xp_dispatch.rendezvous_cb = datagram_arrived;
		rc = add_listener(dg);
		if (rc < 0)
			return rc;
	}
	*bound_port = actual;
	return 0;
}

void rpc_transport_stop(void)
{
	atomic_store(&stopping, true);
	for (size_t i = 0; i < nlisteners; i++)
		SVC_DESTROY(listeners[i]);
	nlisteners = 0;
	for (int waited_ms = 0; atomic_load(&in_flight) > 0; waited_ms += 10) {
		if (waited_ms == 30000) {
			log_warn("rpc: %d calls still running after 30 s; stopping anyway", atomic_load(&in_flight));
			break;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* svc_shutdown destroys every transport left in ntirpc's table, and
	 * races with an event thread that is destroying one at the same time
	 * (a client that just closed its connection): ntirpc 4.3 then
	 * destroys it twice and crashes.  With no accepted connection left
	 * there is nothing to race with.  Otherwise the connections stay up
	 * until the process exits: no call on them is dispatched any more
	 * (stopping), and only the replies still queued matter. */
	bool shut_down = atomic_load(&live_connections) == 0;
	if (shut_down)
		svc_shutdown(SVC_SHUTDOWN_FLAG_NONE);
	/* Replies still queued lend memory of the volume (READ data from the
	 * block cache); they go once sent or once their connection is gone. */
	for (int waited_ms = 0; atomic_load(&borrowed_replies) > 0; waited_ms += 10) {
		if (waited_ms == 5000) {
			if (shut_down) {
				log_warn("rpc: %d replies still unsent after 5 s", atomic_load(&borrowed_replies));
				break;
			}
			/* A client that does not read its replies: its connection
			 * must go before the volume's memory does. */
			log_warn("rpc: %d replies still unsent after 5 s; closing every connection",
				 atomic_load(&borrowed_replies));
			svc_shutdown(SVC_SHUTDOWN_FLAG_NONE);
			shut_down = true;
			waited_ms = 0;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
