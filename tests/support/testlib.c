/*
 * testlib.c - test registration and reporting, and the redis-server harness
 * (see testlib.h).
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static struct tl_test *tl_head, *tl_tail;
int tl_current_failed;

void tl_register(struct tl_test *t)
{
	if (tl_tail)
		tl_tail->next = t;
	else
		tl_head = t;
	tl_tail = t;
}

void tl_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	tl_current_failed = 1;
}

int tl_main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct tl_test *t = tl_head; t; t = t->next) {
		if (argc > 1) {
			int wanted = 0;
			for (int i = 1; i < argc; i++)
				wanted |= strcmp(argv[i], t->name) == 0;
			if (!wanted)
				continue;
		}
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		tl_current_failed = 0;
		printf("RUN  %s\n", t->name);
		t->fn();
		clock_gettime(CLOCK_MONOTONIC, &b);
		double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		printf("%s %s (%.2fs)\n", tl_current_failed ? "FAIL" : "OK  ", t->name, secs);
		if (tl_current_failed)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed || passed == 0 ? 1 : 0;
}

/* Below the kernel's ephemeral range (32768-60999 by default): a port the
 * kernel handed out once and took back can become the local end of some
 * test's next outgoing connection (to Redis, say) before the server that
 * was meant to listen on it binds it.  Random, so that parallel tests
 * rarely pick the same one; each pick is checked with a bind. */
#define TL_PORT_LOW 20000
#define TL_PORT_HIGH 32767

int tl_free_port(void)
{
	/* Callers pick several ports before binding any: never hand out one
	 * twice.  Tests are single-threaded where they pick ports. */
	static unsigned seed;
	static int given[64];
	static unsigned ngiven;
	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int attempt = 0; attempt < 200; attempt++) {
		int port = TL_PORT_LOW + (int)(rand_r(&seed) % (TL_PORT_HIGH - TL_PORT_LOW + 1));
		int seen = 0;
		for (unsigned i = 0; i < 64 && i < ngiven; i++)
			seen |= given[i] == port;
		if (seen)
			continue;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok) {
			given[ngiven++ % 64] = port;
			return port;
		}
	}
	return -1;
}

int tl_count_lines(const char *path, const char *const *texts, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int count = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < n; i++)
			if (strstr(line, texts[i])) {
				count++;
				break;
			}
	fclose(f);
	return count;
}

int tl_tmpdir(const char *tag, char *out, size_t outlen)
{
	const char *base = getenv("TMPDIR");
	snprintf(out, outlen, "%s/gatefs-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	return mkdtemp(out) ? 0 : -errno;
}

void tl_rm_rf(const char *path)
{
	if (!path || !*path || strcmp(path, "/") == 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static int run_argv(char *const argv[], int quiet)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", 1);
			if (fd >= 0) {
				dup2(fd, 1);
				close(fd);
			}
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tl_redis_cmd(const struct tl_redis *r, const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d %s >/dev/null", r->port, args);
	return system(cmd);
}

long long tl_redis_int(const struct tl_redis *r, const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d %s", r->port, args);
	FILE *p = popen(cmd, "r");
	long long n = -1;
	if (!p)
		return -1;
	if (fscanf(p, "%lld", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

long long tl_redis_calls(const struct tl_redis *r, const char *command)
{
	char cmd[256], line[512], want[64];
	snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d INFO commandstats", r->port);
	snprintf(want, sizeof(want), "cmdstat_%s:calls=", command);
	FILE *f = popen(cmd, "r");
	long long calls = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			calls = atoll(line + strlen(want));
	pclose(f);
	return calls;
}

int tl_redis_start(struct tl_redis *r)
{
	memset(r, 0, sizeof(*r));
	if (tl_tmpdir("redis", r->dir, sizeof(r->dir)) < 0)
		return -1;
	for (int attempt = 0; attempt < 5; attempt++) {
		r->port = tl_free_port();
		char port[16];
		snprintf(port, sizeof(port), "%d", r->port);
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			/* A test that dies must not leave its redis-server behind. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			char log[300];
			snprintf(log, sizeof(log), "%s/redis.log", r->dir);
			execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", r->dir,
			       "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--logfile", log,
			       "--maxmemory-policy", "noeviction", (char *)NULL);
			_exit(127);
		}
		r->pid = pid;
		for (int i = 0; i < 100; i++) {
			char *argv[] = {"redis-cli", "-h", "127.0.0.1", "-p", port, "PING", NULL};
			if (run_argv(argv, 1) == 0) {
				snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d/0", r->port);
				return 0;
			}
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				break; /* port taken between probe and bind: try another */
			usleep(20000);
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		r->pid = 0;
	}
	return -1;
}

void tl_redis_stop(struct tl_redis *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	if (r->dir[0])
		tl_rm_rf(r->dir);
	r->dir[0] = 0;
}

uint64_t tl_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

void tl_fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	uint8_t *p = buf;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = tl_rand(&s);
		memcpy(p + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = tl_rand(&s);
		memcpy(p + i, &v, len - i);
	}
}
