/*
 * meta_script.c - the engine's Lua: links each embedded script
 * (lua/NAME.lua) with the _lib.lua functions it calls, loads them into
 * Redis as one function library (FCALL) or as plain scripts (EVALSHA) when
 * the server has no functions, and runs them (meta_eval), reloading after
 * a Redis restart or a SCRIPT FLUSH.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "meta_internal.h"
#include "meta_metrics.h"

struct meta_lua_script {
	const char *name;
	const char *source;
};
extern const struct meta_lua_script meta_lua_scripts[];
extern const unsigned meta_lua_script_count;

static const char *const script_names[MS_COUNT] = {
    [MS_LOOKUP] = "lookup",   [MS_ACCESS] = "access",
    [MS_SETATTR] = "setattr", [MS_MKNODE] = "mknode",
    [MS_LINK] = "link",	      [MS_UNLINK] = "unlink",
    [MS_RENAME] = "rename",   [MS_READDIR] = "readdir",
    [MS_XATTR] = "xattr",     [MS_WRITE_SLICE] = "write_slice",
    [MS_COMPACT] = "compact", [MS_FORMAT] = "format",
    [MS_STATFS] = "statfs",   [MS_PUNCH] = "punch",
    [MS_CLONE] = "clone",     [MS_LOCK] = "lock",
};

static int load_library(struct meta *m, redisContext *c, char *why, size_t whylen);

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
	snprintf(sec, sizeof(sec), "%lld", (long long)ts.tv_sec + (long long)m->clock_skew_sec);
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
				*err = r->type == REDIS_REPLY_ERROR ? meta_error_reply(m, r) : -EIO;
			freeReplyObject(r);
			if (bad)
				return NULL;
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			*err = meta_error_reply(m, r);
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

int meta_build_scripts(struct meta *m, char *err, size_t errlen)
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
void meta_choose_runner(struct meta *m)
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
