/*
 * cache.h - the memory block cache: whole blocks of committed slices, keyed
 * by (slice id, block index), bounded in bytes with LRU eviction.  Fetches
 * are single-flight: however many readers (or prefetches) want one block at
 * once, the object store sees one GET.  An optional disk tier
 * (cache_disk.c) is consulted before the store and filled after it.
 */
#ifndef GATEFS_CACHE_H
#define GATEFS_CACHE_H

#include <stdint.h>

struct gfs_vfs;
struct block_cache;

struct cache_block {
	uint64_t id;
	uint32_t idx;
	uint32_t len;
	uint8_t *data; /* len bytes, valid while referenced */
	/* private to cache.c */
	struct block_cache *cache;
	int state;
	int err;
	int refs;
	int started, urgent; /* a fetch job took it; a reader's job is queued */
	uint64_t failed_ms;
	struct cache_block *hnext, *lprev, *lnext;
};

struct cache_counters {
	uint64_t hits, misses, waits, gets, prefetches, bytes;
	uint64_t disk_hits, disk_bytes;
	uint64_t disk_corrupt, disk_no_room;
	uint64_t timeouts;	 /* readers that stopped waiting (-EAGAIN) */
	uint64_t negative_hits;	 /* readers answered by a recent failed fetch */
	uint64_t prefetch_skips; /* prefetches not started: no budget or queue room */
};

/* disk_dir NULL: memory only.  A reader waits at most fetch_wait_ms for a
 * block being fetched, then gets -EAGAIN (the fetch goes on). */
int cache_create(struct gfs_vfs *vfs, uint64_t max_bytes, const char *disk_dir, uint64_t disk_bytes,
		 uint64_t disk_min_free, uint32_t fetch_wait_ms, struct block_cache **out);
void cache_destroy(struct block_cache *c);

/* Returns a referenced, loaded block, the fetch's error, or -EAGAIN when
 * the block did not arrive in time.  Release with cache_release. */
int cache_get(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len, struct cache_block **out);
void cache_release(struct block_cache *c, struct cache_block *b);
/* Starts a background fetch of a block unless it is cached or loading. */
void cache_prefetch(struct block_cache *c, uint64_t id, uint32_t idx, uint32_t len);
/* Copies bytes [off, off+len) of slice id (of `size` bytes) into dst. */
int cache_read_slice(struct block_cache *c, uint64_t id, uint32_t size, uint32_t off, uint32_t len, void *dst);

void cache_counters(struct block_cache *c, struct cache_counters *out);

#endif
