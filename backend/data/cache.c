/*
 * cache.c - the block cache of cache.h.  One mutex guards the hash table and
 * the LRU list; it is never held across an object-store call.  A block
 * being fetched sits in the table in state LOADING so that later readers
 * wait on the condition variable instead of fetching again.
 *
 * Every fetch runs on the fetch pool, never on the reader's thread: a
 * reader waits at most fetch_wait_ms (not at all while the store looks
 * unreachable) and then gets -EAGAIN (NFS3ERR_JUKEBOX), so a stalled or
 * failing store cannot hold every NFS thread and freeze GETATTR and reads
 * of cached data.  A reader's fetch is queued ahead of prefetches.  A
 * failed fetch stays as a negative entry for NEGATIVE_MS.
 */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockbuf.h"
#include "cache_disk.h"
#include "data.h"
#include "data_metrics.h"
#include "data_pool.h"
#include "log.h"
#include "slice_view.h"

enum { B_LOADING = 0, B_READY = 1, B_FAILED = 2 };

#define CACHE_BUCKETS 4096
/* How long a failed fetch answers its block's readers with its error. */
#define NEGATIVE_MS 1000
/* Prefetches are skipped while this many fetches wait for a thread. */
#define PREFETCH_QUEUE_MAX 32

struct block_cache {
	struct gfs_vfs *vfs;
	pthread_mutex_t lock;
	pthread_cond_t loaded;
	struct cache_block *buckets[CACHE_BUCKETS];
	struct cache_block *lru_head, *lru_tail; /* head = most recent */
	uint64_t bytes, max_bytes;
	struct cache_counters n;
	struct disk_cache *disk;
	uint32_t fetch_wait_ms;
	uint64_t last_failure_ms, last_success_ms; /* fetches from the store */
	struct cache_block *failed;		   /* negative entries (linked by lprev/lnext) */
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

/* Gives a block's bytes back (a failed block keeps no data). */
static void block_data_release(struct block_cache *c, struct cache_block *b)
{
	if (!b->data)
		return;
	c->bytes -= b->len;
	metric_gauge_add(&data_metrics.cache_bytes, -(int64_t)b->len);
	if (b->len == blockbuf_size(c->vfs->bufs))
		blockbuf_put(c->vfs->bufs, b->data);
	else
		free(b->data);
	b->data = NULL;
}

static void block_free(struct block_cache *c, struct cache_block *b)
{
	block_data_release(c, b);
	free(b);
}

/* Drops unreferenced blocks from the cold end until under the limit.
 * Called with the lock held. */
static void evict(struct block_cache *c)
{
	struct cache_block *b = c->lru_tail;
	while (c->bytes > c->max_bytes && b) {
		struct cache_block *prev = b->lprev;
		if (b->refs == 0 && b->state == B_READY) {
			lru_unlink(c, b);
			hash_remove(c, b);
			block_free(c, b);
		}
		b = prev;
	}
}

int cache_create(struct gfs_vfs *vfs, uint64_t max_bytes, const char *disk_dir, uint64_t disk_bytes,
		 uint64_t disk_min_free, uint32_t fetch_wait_ms, struct block_cache **out)
{
	struct block_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (disk_dir && *disk_dir) {
		int rc = disk_cache_open(disk_dir, vfs->info.uuid, disk_bytes, disk_min_free, &c->disk);
		if (rc < 0) {
			free(c);
			return rc;
		}
	}
	c->vfs = vfs;
	c->max_bytes = max_bytes;
	c->fetch_wait_ms = fetch_wait_ms;
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

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The store is taken for unreachable from a fetch that failed on it, or a
 * reader that gave up waiting, until the next fetch from it succeeds.
 * Meanwhile readers of uncached blocks do not wait at all.  Lock held. */
static int store_unhealthy(const struct block_cache *c)
{
	return c->last_failure_ms > c->last_success_ms;
}

static void failed_link(struct block_cache *c, struct cache_block *b)
{
	b->lprev = NULL;
	b->lnext = c->failed;
	if (c->failed)
		c->failed->lprev = b;
	c->failed = b;
}

static void failed_unlink(struct block_cache *c, struct cache_block *b)
{
	if (b->lprev)
		b->lprev->lnext = b->lnext;
	else
		c->failed = b->lnext;
	if (b->lnext)
		b->lnext->lprev = b->lprev;
	b->lprev = b->lnext = NULL;
}

/* Drops negative entries that expired and nobody holds.  Lock held. */
static void prune_failed(struct block_cache *c, uint64_t now)
{
	struct cache_block *b = c->failed;
	while (b) {
		struct cache_block *next = b->lnext;
		if (b->refs == 0 && now - b->failed_ms >= NEGATIVE_MS) {
			failed_unlink(c, b);
			hash_remove(c, b);
			block_free(c, b);
		}
		b = next;
	}
}

/* Fetches a LOADING block (lock not held; the caller holds a reference).
 * Only the first of the jobs queued for a block does the work. */
static void load(struct block_cache *c, struct cache_block *b)
{
	char key[256];
	size_t got = 0;
	pthread_mutex_lock(&c->lock);
	int started = b->started;
	b->started = 1;
	pthread_mutex_unlock(&c->lock);
	if (started)
		return;
	if (c->disk && disk_cache_get(c->disk, b->id, b->idx, b->len, b->data) == 0) {
		pthread_mutex_lock(&c->lock);
		c->n.disk_hits++;
		b->state = B_READY;
		lru_push_front(c, b);
		pthread_cond_broadcast(&c->loaded);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int store_failed = 0;
	int rc = slice_block_key(key, sizeof(key), c->vfs->info.uuid, b->id, b->idx, b->len);
	if (rc >= 0) {
		rc = c->vfs->store->ops->get(c->vfs->store, key, 0, b->len, b->data, &got);
		store_failed = rc == -EIO || rc == -EACCES;
		if (rc == -EACCES) {
			/* The store refused this gateway's credentials: the NFS
			 * caller has no permission problem, the gateway does. */
			log_error("cache: the object store refused the credentials for block %s", key);
			rc = -EIO;
		}
		if (rc == 0 && got != b->len) {
			log_error("cache: block %s is %zu bytes, expected %u", key, got, b->len);
			rc = -EIO;
		}
		if (rc == -ENOENT) {
			log_error("cache: block %s is missing from the object store", key);
			rc = -EIO;
		}
	}
	pthread_mutex_lock(&c->lock);
	c->n.gets++;
	uint64_t now = mono_ms();
	if (rc < 0) {
		/* A short negative entry: the readers waiting now and those of
		 * the next NEGATIVE_MS get the error without a fetch of their own. */
		b->state = B_FAILED;
		b->err = rc;
		b->failed_ms = now;
		block_data_release(c, b);
		failed_link(c, b);
		if (store_failed)
			c->last_failure_ms = now;
	} else {
		b->state = B_READY;
		lru_push_front(c, b);
		c->last_success_ms = now;
	}
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
	/* The readers are awake; the block stays valid while this job holds it. */
	if (rc >= 0 && c->disk)
		disk_cache_put(c->disk, b->id, b->idx, b->len, b->data);
}

static void fetch_job(void *arg)
{
	struct cache_block *b = arg;
	struct block_cache *c = b->cache;
	load(c, b);
	cache_release(c, b);
}

/* Finds or creates the entry; *created says the caller must have it
 * loaded.  An expired negative entry nobody holds is replaced.  Lock held. */
static struct cache_block *lookup_or_create(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len,
					    int *created)
{
	struct cache_block *b = find(c, id, idx);
	*created = 0;
	if (b && b->state == B_FAILED && b->refs == 0 && mono_ms() - b->failed_ms >= NEGATIVE_MS) {
		failed_unlink(c, b);
		hash_remove(c, b);
		block_free(c, b);
		b = NULL;
	}
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
	b->cache = c;
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

/* Queues the fetch of a LOADING block ahead of prefetches, with a
 * reference for the job; runs it here if the pool cannot take it.  Lock
 * held on entry and on return. */
static void fetch_urgently(struct block_cache *c, struct cache_block *b)
{
	b->refs++;
	b->urgent = 1;
	pthread_mutex_unlock(&c->lock);
	if (data_pool_submit_urgent(c->vfs->fetch_pool, fetch_job, b) < 0)
		fetch_job(b);
	pthread_mutex_lock(&c->lock);
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
	if (b->state == B_FAILED) {
		c->n.negative_hits++;
		int err = b->err;
		pthread_mutex_unlock(&c->lock);
		return err;
	}
	b->refs++;
	if (b->state == B_READY) {
		c->n.hits++;
		metric_inc(&data_metrics.cache_hits);
		lru_unlink(c, b);
		lru_push_front(c, b);
		pthread_mutex_unlock(&c->lock);
		*out = b;
		return 0;
	}
	if (created) {
		c->n.misses++;
		metric_inc(&data_metrics.cache_misses);
	} else {
		c->n.waits++;
		metric_inc(&data_metrics.cache_waits);
	}
	/* A block still queued as a prefetch is fetched ahead of the queue. */
	if (!b->started && !b->urgent)
		fetch_urgently(c, b);
	uint64_t wait_ms = store_unhealthy(c) ? 0 : c->fetch_wait_ms;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(wait_ms / 1000);
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (b->state == B_LOADING)
		if (pthread_cond_timedwait(&c->loaded, &c->lock, &deadline) == ETIMEDOUT)
			break;
	int rc = 0;
	if (b->state == B_LOADING) {
		/* The fetch goes on and fills the cache for the client's retry;
		 * this thread goes back to serving other calls. */
		c->n.timeouts++;
		metric_inc(&data_metrics.fetch_timeouts);
		if (!store_unhealthy(c))
			c->last_failure_ms = mono_ms();
		rc = -EAGAIN;
	} else if (b->state == B_FAILED) {
		rc = b->err;
	}
	if (rc) {
		b->refs--;
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	pthread_mutex_unlock(&c->lock);
	*out = b;
	return 0;
}

void cache_release(struct block_cache *c, struct cache_block *b)
{
	pthread_mutex_lock(&c->lock);
	b->refs--;
	evict(c);
	prune_failed(c, mono_ms());
	pthread_mutex_unlock(&c->lock);
}

void cache_prefetch(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len)
{
	pthread_mutex_lock(&c->lock);
	if (find(c, id, idx)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	/* Charged before it allocates: a prefetch only takes memory that
	 * eviction can free now, and only while the fetch queue is short. */
	evict(c);
	if (c->bytes + len > c->max_bytes || store_unhealthy(c) ||
	    data_pool_queued(c->vfs->fetch_pool) >= PREFETCH_QUEUE_MAX) {
		c->n.prefetch_skips++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int created;
	struct cache_block *b = lookup_or_create(c, id, idx, len, &created);
	if (!b || !created) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	b->refs++;
	c->n.prefetches++;
	pthread_mutex_unlock(&c->lock);
	if (data_pool_submit(c->vfs->fetch_pool, fetch_job, b) < 0)
		fetch_job(b); /* pool stopping: fetch here so waiters are woken */
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
	if (c->disk)
		disk_cache_counters(c->disk, &out->disk_corrupt, &out->disk_no_room);
	pthread_mutex_unlock(&c->lock);
}
