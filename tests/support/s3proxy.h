/*
 * s3proxy.h - a fault-injecting HTTP proxy for S3 tests, run as threads of
 * the test program on loopback.  It sits in front of a real S3 server
 * (radosgw) and forwards each request unchanged (so SigV4 signatures stay
 * valid), or, with no upstream, answers every request with an empty 200 (a
 * scripted server for the retry tests).  The test arms one fault at a time;
 * the fault hits the requests that match it, a given number of times or
 * until the test clears it.
 */
#ifndef GATEFS_TEST_S3PROXY_H
#define GATEFS_TEST_S3PROXY_H

#include <stdint.h>

struct s3proxy;

enum s3proxy_fault_kind {
	S3F_NONE,
	S3F_STATUS,	      /* answer `status` with an S3 error body of `code`, do not forward */
	S3F_RESET_BEFORE,     /* reset the connection (RST) before any response */
	S3F_RESET_MID,	      /* forward, send the headers and half the body, then RST */
	S3F_STALL,	      /* hold the request without a word until cleared, then forward it */
	S3F_TRICKLE,	      /* forward, then send the response at 1 byte per second */
	S3F_TRUNCATE,	      /* forward, send the headers and half the body, then close cleanly */
	S3F_IGNORE_RANGE,     /* turn a 206 into a 200 of the whole object (bytes outside the range are filler) */
	S3F_DELETE_KEY_ERROR, /* a DeleteObjects reply gets an <Error> for each key containing `match` */
	S3F_EXPIRED_TOKEN,    /* 400 ExpiredToken */
};

struct s3proxy_fault {
	enum s3proxy_fault_kind kind;
	const char *method; /* NULL: any method */
	const char *match;  /* NULL: any request; else a substring of the request target (for
			     * S3F_DELETE_KEY_ERROR: of the key to fail) */
	int status;	    /* S3F_STATUS */
	const char *code;   /* S3F_STATUS: the S3 <Code>, e.g. "SlowDown" */
	int count;	    /* requests to hit; 0: every matching one until cleared */
};

struct s3proxy_stats {
	uint64_t requests; /* requests read from clients */
	uint64_t faulted;  /* requests that met the fault */
	uint64_t held;	   /* requests stalled right now */
	uint64_t connections;
};

/* upstream_port 0: no upstream, every unfaulted request gets an empty 200. */
int s3proxy_start(int upstream_port, struct s3proxy **out);
int s3proxy_port(const struct s3proxy *p);
/* Arms f (strings are copied); NULL clears.  Clearing releases stalled requests. */
void s3proxy_set_fault(struct s3proxy *p, const struct s3proxy_fault *f);
void s3proxy_get_stats(struct s3proxy *p, struct s3proxy_stats *out);
/* Waits until at least n requests are stalled; 0, or -1 after timeout_ms. */
int s3proxy_wait_held(struct s3proxy *p, uint64_t n, int timeout_ms);
/* Stops accepting, drops every connection and joins every thread. */
void s3proxy_stop(struct s3proxy *p);

#endif
