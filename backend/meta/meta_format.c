/*
 * meta_format.c - volume settings (format, load, the version check) and the
 * volume-wide counters behind statfs and usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "meta_internal.h"

#define UNLIMITED_BYTES (1ULL << 50) /* 1 PiB reported when capacity is 0 */
#define UNLIMITED_INODES (1ULL << 40)

static void hex(char *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static int unhex(uint8_t *out, size_t n, const char *in)
{
	if (strlen(in) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(in + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int meta_format(struct meta *m, const struct gfs_volume_settings *s, int force, char *err, size_t errlen)
{
	uint32_t chunk = s->chunk_size ? s->chunk_size : META_CHUNK_SIZE;
	if (chunk != META_CHUNK_SIZE) {
		snprintf(err, errlen, "chunk size must be %u", META_CHUNK_SIZE);
		return -EINVAL;
	}
	uint32_t block = s->block_size ? s->block_size : META_DEFAULT_BLOCK_SIZE;
	if (block > chunk || chunk % block) {
		snprintf(err, errlen, "block size must divide the chunk size %u", chunk);
		return -EINVAL;
	}
	char secret[65], block_s[16], chunk_s[16], version[16], capb[24], capi[24], created[24];
	hex(secret, s->secret, sizeof(s->secret));
	snprintf(block_s, sizeof(block_s), "%u", block);
	snprintf(chunk_s, sizeof(chunk_s), "%u", chunk);
	snprintf(version, sizeof(version), "%u", META_FORMAT_VERSION);
	snprintf(capb, sizeof(capb), "%llu", (unsigned long long)s->capacity_bytes);
	snprintf(capi, sizeof(capi), "%llu", (unsigned long long)s->capacity_inodes);
	snprintf(created, sizeof(created), "%lld", (long long)(s->created_sec ? s->created_sec : time(NULL)));
	struct meta_args a;
	meta_args_init(&a);
	meta_args_str(&a, force ? "1" : "0");
	meta_args_u64(&a, meta_random_u32_nonzero());
	meta_args_u64(&a, meta_random_u64() >> 12);
	const char *kv[][2] = {
	    {"name", s->name},	       {"uuid", s->uuid},    {"storage", s->storage_url}, {"block_size", block_s},
	    {"chunk_size", chunk_s},   {"version", version}, {"secret", secret},	  {"capacity_bytes", capb},
	    {"capacity_inodes", capi}, {"created", created},
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		meta_args_str(&a, kv[i][0]);
		meta_args_str(&a, kv[i][1]);
	}
	int e = 0;
	redisReply *r = meta_eval(m, MS_FORMAT, NULL, &e, a.argc, a.argv, a.argvlen);
	if (!r) {
		snprintf(err, errlen, "format failed: %s", e == -EAGAIN ? "redis unreachable" : "redis error");
		return e;
	}
	int st = meta_reply_status(r);
	freeReplyObject(r);
	if (st == -EEXIST)
		snprintf(err, errlen, "a volume already exists under %s (use force to update its settings)", m->prefix);
	return st;
}

int meta_load_settings(struct meta *m, struct gfs_volume_settings *s, char *err, size_t errlen)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "setting");
	int e = 0;
	redisReply *r = meta_command(m, &e, "HGETALL %s", key);
	if (!r) {
		snprintf(err, errlen, "cannot read settings: %s", e == -EAGAIN ? "redis unreachable" : "redis error");
		return e;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		freeReplyObject(r);
		snprintf(err, errlen, "no volume under %s: format it first", m->prefix);
		return -ENOENT;
	}
	memset(s, 0, sizeof(*s));
	int rc = 0;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
		if (!k || !v)
			continue;
		if (strcmp(k, "name") == 0)
			snprintf(s->name, sizeof(s->name), "%s", v);
		else if (strcmp(k, "uuid") == 0)
			snprintf(s->uuid, sizeof(s->uuid), "%s", v);
		else if (strcmp(k, "storage") == 0)
			snprintf(s->storage_url, sizeof(s->storage_url), "%s", v);
		else if (strcmp(k, "block_size") == 0)
			s->block_size = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "chunk_size") == 0)
			s->chunk_size = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "version") == 0)
			s->format_version = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "secret") == 0 && unhex(s->secret, sizeof(s->secret), v) < 0)
			rc = -EIO;
		else if (strcmp(k, "capacity_bytes") == 0)
			s->capacity_bytes = strtoull(v, NULL, 10);
		else if (strcmp(k, "capacity_inodes") == 0)
			s->capacity_inodes = strtoull(v, NULL, 10);
		else if (strcmp(k, "created") == 0)
			s->created_sec = strtoll(v, NULL, 10);
	}
	freeReplyObject(r);
	if (s->format_version != META_FORMAT_VERSION && s->format_version != META_FORMAT_VERSION_CLONES) {
		snprintf(
		    err, errlen,
		    "volume %s has metadata format version %u; this gatefs reads versions %u and %u (upgrade gatefs)",
		    m->prefix, s->format_version, META_FORMAT_VERSION, META_FORMAT_VERSION_CLONES);
		log_error("meta: %s", err);
		return -EPROTO;
	}
	if (rc < 0)
		snprintf(err, errlen, "volume settings are corrupt (secret)");
	else if (s->chunk_size != META_CHUNK_SIZE || !s->block_size || s->chunk_size % s->block_size) {
		snprintf(err, errlen, "volume settings are corrupt (chunk %u, block %u)", s->chunk_size, s->block_size);
		rc = -EIO;
	}
	return rc;
}

/* {capacity bytes, capacity inodes, used bytes, inodes} in one script. */
static int counters(struct meta *m, uint64_t v[4])
{
	int e = 0;
	redisReply *r = meta_eval(m, MS_STATFS, NULL, &e, 0, NULL, NULL);
	if (!r)
		return e;
	int st = meta_reply_status(r);
	if (st == 0 && r->elements == 5)
		for (int i = 0; i < 4; i++)
			v[i] = meta_reply_u64(r->element[i + 1]);
	else if (st == 0)
		st = -EIO;
	freeReplyObject(r);
	return st;
}

int meta_statfs(struct meta *m, struct gfs_statfs *out)
{
	uint64_t v[4];
	int rc = counters(m, v);
	if (rc < 0)
		return rc;
	/* usedspace may dip below zero transiently only through a bug; clamp */
	uint64_t used = (int64_t)v[2] < 0 ? 0 : v[2];
	uint64_t total = v[0] ? v[0] : UNLIMITED_BYTES;
	uint64_t files = v[1] ? v[1] : UNLIMITED_INODES;
	if (total < used)
		total = used;
	if (files < v[3])
		files = v[3];
	memset(out, 0, sizeof(*out));
	out->total_bytes = total;
	out->used_bytes = used;
	out->free_bytes = out->avail_bytes = total - used;
	out->total_files = files;
	out->used_files = v[3];
	out->free_files = files - v[3];
	return 0;
}

int meta_usage(struct meta *m, struct gfs_volume_usage *u)
{
	uint64_t v[4];
	int rc = counters(m, v);
	if (rc < 0)
		return rc;
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "delslices");
	int e = 0;
	redisReply *r = meta_command(m, &e, "ZCARD %s", key);
	if (!r)
		return e;
	u->inodes = v[3];
	u->bytes = (int64_t)v[2] < 0 ? 0 : v[2];
	u->dead_slices = meta_reply_u64(r);
	freeReplyObject(r);
	int64_t now = 0;
	e = meta_redis_time(m, &now);
	if (e < 0)
		return e;
	r = meta_command(m, &e, "ZCOUNT %s (%lld +inf", key, (long long)now);
	if (!r)
		return e;
	u->dead_slices_failing = meta_reply_u64(r);
	freeReplyObject(r);
	return 0;
}
