/*
 * status_watch.c - "gatefs status --watch": a live, top-like view of a
 * running gateway.  It scrapes the gateway's Prometheus endpoint
 * (metrics_listen) every interval and prints rates over that interval:
 * calls and latency of the busiest procedures, Redis round trips, object
 * store traffic, the block and attribute caches, the write buffer and the
 * connected clients.  The same figures a Prometheus server would see.
 */
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

static const char watch_help[] =
    "usage: gatefs status --watch [--metrics HOST:PORT | --config FILE] [--interval SECONDS]\n"
    "                             [--count N]\n"
    "\n"
    "Shows a running gateway's figures, refreshed every interval (default 2 s),\n"
    "scraped from its Prometheus endpoint: the address given, or metrics_listen\n"
    "of the configuration file (a wildcard address is reached on loopback).\n"
    "With --count it stops after N views (the first shows totals since start).\n"
    "Exit status: 0 ok, 1 the endpoint did not answer, 2 usage.\n";

struct sample {
	char key[224]; /* name{labels} as rendered */
	double value;
};

struct scrape {
	struct sample *v;
	size_t n, cap;
};

static void scrape_free(struct scrape *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* GET /metrics over HTTP/1.0; the body in a malloc'ed string. */
static char *http_get_metrics(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return NULL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {5, 0};
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	freeaddrinfo(ai);
	char req[256];
	int len = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", host);
	char *buf = NULL;
	size_t got = 0, cap = 0;
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
		snprintf(err, errlen, "sending to %s:%s: %s", host, port, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		if (got + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 262144;
			char *nb = realloc(buf, cap);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
		}
		ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading from %s:%s: %s", host, port, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf) {
		snprintf(err, errlen, "%s:%s closed the connection without an answer", host, port);
		return NULL;
	}
	buf[got] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || !body || atoi(buf + 9) != 200) {
		snprintf(err, errlen, "%s:%s answered: %.60s", host, port, buf);
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, got - (size_t)(body + 4 - buf) + 1);
	return buf;
}

static int parse_scrape(char *text, struct scrape *s)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !line[0])
			continue;
		char *sp = strrchr(line, ' ');
		if (!sp || (size_t)(sp - line) >= sizeof(s->v[0].key))
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 1024;
			struct sample *nv = realloc(s->v, cap * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			s->v = nv;
			s->cap = cap;
		}
		struct sample *x = &s->v[s->n++];
		memcpy(x->key, line, (size_t)(sp - line));
		x->key[sp - line] = '\0';
		x->value = strtod(sp + 1, NULL);
	}
	return 0;
}

static double get(const struct scrape *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return s->v[i].value;
	return 0;
}

/* now - before of one key; the total when there is no before. */
static double delta(const struct scrape *now, const struct scrape *before, const char *key)
{
	return get(now, key) - (before ? get(before, key) : 0);
}

static double ratio(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

struct proc_row {
	char labels[200];
	double calls, errors, seconds;
};

static int by_calls(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;
	return x->calls < y->calls ? 1 : x->calls > y->calls ? -1 : 0;
}

static void print_view(const struct scrape *now, const struct scrape *before, double secs)
{
	const char *unit = before ? "/s" : " total";
	double per = before && secs > 0 ? secs : 1;
	char key[256];

	printf("gatefs %s   clients connected: %.0f\n",
	       before ? "(rates over the last interval)" : "(totals since start)",
	       get(now, "gatefs_clients_connected"));

	/* The procedures, busiest first. */
	struct proc_row rows[64];
	size_t nrows = 0;
	double calls = 0, errors = 0;
	const char *prefix = "gatefs_rpc_calls_total{";
	for (size_t i = 0; i < now->n && nrows < 64; i++) {
		if (strncmp(now->v[i].key, prefix, strlen(prefix)) != 0)
			continue;
		struct proc_row *r = &rows[nrows];
		snprintf(r->labels, sizeof(r->labels), "%s", now->v[i].key + strlen("gatefs_rpc_calls_total"));
		r->calls = delta(now, before, now->v[i].key);
		snprintf(key, sizeof(key), "gatefs_rpc_errors_total%s", r->labels);
		r->errors = delta(now, before, key);
		snprintf(key, sizeof(key), "gatefs_rpc_duration_seconds_sum%s", r->labels);
		r->seconds = delta(now, before, key);
		calls += r->calls;
		errors += r->errors;
		if (r->calls > 0)
			nrows++;
	}
	qsort(rows, nrows, sizeof(rows[0]), by_calls);
	printf("RPC        %10.1f calls%s  %8.1f errors%s\n", calls / per, unit, errors / per, unit);
	for (size_t i = 0; i < nrows && i < 8; i++) {
		const char *proc = strstr(rows[i].labels, "procedure=\"");
		char name[64] = "?";
		if (proc)
			sscanf(proc + 11, "%63[^\"]", name);
		const char *prog = strstr(rows[i].labels, "program=\"");
		char pname[32] = "?";
		if (prog)
			sscanf(prog + 9, "%31[^\"]", pname);
		printf("  %-8s %-12s %10.1f%s  avg %8.3f ms  errors %.0f\n", pname, name, rows[i].calls / per, unit,
		       1e3 * rows[i].seconds / rows[i].calls, rows[i].errors);
	}

	double rt = delta(now, before, "gatefs_redis_round_trips_total");
	printf("Redis      %10.1f round trips%s  avg %.3f ms  errors %.0f\n", rt / per, unit,
	       rt > 0 ? 1e3 * delta(now, before, "gatefs_redis_round_trip_seconds_sum") / rt : 0,
	       delta(now, before, "gatefs_redis_errors_total"));

	static const char *const ops[] = {"put", "get", "head", "delete", "delete_many", "list"};
	printf("Objects   ");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		snprintf(key, sizeof(key), "gatefs_object_requests_total{operation=\"%s\"}", ops[i]);
		double n = delta(now, before, key);
		if (n > 0)
			printf(" %s %.1f%s", ops[i], n / per, unit);
	}
	printf("\n           put %.2f MiB%s  get %.2f MiB%s  errors %.0f  retries %.0f\n",
	       delta(now, before, "gatefs_object_bytes_total{operation=\"put\"}") / per / 1048576.0, unit,
	       delta(now, before, "gatefs_object_bytes_total{operation=\"get\"}") / per / 1048576.0, unit,
	       delta(now, before, "gatefs_object_errors_total{operation=\"put\"}") +
		   delta(now, before, "gatefs_object_errors_total{operation=\"get\"}"),
	       delta(now, before, "gatefs_object_retries_total{operation=\"put\"}") +
		   delta(now, before, "gatefs_object_retries_total{operation=\"get\"}"));

	double hits = delta(now, before, "gatefs_block_cache_hits_total");
	double misses = delta(now, before, "gatefs_block_cache_misses_total");
	printf("Blocks     hit %.1f%% of %.0f reads  cached %.1f MiB\n", ratio(hits, hits + misses), hits + misses,
	       get(now, "gatefs_block_cache_bytes") / 1048576.0);
	double ahits = delta(now, before, "gatefs_attr_cache_hits_total");
	double amiss = delta(now, before, "gatefs_attr_cache_misses_total");
	printf("Attributes hit %.1f%% of %.0f lookups  invalidations %.0f\n", ratio(ahits, ahits + amiss),
	       ahits + amiss, delta(now, before, "gatefs_attr_cache_invalidations_total"));
	printf("Writes     buffer %.1f of %.1f MiB  waiting writers %.0f  waits %.0f\n",
	       get(now, "gatefs_write_buffer_bytes") / 1048576.0,
	       get(now, "gatefs_write_buffer_budget_bytes") / 1048576.0, get(now, "gatefs_write_buffer_waiters"),
	       delta(now, before, "gatefs_write_buffer_waits_total"));
	fflush(stdout);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_status_watch(int argc, char **argv)
{
	static const struct option options[] = {
	    {"watch", no_argument, NULL, 'w'},
	    {"metrics", required_argument, NULL, 'm'},
	    {"config", required_argument, NULL, 'c'},
	    {"interval", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr = NULL, *config_path = NULL;
	double interval = 2;
	long count = 0;
	int opt;
	char err[1024];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'w':
			break;
		case 'm':
			addr = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'i':
			interval = strtod(optarg, NULL);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'h':
			fputs(watch_help, stdout);
			return 0;
		default:
			fputs(watch_help, stderr);
			return 2;
		}
	}
	if (optind != argc || interval <= 0 || count < 0) {
		fputs(watch_help, stderr);
		return 2;
	}
	struct gfs_config cfg;
	config_defaults(&cfg);
	if (config_path && config_parse_file(&cfg, config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "gatefs status: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (!addr)
		addr = cfg.metrics_listen;
	char host[128], port[16];
	const char *colon = strrchr(addr, ':');
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	if (!colon || hl >= sizeof(host) || !colon[1] || strlen(colon + 1) >= sizeof(port)) {
		fprintf(stderr, "gatefs status: give --metrics HOST:PORT, or a --config with metrics_listen\n");
		config_free(&cfg);
		return 2;
	}
	config_free(&cfg);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (!host[0] || !strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (!strcmp(host, "::"))
		snprintf(host, sizeof(host), "::1");
	snprintf(port, sizeof(port), "%s", colon + 1);

	int tty = isatty(STDOUT_FILENO);
	struct scrape prev = {0};
	double prev_t = 0;
	int rc = 0;
	for (long view = 0; count == 0 || view < count; view++) {
		if (view > 0) {
			struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
			nanosleep(&ts, NULL);
		}
		char *text = http_get_metrics(host, port, err, sizeof(err));
		struct scrape now = {0};
		double t = mono_s();
		if (!text || parse_scrape(text, &now) < 0) {
			fprintf(stderr, "gatefs status: %s\n", text ? "out of memory" : err);
			free(text);
			scrape_free(&now);
			rc = 1;
			break;
		}
		free(text);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (view > 0)
			putchar('\n');
		print_view(&now, view > 0 ? &prev : NULL, t - prev_t);
		scrape_free(&prev);
		prev = now;
		prev_t = t;
	}
	scrape_free(&prev);
	return rc;
}
