/*
 * credserver.h - a loopback stand-in for the AWS container credentials
 * endpoint (and IMDSv2): threads of the test program answering
 * AWS_CONTAINER_CREDENTIALS_FULL_URI requests with the JSON of the
 * credentials the test sets, and counting them.
 */
#ifndef GATEFS_TEST_CREDSERVER_H
#define GATEFS_TEST_CREDSERVER_H

#include <stdint.h>

struct credserver;

int credserver_start(struct credserver **out);
/* http://127.0.0.1:PORT/creds */
const char *credserver_url(const struct credserver *s);
/* What the next requests get; expires_in_sec 0: no Expiration field. */
void credserver_set(struct credserver *s, const char *access, const char *secret, const char *token,
		    int expires_in_sec);
uint64_t credserver_requests(struct credserver *s);
void credserver_stop(struct credserver *s);

#endif
