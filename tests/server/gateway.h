/*
 * gateway.h - runs a real `gatefs serve` for the server tests: a private
 * redis-server, a file:// volume made by `gatefs format`, a config file
 * (the caller adds export lines) and free loopback ports for NFS, MOUNT and
 * the builtin portmapper.
 */
#ifndef GATEFS_TEST_SERVER_GATEWAY_H
#define GATEFS_TEST_SERVER_GATEWAY_H

#include <sys/types.h>

#include "testlib.h"

struct gateway {
	struct tl_redis redis;
	char dir[256];
	char config[512];
	char log[512];
	int nfs_port;
	int mount_port;
	int pmap_port;
	pid_t pid;
};

/* extra: config lines appended after the generated ones (exports etc.). */
int gw_start(struct gateway *gw, const char *extra);
/* SIGTERM and wait; returns the exit status (or -1), then stops redis. */
int gw_stop(struct gateway *gw);
/* Prints the gateway's log to stderr (after a failure). */
void gw_print_log(const struct gateway *gw);
/* Counts lines of the log that contain text. */
int gw_log_count(const struct gateway *gw, const char *text);
const char *gw_binary(void);
/* True while the gateway process is alive. */
int gw_alive(struct gateway *gw);

#endif
