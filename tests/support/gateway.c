/*
 * gateway.c - starts and stops a real gateway for the protocol tests; see
 * gateway.h.  The gateway's stdout and stderr go to a log file in its temp
 * dir, which is printed when the gateway does not come up or stop cleanly.
 */
#include "gateway.h"

#include <arpa/inet.h>
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

#ifndef GATEFS_BIN
#error "GATEFS_BIN must be defined by CMake"
#endif

const char *gw_binary(void)
{
	const char *env = getenv("GATEFS_BIN");
	return env && *env ? env : GATEFS_BIN;
}

static void sleep_50ms(void)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* Runs argv with its output appended to log; its exit status or -1. */
static int run_logged(char *const argv[], const char *log)
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
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void gw_print_log(const struct gateway *gw)
{
	FILE *f = fopen(gw->log, "r");
	char line[1024];
	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", gw->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

int gw_log_count(const struct gateway *gw, const char *text)
{
	return tl_count_lines(gw->log, &text, 1);
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

/* Names the temp dir's files and picks ports no other gateway of this
 * test got (tl_free_port never hands out one port twice). */
static int prepare(struct gateway *gw, const char *tag)
{
	if (tl_tmpdir(tag, gw->dir, sizeof(gw->dir)) != 0)
		return -1;
	snprintf(gw->config, sizeof(gw->config), "%s/gatefs.conf", gw->dir);
	snprintf(gw->log, sizeof(gw->log), "%s/gatefs.log", gw->dir);
	gw->nfs_port = tl_free_port();
	gw->mount_port = tl_free_port();
	gw->pmap_port = tl_free_port();
	return 0;
}

static int write_config(const struct gateway *gw, const char *extra)
{
	FILE *f = fopen(gw->config, "w");
	if (!f)
		return -1;
	fprintf(f,
		"meta_url = %s\n"
		"data_dir = %s\n"
		"listen = 127.0.0.1\n"
		"nfs_port = %d\n"
		"mount_port = %d\n"
		"portmap_port = %d\n"
		"portmapper = builtin\n"
		"threads = 4\n"
		"buffer_size = 128M\n"
		"%s\n",
		gw->redis.url, gw->dir, gw->nfs_port, gw->mount_port, gw->pmap_port, extra);
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
			gw_print_log(gw);
			return -1;
		}
		if (port_open(gw->nfs_port) && port_open(gw->mount_port) && port_open(gw->pmap_port))
			return 0;
		sleep_50ms();
	}
	fprintf(stderr, "gateway did not listen within 30 s\n");
	gw_print_log(gw);
	gw_kill(gw);
	return -1;
}

int gw_start_storage(struct gateway *gw, const char *storage, uint32_t block_size, const char *extra)
{
	memset(gw, 0, sizeof(*gw));
	if (tl_redis_start(&gw->redis) != 0 || prepare(gw, "gw") != 0)
		return -1;
	char objects[400], file_url[450], bs[16];
	if (!storage) {
		snprintf(objects, sizeof(objects), "%s/objects", gw->dir);
		mkdir(objects, 0755);
		snprintf(file_url, sizeof(file_url), "file://%s", objects);
		storage = file_url;
	}
	if (write_config(gw, extra ? extra : GW_TEST_EXPORTS) != 0)
		return -1;
	snprintf(bs, sizeof(bs), "%u", block_size);
	char *fmt[10];
	int n = 0;
	fmt[n++] = (char *)gw_binary();
	fmt[n++] = "format";
	fmt[n++] = "--meta";
	fmt[n++] = gw->redis.url;
	fmt[n++] = "--storage";
	fmt[n++] = (char *)storage;
	if (block_size) {
		fmt[n++] = "--block-size";
		fmt[n++] = bs;
	}
	fmt[n++] = "test";
	fmt[n] = NULL;
	if (run_logged(fmt, gw->log) != 0) {
		fprintf(stderr, "gatefs format failed\n");
		gw_print_log(gw);
		return -1;
	}
	return gw_spawn(gw);
}

int gw_start(struct gateway *gw, const char *extra)
{
	return gw_start_storage(gw, NULL, 0, extra);
}

int gw_s3_env(char *bucket, size_t cap, int *port)
{
	const char *path = getenv("GATEFS_TEST_S3_ENV");
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[1024];
	if (!f)
		return -1;
	bucket[0] = 0;
	*port = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		if (strcmp(line, "GATEFS_TEST_S3_PORT") == 0)
			*port = atoi(eq + 1);
		else if (strcmp(line, "GATEFS_TEST_S3_BUCKET") == 0)
			snprintf(bucket, cap, "%s", eq + 1);
		else if (strncmp(line, "AWS_", 4) == 0)
			setenv(line, eq + 1, 1); /* inherited by format and serve */
	}
	fclose(f);
	return bucket[0] && *port > 0 ? 0 : -1;
}

int gw_start_peer(struct gateway *peer, const struct gateway *gw, const char *extra)
{
	memset(peer, 0, sizeof(*peer));
	/* The redis-server is gw's: the peer must neither stop nor remove it. */
	peer->redis = gw->redis;
	peer->redis.pid = 0;
	peer->redis.dir[0] = 0;
	if (prepare(peer, "gwpeer") != 0)
		return -1;
	char config[2048];
	snprintf(config, sizeof(config), "%s\n%s", extra ? extra : "", GW_TEST_EXPORTS);
	if (write_config(peer, config) != 0)
		return -1;
	return gw_spawn(peer);
}

/* SIGTERM and wait up to 20 s; 0 if it exited 0. */
static int stop_process(struct gateway *gw)
{
	int rc = 0;
	if (gw->pid <= 0)
		return 0;
	kill(gw->pid, SIGTERM);
	int st = 0, exited = 0;
	for (int i = 0; i < 400 && !exited; i++) {
		if (waitpid(gw->pid, &st, WNOHANG) == gw->pid)
			exited = 1;
		else
			sleep_50ms();
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
	return rc;
}

int gw_restart(struct gateway *gw)
{
	if (stop_process(gw) != 0) {
		gw_print_log(gw);
		return -1;
	}
	return gw_spawn(gw);
}

void gw_kill(struct gateway *gw)
{
	if (gw->pid > 0) {
		kill(gw->pid, SIGKILL);
		waitpid(gw->pid, NULL, 0);
		gw->pid = 0;
	}
}

int gw_alive(struct gateway *gw)
{
	int st;
	return gw->pid > 0 && waitpid(gw->pid, &st, WNOHANG) == 0;
}

/* Counts sanitizer reports in the gateway log (ASan, LSan, UBSan). */
static int sanitizer_reports(const char *log)
{
	static const char *const reports[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"};
	return tl_count_lines(log, reports, 3);
}

int gw_stop(struct gateway *gw)
{
	int rc = stop_process(gw);
	if (gw->log[0] && sanitizer_reports(gw->log) > 0) {
		fprintf(stderr, "sanitizer reports in the gateway log:\n");
		rc = -1;
	}
	if (rc != 0 && gw->log[0])
		gw_print_log(gw);
	tl_redis_stop(&gw->redis);
	if (gw->dir[0] && !getenv("GATEFS_KEEP_TMP"))
		tl_rm_rf(gw->dir);
	gw->dir[0] = 0;
	gw->log[0] = 0;
	return rc;
}

/* GET /metrics from 127.0.0.1:port; the body, malloc'ed, or NULL. */
char *gw_metrics_scrape(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return NULL;
	}
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0 || !body) {
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

/* The value of the sample whose name and labels are exactly key; -1 if absent. */
double gw_metrics_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return strtod(p + kl + 1, NULL);
	return -1;
}

/* 0 if promtool accepts the exposition text. */
int gw_metrics_promtool(const char *text)
{
	char path[] = "/tmp/gatefs-metrics-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	int ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	int rc = ok ? system(cmd) : -1;
	unlink(path);
	return rc;
}
