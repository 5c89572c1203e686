/*
 * cache.c - the block cache of cache.h.  One mutex guards the hash table and
 * the LRU list; it is never held across an object-store call.  A block
 * being fetched sits in the table in state LOADING so that later readers
 * wait on the condition variable instead of fetching again.
 */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blockbuf.h"
#include "cache_disk.h"
#include "data.h"
#include "data_metrics.h"
#include "data_pool.h"
#include "log.h"
#include "slice_view.h"

enum { B_LOADING = 0, B_READY = 1, B_FAILED = 2 };

#define CACHE_BUCKETS 4096

struct block_cache {
	struct gfs_vfs *vfs;
	pthread_mutex_t lock;
	pthread_cond_t loaded;
	struct cache_block *buckets[CACHE_BUCKETS];
	struct cache_block *lru_head, *lru_tail; /* head = most recent */
	uint64_t bytes, max_bytes;
	struct cache_counters n;
	struct disk_cache *disk;
};

static size_t bucket_of(uint64_t id, uint32_t idx)
{
	uint64_t h = (id * 0x9E3779B97F4A7C15ULL) ^ (idx * 0xC2B2AE3D27D4EB4FULL);
	return (size_t)(h >> 32) % CACHE_BUCKETS;
}

static struct cache_block *find(struct block_cache *c, uint64_t id, uint32_t idx)
{
	for (struct cache_block *b = c->buckets[bucket_of(id, idx)]; b; b = b->hnext)
		if (b->id == id && b->idx == idx)
			return b;
	return NULL;
}

static void lru_unlink(struct block_cache *c, struct cache_block *b)
{
	if (b->lprev)
		b->lprev->lnext = b->lnext;
	else if (c->lru_head == b)
		c->lru_head = b->lnext;
	if (b->lnext)
		b->lnext->lprev = b->lprev;
	else if (c->lru_tail == b)
		c->lru_tail = b->lprev;
	b->lprev = b->lnext = NULL;
}

static void lru_push_front(struct block_cache *c, struct cache_block *b)
{
	b->lprev = NULL;
	b->lnext = c->lru_head;
	if (c->lru_head)
		c->lru_head->lprev = b;
	c->lru_head = b;
	if (!c->lru_tail)
		c->lru_tail = b;
}

static void hash_remove(struct block_cache *c, struct cache_block *b)
{
	struct cache_block **pp = &c->buckets[bucket_of(b->id, b->idx)];
	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
}

/* Full-size blocks live in the shared block buffer pool (blockbuf.h), so
 * that an evicted block's memory is reused by the next load or write. */
static uint8_t *block_data_alloc(struct block_cache *c, uint32_t len)
{
	if (len == blockbuf_size(c->vfs->bufs))
		return blockbuf_get(c->vfs->bufs);
	return malloc(len ? len : 1);
}

static void block_free(struct block_cache *c, struct cache_block *b)
{
	c->bytes -= b->len;
	metric_gauge_add(&data_metrics.cache_bytes, -(int64_t)b->len);
	if (b->len == blockbuf_size(c->vfs->bufs))
		blockbuf_put(c->vfs->bufs, b->data);
	else
		free(b->data);
	free(b);
}

/* Drops unreferenced blocks from the cold end until under the limit.
 * Called with the lock held. */
static void evict(struct block_cache *c)
{
	struct cache_block *b = c->lru_tail;
	while (c->bytes > c->max_bytes && b) {
		struct cache_block *prev = b->lprev;
		if (b->refs == 0 && b->state != B_LOADING) {
			lru_unlink(c, b);
			hash_remove(c, b);
			block_free(c, b);
		}
		b = prev;
	}
}

int cache_create(struct gfs_vfs *vfs, uint64_t max_bytes, const char *disk_dir, uint64_t disk_bytes,
		 struct block_cache **out)
{
	struct block_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (disk_dir && *disk_dir) {
		int rc = disk_cache_open(disk_dir, disk_bytes, &c->disk);
		if (rc < 0) {
			free(c);
			return rc;
		}
	}
	c->vfs = vfs;
	c->max_bytes = max_bytes;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->loaded, NULL);
	*out = c;
	return 0;
}

void cache_destroy(struct block_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_block *b = c->buckets[i];
		while (b) {
			struct cache_block *next = b->hnext;
			block_free(c, b);
			b = next;
		}
	}
	disk_cache_close(c->disk);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->loaded);
	free(c);
}

/* Fetches a LOADING block that the caller created (lock not held). */
static void load(struct block_cache *c, struct cache_block *b)
{
	char key[256];
	size_t got = 0;
	if (c->disk && disk_cache_get(c->disk, b->id, b->idx, b->len, b->data) == 0) {
		pthread_mutex_lock(&c->lock);
		c->n.disk_hits++;
		b->state = B_READY;
		lru_push_front(c, b);
		pthread_cond_broadcast(&c->loaded);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int rc = slice_block_key(key, sizeof(key), c->vfs->info.uuid, b->id, b->idx, b->len);
	if (rc >= 0) {
		rc = c->vfs->store->ops->get(c->vfs->store, key, 0, b->len, b->data, &got);
		if (rc == 0 && got != b->len) {
			log_error("cache: block %s is %zu bytes, expected %u", key, got, b->len);
			rc = -EIO;
		}
		if (rc == -ENOENT) {
			log_error("cache: block %s is missing from the object store", key);
			rc = -EIO;
		}
	}
	if (rc >= 0 && c->disk)
		disk_cache_put(c->disk, b->id, b->idx, b->len, b->data);
	pthread_mutex_lock(&c->lock);
	c->n.gets++;
	if (rc < 0) {
		/* Failed entries leave the table so that the next reader retries. */
		b->state = B_FAILED;
		b->err = rc;
		hash_remove(c, b);
	} else {
		b->state = B_READY;
		lru_push_front(c, b);
	}
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
}

/* Finds or creates the entry; *created says the caller must load it.
 * Lock held. */
static struct cache_block *lookup_or_create(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len,
					    int *created)
{
	struct cache_block *b = find(c, id, idx);
	*created = 0;
	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->data = block_data_alloc(c, len);
	if (!b->data) {
		free(b);
		return NULL;
	}
	b->id = id;
	b->idx = idx;
	b->len = len;
	b->state = B_LOADING;
	size_t h = bucket_of(id, idx);
	b->hnext = c->buckets[h];
	c->buckets[h] = b;
	c->bytes += len;
	metric_gauge_add(&data_metrics.cache_bytes, len);
	*created = 1;
	return b;
}

int cache_get(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len, struct cache_block **out)
{
	int created;
	pthread_mutex_lock(&c->lock);
	struct cache_block *b = lookup_or_create(c, id, idx, len, &created);
	if (!b) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	b->refs++;
	if (created) {
		c->n.misses++;
		metric_inc(&data_metrics.cache_misses);
		pthread_mutex_unlock(&c->lock);
		load(c, b);
		pthread_mutex_lock(&c->lock);
	} else if (b->state == B_LOADING) {
		c->n.waits++;
		metric_inc(&data_metrics.cache_waits);
		while (b->state == B_LOADING)
			pthread_cond_wait(&c->loaded, &c->lock);
	} else {
		c->n.hits++;
		metric_inc(&data_metrics.cache_hits);
		lru_unlink(c, b);
		lru_push_front(c, b);
	}
	if (b->state == B_FAILED) {
		int err = b->err;
		if (--b->refs == 0)
			block_free(c, b);
		pthread_mutex_unlock(&c->lock);
		return err;
	}
	pthread_mutex_unlock(&c->lock);
	*out = b;
	return 0;
}

void cache_release(struct block_cache *c, struct cache_block *b)
{
	pthread_mutex_lock(&c->lock);
	b->refs--;
	if (b->state == B_FAILED && b->refs == 0)
		block_free(c, b);
	else
		evict(c);
	pthread_mutex_unlock(&c->lock);
}

struct prefetch {
	struct block_cache *c;
	struct cache_block *b;
};

static void prefetch_job(void *arg)
{
	struct prefetch *p = arg;
	load(p->c, p->b);
	cache_release(p->c, p->b);
	free(p);
}

void cache_prefetch(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len)
{
	int created;
	struct prefetch *p = malloc(sizeof(*p));
	if (!p)
		return;
	pthread_mutex_lock(&c->lock);
	struct cache_block *b = lookup_or_create(c, id, idx, len, &created);
	if (!b || !created) {
		pthread_mutex_unlock(&c->lock);
		free(p);
		return;
	}
	b->refs++;
	c->n.prefetches++;
	pthread_mutex_unlock(&c->lock);
	*p = (struct prefetch){c, b};
	if (data_pool_submit(c->vfs->fetch_pool, prefetch_job, p) < 0)
		prefetch_job(p); /* pool stopping: fetch here so waiters are woken */
}

int cache_read_slice(struct block_cache *c, uint64_t id, uint32_t size, uint32_t off, uint32_t len, void *dst)
{
	uint32_t bs = c->vfs->info.block_size;
	uint8_t *out = dst;
	while (len > 0) {
		uint32_t idx = off / bs, in_block = off % bs;
		uint32_t blen = slice_block_len(size, bs, idx);
		if (in_block >= blen)
			return -EIO; /* record points past its slice: corrupt metadata */
		struct cache_block *b;
		int rc = cache_get(c, id, idx, blen, &b);
		if (rc < 0)
			return rc;
		uint32_t n = blen - in_block < len ? blen - in_block : len;
		memcpy(out, b->data + in_block, n);
		cache_release(c, b);
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

void cache_counters(struct block_cache *c, struct cache_counters *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->n;
	out->bytes = c->bytes;
	out->disk_bytes = c->disk ? disk_cache_bytes(c->disk) : 0;
	pthread_mutex_unlock(&c->lock);
}
