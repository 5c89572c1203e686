/*
 * meta_conn.c - the engine's connections to Redis: parsing the meta URL,
 * one lazily made connection per thread with reconnect backoff, plain
 * commands and the mapping of Redis error replies onto errnos; and the
 * small helpers every engine file shares (keys, script arguments, random
 * numbers, name checks).  Scripts are run by meta_script.c; the engine is
 * opened and closed by meta_engine.c.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "meta_internal.h"
#include "meta_metrics.h"

#define CONNECT_TIMEOUT_MS 2000
#define COMMAND_TIMEOUT_MS 10000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct meta_conn {
	struct meta *m;
	redisContext *ctx;
	int64_t next_try_ms; /* no connect attempt before this (backoff) */
	int backoff_ms;
	struct meta_conn *next;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- URL ---- */

/* Copies src into dst[n]; -EINVAL if it does not fit. */
static int copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);
	if (len >= n)
		return -EINVAL;
	memcpy(dst, src, len + 1);
	return 0;
}

static int parse_query(struct meta *m, const char *q, char *err, size_t errlen)
{
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		char kv[256];
		if (len >= sizeof(kv)) {
			snprintf(err, errlen, "meta URL parameter too long");
			return -EINVAL;
		}
		memcpy(kv, q, len);
		kv[len] = 0;
		char *eq = strchr(kv, '=');
		if (!eq) {
			snprintf(err, errlen, "meta URL parameter '%s' has no value", kv);
			return -EINVAL;
		}
		*eq = 0;
		const char *val = eq + 1;
		if (strcmp(kv, "db") == 0) {
			m->db = atoi(val);
		} else if (strcmp(kv, "prefix") == 0) {
			size_t n = strlen(val);
			if (n == 0 || n > 32) {
				snprintf(err, errlen, "meta URL prefix must be 1..32 characters");
				return -EINVAL;
			}
			for (size_t i = 0; i < n; i++)
				if (!isalnum((unsigned char)val[i]) && val[i] != '_' && val[i] != '-') {
					snprintf(err, errlen, "meta URL prefix may hold only [A-Za-z0-9_-]");
					return -EINVAL;
				}
			snprintf(m->prefix, sizeof(m->prefix), "gatefs{%s}:", val);
		} else if (strcmp(kv, "password") == 0) {
			if (copy_str(m->password, sizeof(m->password), val) < 0) {
				snprintf(err, errlen, "meta URL password too long");
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "unknown meta URL parameter '%s'", kv);
			return -EINVAL;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

void meta_url_redact(const char *url, char *out, size_t outlen)
{
	size_t o = 0;
	const char *at = NULL, *auth = NULL, *query = strchr(url, '?');

	if (strncmp(url, "redis://", 8) == 0) {
		auth = url + 8;
		/* the last '@' before the path ends the user:password part */
		for (const char *p = auth; *p && *p != '/' && *p != '?'; p++)
			if (*p == '@')
				at = p;
	}
	for (const char *p = url; *p && o + 1 < outlen;) {
		if (at && p == auth) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));
			size_t user = colon ? (size_t)(colon - auth) : 0;
			o += (size_t)snprintf(out + o, outlen - o, "%.*s:***", (int)user, auth);
			p = at;
			continue;
		}
		if (query && p > query && strncmp(p, "password=", 9) == 0 && (p[-1] == '?' || p[-1] == '&')) {
			o += (size_t)snprintf(out + o, outlen - o, "password=***");
			p += strcspn(p, "&");
			continue;
		}
		out[o++] = *p++;
	}
	if (o >= outlen)
		o = outlen - 1;
	out[o] = 0;
}

int meta_parse_url(struct meta *m, const char *url, char *err, size_t errlen)
{
	snprintf(m->prefix, sizeof(m->prefix), "gatefs{gfs}:");
	char buf[1024];
	if (strlen(url) >= sizeof(buf)) {
		snprintf(err, errlen, "meta URL too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", url);
	char *q = strchr(buf, '?');
	if (q)
		*q++ = 0;
	if (strncmp(buf, "unix://", 7) == 0) {
		if (buf[7] != '/') {
			snprintf(err, errlen, "unix meta URL needs an absolute path: unix:///path/to/sock?db=N");
			return -EINVAL;
		}
		if (copy_str(m->unix_path, sizeof(m->unix_path), buf + 7) < 0) {
			snprintf(err, errlen, "unix socket path too long");
			return -EINVAL;
		}
		snprintf(m->url_for_log, sizeof(m->url_for_log), "unix://%s", m->unix_path);
		return parse_query(m, q, err, errlen);
	}
	if (strncmp(buf, "redis://", 8) != 0) {
		snprintf(err, errlen, "meta URL must be redis://[:password@]HOST:PORT/DB or unix:///path?db=N");
		return -EINVAL;
	}
	char *hostpart = buf + 8;
	char *at = strrchr(hostpart, '@');
	if (at) {
		*at = 0;
		char *colon = strchr(hostpart, ':'); /* user:password or :password */
		if (copy_str(m->password, sizeof(m->password), colon ? colon + 1 : hostpart) < 0) {
			snprintf(err, errlen, "meta URL password too long");
			return -EINVAL;
		}
		hostpart = at + 1;
	}
	char *slash = strchr(hostpart, '/');
	if (slash) {
		*slash = 0;
		if (slash[1])
			m->db = atoi(slash + 1);
	}
	m->port = 6379;
	char *colon = strrchr(hostpart, ':');
	if (hostpart[0] == '[') { /* [v6]:port */
		char *close = strchr(hostpart, ']');
		if (!close) {
			snprintf(err, errlen, "meta URL has an unterminated [IPv6] host");
			return -EINVAL;
		}
		*close = 0;
		if (copy_str(m->host, sizeof(m->host), hostpart + 1) < 0) {
			snprintf(err, errlen, "meta URL host too long");
			return -EINVAL;
		}
		if (close[1] == ':')
			m->port = atoi(close + 2);
	} else {
		if (colon) {
			*colon = 0;
			m->port = atoi(colon + 1);
		}
		if (copy_str(m->host, sizeof(m->host), hostpart[0] ? hostpart : "127.0.0.1") < 0) {
			snprintf(err, errlen, "meta URL host too long");
			return -EINVAL;
		}
	}
	if (m->port <= 0 || m->port > 65535) {
		snprintf(err, errlen, "meta URL has a bad port");
		return -EINVAL;
	}
	snprintf(m->url_for_log, sizeof(m->url_for_log), "redis://%s:%d/%d", m->host, m->port, m->db);
	return parse_query(m, q, err, errlen);
}

/* ---- connections ---- */

static void conn_free(void *p)
{
	struct meta_conn *c = p;
	if (!c)
		return;
	struct meta *m = c->m;
	pthread_mutex_lock(&m->conns_lock);
	for (struct meta_conn **pp = &m->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&m->conns_lock);
	if (c->ctx)
		redisFree(c->ctx);
	free(c);
}

void meta_conns_init(struct meta *m)
{
	pthread_key_create(&m->conn_key, conn_free);
	pthread_mutex_init(&m->conns_lock, NULL);
	pthread_mutex_init(&m->run_lock, NULL);
	const char *skew = getenv("GATEFS_TEST_CLOCK_SKEW_SEC");
	m->clock_skew_sec = skew ? strtoll(skew, NULL, 10) : 0;
}

void meta_conns_fini(struct meta *m)
{
	pthread_key_delete(m->conn_key);
	pthread_mutex_lock(&m->conns_lock);
	struct meta_conn *c = m->conns;
	m->conns = NULL;
	pthread_mutex_unlock(&m->conns_lock);
	while (c) {
		struct meta_conn *next = c->next;
		if (c->ctx)
			redisFree(c->ctx);
		free(c);
		c = next;
	}
	pthread_mutex_destroy(&m->conns_lock);
	pthread_mutex_destroy(&m->run_lock);
}

static void note_down(struct meta *m, const char *why)
{
	if (atomic_exchange(&m->redis_down, 1) == 0)
		log_error("meta: redis %s unreachable (%s); operations return EAGAIN until it is back", m->url_for_log,
			  why);
}

/* Reads the server's run id on a new connection and counts a change: the
 * process behind the address is another one (restarted, failed over) and
 * may have lost writes it had acknowledged.  Every connection does this
 * before its first command, so nothing is read from a new Redis before the
 * change is counted.  An ACL that forbids INFO leaves the check off. */
static void note_run_id(struct meta *m, redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO server");
	if (!r)
		return;
	const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "run_id:") : NULL;
	char id[48] = "";
	if (p) {
		p += 7;
		size_t n = strcspn(p, "\r\n");
		if (n < sizeof(id)) {
			memcpy(id, p, n);
			id[n] = 0;
		}
	}
	freeReplyObject(r);
	if (!id[0])
		return;
	pthread_mutex_lock(&m->run_lock);
	if (m->run_id[0] && strcmp(m->run_id, id) != 0) {
		atomic_fetch_add(&m->restarts, 1);
		log_warn("meta: redis %s is another process now (run id %s, was %s): it may have lost recent writes; "
			 "the write verifier changes so that clients resend what they did not commit",
			 m->url_for_log, id, m->run_id);
	}
	snprintf(m->run_id, sizeof(m->run_id), "%s", id);
	pthread_mutex_unlock(&m->run_lock);
}

redisContext *meta_connect(struct meta *m, char *why, size_t whylen)
{
	struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000};
	redisContext *c = m->unix_path[0] ? redisConnectUnixWithTimeout(m->unix_path, tv)
					  : redisConnectWithTimeout(m->host, m->port, tv);
	if (!c || c->err) {
		snprintf(why, whylen, "%s", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	struct timeval ctv = {COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000};
	redisSetTimeout(c, ctv);
	/* TCP keepalive does not apply to unix sockets; hiredis 0.14 leaves an error on the context if asked. */
	if (!m->unix_path[0])
		redisEnableKeepAlive(c);
	if (m->password[0]) {
		redisReply *r = redisCommand(c, "AUTH %s", m->password);
		int bad = !r || r->type == REDIS_REPLY_ERROR;
		snprintf(why, whylen, "AUTH failed: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		if (bad) {
			redisFree(c);
			return NULL;
		}
	}
	note_run_id(m, c);
	if (m->db) {
		redisReply *r = redisCommand(c, "SELECT %d", m->db);
		int bad = !r || r->type == REDIS_REPLY_ERROR;
		snprintf(why, whylen, "SELECT %d failed: %s", m->db,
			 r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		if (bad) {
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

static struct meta_conn *thread_conn(struct meta *m)
{
	struct meta_conn *c = pthread_getspecific(m->conn_key);
	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->m = m;
	c->backoff_ms = BACKOFF_FIRST_MS;
	pthread_setspecific(m->conn_key, c);
	pthread_mutex_lock(&m->conns_lock);
	c->next = m->conns;
	m->conns = c;
	pthread_mutex_unlock(&m->conns_lock);
	return c;
}

redisContext *meta_ctx(struct meta *m, int *err)
{
	struct meta_conn *c = thread_conn(m);
	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	if (c->ctx)
		return c->ctx;
	int64_t now = now_ms();
	if (now < c->next_try_ms) { /* backing off: fail fast, do not spin */
		*err = -EAGAIN;
		return NULL;
	}
	char why[256] = "";
	c->ctx = meta_connect(m, why, sizeof(why));
	if (!c->ctx) {
		note_down(m, why);
		c->next_try_ms = now + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
		*err = -EAGAIN;
		return NULL;
	}
	c->backoff_ms = BACKOFF_FIRST_MS;
	if (atomic_exchange(&m->redis_down, 0) == 1)
		log_info("meta: redis %s is reachable again", m->url_for_log);
	return c->ctx;
}

void meta_conn_failed(struct meta *m, redisContext *ctx)
{
	struct meta_conn *c = pthread_getspecific(m->conn_key);
	if (ctx && ctx->err == REDIS_ERR_OTHER) /* a local failure (format, memory), not Redis going away */
		log_error("meta: redis command failed locally: %s", ctx->errstr);
	else
		note_down(m, ctx && ctx->errstr[0] ? ctx->errstr : "connection lost");
	if (c && c->ctx == ctx) {
		redisFree(ctx);
		c->ctx = NULL;
		c->next_try_ms = 0; /* the first reconnect is immediate; failures back off */
	}
}

uint64_t meta_redis_restarts(struct meta *m)
{
	return atomic_load(&m->restarts);
}

int meta_ping(struct meta *m)
{
	int err = 0;
	redisReply *r = meta_command(m, &err, "PING");
	if (!r)
		return err;
	freeReplyObject(r);
	return 0;
}

/* Maps an error reply to an errno; logs what is not expected. */
int meta_error_reply(struct meta *m, const redisReply *r)
{
	if (strncmp(r->str, "OOM", 3) == 0) {
		log_error("meta: redis %s is out of memory: %s", m->url_for_log, r->str);
		return -ENOSPC;
	}
	if (strncmp(r->str, "BUSY", 4) == 0 || strncmp(r->str, "LOADING", 7) == 0 ||
	    strncmp(r->str, "TRYAGAIN", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0)
		return -EAGAIN;
	if (strncmp(r->str, "READONLY", 8) == 0)
		return -EROFS;
	log_error("meta: redis error: %s", r->str);
	return -EIO;
}

redisReply *meta_command_argv(struct meta *m, int *err, int argc, const char **argv, const size_t *argvlen)
{
	redisContext *c = meta_ctx(m, err);
	if (!c)
		return NULL;
	uint64_t started = metric_now_ns();
	redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
	meta_metrics_round_trip(started, !r || r->type == REDIS_REPLY_ERROR);
	if (!r) {
		meta_conn_failed(m, c);
		*err = -EAGAIN;
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		*err = meta_error_reply(m, r);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

redisReply *meta_command(struct meta *m, int *err, const char *fmt, ...)
{
	redisContext *c = meta_ctx(m, err);
	if (!c)
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	uint64_t started = metric_now_ns();
	redisReply *r = redisvCommand(c, fmt, ap);
	meta_metrics_round_trip(started, !r || r->type == REDIS_REPLY_ERROR);
	va_end(ap);
	if (!r) {
		meta_conn_failed(m, c);
		*err = -EAGAIN;
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		*err = meta_error_reply(m, r);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* ---- small shared helpers ---- */

void meta_key(const struct meta *m, char *out, size_t outlen, const char *fmt, ...)
{
	size_t n = (size_t)snprintf(out, outlen, "%s", m->prefix);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out + n, outlen - n, fmt, ap);
	va_end(ap);
}

void meta_args_init(struct meta_args *a)
{
	a->argc = 0;
}

void meta_args_bin(struct meta_args *a, const void *p, size_t len)
{
	a->argv[a->argc] = p;
	a->argvlen[a->argc] = len;
	a->argc++;
}

void meta_args_str(struct meta_args *a, const char *s)
{
	meta_args_bin(a, s, strlen(s));
}

void meta_args_u64(struct meta_args *a, uint64_t v)
{
	int n = snprintf(a->num[a->argc], sizeof(a->num[0]), "%llu", (unsigned long long)v);
	meta_args_bin(a, a->num[a->argc], (size_t)n);
}

void meta_args_i64(struct meta_args *a, int64_t v)
{
	int n = snprintf(a->num[a->argc], sizeof(a->num[0]), "%lld", (long long)v);
	meta_args_bin(a, a->num[a->argc], (size_t)n);
}

/* Random bytes from a per-thread pool: one getrandom() per 256 bytes
 * instead of two system calls per create. */
static void random_bytes(void *out, size_t n)
{
	static __thread uint8_t pool[256];
	static __thread size_t left;
	if (left < n) {
		if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
			for (size_t i = 0; i < sizeof(pool); i++) /* never expected: the pool is tiny */
				pool[i] = (uint8_t)(rand() ^ time(NULL));
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	left -= n;
}

uint32_t meta_random_u32_nonzero(void)
{
	uint32_t v = 0;
	while (v == 0)
		random_bytes(&v, sizeof(v));
	return v;
}

uint64_t meta_random_u64(void)
{
	uint64_t v;
	random_bytes(&v, sizeof(v));
	return v;
}

int meta_check_name(const char *name)
{
	if (!name || !name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > GFS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}
