/*
 * rawrpc.c - hand-built RPC messages over TCP and UDP (see rawrpc.h).
 */
#include "rawrpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void xb_u32(struct xb *b, uint32_t v)
{
	uint32_t be = htonl(v);
	if (b->len + 4 <= sizeof(b->data)) {
		memcpy(b->data + b->len, &be, 4);
		b->len += 4;
	}
}

void xb_bytes(struct xb *b, const void *p, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;
	if (b->len + padded > sizeof(b->data))
		return;
	memcpy(b->data + b->len, p, n);
	memset(b->data + b->len + n, 0, padded - n);
	b->len += padded;
}

void xb_opaque(struct xb *b, const void *p, size_t n)
{
	xb_u32(b, (uint32_t)n);
	xb_bytes(b, p, n);
}

void xb_string(struct xb *b, const char *s)
{
	xb_opaque(b, s, strlen(s));
}

uint32_t xr_u32(struct xr *r)
{
	uint32_t v;
	if (!r->ok || r->pos + 4 > r->len) {
		r->ok = false;
		return 0;
	}
	memcpy(&v, r->p + r->pos, 4);
	r->pos += 4;
	return ntohl(v);
}

size_t xr_opaque(struct xr *r, void *out, size_t max)
{
	uint32_t n = xr_u32(r);
	size_t padded = ((size_t)n + 3) & ~(size_t)3;
	if (!r->ok || n > max || r->pos + padded > r->len) {
		r->ok = false;
		return 0;
	}
	memcpy(out, r->p + r->pos, n);
	if (n < max)
		((char *)out)[n] = 0;
	r->pos += padded;
	return n;
}

void rr_build_call(struct xb *b, const struct rr_call *c, const void *args, size_t args_len)
{
	b->len = 0;
	xb_u32(b, c->xid);
	xb_u32(b, 0); /* CALL */
	xb_u32(b, 2);
	xb_u32(b, c->prog);
	xb_u32(b, c->vers);
	xb_u32(b, c->proc);
	if (c->auth_sys) {
		struct xb cred = {.len = 0};
		xb_u32(&cred, 12345); /* stamp */
		xb_string(&cred, "testhost");
		xb_u32(&cred, c->uid);
		xb_u32(&cred, c->gid);
		xb_u32(&cred, 0); /* no extra groups */
		xb_u32(b, 1);
		xb_opaque(b, cred.data, cred.len);
	} else {
		xb_u32(b, 0);
		xb_u32(b, 0);
	}
	xb_u32(b, 0); /* verifier AUTH_NONE */
	xb_u32(b, 0);
	if (args_len)
		xb_bytes(b, args, args_len);
}

static int connect_to(int type, int port, int source_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, type, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (source_port > 0) {
		struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons((uint16_t)source_port)};
		int one = 1;
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int rr_tcp_connect(int port)
{
	return connect_to(SOCK_STREAM, port, 0);
}

int rr_tcp_connect_from(int port, int source_port)
{
	return connect_to(SOCK_STREAM, port, source_port);
}

int rr_udp_socket(int port)
{
	return connect_to(SOCK_DGRAM, port, 0);
}

int rr_send_record(int fd, const void *msg, size_t len)
{
	uint32_t mark = htonl(0x80000000u | (uint32_t)len);
	if (send(fd, &mark, 4, MSG_NOSIGNAL) != 4)
		return -1;
	return send(fd, msg, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) != 1)
			return -1;
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int rr_recv_record(int fd, uint8_t *out, size_t cap, size_t *len, int timeout_ms)
{
	*len = 0;
	for (;;) {
		uint32_t mark;
		if (read_exact(fd, &mark, 4, timeout_ms) < 0)
			return -1;
		mark = ntohl(mark);
		size_t frag = mark & 0x7fffffffu;
		if (*len + frag > cap)
			return -1;
		if (read_exact(fd, out + *len, frag, timeout_ms) < 0)
			return -1;
		*len += frag;
		if (mark & 0x80000000u)
			return 0;
	}
}

int rr_parse_reply(const uint8_t *msg, size_t len, struct rr_reply *out)
{
	struct xr r = {.p = msg, .len = len, .pos = 0, .ok = true};

	out->xid = xr_u32(&r);
	if (xr_u32(&r) != 1) /* REPLY */
		return -1;
	out->reply_stat = xr_u32(&r);
	if (out->reply_stat == RR_MSG_ACCEPTED) {
		xr_u32(&r); /* verifier flavor */
		uint32_t vlen = xr_u32(&r);
		r.pos += (vlen + 3) & ~3u;
		out->accept_stat = xr_u32(&r);
		if (out->accept_stat == RR_PROG_MISMATCH) {
			out->low = xr_u32(&r);
			out->high = xr_u32(&r);
		}
		out->body = (struct xr){.p = msg, .len = len, .pos = r.pos, .ok = true};
	} else {
		out->reject_stat = xr_u32(&r);
		if (out->reject_stat == 0) {
			out->low = xr_u32(&r);
			out->high = xr_u32(&r);
		} else {
			out->auth_stat = xr_u32(&r);
		}
	}
	return r.ok ? 0 : -1;
}

int rr_call_tcp(int fd, const struct rr_call *c, const void *args, size_t args_len, struct rr_reply *out)
{
	static struct xb b;

	rr_build_call(&b, c, args, args_len);
	if (rr_send_record(fd, b.data, b.len) < 0)
		return -1;
	for (;;) {
		if (rr_recv_record(fd, out->raw, sizeof(out->raw), &out->raw_len, 10000) < 0)
			return -1;
		if (rr_parse_reply(out->raw, out->raw_len, out) < 0)
			return -1;
		out->body.p = out->raw;
		if (out->xid == c->xid)
			return 0;
	}
}

int rr_call_udp(int fd, const struct rr_call *c, const void *args, size_t args_len, struct rr_reply *out)
{
	static struct xb b;

	rr_build_call(&b, c, args, args_len);
	for (int attempt = 0; attempt < 5; attempt++) {
		if (send(fd, b.data, b.len, 0) != (ssize_t)b.len)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		while (poll(&pfd, 1, 1000) == 1) {
			ssize_t n = recv(fd, out->raw, sizeof(out->raw), 0);
			if (n < 0)
				return -1;
			out->raw_len = (size_t)n;
			if (rr_parse_reply(out->raw, out->raw_len, out) == 0 && out->xid == c->xid) {
				out->body.p = out->raw;
				return 0;
			}
		}
	}
	return -1;
}

bool rr_closed_by_peer(int fd, int timeout_ms)
{
	struct timespec start, now;
	char buf[4096];

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			return false;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(timeout_ms - elapsed)) != 1)
			return false;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return true;
	}
}
