/*
 * meta_internal.h - what the meta*.c files share and nobody else sees: the
 * engine handle, per-thread Redis connections, running the embedded Lua
 * scripts, and turning replies into vfs structs.
 */
#ifndef GATEFS_META_INTERNAL_H
#define GATEFS_META_INTERNAL_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "meta.h"

#define META_PREFIX_MAX 64
#define META_KEY_MAX 128

/* One script per mutation; the index into meta->scripts. */
enum meta_script_id {
	MS_LOOKUP,
	MS_ACCESS,
	MS_SETATTR,
	MS_MKNODE,
	MS_LINK,
	MS_UNLINK,
	MS_RENAME,
	MS_READDIR,
	MS_XATTR,
	MS_WRITE_SLICE,
	MS_COMPACT,
	MS_FORMAT,
	MS_STATFS,
	MS_PUNCH,
	MS_CLONE,
	MS_LOCK,
	MS_COUNT
};

struct meta_script {
	char *source; /* _lib.lua + the script itself; owned */
	char sha[41];
};

struct meta_conn;

struct meta {
	/* where Redis is */
	char host[256];
	int port;
	char unix_path[256];
	char password[128];
	int db;
	char prefix[META_PREFIX_MAX]; /* "gatefs{NAME}:" */
	char url_for_log[300];	      /* URL without the password */

	struct meta_script scripts[MS_COUNT];
	/* The same scripts as one Redis 7 function library (FCALL): its helper
	 * functions are made once at load, not on every call as with EVALSHA,
	 * which made up a quarter of a create's time.  use_functions is set at
	 * open when the server accepts the library (else, or once it refuses it
	 * later, scripts run with EVALSHA). */
	char *library;
	char function_names[MS_COUNT][48];
	atomic_int use_functions;

	pthread_key_t conn_key;
	pthread_mutex_t conns_lock;
	struct meta_conn *conns;	/* every connection, for meta_close */
	atomic_int redis_down;		/* 1 once a failure was logged, until it comes back */
	struct meta_cache *cache;	/* inode attributes; NULL = off (meta_cache.h) */
	struct meta_dentries *dentries; /* names; NULL = off (meta_dentry.c) */

	/* The run id of the Redis process last connected to; every new
	 * connection checks it, and a change (a restart, a failover: Redis
	 * may have lost writes it acknowledged) counts in `restarts`. */
	pthread_mutex_t run_lock;
	char run_id[48];
	atomic_uint_fast64_t restarts;
	int64_t clock_skew_sec; /* GATEFS_TEST_CLOCK_SKEW_SEC, for tests only */
};

/* meta_conn.c: the URL, the per-thread connections of an engine handle. */
int meta_parse_url(struct meta *m, const char *url, char *err, size_t errlen);
void meta_conns_init(struct meta *m);
void meta_conns_fini(struct meta *m);
/* An error reply as an errno (-ENOSPC for OOM, -EAGAIN for BUSY/LOADING,
 * -EROFS for READONLY, else -EIO, logged). */
int meta_error_reply(struct meta *m, const redisReply *r);
/* Redis's clock (TIME), in seconds: the delete queue is scored with it. */
int meta_redis_time(struct meta *m, int64_t *sec);
/* meta_script.c: links the embedded scripts; picks FCALL or EVALSHA. */
int meta_build_scripts(struct meta *m, char *err, size_t errlen);
void meta_choose_runner(struct meta *m);

/* A new connection (authenticated, database selected) that the caller owns;
 * NULL with *why set when Redis cannot be reached. */
redisContext *meta_connect(struct meta *m, char *why, size_t whylen);

/* The calling thread's connected context, or NULL with *err set to -EAGAIN
 * when Redis is unreachable (reconnects are rate limited with backoff). */
redisContext *meta_ctx(struct meta *m, int *err);
/* Drops the calling thread's connection after an I/O error; logs once. */
void meta_conn_failed(struct meta *m, redisContext *c);

/* Runs a plain command; NULL (and *err = -EAGAIN or -EIO) on failure.
 * The caller frees the reply. */
redisReply *meta_command(struct meta *m, int *err, const char *fmt, ...);
redisReply *meta_command_argv(struct meta *m, int *err, int argc, const char **argv, const size_t *argvlen);

/* Runs script id with KEYS[1] = the settings key, ARGV[1] = the key prefix,
 * ARGV[2..4] = the credentials (uid, gid, groups), ARGV[5..6] = this
 * gateway's clock (sec, nsec), then argv.  Returns the
 * reply array (element 0 is the status: 0 or a negative errno) or NULL with
 * *err set.  cred NULL means root. */
redisReply *meta_eval(struct meta *m, enum meta_script_id id, const struct gfs_cred *cred, int *err, int argc,
		      const char **argv, const size_t *argvlen);

/* Helpers to build script arguments: a small arena of decimal strings. */
struct meta_args {
	int argc;
	const char *argv[24];
	size_t argvlen[24];
	char num[24][24];
};
void meta_args_init(struct meta_args *a);
void meta_args_u64(struct meta_args *a, uint64_t v);
void meta_args_i64(struct meta_args *a, int64_t v);
void meta_args_str(struct meta_args *a, const char *s);
void meta_args_bin(struct meta_args *a, const void *p, size_t len);

/* Status of a script reply (element 0); -EIO if malformed. */
int meta_reply_status(const redisReply *r);
/* Fills attr from an HGETALL-style field/value array. -ESTALE if empty. */
int meta_parse_attr(const redisReply *r, struct gfs_attr *attr);
/* wcc pre from a {size, msec, mnsec, csec, cnsec, change} array, post from attrs. */
void meta_parse_wcc(const redisReply *pre, const redisReply *post, struct gfs_wcc *wcc);
/* Fills attr from an attribute row: HMGET of the inode fields in the order
 * of row() in lua/_lib.lua.  -ESTALE if the inode is missing. */
int meta_parse_attr_row(const redisReply *r, struct gfs_attr *attr);
/* wcc from a directory's wcc string (wcc_str in lua/_lib.lua): its row
 * read before a change (pre), then the {msec, mnsec, csec, cnsec, change,
 * nlink} it had after (post; absent = unchanged).  Returns 1 with the post
 * fields, 0 without (post = pre), -EIO if malformed (then no wcc). */
int meta_parse_wcc_str(const redisReply *r, struct gfs_wcc *wcc);
/* Sets attr->used from type and size (FORMAT.md "Usage accounting"). */
void meta_attr_set_used(struct gfs_attr *attr);
uint64_t meta_reply_u64(const redisReply *r);

/* Name checks for creating/removing/renaming ops (vfs.h). */
int meta_check_name(const char *name);

uint32_t meta_random_u32_nonzero(void);
uint64_t meta_random_u64(void);

void meta_key(const struct meta *m, char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define META_REC_SIZE 24 /* bytes of one packed slice record */
void meta_pack_slice(uint8_t out[META_REC_SIZE], const struct meta_slice *s);
void meta_unpack_slice(const uint8_t in[META_REC_SIZE], struct meta_slice *s);

#endif
