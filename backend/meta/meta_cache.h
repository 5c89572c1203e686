/*
 * meta_cache.h - the metadata engine's inode attribute cache, kept coherent
 * across gateways by Redis client-side caching (CLIENT TRACKING in
 * broadcast mode on the `P i` keys).
 *
 * Why it is safe to serve from: Redis sends an invalidation for every change
 * of an inode key, from any gateway, in the same event-loop pass that
 * answers the change.  Before answering from memory a reader waits for a
 * PING sent after it began to come back on that connection (a barrier shared
 * by concurrent readers), so every invalidation sent before is applied; a
 * barrier unanswered for 1 s empties the cache and reconnects.  A
 * tracking thread drains the rest at most once per millisecond.  A changed inode is re-read in the background (one
 * pipelined HGETALL per batch), so an inode that this gateway keeps changing stays cached.  If the tracking connection
 * is lost, the cache empties and stays off until tracking is re-established.
 *
 * Internal to backend/meta*.c.  Every function is a no-op (or a miss) when
 * the cache was not started.
 */
#ifndef GATEFS_META_CACHE_H
#define GATEFS_META_CACHE_H

#include <stdint.h>

#include "gfs_types.h"

struct meta;
struct meta_cache;

/* The attribute cache alone; meta_cache_start (meta.h) starts it with the
 * name cache. */
int meta_attr_cache_start(struct meta *m, uint32_t max_entries, char *err, size_t errlen);
void meta_cache_stop(struct meta *m);

/* Take a token before reading an inode from Redis, and pass it to
 * meta_cache_put with what was read: if an invalidation of that inode was
 * applied in between, the value is kept only as a candidate and re-read. */
uint64_t meta_cache_token(struct meta *m, gfs_ino_t ino);
void meta_cache_put(struct meta *m, const struct gfs_attr *attr, uint64_t token);

/* For inodes a mutation creates, whose numbers are not known before it:
 * take a snapshot before sending the mutation, and put the new inode with
 * meta_cache_put_new. */
#define META_CACHE_STRIPES 256
struct meta_cache_snapshot {
	uint64_t epochs[META_CACHE_STRIPES];
};
void meta_cache_snapshot(struct meta *m, struct meta_cache_snapshot *snap);
void meta_cache_put_new(struct meta *m, const struct gfs_attr *attr, const struct meta_cache_snapshot *snap);

/* Drops what is cached of ino (this gateway removed it). */
void meta_cache_forget(struct meta *m, gfs_ino_t ino);

/* 0 and *out filled on a fresh hit; -ENOENT on a miss. */
int meta_cache_get(struct meta *m, gfs_ino_t ino, struct gfs_attr *out);

/* For many reads at once (readdirplus): meta_cache_usable says whether
 * the cache may be served from now (one check for the batch), then
 * meta_cache_peek reads entries without checking again. */
int meta_cache_usable(struct meta *m);
int meta_cache_peek(struct meta *m, gfs_ino_t ino, struct gfs_attr *out);

/* The directory-entry cache (meta_dentry.c), which rests on the attribute
 * cache: meta_dentry_get answers only from fresh attributes (the caller
 * has checked meta_cache_usable): 0 and the child's attributes, or -ENOENT
 * when it does not know.  Put only what a script returned: the name and
 * the inode's change counter read atomically.  Started and stopped with
 * the attribute cache (meta_engine.c). */
int meta_dentries_start(struct meta *m, uint32_t max_entries);
void meta_dentries_stop(struct meta *m);
void meta_dentry_put(struct meta *m, gfs_ino_t dir, const char *name, const struct gfs_attr *child);
int meta_dentry_get(struct meta *m, gfs_ino_t dir, const char *name, struct gfs_attr *child);
void meta_dentry_drop(struct meta *m, gfs_ino_t dir, const char *name);
/* The inode last recorded for the name, unchecked (0 if none): only for
 * forgetting things, never for answering. */
gfs_ino_t meta_dentry_peek_ino(struct meta *m, gfs_ino_t dir, const char *name);

#endif
