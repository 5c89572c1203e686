/*
 * data.h - the data layer behind vfs.c: the shared context of one opened
 * volume (struct gfs_vfs), its tuning knobs and its counters.  The write
 * buffer (writebuf.c), block cache (cache.c), read path (data_read.c),
 * worker pools (data_pool.c) and background work (gc.c) all hang off it.
 *
 * The functions marked "public" are for tools, benchmarks and tests: they
 * expose counters and let a caller run background work synchronously.
 */
#ifndef GATEFS_DATA_H
#define GATEFS_DATA_H

#include <pthread.h>
#include <stdatomic.h>

#include "meta.h"
#include "object.h"
#include "gfs_types.h"

struct writebuf;
struct block_cache;
struct data_pool;
struct gc;
struct readahead;
struct blockbuf_pool;

/* Knobs with defaults; each can be overridden by an environment variable
 * (named in vfs.c) so that tests and operators can shorten delays. */
struct data_tuning {
	uint32_t flush_idle_ms;	    /* commit a file this long after its last write */
	int64_t delete_delay_sec;   /* age of a dead slice before its objects go */
	uint32_t gc_interval_ms;    /* how often the deleter runs */
	uint32_t compact_threshold; /* compact a chunk with more records than this */
	uint32_t readahead_max;	    /* read-ahead window limit, bytes */
	uint32_t fetch_wait_ms;	    /* a read waits this long for a block fetch, then -EAGAIN */
};

/* public: counters of one opened volume (monotonic unless stated). */
struct gfs_data_stats {
	uint64_t buffer_budget;	 /* configured write buffer budget */
	uint64_t buffered_bytes; /* now */
	uint64_t buffered_peak;	 /* highest ever (reset by gfs_data_reset_peak) */
	uint64_t object_puts;
	uint64_t object_gets; /* block fetches issued to the store by the cache */
	uint64_t object_deletes;
	uint64_t delete_failures; /* object keys a delayed delete failed on (retried later) */
	uint64_t delete_retrying; /* dead slices waiting for a retry of their delete, now */
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_waits; /* readers that joined another reader's fetch */
	uint64_t cache_bytes; /* now */
	uint64_t prefetches;
	uint64_t disk_hits;	      /* blocks served by the disk tier instead of the store */
	uint64_t disk_bytes;	      /* now, in the disk tier */
	uint64_t disk_corrupt;	      /* disk-tier blocks that failed their checksum (refetched) */
	uint64_t disk_no_room;	      /* disk-tier writes skipped to keep the filesystem's free space */
	uint64_t fetch_timeouts;      /* reads that stopped waiting for a fetch (-EAGAIN) */
	uint64_t fetch_negative_hits; /* reads answered by a fetch that just failed */
	uint64_t prefetch_skips;      /* prefetches not started: cache budget or queue full */
	uint64_t slices_committed;
	uint64_t compactions;
	uint64_t writer_waits;	/* times a writer waited for buffer budget */
	uint64_t gap_timeouts;	/* writes that waited for an overtaken write until their limit */
	uint64_t buffer_maps;	/* block buffers taken from the kernel */
	uint64_t buffer_reuses; /* block buffers recycled through the pool */
};

struct gfs_vfs {
	struct meta *meta;
	struct object_store *store;
	struct gfs_volume_info info;
	struct data_tuning tuning;
	int read_only;

	struct blockbuf_pool *bufs; /* block-sized buffers of wb and cache */
	struct writebuf *wb;
	struct block_cache *cache;
	struct readahead *ra;
	struct data_pool *upload_pool;
	struct data_pool *fetch_pool;
	struct gc *gc;

	/* Slice ids are reserved from Redis in tagged batches (meta.h), the
	 * next one ahead of need (vfs.c).  ids[0] is drawn from, ids[1] is the
	 * batch reserved ahead; counters [next, end). */
	pthread_mutex_t id_lock;
	pthread_cond_t id_cond; /* a reservation finished */
	struct {
		uint64_t next, end;
		uint32_t tag;
	} ids[2];
	int id_reserving;

	atomic_uint_fast64_t n_puts, n_deletes, n_commits, n_compactions;
	atomic_uint_fast64_t n_delete_failures; /* object keys a delete failed on */
	/* Bumped after every local commit or truncate, before the committed
	 * slice leaves the write buffer: cached chunk records older than the
	 * current epoch may miss it (data_read.c). */
	atomic_uint_fast64_t commit_epoch;
};

/* Makes sure slice ids are at hand: reserves the next batch from Redis when
 * the current one is half used.  Call it holding no lock: it may wait for
 * Redis. */
int data_reserve_slice_ids(struct gfs_vfs *vfs);
/* Takes a reserved slice id without waiting; -EAGAIN if none is at hand
 * (then reserve, holding no lock, and take again). */
int data_take_slice_id(struct gfs_vfs *vfs, uint64_t *id);
/* Both: the next unused slice id.  Holding no lock. */
int data_new_slice_id(struct gfs_vfs *vfs, uint64_t *id);

/* Uploads one block of a slice under its key; counts it. */
int data_put_block(struct gfs_vfs *vfs, uint64_t id, uint32_t idx, const void *buf, uint32_t len);
/* Deletes every block object of a slice of the given size. */
int data_delete_slice(struct gfs_vfs *vfs, uint64_t id, uint32_t size);

/* Reads [offset, offset+count) of a regular file into buf, merging committed
 * records with this gateway's buffered writes; holes read as zeros.  The
 * range must lie within the file (the caller clamps to the size).  change
 * is the inode's change counter just read: chunk records read under the
 * same counter moments ago are reused instead of asking Redis again. */
int data_read_range(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint64_t offset, size_t count, void *buf);

/* Bytes of a file lent by the read path: a range of a cached block (held
 * by a reference) or, when the range is not one run of one block, a buffer
 * of its own.  data points at the bytes until data_lent_release. */
struct cache_block;
struct data_lent {
	const uint8_t *data;
	struct cache_block *block;
	uint8_t *buf;
};
/* data_read_range without the copy when it can be avoided (see above). */
int data_read_lend(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint64_t offset, size_t count,
		   struct data_lent *out);
void data_lent_release(struct gfs_vfs *vfs, struct data_lent *l);

/* lseek SEEK_DATA (want_data) or SEEK_HOLE from offset in a file of the
 * given size, over its committed records (commit buffered writes first):
 * 0 and *out; -ENXIO when offset is at or past size, or no data follows
 * it.  The end of the file is a hole. */
int data_seek(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t size, uint64_t offset, int want_data, uint64_t *out);

/* Sequential-read detection state (data_read.c). */
int data_read_init(struct gfs_vfs *vfs);
void data_read_fini(struct gfs_vfs *vfs);

/* public */
void gfs_data_stats(struct gfs_vfs *vfs, struct gfs_data_stats *out);
void gfs_data_reset_peak(struct gfs_vfs *vfs);
/* Deletes the objects of dead slices queued at least delay_sec ago; returns
 * how many slices were reclaimed, or <0. */
int gfs_data_gc_run(struct gfs_vfs *vfs, int64_t delay_sec);
/* Rewrites one chunk as a single slice now (0, or -EAGAIN if it raced). */
int gfs_data_compact(struct gfs_vfs *vfs, gfs_ino_t ino, uint32_t chunk_index);
/* Commits every file with buffered data (what a COMMIT of each would do). */
int gfs_data_flush_all(struct gfs_vfs *vfs);

#endif
