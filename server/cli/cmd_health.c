/*
 * cmd_health.c - "gatefs health": answers whether a gateway really serves,
 * for container health checks and monitors.  It makes an RPC NULL call to
 * the NFS program over TCP (the transport, ntirpc's threads and the
 * dispatcher all answer it) and a PING round trip to the gateway's Redis;
 * a live process that cannot do both is unhealthy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "vfs_admin.h"

#define NFS_PROGRAM 100003
#define NFS_V3 3

static const char health_help[] =
    "usage: gatefs health [--config FILE] [--nfs HOST:PORT] [--meta URL] [--timeout SECONDS]\n"
    "\n"
    "Checks a running gateway: an RPC NULL call to its NFS port over TCP and a\n"
    "PING to its Redis.  The address and Redis come from the configuration file\n"
    "(as 'gatefs serve' reads it: listen, nfs_port, meta_url, data_dir for the\n"
    "embedded redis-server); --nfs and --meta override them.  Prints one line.\n"
    "Exit status: 0 healthy, 1 unhealthy, 2 usage.\n";

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Waits for fd to become ready for events until deadline_ms. */
static int wait_fd(int fd, short events, double deadline_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	double left = deadline_ms - now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	int n = poll(&p, 1, (int)left + 1);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int read_full(int fd, void *buf, size_t len, double deadline_ms)
{
	size_t got = 0;
	while (got < len) {
		int rc = wait_fd(fd, POLLIN, deadline_ms);
		if (rc < 0)
			return rc;
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

/* NULL of NFS v3 over TCP (RFC 5531 record marking); 0 if accepted with SUCCESS. */
static int nfs_null(const char *host, const char *port, int timeout_s, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(why, whylen, "%s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	double deadline = now_ms() + timeout_s * 1000.0;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	rc = fd < 0 ? -errno : 0;
	if (rc == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
			rc = -soerr;
	}
	freeaddrinfo(ai);
	uint32_t xid = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	uint32_t call[11] = {
	    htonl(0x80000000u | 40), htonl(xid), 0, htonl(2), htonl(NFS_PROGRAM), htonl(NFS_V3), 0, 0, 0, 0, 0};
	if (rc == 0 && send(fd, call, sizeof(call), MSG_NOSIGNAL) != (ssize_t)sizeof(call))
		rc = -errno;
	/* mark, xid, REPLY, MSG_ACCEPTED, verifier flavor and length, SUCCESS */
	uint32_t reply[7];
	if (rc == 0)
		rc = read_full(fd, reply, sizeof(reply), deadline);
	if (rc == 0 && (ntohl(reply[1]) != xid || ntohl(reply[2]) != 1 || ntohl(reply[3]) != 0 ||
			ntohl(reply[5]) != 0 || ntohl(reply[6]) != 0)) {
		snprintf(why, whylen, "NULL call to %s:%s was not accepted", host, port);
		rc = -EPROTO;
	} else if (rc < 0) {
		snprintf(why, whylen, "NULL call to %s:%s: %s", host, port, strerror(-rc));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int cmd_health(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'}, {"nfs", required_argument, NULL, 'n'},
	    {"meta", required_argument, NULL, 'm'},   {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *nfs = NULL, *meta_url = NULL;
	int timeout_s = 5, opt;
	char err[1024];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			nfs = optarg;
			break;
		case 'm':
			meta_url = optarg;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0) {
				fputs(health_help, stderr);
				return 2;
			}
			break;
		case 'h':
			fputs(health_help, stdout);
			return 0;
		default:
			fputs(health_help, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(health_help, stderr);
		return 2;
	}

	struct gfs_config cfg;
	config_defaults(&cfg);
	if (config_path && config_parse_file(&cfg, config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "gatefs health: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	char host[128], port[16], embedded[1100];
	if (nfs) {
		const char *colon = strrchr(nfs, ':');
		size_t n = colon ? (size_t)(colon - nfs) : 0;
		if (!colon || n == 0 || n >= sizeof(host) || !colon[1] || strlen(colon + 1) >= sizeof(port)) {
			fprintf(stderr, "gatefs health: --nfs wants HOST:PORT\n");
			config_free(&cfg);
			return 2;
		}
		memcpy(host, nfs, n);
		host[n] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		/* A wildcard listener answers on loopback. */
		const char *l = cfg.listen_addr;
		snprintf(host, sizeof(host), "%s",
			 !strcmp(l, "0.0.0.0") || !l[0] ? "127.0.0.1"
			 : !strcmp(l, "::")		? "::1"
							: l);
		snprintf(port, sizeof(port), "%d", cfg.nfs_port);
	}
	if (!meta_url)
		meta_url = cfg.meta_url[0] ? cfg.meta_url : NULL;
	if (!meta_url) {
		snprintf(embedded, sizeof(embedded), "unix://%s/redis.sock?db=0", cfg.data_dir);
		meta_url = embedded;
	}

	double t0 = now_ms();
	int rc = nfs_null(host, port, timeout_s, err, sizeof(err));
	double t1 = now_ms();
	if (rc == 0) {
		char why[512] = "";
		rc = gfs_admin_probe_meta(meta_url, why, sizeof(why));
		if (rc < 0)
			snprintf(err, sizeof(err), "redis PING: %s", why[0] ? why : strerror(-rc));
	}
	double t2 = now_ms();
	if (rc == 0)
		printf("healthy: NFS NULL on %s port %s in %.1f ms, redis PING in %.1f ms\n", host, port, t1 - t0,
		       t2 - t1);
	else
		printf("unhealthy: %s\n", err);
	config_free(&cfg);
	return rc == 0 ? 0 : 1;
}
