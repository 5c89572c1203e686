/*
 * meta_slice.c - file data records: slice id allocation, reading a chunk's
 * records, appending one (write_slice), compaction, and the delayed-delete
 * queue of slices whose objects may be removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_internal.h"

#define DEAD_MEMBER_SIZE 12 /* 8-byte id + 4-byte size, big-endian */

int meta_new_slice_ids(struct meta *m, uint32_t count, uint64_t *first)
{
	if (count == 0)
		return -EINVAL;
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "nextslice");
	int err = 0;
	redisReply *r = meta_command(m, &err, "INCRBY %s %u", key, count);
	if (!r)
		return err;
	if (r->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(r);
		return -EIO;
	}
	uint64_t last = (uint64_t)r->integer;
	freeReplyObject(r);
	*first = last - count + 1;
	return last > META_SLICE_COUNTER_MAX ? -ENOSPC : 0;
}

int meta_last_slice_id(struct meta *m, uint64_t *last)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "nextslice");
	int err = 0;
	redisReply *r = meta_command(m, &err, "GET %s", key);
	if (!r)
		return err;
	int rc = 0;
	char *end = NULL;
	if (r->type == REDIS_REPLY_STRING)
		*last = strtoull(r->str, &end, 10);
	if (r->type != REDIS_REPLY_STRING || end == r->str || *end)
		rc = -EIO; /* a formatted volume always has the counter */
	freeReplyObject(r);
	return rc;
}

int meta_read_chunk(struct meta *m, gfs_ino_t ino, uint32_t chunk_index, struct meta_slice **out, size_t *n)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "c%llu_%u", (unsigned long long)ino, chunk_index);
	int err = 0;
	redisReply *r = meta_command(m, &err, "GET %s", key);
	if (!r)
		return err;
	*out = NULL;
	*n = 0;
	if (r->type == REDIS_REPLY_STRING && r->len) {
		if (r->len % META_REC_SIZE) {
			freeReplyObject(r);
			return -EIO;
		}
		size_t count = r->len / META_REC_SIZE;
		struct meta_slice *s = calloc(count, sizeof(*s));
		if (!s) {
			freeReplyObject(r);
			return -ENOMEM;
		}
		for (size_t i = 0; i < count; i++)
			meta_unpack_slice((const uint8_t *)r->str + i * META_REC_SIZE, &s[i]);
		*out = s;
		*n = count;
	}
	freeReplyObject(r);
	return 0;
}

int meta_next_chunk(struct meta *m, gfs_ino_t ino, uint32_t from, uint32_t *idx)
{
	char ikey[META_KEY_MAX], kkey[META_KEY_MAX];
	meta_key(m, ikey, sizeof(ikey), "i%llu", (unsigned long long)ino);
	meta_key(m, kkey, sizeof(kkey), "k%llu", (unsigned long long)ino);
	int err = 0;
	redisReply *r = meta_command(m, &err, "HGET %s k", ikey);
	if (!r)
		return err;
	int indexed = r->type == REDIS_REPLY_STRING && r->len == 1 && r->str[0] == '1';
	freeReplyObject(r);
	if (!indexed)
		return -EOPNOTSUPP;
	r = meta_command(m, &err, "ZRANGEBYSCORE %s %u +inf LIMIT 0 1", kkey, from);
	if (!r)
		return err;
	int rc = -ENOENT;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_STRING) {
		char *end;
		unsigned long v = strtoul(r->element[0]->str, &end, 10);
		rc = *end || v > UINT32_MAX ? -EIO : 0;
		*idx = (uint32_t)v;
	} else if (r->type != REDIS_REPLY_ARRAY) {
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

int meta_write_slice(struct meta *m, struct gfs_ref ref, uint32_t chunk_index, const struct meta_slice *s,
		     uint64_t new_size_min, struct gfs_wcc *wcc, size_t *nslices_out)
{
	if ((uint64_t)s->pos + s->len > META_CHUNK_SIZE || (s->id && (uint64_t)s->off + s->len > s->size))
		return -EINVAL;
	uint8_t rec[META_REC_SIZE];
	meta_pack_slice(rec, s);
	struct meta_args a;
	meta_args_init(&a);
	meta_args_u64(&a, ref.ino);
	meta_args_u64(&a, ref.gen);
	meta_args_u64(&a, chunk_index);
	meta_args_bin(&a, rec, sizeof(rec));
	meta_args_u64(&a, new_size_min);
	int err = 0;
	redisReply *r = meta_eval(m, MS_WRITE_SLICE, NULL, &err, a.argc, a.argv, a.argvlen);
	if (!r)
		return err;
	int rc = meta_reply_status(r);
	if (rc == 0 && r->elements == 4) {
		meta_parse_wcc(r->element[1], r->element[2], wcc);
		if (nslices_out)
			*nslices_out = (size_t)meta_reply_u64(r->element[3]);
	} else if (rc == 0) {
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

static uint8_t *pack_all(const struct meta_slice *s, size_t n)
{
	uint8_t *buf = malloc(n * META_REC_SIZE + 1);
	if (buf)
		for (size_t i = 0; i < n; i++)
			meta_pack_slice(buf + i * META_REC_SIZE, &s[i]);
	return buf;
}

int meta_compact_chunk(struct meta *m, gfs_ino_t ino, uint32_t chunk_index, const struct meta_slice *old, size_t nold,
		       const struct meta_slice *repl, size_t nrepl)
{
	if (nold == 0)
		return -EINVAL;
	uint8_t *oldb = pack_all(old, nold), *replb = pack_all(repl, nrepl);
	int rc = -ENOMEM;
	if (oldb && replb) {
		struct meta_args a;
		meta_args_init(&a);
		meta_args_u64(&a, ino);
		meta_args_u64(&a, chunk_index);
		meta_args_bin(&a, oldb, nold * META_REC_SIZE);
		meta_args_bin(&a, replb, nrepl * META_REC_SIZE);
		redisReply *r = meta_eval(m, MS_COMPACT, NULL, &rc, a.argc, a.argv, a.argvlen);
		if (r) {
			rc = meta_reply_status(r);
			freeReplyObject(r);
		}
	}
	free(oldb);
	free(replb);
	return rc;
}

static void pack_dead(uint8_t out[DEAD_MEMBER_SIZE], const struct meta_dead_slice *d)
{
	struct meta_slice s = {.id = d->id, .size = d->size};
	uint8_t rec[META_REC_SIZE];
	meta_pack_slice(rec, &s);
	memcpy(out, rec + 4, DEAD_MEMBER_SIZE);
}

/* Redis's clock, seconds: the queue's scores come from it (_lib.lua). */
static int redis_time(struct meta *m, int64_t *sec)
{
	int err = 0;
	redisReply *r = meta_command(m, &err, "TIME");
	if (!r)
		return err;
	int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING;
	if (ok)
		*sec = strtoll(r->element[0]->str, NULL, 10);
	freeReplyObject(r);
	return ok ? 0 : -EIO;
}

int meta_dead_slices(struct meta *m, int64_t min_age_sec, size_t max, struct meta_dead_slice **out, size_t *n)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "delslices");
	int err = 0;
	char upto[24] = "+inf", limit[24];
	if (min_age_sec > META_DEAD_ANY_AGE) {
		int64_t now = 0;
		err = redis_time(m, &now);
		if (err < 0)
			return err;
		snprintf(upto, sizeof(upto), "%lld", (long long)(now - min_age_sec));
	}
	/* a negative LIMIT count means "all" to Redis; SIZE_MAX would not parse */
	if (max > (size_t)1 << 40)
		snprintf(limit, sizeof(limit), "-1");
	else
		snprintf(limit, sizeof(limit), "%zu", max);
	redisReply *r = meta_command(m, &err, "ZRANGEBYSCORE %s -inf %s LIMIT 0 %s", key, upto, limit);
	if (!r)
		return err;
	*out = NULL;
	*n = 0;
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return -EIO;
	}
	struct meta_dead_slice *d = r->elements ? calloc(r->elements, sizeof(*d)) : NULL;
	if (r->elements && !d) {
		freeReplyObject(r);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e->type != REDIS_REPLY_STRING || e->len != DEAD_MEMBER_SIZE)
			continue; /* not ours; fsck reports it */
		uint8_t rec[META_REC_SIZE] = {0};
		memcpy(rec + 4, e->str, DEAD_MEMBER_SIZE);
		struct meta_slice s;
		meta_unpack_slice(rec, &s);
		d[k].id = s.id;
		d[k].size = s.size;
		k++;
	}
	freeReplyObject(r);
	*out = d;
	*n = k;
	return 0;
}

int meta_dead_slices_done(struct meta *m, const struct meta_dead_slice *s, size_t n)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "delslices");
	for (size_t done = 0; done < n;) {
		size_t batch = n - done > 256 ? 256 : n - done;
		const char *argv[2 + 256];
		size_t argl[2 + 256];
		uint8_t members[256][DEAD_MEMBER_SIZE];
		argv[0] = "ZREM";
		argl[0] = 4;
		argv[1] = key;
		argl[1] = strlen(key);
		for (size_t i = 0; i < batch; i++) {
			pack_dead(members[i], &s[done + i]);
			argv[2 + i] = (const char *)members[i];
			argl[2 + i] = DEAD_MEMBER_SIZE;
		}
		int err = 0;
		redisReply *r = meta_command_argv(m, &err, (int)(2 + batch), argv, argl);
		if (!r)
			return err;
		freeReplyObject(r);
		done += batch;
	}
	return 0;
}

int meta_redis_time(struct meta *m, int64_t *sec)
{
	return redis_time(m, sec);
}

int meta_dead_slices_retry(struct meta *m, const struct meta_dead_slice *s, size_t n, int64_t backoff_sec)
{
	char key[META_KEY_MAX], score[24];
	meta_key(m, key, sizeof(key), "delslices");
	int64_t now = 0;
	int rc = redis_time(m, &now);
	if (rc < 0)
		return rc;
	snprintf(score, sizeof(score), "%lld", (long long)(now + backoff_sec));
	for (size_t done = 0; done < n;) {
		size_t batch = n - done > 256 ? 256 : n - done;
		const char *argv[3 + 2 * 256];
		size_t argl[3 + 2 * 256];
		uint8_t members[256][DEAD_MEMBER_SIZE];
		argv[0] = "ZADD";
		argl[0] = 4;
		argv[1] = key;
		argl[1] = strlen(key);
		argv[2] = "XX"; /* never re-queue what someone else finished */
		argl[2] = 2;
		for (size_t i = 0; i < batch; i++) {
			pack_dead(members[i], &s[done + i]);
			argv[3 + 2 * i] = score;
			argl[3 + 2 * i] = strlen(score);
			argv[4 + 2 * i] = (const char *)members[i];
			argl[4 + 2 * i] = DEAD_MEMBER_SIZE;
		}
		int err = 0;
		redisReply *r = meta_command_argv(m, &err, (int)(3 + 2 * batch), argv, argl);
		if (!r)
			return err;
		freeReplyObject(r);
		done += batch;
	}
	return 0;
}
