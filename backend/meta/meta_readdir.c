/*
 * meta_readdir.c - directory listing with stable cookies.  "." and ".." are
 * cookies 1 and 2; an entry's cookie is its per-directory sequence number
 * + 2.  Entries are fetched in batches by the readdir script until the
 * callback stops, the directory ends or the caller's max_entries hint is
 * used up.  The batch is sized from that hint: every entry read costs Redis
 * time, so none is read only to be thrown away.  Readdirplus attributes are
 * read after each batch with pipelined HGETALLs (half the Redis time of the
 * same reads from Lua); an entry whose inode changed generation or vanished
 * meanwhile gets none.
 */
#include <stdlib.h>
#include <string.h>

#include "meta_cache.h"
#include "meta_internal.h"
#include "meta_metrics.h"

/* Without a hint, and the most one script reads: its HMGET of the records
 * unpacks the names onto the Lua stack, which holds about 8000 values. */
#define READDIR_BATCH 512
#define READDIR_BATCH_MAX 2048

static int parse_u64(const char **p, char end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return -EIO;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	if (*s != end)
		return -EIO;
	*out = v;
	*p = end ? s + 1 : s;
	return 0;
}

/* Parses one "TYPE,INO,GEN,SEQ" record at *p, followed by a space or, for
 * the last, the end of the string; *p moves to the next record (a
 * per-entry sscanf was a visible cost). */
static int parse_entry(const char **p, struct gfs_dirent *d, uint64_t *seq)
{
	uint64_t t, ino, gen;
	if (parse_u64(p, ',', &t) < 0 || parse_u64(p, ',', &ino) < 0 || parse_u64(p, ',', &gen) < 0 ||
	    (parse_u64(p, ' ', seq) < 0 && parse_u64(p, '\0', seq) < 0))
		return -EIO;
	d->type = (enum gfs_ftype)t;
	d->ino = ino;
	d->gen = (uint32_t)gen;
	return 0;
}

/* How many names a batch holds: they are joined by NUL bytes. */
static size_t batch_count(const redisReply *r)
{
	const redisReply *names = r->element[3];
	if (names->len == 0)
		return 0;
	size_t n = 1;
	for (const char *p = names->str, *end = names->str + names->len; (p = memchr(p, '\0', (size_t)(end - p))); p++)
		n++;
	return n;
}

/* Emits "." (cookie 1) and ".." (cookie 2) as needed; nonzero if the
 * callback stopped (1) or failed (<0).  *emitted counts what it took. */
static int dot_entries(struct meta *m, const struct gfs_attr *dir, uint64_t cookie, int plus, gfs_readdir_cb cb,
		       void *arg, uint32_t *emitted)
{
	if (cookie < 1) {
		struct gfs_dirent d = {".", dir->ino, dir->gen, GFS_DIR, 1, plus ? dir : NULL};
		int rc = cb(arg, &d);
		if (rc)
			return rc;
		(*emitted)++;
	}
	if (cookie < 2) {
		struct gfs_attr pattr;
		int have_parent = plus && meta_getattr(m, (struct gfs_ref){dir->parent, 0}, &pattr) == 0;
		struct gfs_dirent d = {"..",	dir->parent, have_parent ? pattr.gen : 0,
				       GFS_DIR, 2,	     have_parent ? &pattr : NULL};
		int rc = cb(arg, &d);
		if (rc)
			return rc;
		(*emitted)++;
	}
	return 0;
}

/* How many entries to ask the script for: what the caller can still take. */
static uint32_t batch_size(uint32_t max_entries, uint32_t emitted)
{
	if (max_entries == 0)
		return READDIR_BATCH;
	uint32_t left = max_entries > emitted ? max_entries - emitted : 0;
	return left < READDIR_BATCH_MAX ? left : READDIR_BATCH_MAX;
}

/* Runs one batch from cookie; returns the reply or NULL with *err. */
static redisReply *fetch_batch(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, uint64_t cookie,
			       uint64_t verifier, uint32_t count, int *err)
{
	struct meta_args a;
	meta_args_init(&a);
	meta_args_u64(&a, dir.ino);
	meta_args_u64(&a, dir.gen);
	meta_args_u64(&a, cookie);
	meta_args_u64(&a, verifier);
	meta_args_u64(&a, count);
	redisReply *r = meta_eval(m, MS_READDIR, cred, err, a.argc, a.argv, a.argvlen);
	if (!r)
		return NULL;
	int rc = meta_reply_status(r);
	if (rc < 0 || r->elements != 6 || r->element[3]->type != REDIS_REPLY_STRING ||
	    r->element[4]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		*err = rc < 0 ? rc : -EIO;
		return NULL;
	}
	return r;
}

/* Reads each entry's inode into attrs[i] (have[i] = 1), unless the inode is
 * gone or has another generation than the entry by now: one HGETALL per
 * entry, all sent before any reply is read (twice as cheap in Redis as the
 * same reads from the script).  HGETALL, not an HMGET of the row fields:
 * Redis looks each HMGET field up in the small hash's list one by one,
 * absent ones included, which made it cost half again as much.  Each reply
 * is parsed and freed as it arrives: holding a whole batch of reply objects
 * made malloc trim and fault pages in again on every call.  All replies
 * are read before the callback runs, because it may use the connection. */
static int read_inodes(struct meta *m, const struct gfs_dirent *ents, size_t n, struct gfs_attr *attrs, uint8_t *have)
{
	/* Cached inodes first (one freshness check for the batch); only the
	 * others are read, each with a token for the cache. */
	int cached = meta_cache_usable(m);
	uint64_t tokens[n ? n : 1];
	size_t missing = 0;
	for (size_t i = 0; i < n; i++) {
		have[i] = cached && meta_cache_peek(m, ents[i].ino, &attrs[i]) == 0 && attrs[i].gen == ents[i].gen;
		if (!have[i]) {
			tokens[i] = meta_cache_token(m, ents[i].ino);
			missing++;
		}
	}
	if (!missing)
		return 0;
	int err = 0;
	redisContext *c = meta_ctx(m, &err);
	if (!c)
		return err;
	char key[META_KEY_MAX];
	const char *argv[2] = {"HGETALL", key};
	size_t argvlen[2] = {7, 0};
	uint8_t asked[n];
	memset(asked, 0, n);
	uint64_t started = metric_now_ns();
	for (size_t i = 0; i < n; i++) {
		if (have[i])
			continue;
		meta_key(m, key, sizeof(key), "i%llu", (unsigned long long)ents[i].ino);
		argvlen[1] = strlen(key);
		if (redisAppendCommandArgv(c, 2, argv, argvlen) != REDIS_OK)
			break; /* out of memory: the entries not asked for get no attributes */
		asked[i] = 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!asked[i])
			continue;
		redisReply *r = NULL;
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			meta_metrics_round_trip(started, 1);
			meta_conn_failed(m, c); /* drops the replies still in flight too */
			return -EAGAIN;
		}
		int ok = meta_parse_attr(r, &attrs[i]) == 0;
		freeReplyObject(r);
		if (ok)
			meta_cache_put(m, &attrs[i], tokens[i]);
		have[i] = ok && attrs[i].gen == ents[i].gen;
	}
	meta_metrics_round_trip(started, 0);
	return 0;
}

/* Parses the n names and records of a batch into ents (names point into
 * the reply: each ends with the NUL that joins it to the next). */
static int parse_batch(const redisReply *r, struct gfs_dirent *ents, size_t n)
{
	const char *name = r->element[3]->str, *rec = r->element[4]->str;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		if (parse_entry(&rec, &ents[i], &seq) < 0 || (i + 1 < n) != (*rec != '\0'))
			return -EIO;
		ents[i].name = name;
		ents[i].cookie = seq + 2;
		name += strlen(name) + 1;
	}
	return 0;
}

/* Hands a batch's entries to the callback, advancing *cookie past each one
 * taken; with plus, each with its inode's attributes unless the inode is
 * gone or was replaced since the listing read the entry.  Returns 1 if the
 * callback stopped, 0 if it took them all, <0 on error. */
static int emit_batch(struct meta *m, const redisReply *r, int plus, gfs_readdir_cb cb, void *arg, uint64_t *cookie,
		      uint32_t *emitted)
{
	size_t n = batch_count(r);
	if (n == 0)
		return 0;
	struct gfs_dirent *ents = calloc(n, sizeof(*ents));
	struct gfs_attr *attrs = plus ? malloc(n * sizeof(*attrs)) : NULL;
	uint8_t *have = plus ? calloc(n, 1) : NULL;
	int rc = ents && (!plus || (attrs && have)) ? parse_batch(r, ents, n) : -ENOMEM;
	if (rc == 0 && plus)
		rc = read_inodes(m, ents, n, attrs, have);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (plus && have[i])
			ents[i].attr = &attrs[i];
		rc = cb(arg, &ents[i]);
		if (rc == 0) {
			*cookie = ents[i].cookie;
			(*emitted)++;
		}
	}
	free(have);
	free(attrs);
	free(ents);
	return rc;
}

int meta_readdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, uint64_t cookie,
		 uint64_t cookie_verifier, int plus, uint32_t max_entries, gfs_readdir_cb cb, void *arg, int *eof,
		 uint64_t *verifier_out, struct gfs_attr *dir_attr)
{
	uint32_t emitted = 0;
	int first = 1;
	*eof = 0;
	for (;;) {
		/* The first batch always runs: it checks the directory and the
		 * verifier and gives the directory's attributes. */
		uint32_t dots_ahead = first ? (cookie < 1) + (cookie < 2) : 0;
		uint32_t count = batch_size(max_entries, emitted + dots_ahead);
		if (count == 0 && !first)
			return 0;
		int err = 0;
		redisReply *r = fetch_batch(m, cred, dir, cookie, cookie_verifier, count, &err);
		if (!r)
			return err;
		if (first) {
			struct gfs_attr dattr;
			if (meta_parse_attr_row(r->element[1], &dattr) < 0) {
				freeReplyObject(r);
				return -EIO;
			}
			/* The verifier is the directory's own; cookies stay valid for its lifetime. */
			*verifier_out = meta_reply_u64(r->element[5]);
			if (dir_attr)
				*dir_attr = dattr;
			if (cookie < 2) {
				int rc = dot_entries(m, &dattr, cookie, plus, cb, arg, &emitted);
				if (rc) {
					freeReplyObject(r);
					return rc < 0 ? rc : 0;
				}
				cookie = 2;
			}
			first = 0;
		}
		int rc = emit_batch(m, r, plus, cb, arg, &cookie, &emitted);
		int batch_eof = (int)meta_reply_u64(r->element[2]);
		freeReplyObject(r);
		if (rc)
			return rc < 0 ? rc : 0;
		if (batch_eof) {
			*eof = 1;
			return 0;
		}
		cookie_verifier = *verifier_out;
	}
}
