/*
 * gateway.h - runs a real `gatefs serve` for the protocol tests: a private
 * redis-server, a file:// volume made by `gatefs format`, a config file
 * and free loopback ports for NFS, MOUNT and the builtin portmapper; and
 * more gateways of the same volume (gw_start_peer); or the same on an S3
 * store, e.g. radosgw through a test's s3proxy (gw_start_storage).  Knows
 * nothing about RPC, so that the libtirpc, the libnfs and the raw-RPC test programs can
 * all use it.
 *
 * The standard exports (GW_TEST_EXPORTS, used when a test names none), all
 * on the volume root so that no directory has to exist first:
 *   /hf     127.0.0.1 rw, insecure, no_root_squash
 *   /sq     127.0.0.1 rw, insecure, root_squash anonuid=4242 anongid=4243
 *   /ro     127.0.0.1 ro, insecure
 *   /only2  127.0.0.2 rw, insecure      (127.0.0.1 is refused)
 *   /sec    127.0.0.1 rw, secure        (source port must be < 1024)
 */
#ifndef GATEFS_TEST_GATEWAY_H
#define GATEFS_TEST_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testlib.h"

#define GW_ANONUID 4242
#define GW_ANONGID 4243

#define GW_TEST_EXPORTS                                                                                                \
	"/hf -dir=/ 127.0.0.1(rw,insecure,no_root_squash)\n"                                                           \
	"/sq -dir=/ 127.0.0.1(rw,insecure,root_squash,anonuid=4242,anongid=4243)\n"                                    \
	"/ro -dir=/ 127.0.0.1(ro,insecure,no_root_squash)\n"                                                           \
	"/only2 -dir=/ 127.0.0.2(rw,insecure,no_root_squash)\n"                                                        \
	"/sec -dir=/ 127.0.0.1(rw,secure,no_root_squash)\n"

struct gateway {
	struct tl_redis redis;
	char dir[256]; /* temp dir: objects, config, log */
	char config[512];
	char log[512];
	int nfs_port;
	int mount_port;
	int pmap_port; /* the builtin portmapper's */
	pid_t pid;
};

/* Starts redis, formats the volume and starts the gateway; 0 or -1 (the
 * log is printed).  extra: configuration lines written after the generated
 * ones: settings and exports; NULL = GW_TEST_EXPORTS. */
int gw_start(struct gateway *gw, const char *extra);
/* As gw_start, on the object store `storage` (a URL of
 * docs/architecture/object.md, e.g. an S3 bucket seen through a test's
 * s3proxy; NULL: a file:// store in the temp dir), formatted with volume
 * blocks of block_size bytes (0: the default).  S3 credentials come from
 * the environment (AWS_*, see gw_s3_env). */
int gw_start_storage(struct gateway *gw, const char *storage, uint32_t block_size, const char *extra);
/* Reads the radosgw fixture's env file ($GATEFS_TEST_S3_ENV, set by ctest
 * for FIXTURES_REQUIRED radosgw): exports its AWS_* lines for the gateways
 * started after, and gives the bucket and radosgw's port; 0, or -1 when
 * there is no fixture. */
int gw_s3_env(char *bucket, size_t cap, int *port);
/* Starts another gateway process of gw's volume: the same redis-server
 * and object store (the volume records it), its own ports, config, log and
 * temp dir, and the standard exports.  extra (may be NULL): more
 * configuration lines, e.g. "attr_cache = 1024".  gw_stop(peer) stops only
 * that process; stop it before gw. */
int gw_start_peer(struct gateway *peer, const struct gateway *gw, const char *extra);
/* Starts (again) only the gateway process, on the same ports. */
int gw_spawn(struct gateway *gw);
/* Stops only the gateway process (SIGTERM; it must exit 0) and starts it
 * again on the same ports: its caches are gone, the volume stays. */
int gw_restart(struct gateway *gw);
/* SIGKILL the gateway (no flush) and reap it. */
void gw_kill(struct gateway *gw);
/* True while the gateway process is alive. */
int gw_alive(struct gateway *gw);
/* SIGTERM and wait; then stop redis (if this gateway started it) and
 * remove the temp dir.  0 if the gateway exited 0 and its log holds no
 * sanitizer report, else -1 (the log is printed). */
int gw_stop(struct gateway *gw);
/* Prints the gateway's log to stderr (after a failure). */
void gw_print_log(const struct gateway *gw);
/* How many lines of the gateway's log contain text. */
int gw_log_count(const struct gateway *gw, const char *text);
/* Path of the gatefs binary ($GATEFS_BIN, else GATEFS_BIN from CMake). */
const char *gw_binary(void);

/* The gateway's /metrics (metrics_listen = 127.0.0.1:port): GET it and
 * return the body (malloc'ed), or NULL; the value of the sample whose name
 * and labels are exactly key, or -1; 0 if `promtool check metrics`
 * accepts the text. */
char *gw_metrics_scrape(int port);
double gw_metrics_value(const char *text, const char *key);
int gw_metrics_promtool(const char *text);

#endif
