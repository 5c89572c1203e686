/*
 * cache_disk.h - the local-disk tier of the block cache: whole blocks as
 * files "<dir>/<volume uuid>/<id % 256>/<id>_<idx>_<len>", each followed by
 * a SHA-256 checked on every read, LRU-bounded in bytes and by the free
 * space the filesystem must keep.  The index lives in memory and is
 * rebuilt from the directory at open, so the tier survives restarts.
 * Blocks are immutable, so a file, once renamed into place, never goes
 * stale.
 */
#ifndef GATEFS_CACHE_DISK_H
#define GATEFS_CACHE_DISK_H

#include <stdint.h>

struct disk_cache;

/* min_free 0: 5% of the filesystem, at least 1 GiB. */
int disk_cache_open(const char *dir, const char *volume_uuid, uint64_t max_bytes, uint64_t min_free,
		    struct disk_cache **out);
void disk_cache_close(struct disk_cache *dc);
/* 0 and len bytes in buf on a hit; -ENOENT on a miss or a corrupt file
 * (which is then deleted). */
int disk_cache_get(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, void *buf);
/* Stores a block (best effort: failures, or no room under the free-space
 * floor, only mean a later miss). */
void disk_cache_put(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, const void *buf);
/* Bytes of the tier's files now (checksums included). */
uint64_t disk_cache_bytes(struct disk_cache *dc);
/* Blocks dropped for a bad checksum; writes skipped to keep free space. */
void disk_cache_counters(struct disk_cache *dc, uint64_t *corrupt, uint64_t *no_room);

#endif
