/*
 * data_volume.c - what the data layer does with an opened volume as a
 * whole: hands out slice ids (reserved from Redis in tagged batches, ahead
 * of need), writes and
 * deletes the block objects of one slice, and reports its counters and
 * runs its background work on demand (for tools, benchmarks and tests).
 * The write buffer, the read path and gc call these; vfs.c only opens and
 * closes the volume.
 */
#include <stdlib.h>
#include <sys/random.h>

#include "blockbuf.h"
#include "cache.h"
#include "data.h"
#include "gc.h"
#include "slice_view.h"
#include "writebuf.h"

#define SLICE_ID_BATCH 64

/*
 * Slice ids come from Redis in batches of SLICE_ID_BATCH counter values,
 * each batch with a random tag (meta.h: ids stay unique if Redis hands
 * counter values out twice).  The next batch is reserved when the current
 * one is half used, by the caller that notices, before it takes any write
 * buffer lock: a slow Redis then delays that writer alone, never a file
 * lock or id_lock that GETATTR, LOOKUP and other files' writers wait on.
 */
int data_reserve_slice_ids(struct gfs_vfs *vfs)
{
	int rc = 0;
	pthread_mutex_lock(&vfs->id_lock);
	for (;;) {
		uint64_t left = vfs->ids[0].end - vfs->ids[0].next;
		int ahead = vfs->ids[1].end > vfs->ids[1].next;
		if (left == 0 && ahead) {
			vfs->ids[0] = vfs->ids[1];
			vfs->ids[1].next = vfs->ids[1].end = 0;
			continue;
		}
		if (ahead || left > SLICE_ID_BATCH / 2)
			break;
		if (vfs->id_reserving) {
			if (left > 0)
				break; /* another caller is reserving ahead */
			pthread_cond_wait(&vfs->id_cond, &vfs->id_lock);
			continue;
		}
		vfs->id_reserving = 1;
		pthread_mutex_unlock(&vfs->id_lock);
		uint64_t first = 0;
		uint32_t tag = 0;
		rc = meta_new_slice_ids(vfs->meta, SLICE_ID_BATCH, &first);
		if (rc == 0 && getrandom(&tag, sizeof(tag), 0) != sizeof(tag))
			rc = -EIO;
		pthread_mutex_lock(&vfs->id_lock);
		vfs->id_reserving = 0;
		pthread_cond_broadcast(&vfs->id_cond);
		if (rc == 0) {
			vfs->ids[1].next = first;
			vfs->ids[1].end = first + SLICE_ID_BATCH;
			vfs->ids[1].tag = tag;
			continue;
		}
		if (left > 0)
			rc = 0; /* ids are at hand; the next call tries again */
		break;
	}
	pthread_mutex_unlock(&vfs->id_lock);
	return rc;
}

int data_take_slice_id(struct gfs_vfs *vfs, uint64_t *id)
{
	int rc = 0;
	pthread_mutex_lock(&vfs->id_lock);
	if (vfs->ids[0].next == vfs->ids[0].end && vfs->ids[1].next < vfs->ids[1].end) {
		vfs->ids[0] = vfs->ids[1];
		vfs->ids[1].next = vfs->ids[1].end = 0;
	}
	if (vfs->ids[0].next < vfs->ids[0].end)
		*id = meta_slice_id_make(vfs->ids[0].tag, vfs->ids[0].next++);
	else
		rc = -EAGAIN;
	pthread_mutex_unlock(&vfs->id_lock);
	return rc;
}

int data_new_slice_id(struct gfs_vfs *vfs, uint64_t *id)
{
	for (;;) {
		int rc = data_take_slice_id(vfs, id);
		if (rc != -EAGAIN)
			return rc;
		rc = data_reserve_slice_ids(vfs);
		if (rc < 0)
			return rc;
	}
}

int data_put_block(struct gfs_vfs *vfs, uint64_t id, uint32_t idx, const void *buf, uint32_t len)
{
	char key[256];
	int rc = slice_block_key(key, sizeof(key), vfs->info.uuid, id, idx, len);
	if (rc < 0)
		return rc;
	rc = vfs->store->ops->put(vfs->store, key, buf, len);
	if (rc == 0)
		atomic_fetch_add(&vfs->n_puts, 1);
	return rc == -EACCES || rc == -ENOENT ? -EIO : rc;
}

int data_delete_slice(struct gfs_vfs *vfs, uint64_t id, uint32_t size)
{
	uint32_t bs = vfs->info.block_size, n = slice_nblocks(size, bs);
	if (n == 0)
		return 0;
	char **keys = calloc(n, sizeof(*keys));
	int rc = keys ? 0 : -ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		keys[i] = malloc(256);
		if (!keys[i])
			rc = -ENOMEM;
		else if (slice_block_key(keys[i], 256, vfs->info.uuid, id, i, slice_block_len(size, bs, i)) < 0)
			rc = -ENAMETOOLONG;
	}
	if (rc == 0)
		rc = vfs->store->ops->del_many(vfs->store, (const char *const *)keys, n);
	if (rc == 0)
		atomic_fetch_add(&vfs->n_deletes, n);
	for (uint32_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	return rc;
}

void gfs_data_stats(struct gfs_vfs *vfs, struct gfs_data_stats *out)
{
	struct writebuf_counters w;
	struct cache_counters c;
	struct blockbuf_counters b;
	writebuf_counters(vfs->wb, &w);
	cache_counters(vfs->cache, &c);
	blockbuf_counters(vfs->bufs, &b);
	*out = (struct gfs_data_stats){
	    .buffer_budget = w.budget,
	    .buffered_bytes = w.used,
	    .buffered_peak = w.peak,
	    .object_puts = atomic_load(&vfs->n_puts),
	    .object_gets = c.gets,
	    .object_deletes = atomic_load(&vfs->n_deletes),
	    .cache_hits = c.hits,
	    .cache_misses = c.misses,
	    .cache_waits = c.waits,
	    .cache_bytes = c.bytes,
	    .prefetches = c.prefetches,
	    .disk_hits = c.disk_hits,
	    .disk_bytes = c.disk_bytes,
	    .slices_committed = atomic_load(&vfs->n_commits),
	    .compactions = atomic_load(&vfs->n_compactions),
	    .writer_waits = w.waits,
	    .buffer_maps = b.maps,
	    .buffer_reuses = b.reuses,
	};
}

void gfs_data_reset_peak(struct gfs_vfs *vfs)
{
	writebuf_reset_peak(vfs->wb);
}

int gfs_data_gc_run(struct gfs_vfs *vfs, int64_t delay_sec)
{
	return gc_delete_dead(vfs, delay_sec);
}

int gfs_data_compact(struct gfs_vfs *vfs, gfs_ino_t ino, uint32_t chunk_index)
{
	return gc_compact_chunk(vfs, ino, chunk_index);
}

int gfs_data_flush_all(struct gfs_vfs *vfs)
{
	return writebuf_flush_all(vfs->wb);
}
