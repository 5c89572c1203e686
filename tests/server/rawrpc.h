/*
 * rawrpc.h - a deliberately small RPC client that builds every byte
 * itself, so that tests can send what no RPC library would: truncated
 * records, absurd record marks, bad XDR, unknown programs.
 */
#ifndef GATEFS_TEST_RAWRPC_H
#define GATEFS_TEST_RAWRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encoding into a fixed buffer. */
struct xb {
	uint8_t data[65536];
	size_t len;
};
void xb_u32(struct xb *b, uint32_t v);
void xb_bytes(struct xb *b, const void *p, size_t n);  /* raw, padded to 4 */
void xb_opaque(struct xb *b, const void *p, size_t n); /* length + bytes */
void xb_string(struct xb *b, const char *s);

/* Decoding; ok turns false on the first short read. */
struct xr {
	const uint8_t *p;
	size_t len, pos;
	bool ok;
};
uint32_t xr_u32(struct xr *r);
/* Copies an opaque<> or string<> of at most max bytes (NUL-terminated). */
size_t xr_opaque(struct xr *r, void *out, size_t max);

/* A call header; auth_sys uses uid/gid with no extra groups. */
struct rr_call {
	uint32_t xid, prog, vers, proc;
	bool auth_sys;
	uint32_t uid, gid;
};
void rr_build_call(struct xb *b, const struct rr_call *c, const void *args, size_t args_len);

enum { RR_MSG_ACCEPTED = 0, RR_MSG_DENIED = 1 };
enum {
	RR_SUCCESS = 0,
	RR_PROG_UNAVAIL = 1,
	RR_PROG_MISMATCH = 2,
	RR_PROC_UNAVAIL = 3,
	RR_GARBAGE_ARGS = 4,
	RR_SYSTEM_ERR = 5
};

struct rr_reply {
	uint32_t xid;
	uint32_t reply_stat;  /* RR_MSG_* */
	uint32_t accept_stat; /* when accepted */
	uint32_t reject_stat; /* when denied: 0 RPC_MISMATCH, 1 AUTH_ERROR */
	uint32_t auth_stat;   /* when AUTH_ERROR */
	uint32_t low, high;   /* PROG_MISMATCH */
	struct xr body;	      /* results, when SUCCESS */
	uint8_t raw[65536];
	size_t raw_len;
};

int rr_tcp_connect(int port); /* 127.0.0.1; -1 on failure */
/* Optionally binds a privileged source port first (needs root); -1 if not. */
int rr_tcp_connect_from(int port, int source_port);
int rr_udp_socket(int port); /* connected to 127.0.0.1:port */
int rr_send_record(int fd, const void *msg, size_t len);
/* One record (all fragments); -1 on EOF, error or timeout. */
int rr_recv_record(int fd, uint8_t *out, size_t cap, size_t *len, int timeout_ms);
int rr_parse_reply(const uint8_t *msg, size_t len, struct rr_reply *out);
/* Call and wait for the reply with the same xid: 0 or -1. */
int rr_call_tcp(int fd, const struct rr_call *c, const void *args, size_t args_len, struct rr_reply *out);
int rr_call_udp(int fd, const struct rr_call *c, const void *args, size_t args_len, struct rr_reply *out);
/* True if the peer closed fd (EOF or reset) within timeout_ms. */
bool rr_closed_by_peer(int fd, int timeout_ms);

#endif
