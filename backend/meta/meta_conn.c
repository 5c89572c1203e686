/*
 * meta_conn.c - the engine handle: parsing the meta URL, checking the Redis
 * it names (eviction policy, persistence), one lazily made connection per
 * thread with reconnect backoff, and running the embedded Lua scripts with
 * EVALSHA (each linked with just the _lib.lua functions it uses).
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
#include "meta_cache.h"
#include "meta_internal.h"
#include "meta_metrics.h"

#define CONNECT_TIMEOUT_MS 2000
#define COMMAND_TIMEOUT_MS 10000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct meta_lua_script {
	const char *name;
	const char *source;
};
extern const struct meta_lua_script meta_lua_scripts[];
extern const unsigned meta_lua_script_count;

static const char *const script_names[MS_COUNT] = {
    [MS_LOOKUP] = "lookup", [MS_ACCESS] = "access",	      [MS_SETATTR] = "setattr", [MS_MKNODE] = "mknode",
    [MS_LINK] = "link",	    [MS_UNLINK] = "unlink",	      [MS_RENAME] = "rename",	[MS_READDIR] = "readdir",
    [MS_XATTR] = "xattr",   [MS_WRITE_SLICE] = "write_slice", [MS_COMPACT] = "compact", [MS_FORMAT] = "format",
    [MS_STATFS] = "statfs",
};

static int load_library(struct meta *m, redisContext *c, char *why, size_t whylen);

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

static int parse_url(struct meta *m, const char *url, char *err, size_t errlen)
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

static void note_down(struct meta *m, const char *why)
{
	if (atomic_exchange(&m->redis_down, 1) == 0)
		log_error("meta: redis %s unreachable (%s); operations return EAGAIN until it is back", m->url_for_log,
			  why);
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

/* Maps an error reply to an errno; logs what is not expected. */
static int error_reply(struct meta *m, const redisReply *r)
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
		*err = error_reply(m, r);
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
		*err = error_reply(m, r);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

redisReply *meta_eval(struct meta *m, enum meta_script_id id, const struct gfs_cred *cred, int *err, int argc,
		      const char **argv, const size_t *argvlen)
{
	enum { FIXED = 10 };
	const char *av[FIXED + 24];
	size_t al[FIXED + 24];
	if (argc > 24) {
		*err = -EINVAL;
		return NULL;
	}
	char setting_key[META_KEY_MAX], uid[16], gid[16], groups[GFS_MAX_GROUPS * 11 + 1] = "", sec[24], nsec[16];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sec, sizeof(sec), "%lld", (long long)ts.tv_sec);
	snprintf(nsec, sizeof(nsec), "%ld", ts.tv_nsec);
	meta_key(m, setting_key, sizeof(setting_key), "setting");
	static const struct gfs_cred root_cred;
	if (!cred)
		cred = &root_cred;
	snprintf(uid, sizeof(uid), "%u", cred->uid);
	snprintf(gid, sizeof(gid), "%u", cred->gid);
	size_t gl = 0;
	for (uint32_t i = 0; i < cred->ngroups && i < GFS_MAX_GROUPS; i++)
		gl += (size_t)snprintf(groups + gl, sizeof(groups) - gl, "%s%u", i ? " " : "", cred->groups[i]);
	int functions = atomic_load(&m->use_functions);
	av[0] = functions ? "FCALL" : "EVALSHA";
	av[1] = functions ? m->function_names[id] : m->scripts[id].sha;
	av[2] = "1";
	av[3] = setting_key;
	av[4] = m->prefix;
	av[5] = uid;
	av[6] = gid;
	av[7] = groups;
	av[8] = sec;
	av[9] = nsec;
	for (int i = 0; i < FIXED; i++)
		al[i] = strlen(av[i]);
	for (int i = 0; i < argc; i++) {
		av[FIXED + i] = argv[i];
		al[FIXED + i] = argvlen ? argvlen[i] : strlen(argv[i]);
	}
	redisContext *c = meta_ctx(m, err);
	if (!c)
		return NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t started = metric_now_ns();
		redisReply *r = redisCommandArgv(c, FIXED + argc, av, al);
		meta_metrics_round_trip(started, !r || r->type == REDIS_REPLY_ERROR);
		if (!r) {
			meta_conn_failed(m, c);
			*err = -EAGAIN;
			return NULL;
		}
		/* A restarted or flushed Redis lost the library: load it again, or
		 * if that is now refused (another server, ACL), go on with EVALSHA. */
		if (r->type == REDIS_REPLY_ERROR && functions && attempt == 0 && strstr(r->str, "Function not found")) {
			freeReplyObject(r);
			char why[256];
			int rc = load_library(m, c, why, sizeof(why));
			if (rc == -EAGAIN) {
				*err = rc;
				return NULL;
			}
			if (rc < 0) {
				log_warn("meta: cannot load the Lua function library again (%s); running scripts with "
					 "EVALSHA",
					 why);
				atomic_store(&m->use_functions, 0);
				functions = 0;
				av[0] = "EVALSHA";
				av[1] = m->scripts[id].sha;
				al[0] = strlen(av[0]);
				al[1] = strlen(av[1]);
				attempt = -1; /* EVALSHA gets its own NOSCRIPT retry */
			}
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
			freeReplyObject(r);
			r = redisCommand(c, "SCRIPT LOAD %s", m->scripts[id].source);
			if (!r) {
				meta_conn_failed(m, c);
				*err = -EAGAIN;
				return NULL;
			}
			int bad = r->type != REDIS_REPLY_STRING;
			if (bad)
				*err = r->type == REDIS_REPLY_ERROR ? error_reply(m, r) : -EIO;
			freeReplyObject(r);
			if (bad)
				return NULL;
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			*err = error_reply(m, r);
			freeReplyObject(r);
			return NULL;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
			log_error("meta: script %s returned a malformed reply", script_names[id]);
			freeReplyObject(r);
			*err = -EIO;
			return NULL;
		}
		return r;
	}
	*err = -EIO;
	return NULL;
}

/* ---- open / close ---- */

/*
 * Linking a script: _lib.lua is a header (locals, constants) followed by
 * "local function NAME(" ... "end" sections.  A script gets the header and
 * only the functions it calls, directly or through other functions: Redis
 * runs the whole text on every call, and each function definition costs a
 * closure allocation (measured: the full library doubled the cost of an
 * empty script).
 */
/* Sets the per-call values _lib.lua declares, before each script body. */
#define SCRIPT_PROLOGUE "P = ARGV[1]\nCRED = {uid = tonumber(ARGV[2]), gid = tonumber(ARGV[3])}\n"

struct lib_fn {
	char name[32];
	const char *start, *end; /* [start, end) of the section */
	int used;
};

#define LIB_FN_MAX 64

static int calls_fn(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p && p + n < text + len; p++) {
		p = memmem(p, (size_t)(text + len - p), name, n);
		if (!p || p + n >= text + len)
			return 0;
		int starts_word = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.');
		if (starts_word && p[n] == '(')
			return 1;
	}
	return 0;
}

static int parse_lib(const char *lib, struct lib_fn *fns, size_t *nfns, const char **header_end)
{
	*nfns = 0;
	*header_end = lib + strlen(lib);
	for (const char *line = lib; *line;) {
		const char *eol = strchr(line, '\n');
		const char *next = eol ? eol + 1 : line + strlen(line);
		if (strncmp(line, "local function ", 15) == 0) {
			if (*nfns == LIB_FN_MAX)
				return -E2BIG;
			struct lib_fn *f = &fns[(*nfns)++];
			if (*nfns == 1)
				*header_end = line;
			const char *name = line + 15, *paren = strchr(name, '(');
			if (!paren || (size_t)(paren - name) >= sizeof(f->name))
				return -EINVAL;
			memcpy(f->name, name, (size_t)(paren - name));
			f->name[paren - name] = 0;
			f->start = line;
			f->end = NULL;
			f->used = 0;
		} else if (strncmp(line, "end", 3) == 0 && (line[3] == '\n' || line[3] == 0) && *nfns &&
			   !fns[*nfns - 1].end) {
			fns[*nfns - 1].end = next;
		}
		line = next;
	}
	for (size_t i = 0; i < *nfns; i++)
		if (!fns[i].end)
			return -EINVAL;
	return 0;
}

static char *link_script(const char *lib, const char *body)
{
	struct lib_fn fns[LIB_FN_MAX];
	size_t nfns;
	const char *header_end;
	if (parse_lib(lib, fns, &nfns, &header_end) < 0)
		return NULL;
	for (size_t i = 0; i < nfns; i++)
		fns[i].used = calls_fn(body, strlen(body), fns[i].name);
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < nfns; i++)
			for (size_t j = 0; fns[i].used && j < nfns; j++)
				if (!fns[j].used &&
				    calls_fn(fns[i].start, (size_t)(fns[i].end - fns[i].start), fns[j].name))
					fns[j].used = changed = 1;
	}
	size_t total = (size_t)(header_end - lib) + strlen(SCRIPT_PROLOGUE) + strlen(body) + 2;
	for (size_t i = 0; i < nfns; i++)
		if (fns[i].used)
			total += (size_t)(fns[i].end - fns[i].start);
	char *src = malloc(total);
	if (!src)
		return NULL;
	size_t off = (size_t)(header_end - lib);
	memcpy(src, lib, off);
	for (size_t i = 0; i < nfns; i++)
		if (fns[i].used) {
			memcpy(src + off, fns[i].start, (size_t)(fns[i].end - fns[i].start));
			off += (size_t)(fns[i].end - fns[i].start);
		}
	snprintf(src + off, total - off, "\n%s%s", SCRIPT_PROLOGUE, body);
	return src;
}

/*
 * The function library: "#!lua name=gatefs_<hash>", the whole of _lib.lua,
 * then each script as the body of a function gatefs_<hash>_<script>.  The
 * hash is of the text, so gateways of different versions sharing a Redis
 * load different libraries and never replace each other's.  The text is
 * built with a placeholder where the hash goes, hashed, then patched.
 */
#define LIB_HASH_PLACEHOLDER "################"

static int build_library(struct meta *m, const char *lib, const char *const bodies[MS_COUNT])
{
	/* KEYS and ARGV are globals for EVALSHA; here they are the library's
	 * locals, set on each call, so that the helpers see them too. */
	static const char head[] = "#!lua name=gatefs_" LIB_HASH_PLACEHOLDER "\nlocal KEYS, ARGV\n";
	static const char fn_head[] = "redis.register_function('gatefs_" LIB_HASH_PLACEHOLDER
				      "_%s', function(keys, args)\nKEYS, ARGV = keys, args\n";
	static const char fn_tail[] = "\nend)\n";
	size_t total = sizeof(head) + strlen(lib) + 2;
	for (int id = 0; id < MS_COUNT; id++)
		total += sizeof(fn_head) + strlen(script_names[id]) + strlen(SCRIPT_PROLOGUE) + strlen(bodies[id]) +
			 sizeof(fn_tail);
	char *text = malloc(total);
	if (!text)
		return -ENOMEM;
	size_t off = (size_t)snprintf(text, total, "%s%s\n", head, lib);
	for (int id = 0; id < MS_COUNT; id++) {
		off += (size_t)snprintf(text + off, total - off, fn_head, script_names[id]);
		off += (size_t)snprintf(text + off, total - off, "%s%s%s", SCRIPT_PROLOGUE, bodies[id], fn_tail);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(text, off, md, &mdlen, EVP_sha1(), NULL) || mdlen < 8) {
		free(text);
		return -EIO;
	}
	char hash[17];
	for (unsigned i = 0; i < 8; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	for (char *p = text; (p = strstr(p, LIB_HASH_PLACEHOLDER)) != NULL; p += 16)
		memcpy(p, hash, 16);
	for (int id = 0; id < MS_COUNT; id++)
		snprintf(m->function_names[id], sizeof(m->function_names[id]), "gatefs_%s_%s", hash, script_names[id]);
	m->library = text;
	return 0;
}

static int build_scripts(struct meta *m, char *err, size_t errlen)
{
	const char *lib = "", *bodies[MS_COUNT];
	for (unsigned i = 0; i < meta_lua_script_count; i++)
		if (strcmp(meta_lua_scripts[i].name, "_lib") == 0)
			lib = meta_lua_scripts[i].source;
	for (int id = 0; id < MS_COUNT; id++) {
		const char *body = NULL;
		for (unsigned i = 0; i < meta_lua_script_count; i++)
			if (strcmp(meta_lua_scripts[i].name, script_names[id]) == 0)
				body = meta_lua_scripts[i].source;
		if (!body) {
			snprintf(err, errlen, "embedded Lua script %s.lua is missing", script_names[id]);
			return -ENOENT;
		}
		bodies[id] = body;
		char *src = link_script(lib, body);
		if (!src) {
			snprintf(err, errlen, "cannot link Lua script %s.lua with _lib.lua", script_names[id]);
			return -EINVAL;
		}
		m->scripts[id].source = src;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if (!EVP_Digest(src, strlen(src), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20) {
			snprintf(err, errlen, "SHA1 failed");
			return -EIO;
		}
		for (unsigned i = 0; i < 20; i++)
			snprintf(m->scripts[id].sha + 2 * i, 3, "%02x", md[i]);
	}
	if (build_library(m, lib, bodies) < 0) {
		snprintf(err, errlen, "cannot build the Lua function library");
		return -EINVAL;
	}
	return 0;
}

/* FUNCTION LOAD of the library on c: 0 if loaded (now or before), else a
 * negative errno, with why. */
static int load_library(struct meta *m, redisContext *c, char *why, size_t whylen)
{
	redisReply *r = redisCommand(c, "FUNCTION LOAD %s", m->library);
	if (!r) {
		meta_conn_failed(m, c);
		snprintf(why, whylen, "connection lost");
		return -EAGAIN;
	}
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "already exists")) {
		snprintf(why, whylen, "%s", r->str);
		rc = -ENOTSUP;
	}
	freeReplyObject(r);
	return rc;
}

/* At open: functions if the server takes the library, else EVALSHA. */
static void choose_runner(struct meta *m)
{
	int err = 0;
	redisContext *c = meta_ctx(m, &err);
	char why[256] = "";
	if (c && load_library(m, c, why, sizeof(why)) == 0) {
		atomic_store(&m->use_functions, 1);
		return;
	}
	log_info("meta: redis %s does not take Lua function libraries (%s); running scripts with EVALSHA, which is "
		 "slower (Redis 7 or later has functions)",
		 m->url_for_log, c ? why : "unreachable");
}

/* CONFIG GET name -> value copied to out; 1 if CONFIG is unavailable. */
static int config_get(struct meta *m, const char *name, char *out, size_t outlen, int *err)
{
	redisContext *c = meta_ctx(m, err);
	if (!c)
		return -1;
	redisReply *r = redisCommand(c, "CONFIG GET %s", name);
	if (!r) {
		meta_conn_failed(m, c);
		*err = -EAGAIN;
		return -1;
	}
	int rc = 1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(out, outlen, "%s", r->element[1]->str);
		rc = 0;
	}
	freeReplyObject(r);
	return rc;
}

static int check_redis(struct meta *m, char *err, size_t errlen)
{
	int e = 0;
	char policy[64] = "", aof[16] = "", save[128] = "";
	int rc = config_get(m, "maxmemory-policy", policy, sizeof(policy), &e);
	if (rc < 0) {
		snprintf(err, errlen, "cannot reach redis at %s", m->url_for_log);
		return e;
	}
	if (rc == 1) {
		log_warn("meta: CONFIG is not available on %s; cannot check that maxmemory-policy is noeviction and "
			 "that persistence is on",
			 m->url_for_log);
		return 0;
	}
	if (strcmp(policy, "noeviction") != 0) {
		snprintf(err, errlen,
			 "redis at %s has maxmemory-policy '%s', which may evict (lose) metadata; run "
			 "'CONFIG SET maxmemory-policy noeviction' and set 'maxmemory-policy noeviction' in redis.conf",
			 m->url_for_log, policy);
		return -EPERM;
	}
	if (config_get(m, "appendonly", aof, sizeof(aof), &e) == 0 &&
	    config_get(m, "save", save, sizeof(save), &e) == 0 && strcmp(aof, "yes") != 0 && save[0] == 0)
		log_warn("meta: redis at %s has neither AOF (appendonly) nor RDB (save) persistence: a restart loses "
			 "all metadata; set 'appendonly yes' in redis.conf",
			 m->url_for_log);
	else if (strcmp(aof, "yes") != 0)
		log_warn("meta: redis at %s has no AOF (appendonly no): a crash loses the changes since the last "
			 "snapshot",
			 m->url_for_log);
	return 0;
}

int meta_open(const char *url, struct meta **out, char *err, size_t errlen)
{
	meta_metrics_register();
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = parse_url(m, url, err, errlen);
	if (rc == 0)
		rc = build_scripts(m, err, errlen);
	if (rc < 0) {
		for (int i = 0; i < MS_COUNT; i++)
			free(m->scripts[i].source);
		free(m->library);
		free(m);
		return rc;
	}
	pthread_key_create(&m->conn_key, conn_free);
	pthread_mutex_init(&m->conns_lock, NULL);
	rc = check_redis(m, err, errlen);
	if (rc < 0) {
		meta_close(m);
		return rc;
	}
	choose_runner(m);
	*out = m;
	return 0;
}

int meta_ping(const char *url, char *err, size_t errlen)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = parse_url(m, url, err, errlen);
	redisContext *c = rc == 0 ? meta_connect(m, err, errlen) : NULL;
	if (rc == 0 && !c)
		rc = -EAGAIN;
	if (c) {
		redisReply *r = redisCommand(c, "PING");
		if (!r || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
			snprintf(err, errlen, "PING: %s",
				 !r				? c->errstr
				 : r->type == REDIS_REPLY_ERROR ? r->str
								: "unexpected reply");
			rc = r ? -EIO : -EAGAIN;
		}
		if (r)
			freeReplyObject(r);
		redisFree(c);
	}
	free(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	meta_cache_stop(m);
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
	for (int i = 0; i < MS_COUNT; i++)
		free(m->scripts[i].source);
	free(m->library);
	free(m);
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
