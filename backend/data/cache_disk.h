/*
 * cache_disk.h - the local-disk tier of the block cache: whole blocks as
 * files "<dir>/<id % 256>/<id>_<idx>_<len>", LRU-bounded in bytes.  The
 * index lives in memory and is rebuilt from the directory at open, so the
 * tier survives restarts.  Blocks are immutable, so a file, once renamed
 * into place, never goes stale.
 */
#ifndef GATEFS_CACHE_DISK_H
#define GATEFS_CACHE_DISK_H

#include <stdint.h>

struct disk_cache;

int disk_cache_open(const char *dir, uint64_t max_bytes, struct disk_cache **out);
void disk_cache_close(struct disk_cache *dc);
/* 0 and len bytes in buf on a hit; -ENOENT on a miss. */
int disk_cache_get(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, void *buf);
/* Stores a block (best effort: failures only mean a later miss). */
void disk_cache_put(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, const void *buf);
/* Bytes of blocks currently on disk. */
uint64_t disk_cache_bytes(struct disk_cache *dc);

#endif
