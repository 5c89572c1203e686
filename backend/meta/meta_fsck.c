/*
 * meta_fsck.c - consistency check of a volume's metadata, and the scan of
 * all live slice ids for object gc.  fsck reads everything with SCAN and
 * plain reads (no script blocks Redis for long), so it must run on a quiet
 * volume to give exact answers: a mutation racing with it can show up as
 * a problem that is not one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_internal.h"

struct fsck_inode {
	uint64_t ino;
	enum gfs_ftype type;
	uint32_t gen;
	uint64_t nlink;
	uint64_t parent;
	uint64_t size;
	uint64_t next_seq;
	uint64_t links_found;	/* entries naming this inode */
	uint64_t subdirs_found; /* directories: entries that are directories */
	int chunk_indexed;	/* files: its chunk lists are listed in P k<INO> */
};

/* One chunk list holding a slice (each list counted once per slice). */
struct fsck_holder {
	uint64_t id;
	uint32_t size;
};

struct fsck {
	struct meta *m;
	meta_report_cb cb;
	void *arg;
	int problems;
	struct fsck_inode *inodes;
	size_t ninodes, cap;
	uint64_t max_slice;
	struct fsck_holder *holders; /* for the P sliceref check */
	size_t nholders, holders_cap;
	int holders_failed; /* out of memory: that check is skipped */
};

static void problem(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fsck *f, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->problems++;
	if (f->cb)
		f->cb(f->arg, line);
}

/* Calls fn for every key matching prefix+pattern; stops on error. */
static int scan_keys(struct meta *m, const char *pattern, int (*fn)(void *arg, const char *key, size_t plen), void *arg)
{
	char match[META_KEY_MAX];
	meta_key(m, match, sizeof(match), "%s", pattern);
	size_t plen = strlen(m->prefix);
	char cursor[32] = "0";
	do {
		int err = 0;
		redisReply *r = meta_command(m, &err, "SCAN %s MATCH %s COUNT 1000", cursor, match);
		if (!r)
			return err;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			int rc = fn(arg, r->element[1]->element[i]->str, plen);
			if (rc < 0) {
				freeReplyObject(r);
				return rc;
			}
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct fsck_inode *)a)->ino, y = ((const struct fsck_inode *)b)->ino;
	return x < y ? -1 : x > y;
}

static struct fsck_inode *find(struct fsck *f, uint64_t ino)
{
	struct fsck_inode key = {.ino = ino};
	return f->ninodes ? bsearch(&key, f->inodes, f->ninodes, sizeof(key), cmp_ino) : NULL;
}

static uint64_t field(const redisReply *h, const char *name, int *found)
{
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (strcmp(h->element[i]->str, name) == 0) {
			if (found)
				*found = 1;
			return meta_reply_u64(h->element[i + 1]);
		}
	if (found)
		*found = 0;
	return 0;
}

static int load_inode(void *arg, const char *key, size_t plen)
{
	struct fsck *f = arg;
	uint64_t ino = strtoull(key + plen + 1, NULL, 10);
	int err = 0;
	redisReply *r = meta_command(f->m, &err, "HGETALL %s", key);
	if (!r)
		return err;
	if (f->ninodes == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		struct fsck_inode *n = realloc(f->inodes, cap * sizeof(*n));
		if (!n) {
			freeReplyObject(r);
			return -ENOMEM;
		}
		f->inodes = n;
		f->cap = cap;
	}
	struct fsck_inode *in = &f->inodes[f->ninodes++];
	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->type = (enum gfs_ftype)field(r, "t", NULL);
	in->gen = (uint32_t)field(r, "gen", NULL);
	in->nlink = field(r, "n", NULL);
	in->parent = field(r, "p", NULL);
	in->size = field(r, "s", NULL);
	in->next_seq = field(r, "sq", NULL);
	in->chunk_indexed = field(r, "k", NULL) == 1;
	if (field(r, "i", NULL) != ino)
		problem(f, "inode %llu: its 'i' field says %llu", (unsigned long long)ino,
			(unsigned long long)field(r, "i", NULL));
	if (in->type < GFS_REG || in->type > GFS_FIFO)
		problem(f, "inode %llu: bad type %u", (unsigned long long)ino, in->type);
	if (in->gen == 0)
		problem(f, "inode %llu: generation 0", (unsigned long long)ino);
	freeReplyObject(r);
	return 0;
}

/* A member of a directory's order set, sorted by name for lookups. */
struct zent {
	const char *name; /* first: bsearch compares a key pointer with it */
	uint64_t seq;
};

static int cmp_zent(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_dir_entries(struct fsck *f, struct fsck_inode *dir)
{
	int err = 0;
	char dkey[META_KEY_MAX], zkey[META_KEY_MAX];
	meta_key(f->m, dkey, sizeof(dkey), "d%llu", (unsigned long long)dir->ino);
	meta_key(f->m, zkey, sizeof(zkey), "z%llu", (unsigned long long)dir->ino);
	redisReply *h = meta_command(f->m, &err, "HGETALL %s", dkey);
	if (!h)
		return err;
	redisReply *z = meta_command(f->m, &err, "ZRANGE %s 0 -1 WITHSCORES", zkey);
	if (!z) {
		freeReplyObject(h);
		return err;
	}
	unsigned long long d = dir->ino;
	size_t nz = z->elements / 2;
	struct zent *zs = calloc(nz ? nz : 1, sizeof(*zs));
	if (!zs) {
		freeReplyObject(h);
		freeReplyObject(z);
		return -ENOMEM;
	}
	for (size_t j = 0; j < nz; j++) {
		zs[j].name = z->element[2 * j]->str;
		zs[j].seq = strtoull(z->element[2 * j + 1]->str, NULL, 10);
	}
	if (nz)
		qsort(zs, nz, sizeof(*zs), cmp_zent);
	if (z->elements != h->elements)
		problem(f, "dir %llu: %zu entries but %zu in the order set", d, h->elements / 2, z->elements / 2);
	for (size_t i = 0; i + 1 < h->elements; i += 2) {
		const char *name = h->element[i]->str;
		unsigned long long t, ino, gen, seq;
		if (sscanf(h->element[i + 1]->str, "%llu,%llu,%llu,%llu", &t, &ino, &gen, &seq) != 4) {
			problem(f, "dir %llu: entry '%s' is malformed", d, name);
			continue;
		}
		if (seq == 0 || seq > dir->next_seq)
			problem(f, "dir %llu: entry '%s' has seq %llu beyond the dir's %llu", d, name, seq,
				(unsigned long long)dir->next_seq);
		const char *key = name;
		const struct zent *ze = nz ? bsearch(&key, zs, nz, sizeof(*zs), cmp_zent) : NULL;
		if (!ze)
			problem(f, "dir %llu: entry '%s' missing from the order set", d, name);
		else if (ze->seq != seq)
			problem(f, "dir %llu: entry '%s' seq %llu but order set says %llu", d, name, seq,
				(unsigned long long)ze->seq);
		struct fsck_inode *c = find(f, ino);
		if (!c) {
			problem(f, "dir %llu: entry '%s' names missing inode %llu", d, name, ino);
			continue;
		}
		c->links_found++;
		if (c->type != (enum gfs_ftype)t)
			problem(f, "dir %llu: entry '%s' type %llu but inode %llu has type %u", d, name, t, ino,
				c->type);
		if (c->gen != gen)
			problem(f, "dir %llu: entry '%s' generation differs from inode %llu", d, name, ino);
		if (c->type == GFS_DIR) {
			dir->subdirs_found++;
			if (c->parent != dir->ino)
				problem(f, "dir %llu: subdir '%s' (%llu) has parent %llu", d, name, ino,
					(unsigned long long)c->parent);
		}
	}
	free(zs);
	freeReplyObject(h);
	freeReplyObject(z);
	return 0;
}

static void check_links(struct fsck *f)
{
	for (size_t i = 0; i < f->ninodes; i++) {
		struct fsck_inode *in = &f->inodes[i];
		unsigned long long ino = in->ino;
		if (ino == GFS_ROOT_INO) {
			if (in->type != GFS_DIR || in->parent != GFS_ROOT_INO)
				problem(f, "root: not a directory or parent %llu", (unsigned long long)in->parent);
			if (in->links_found)
				problem(f, "root: named by %llu entries", (unsigned long long)in->links_found);
		} else if (in->links_found == 0) {
			problem(f, "inode %llu: orphan (no entry names it)", ino);
			continue;
		}
		if (in->type == GFS_DIR) {
			if (ino != GFS_ROOT_INO && in->links_found != 1)
				problem(f, "dir %llu: named by %llu entries", ino, (unsigned long long)in->links_found);
			if (in->nlink != 2 + in->subdirs_found)
				problem(f, "dir %llu: nlink %llu, expected %llu", ino, (unsigned long long)in->nlink,
					(unsigned long long)(2 + in->subdirs_found));
			/* the parent chain must reach the root */
			uint64_t cur = ino;
			size_t steps = 0;
			while (cur != GFS_ROOT_INO && steps++ <= f->ninodes) {
				struct fsck_inode *p = find(f, cur);
				if (!p || p->type != GFS_DIR)
					break;
				cur = p->parent;
			}
			if (cur != GFS_ROOT_INO)
				problem(f, "dir %llu: parent chain does not reach the root", ino);
		} else if (in->nlink != in->links_found) {
			problem(f, "inode %llu: nlink %llu but %llu entries", ino, (unsigned long long)in->nlink,
				(unsigned long long)in->links_found);
		}
	}
}

/* d, z, x, k keys must belong to live inodes (d and z to directories, k to
 * files). */
static int check_owner(void *arg, const char *key, size_t plen)
{
	struct fsck *f = arg;
	char kind = key[plen];
	uint64_t ino = strtoull(key + plen + 1, NULL, 10);
	struct fsck_inode *in = find(f, ino);
	if (!in)
		problem(f, "key %s belongs to missing inode %llu", key, (unsigned long long)ino);
	else if (kind == 'k' && in->type != GFS_REG)
		problem(f, "key %s belongs to non-file %llu", key, (unsigned long long)ino);
	else if ((kind == 'd' || kind == 'z') && in->type != GFS_DIR)
		problem(f, "key %s belongs to non-directory %llu", key, (unsigned long long)ino);
	return 0;
}

/* Notes that the chunk list whose holders start at index first holds the
 * slice, once per list. */
static void add_holder(struct fsck *f, size_t first, uint64_t id, uint32_t size)
{
	for (size_t i = first; i < f->nholders; i++)
		if (f->holders[i].id == id && f->holders[i].size == size)
			return;
	if (f->nholders == f->holders_cap) {
		size_t cap = f->holders_cap ? f->holders_cap * 2 : 1024;
		struct fsck_holder *h = realloc(f->holders, cap * sizeof(*h));
		if (!h) {
			f->holders_failed = 1;
			return;
		}
		f->holders = h;
		f->holders_cap = cap;
	}
	f->holders[f->nholders++] = (struct fsck_holder){id, size};
}

static int cmp_holder(const void *a, const void *b)
{
	const struct fsck_holder *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* P sliceref must count, for every slice that several chunk lists hold,
 * the lists beyond the first, and nothing else (FORMAT §6): a count too
 * low frees a slice that a file still reads. */
static int check_shared_slices(struct fsck *f)
{
	if (f->holders_failed) {
		problem(f, "shared slices not checked: out of memory");
		return 0;
	}
	if (f->nholders)
		qsort(f->holders, f->nholders, sizeof(*f->holders), cmp_holder);
	char key[META_KEY_MAX];
	meta_key(f->m, key, sizeof(key), "sliceref");
	int err = 0;
	redisReply *r = meta_command(f->m, &err, "HGETALL %s", key);
	if (!r)
		return err;
	size_t counted = 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		const redisReply *member = r->element[i], *value = r->element[i + 1];
		if (member->len != 12) {
			problem(f, "sliceref: member %zu has %zu bytes, not 12", i / 2, member->len);
			continue;
		}
		struct meta_slice s = {0};
		uint8_t rec[META_REC_SIZE] = {0};
		memcpy(rec + 4, member->str, 12);
		meta_unpack_slice(rec, &s);
		struct fsck_holder want = {s.id, s.size};
		struct fsck_holder *h =
		    f->nholders ? bsearch(&want, f->holders, f->nholders, sizeof(want), cmp_holder) : NULL;
		size_t lists = 0;
		if (h) {
			while (h > f->holders && cmp_holder(h - 1, &want) == 0)
				h--;
			while (h + lists < f->holders + f->nholders && cmp_holder(h + lists, &want) == 0)
				lists++;
		}
		long long n = strtoll(value->str ? value->str : "0", NULL, 10);
		if (lists < 2 || n != (long long)lists - 1)
			problem(f, "sliceref: slice %llu counts %lld more holders, but %zu chunk lists hold it",
				(unsigned long long)s.id, n, lists);
		counted++;
	}
	freeReplyObject(r);
	/* every slice held by several lists must be counted */
	size_t shared = 0;
	for (size_t i = 0; i < f->nholders;) {
		size_t j = i + 1;
		while (j < f->nholders && cmp_holder(&f->holders[j], &f->holders[i]) == 0)
			j++;
		if (j - i > 1)
			shared++;
		i = j;
	}
	if (shared != counted)
		problem(f, "sliceref: %zu slices are held by several chunk lists, %zu are counted", shared, counted);
	return 0;
}

/* lk keys (byte-range locks, FORMAT §13) must belong to live files: the
 * last unlink deletes them with the inode. */
static int check_lock_key(void *arg, const char *key, size_t plen)
{
	struct fsck *f = arg;
	uint64_t ino = strtoull(key + plen + 2, NULL, 10);
	struct fsck_inode *in = find(f, ino);
	if (!in || in->type != GFS_REG)
		problem(f, "lock key %s belongs to %s inode %llu", key, in ? "non-file" : "missing",
			(unsigned long long)ino);
	return 0;
}

static int check_chunk(void *arg, const char *key, size_t plen)
{
	struct fsck *f = arg;
	unsigned long long ino;
	unsigned idx;
	if (sscanf(key + plen, "c%llu_%u", &ino, &idx) != 2) {
		problem(f, "key %s: malformed chunk key", key);
		return 0;
	}
	struct fsck_inode *in = find(f, ino);
	if (!in || in->type != GFS_REG) {
		problem(f, "chunk %s belongs to %s inode %llu", key, in ? "non-file" : "missing", ino);
		return 0;
	}
	int err = 0;
	if (in->chunk_indexed) { /* else deleting the file would leave this chunk behind */
		char kkey[META_KEY_MAX];
		meta_key(f->m, kkey, sizeof(kkey), "k%llu", ino);
		redisReply *z = meta_command(f->m, &err, "ZSCORE %s %u", kkey, idx);
		if (!z)
			return err;
		if (z->type == REDIS_REPLY_NIL)
			problem(f, "chunk %s is missing from the file's chunk index %s", key, kkey);
		freeReplyObject(z);
	}
	redisReply *r = meta_command(f->m, &err, "GET %s", key);
	if (!r)
		return err;
	if (r->type != REDIS_REPLY_STRING || r->len % META_REC_SIZE) {
		problem(f, "chunk %s: length %zu not a multiple of %d", key, r->len, META_REC_SIZE);
		freeReplyObject(r);
		return 0;
	}
	if ((uint64_t)idx * META_CHUNK_SIZE >= in->size && r->len)
		problem(f, "chunk %s lies beyond the file size %llu", key, (unsigned long long)in->size);
	size_t first_holder = f->nholders;
	for (size_t off = 0; off < r->len; off += META_REC_SIZE) {
		struct meta_slice s;
		meta_unpack_slice((const uint8_t *)r->str + off, &s);
		if (s.id)
			add_holder(f, first_holder, s.id, s.size);
		if ((uint64_t)s.pos + s.len > META_CHUNK_SIZE)
			problem(f, "chunk %s record %zu: pos %u + len %u beyond the chunk", key, off / META_REC_SIZE,
				s.pos, s.len);
		if (s.id && (uint64_t)s.off + s.len > s.size)
			problem(f, "chunk %s record %zu: off %u + len %u beyond slice size %u", key,
				off / META_REC_SIZE, s.off, s.len, s.size);
		if (meta_slice_counter(s.id) > f->max_slice)
			f->max_slice = meta_slice_counter(s.id);
	}
	freeReplyObject(r);
	return 0;
}

static int get_counter(struct meta *m, const char *name, int64_t *v)
{
	char key[META_KEY_MAX];
	meta_key(m, key, sizeof(key), "%s", name);
	int err = 0;
	redisReply *r = meta_command(m, &err, "GET %s", key);
	if (!r)
		return err;
	*v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
	freeReplyObject(r);
	return 0;
}

static int check_counters(struct fsck *f)
{
	int64_t next_ino = 0, next_slice = 0, used = 0, total = 0;
	int rc = get_counter(f->m, "nextinode", &next_ino);
	if (!rc)
		rc = get_counter(f->m, "nextslice", &next_slice);
	if (!rc)
		rc = get_counter(f->m, "usedspace", &used);
	if (!rc)
		rc = get_counter(f->m, "totalinodes", &total);
	if (rc)
		return rc;
	uint64_t max_ino = 0, sum = 0;
	for (size_t i = 0; i < f->ninodes; i++) {
		if (f->inodes[i].ino > max_ino)
			max_ino = f->inodes[i].ino;
		if (f->inodes[i].type == GFS_REG)
			sum += (f->inodes[i].size + 4095) & ~4095ULL;
	}
	if (next_ino < 0 || (uint64_t)next_ino < max_ino)
		problem(f, "counter nextinode %lld below the largest inode %llu", (long long)next_ino,
			(unsigned long long)max_ino);
	if (next_slice < 0 || (uint64_t)next_slice < f->max_slice)
		problem(f, "counter nextslice %lld below the counter of slice id %llu", (long long)next_slice,
			(unsigned long long)f->max_slice);
	if (total != (int64_t)f->ninodes)
		problem(f, "counter totalinodes %lld but %zu inodes exist", (long long)total, f->ninodes);
	if (used != (int64_t)sum)
		problem(f, "counter usedspace %lld but file sizes add up to %llu", (long long)used,
			(unsigned long long)sum);
	return 0;
}

static int check_dead_queue(struct fsck *f)
{
	char key[META_KEY_MAX];
	meta_key(f->m, key, sizeof(key), "delslices");
	int err = 0;
	redisReply *r = meta_command(f->m, &err, "ZRANGE %s 0 -1", key);
	if (!r)
		return err;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->len != 12)
			problem(f, "delete queue: member %zu has %zu bytes, not 12", i, r->element[i]->len);
	freeReplyObject(r);
	return 0;
}

int meta_fsck(struct meta *m, meta_report_cb cb, void *arg)
{
	struct fsck f = {.m = m, .cb = cb, .arg = arg};
	int rc = scan_keys(m, "i[0-9]*", load_inode, &f);
	if (rc == 0) {
		if (f.ninodes)
			qsort(f.inodes, f.ninodes, sizeof(*f.inodes), cmp_ino);
		if (!find(&f, GFS_ROOT_INO))
			problem(&f, "root inode 1 is missing");
		for (size_t i = 0; rc == 0 && i < f.ninodes; i++)
			if (f.inodes[i].type == GFS_DIR)
				rc = check_dir_entries(&f, &f.inodes[i]);
	}
	if (rc == 0)
		check_links(&f);
	static const char *const owned[] = {"d[0-9]*", "z[0-9]*", "x[0-9]*", "k[0-9]*"};
	for (size_t i = 0; rc == 0 && i < sizeof(owned) / sizeof(owned[0]); i++)
		rc = scan_keys(m, owned[i], check_owner, &f);
	if (rc == 0)
		rc = scan_keys(m, "c[0-9]*", check_chunk, &f);
	if (rc == 0)
		rc = scan_keys(m, "lk[0-9]*", check_lock_key, &f);
	if (rc == 0)
		rc = check_counters(&f);
	if (rc == 0)
		rc = check_dead_queue(&f);
	if (rc == 0)
		rc = check_shared_slices(&f);
	free(f.holders);
	free(f.inodes);
	return rc < 0 ? rc : f.problems;
}

struct scan_slices {
	struct meta *m;
	int (*cb)(void *arg, uint64_t id, uint32_t size);
	void *arg;
};

static int scan_chunk(void *arg, const char *key, size_t plen)
{
	struct scan_slices *s = arg;
	(void)plen;
	int err = 0;
	redisReply *r = meta_command(s->m, &err, "GET %s", key);
	if (!r)
		return err;
	int rc = 0;
	if (r->type == REDIS_REPLY_STRING)
		for (size_t off = 0; rc == 0 && off + META_REC_SIZE <= r->len; off += META_REC_SIZE) {
			struct meta_slice sl;
			meta_unpack_slice((const uint8_t *)r->str + off, &sl);
			if (sl.id)
				rc = s->cb(s->arg, sl.id, sl.size);
		}
	freeReplyObject(r);
	return rc < 0 ? rc : 0;
}

int meta_scan_slices(struct meta *m, int (*cb)(void *arg, uint64_t id, uint32_t size), void *arg)
{
	struct scan_slices s = {m, cb, arg};
	return scan_keys(m, "c[0-9]*", scan_chunk, &s);
}
