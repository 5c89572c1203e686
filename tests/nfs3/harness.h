/*
 * harness.h - runs a real gateway for the NFSv3 protocol tests: a private
 * redis-server, a file:// volume formatted by `gatefs format`, a config
 * file with the test exports, and `gatefs serve` on free loopback ports;
 * and more gateways of the same volume (gw_start_peer).
 * Knows nothing about RPC, so that both the libtirpc and the libnfs test
 * programs can use it.
 *
 * Exports (all on the volume root, so no directory has to exist first):
 *   /hf     127.0.0.1 rw, insecure, no_root_squash
 *   /sq     127.0.0.1 rw, insecure, root_squash anonuid=4242 anongid=4243
 *   /ro     127.0.0.1 ro, insecure
 *   /only2  127.0.0.2 rw, insecure      (127.0.0.1 is refused)
 *   /sec    127.0.0.1 rw, secure        (source port must be < 1024)
 */
#ifndef GATEFS_TEST_NFS3_HARNESS_H
#define GATEFS_TEST_NFS3_HARNESS_H

#include <sys/types.h>

#include "testlib.h"

#define HARNESS_ANONUID 4242
#define HARNESS_ANONGID 4243

struct gateway {
	struct tl_redis redis;
	char dir[256]; /* temp dir: objects, config, log */
	char config[512];
	char log[512];
	int nfs_port;
	int mount_port;
	pid_t pid;
};

/* Starts redis, formats the volume and starts the gateway; 0 or -1. */
int gw_start(struct gateway *gw);
/* Starts a second gateway process of gw's volume: the same redis-server
 * and object store (the volume records it), its own ports, config, log and
 * temp dir.  extra (may be NULL): configuration lines put first, e.g.
 * "attr_cache = 1024".  gw_stop(peer) stops only that process; stop it
 * before gw. */
int gw_start_peer(struct gateway *peer, const struct gateway *gw, const char *extra);
/* Starts (again) only the gateway process, on the same ports. */
int gw_spawn(struct gateway *gw);
/* SIGKILL the gateway (no flush) and reap it. */
void gw_kill(struct gateway *gw);
/* SIGTERM, wait; then stop redis and remove the temp dir.  Returns 0 if
 * the gateway exited 0 and its log holds no sanitizer report, else -1. */
int gw_stop(struct gateway *gw);
/* How many lines of the gateway's log contain text. */
int gw_log_count(const struct gateway *gw, const char *text);
/* Path of the gatefs binary (GATEFS_BIN from CMake). */
const char *gw_binary(void);

#endif
