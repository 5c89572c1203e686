/*
 * harness.c - starts and stops the real gateway for the NFSv3 tests; see
 * harness.h.  The gateway's stderr goes to a log file in the temp dir,
 * which is printed when the gateway does not come up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef GATEFS_BIN
#error "GATEFS_BIN must be defined by CMake"
#endif

const char *gw_binary(void)
{
	const char *env = getenv("GATEFS_BIN");
	return env && *env ? env : GATEFS_BIN;
}

static int run(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void print_log(const char *log)
{
	FILE *f = fopen(log, "r");
	char line[512];
	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static int port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int write_config(struct gateway *gw, const char *extra)
{
	FILE *f = fopen(gw->config, "w");
	if (!f)
		return -1;
	if (extra)
		fprintf(f, "%s\n", extra);
	fprintf(f,
		"meta_url = %s\n"
		"data_dir = %s\n"
		"listen = 127.0.0.1\n"
		"nfs_port = %d\n"
		"mount_port = %d\n"
		"portmapper = off\n"
		"threads = 4\n"
		"buffer_size = 128M\n"
		"/hf -dir=/ 127.0.0.1(rw,insecure,no_root_squash)\n"
		"/sq -dir=/ 127.0.0.1(rw,insecure,root_squash,anonuid=%d,anongid=%d)\n"
		"/ro -dir=/ 127.0.0.1(ro,insecure,no_root_squash)\n"
		"/only2 -dir=/ 127.0.0.2(rw,insecure,no_root_squash)\n"
		"/sec -dir=/ 127.0.0.1(rw,secure,no_root_squash)\n",
		gw->redis.url, gw->dir, gw->nfs_port, gw->mount_port, HARNESS_ANONUID, HARNESS_ANONGID);
	return fclose(f) == 0 ? 0 : -1;
}

int gw_spawn(struct gateway *gw)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(gw->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* A test that dies (a failed sanitizer check) takes its gateway along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(gw_binary(), gw_binary(), "serve", "--config", gw->config, (char *)NULL);
		_exit(127);
	}
	gw->pid = pid;
	for (int i = 0; i < 600; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			gw->pid = 0;
			fprintf(stderr, "gateway exited during start\n");
			print_log(gw->log);
			return -1;
		}
		if (port_open(gw->nfs_port) && port_open(gw->mount_port))
			return 0;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "gateway did not listen within 30 s\n");
	print_log(gw->log);
	gw_kill(gw);
	return -1;
}

int gw_start(struct gateway *gw)
{
	memset(gw, 0, sizeof(*gw));
	if (tl_redis_start(&gw->redis) != 0)
		return -1;
	if (tl_tmpdir("nfs3", gw->dir, sizeof(gw->dir)) != 0)
		return -1;
	snprintf(gw->config, sizeof(gw->config), "%s/gatefs.conf", gw->dir);
	snprintf(gw->log, sizeof(gw->log), "%s/gatefs.log", gw->dir);
	char objects[400], storage[450];
	snprintf(objects, sizeof(objects), "%s/objects", gw->dir);
	mkdir(objects, 0755);
	snprintf(storage, sizeof(storage), "file://%s", objects);
	gw->nfs_port = tl_free_port();
	gw->mount_port = tl_free_port(); /* never the same port twice */
	if (write_config(gw, NULL) != 0)
		return -1;
	char *fmt[] = {(char *)gw_binary(), "format", "--meta", gw->redis.url, "--storage", storage, "test", NULL};
	if (run(fmt, gw->log) != 0) {
		fprintf(stderr, "gatefs format failed\n");
		print_log(gw->log);
		return -1;
	}
	return gw_spawn(gw);
}

int gw_start_peer(struct gateway *peer, const struct gateway *gw, const char *extra)
{
	memset(peer, 0, sizeof(*peer));
	/* The redis-server is gw's: the peer must neither stop nor remove it. */
	peer->redis = gw->redis;
	peer->redis.pid = 0;
	peer->redis.dir[0] = 0;
	if (tl_tmpdir("nfs3peer", peer->dir, sizeof(peer->dir)) != 0)
		return -1;
	snprintf(peer->config, sizeof(peer->config), "%s/gatefs.conf", peer->dir);
	snprintf(peer->log, sizeof(peer->log), "%s/gatefs.log", peer->dir);
	peer->nfs_port = tl_free_port();
	peer->mount_port = tl_free_port();
	while (peer->mount_port == peer->nfs_port || peer->nfs_port == gw->nfs_port || peer->nfs_port == gw->mount_port)
		peer->nfs_port = tl_free_port();
	while (peer->mount_port == peer->nfs_port || peer->mount_port == gw->nfs_port ||
	       peer->mount_port == gw->mount_port)
		peer->mount_port = tl_free_port();
	if (write_config(peer, extra) != 0)
		return -1;
	return gw_spawn(peer);
}

void gw_kill(struct gateway *gw)
{
	if (gw->pid > 0) {
		kill(gw->pid, SIGKILL);
		waitpid(gw->pid, NULL, 0);
		gw->pid = 0;
	}
}

/* Counts sanitizer reports in the gateway log (ASan, LSan, UBSan). */
static int sanitizer_reports(const char *log)
{
	static const char *const reports[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"};
	return tl_count_lines(log, reports, 3);
}

int gw_log_count(const struct gateway *gw, const char *text)
{
	return tl_count_lines(gw->log, &text, 1);
}

int gw_stop(struct gateway *gw)
{
	int rc = 0;
	if (gw->pid > 0) {
		kill(gw->pid, SIGTERM);
		int st = 0, exited = 0;
		for (int i = 0; i < 400 && !exited; i++) {
			if (waitpid(gw->pid, &st, WNOHANG) == gw->pid) {
				exited = 1;
				break;
			}
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (exited) {
			gw->pid = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "gateway did not exit cleanly (status 0x%x)\n", st);
				rc = -1;
			}
		} else {
			fprintf(stderr, "gateway did not stop within 20 s of SIGTERM\n");
			rc = -1;
		}
		gw_kill(gw);
	}
	if (gw->log[0] && sanitizer_reports(gw->log) > 0) {
		fprintf(stderr, "sanitizer reports in the gateway log:\n");
		print_log(gw->log);
		rc = -1;
	}
	tl_redis_stop(&gw->redis);
	if (gw->dir[0] && !getenv("GATEFS_KEEP_TMP"))
		tl_rm_rf(gw->dir);
	gw->dir[0] = 0;
	gw->log[0] = 0;
	return rc;
}
