/*
 * tcpproxy.h - a small loopback TCP proxy for fault tests: forwards every
 * connection to a target port, and can delay or silently swallow the
 * traffic of the connections that have sent a marker string (for Redis:
 * "SUBSCRIBE", the tracking connection) without closing them, as a slow or
 * dead network path would.
 */
#ifndef GATEFS_TEST_TCPPROXY_H
#define GATEFS_TEST_TCPPROXY_H

#include <stdbool.h>

struct tcpproxy;

enum tcpproxy_mode {
	TCPPROXY_PASS = 0,    /* forward at once */
	TCPPROXY_DELAY = 1,   /* marked connections: server-to-client bytes held delay_ms */
	TCPPROXY_SILENCE = 2, /* marked connections: bytes both ways read and dropped */
};

/* Listens on a free 127.0.0.1 port (*port) and forwards to 127.0.0.1:target. */
struct tcpproxy *tcpproxy_start(int target_port, const char *marker, int *port);
void tcpproxy_set(struct tcpproxy *p, enum tcpproxy_mode mode, int delay_ms);
/* Resets (closes) every marked connection, as a network path that comes
 * back after its peers gave up on it. */
void tcpproxy_reset_marked(struct tcpproxy *p);
void tcpproxy_stop(struct tcpproxy *p);

#endif
