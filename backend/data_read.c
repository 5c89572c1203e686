/*
 * data_read.c - the read path: for each chunk a read touches, the pending
 * slices of this gateway are snapshotted first and the committed records
 * read second, so a slice committed in between is seen in one or the other
 * (it is the same data either way).  slice_view picks the newest source of
 * every byte; committed bytes come through the block cache.
 *
 * Sequential reads of a file (each starting where the previous ended) grow
 * a read-ahead window, doubled per read up to tuning.readahead_max; the
 * blocks of the window are prefetched into the cache on the fetch pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "data.h"
#include "slice_view.h"
#include "writebuf.h"

#define RA_SLOTS 1024

struct ra_slot {
	gfs_ino_t ino;
	uint64_t next; /* where a sequential read would start */
	uint64_t window;
};

struct readahead {
	pthread_mutex_t lock;
	struct ra_slot slot[RA_SLOTS];
};

int data_read_init(struct gfs_vfs *vfs)
{
	struct readahead *ra = calloc(1, sizeof(*ra));
	if (!ra)
		return -ENOMEM;
	pthread_mutex_init(&ra->lock, NULL);
	vfs->ra = ra;
	return 0;
}

void data_read_fini(struct gfs_vfs *vfs)
{
	if (!vfs->ra)
		return;
	pthread_mutex_destroy(&vfs->ra->lock);
	free(vfs->ra);
	vfs->ra = NULL;
}

/* Records a read and returns the read-ahead window beyond it (0 if the
 * access is not sequential).  The table is lossy: files sharing a slot
 * just restart detection. */
static uint64_t readahead_note(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t offset, size_t count)
{
	struct readahead *ra = vfs->ra;
	uint64_t bs = vfs->info.block_size, max = vfs->tuning.readahead_max;
	pthread_mutex_lock(&ra->lock);
	struct ra_slot *s = &ra->slot[(ino * 0x9E3779B97F4A7C15ULL >> 40) % RA_SLOTS];
	uint64_t window = 0;
	if (s->ino == ino && s->next == offset && offset > 0) {
		window = s->window ? s->window * 2 : (2 * count > bs ? 2 * count : bs);
		if (window > max)
			window = max;
	}
	*s = (struct ra_slot){ino, offset + count, window};
	pthread_mutex_unlock(&ra->lock);
	return window;
}

static void prefetch_records(struct gfs_vfs *vfs, const struct view_src *srcs, size_t n, uint32_t start,
			     uint32_t end)
{
	struct view_seg *segs;
	size_t nseg;
	uint32_t bs = vfs->info.block_size;
	if (start >= end || slice_view(srcs, n, start, end, &segs, &nseg) < 0)
		return;
	for (size_t i = 0; i < nseg; i++) {
		const struct view_src *s = segs[i].src >= 0 ? &srcs[segs[i].src] : NULL;
		if (!s || s->pending)
			continue;
		uint32_t first, last;
		slice_blocks_touched(segs[i].slice_off, segs[i].len, bs, &first, &last);
		for (uint32_t b = first; b <= last; b++)
			cache_prefetch(vfs->cache, s->id, b, slice_block_len(s->size, bs, b));
	}
	free(segs);
}

static int read_chunk_part(struct gfs_vfs *vfs, gfs_ino_t ino, uint32_t chunk, uint32_t pos, uint32_t len,
			   uint8_t *dst, uint64_t window)
{
	struct pending_snap snap;
	int rc = writebuf_snapshot(vfs->wb, ino, chunk, &snap);
	if (rc < 0)
		return rc;
	struct meta_slice *recs = NULL;
	size_t nrec = 0;
	rc = meta_read_chunk(vfs->meta, ino, chunk, &recs, &nrec);
	if (rc < 0) {
		writebuf_snap_release(&snap);
		return rc;
	}
	size_t n = nrec + snap.n;
	struct view_src *srcs = calloc(n ? n : 1, sizeof(*srcs));
	struct view_seg *segs = NULL;
	size_t nseg = 0;
	if (!srcs)
		rc = -ENOMEM;
	else {
		for (size_t i = 0; i < nrec; i++)
			srcs[i] = (struct view_src){.pos = recs[i].pos,
						    .len = recs[i].len,
						    .off = recs[i].off,
						    .id = recs[i].id,
						    .size = recs[i].size};
		for (size_t i = 0; i < snap.n; i++)
			srcs[nrec + i] = snap.srcs[i];
		rc = slice_view(srcs, n, pos, pos + len, &segs, &nseg);
	}
	if (rc == 0 && window > 0) {
		uint64_t pend = (uint64_t)pos + len + window;
		prefetch_records(vfs, srcs, nrec, pos + len, pend > META_CHUNK_SIZE ? META_CHUNK_SIZE : (uint32_t)pend);
	}
	for (size_t i = 0; rc == 0 && i < nseg; i++) {
		const struct view_seg *g = &segs[i];
		uint8_t *d = dst + (g->pos - pos);
		if (g->src < 0)
			memset(d, 0, g->len);
		else if (srcs[g->src].pending)
			writebuf_copy(&snap, &srcs[g->src], g->slice_off, g->len, d);
		else
			rc = cache_read_slice(vfs->cache, srcs[g->src].id, srcs[g->src].size, g->slice_off, g->len, d);
	}
	free(segs);
	free(srcs);
	free(recs);
	writebuf_snap_release(&snap);
	return rc;
}

int data_read_range(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t offset, size_t count, void *buf)
{
	uint64_t window = readahead_note(vfs, ino, offset, count);
	uint8_t *dst = buf;
	while (count > 0) {
		uint32_t chunk = (uint32_t)(offset / META_CHUNK_SIZE), pos = (uint32_t)(offset % META_CHUNK_SIZE);
		size_t n = META_CHUNK_SIZE - pos;
		if (n > count)
			n = count;
		int rc = read_chunk_part(vfs, ino, chunk, pos, (uint32_t)n, dst, count == n ? window : 0);
		if (rc < 0)
			return rc;
		dst += n;
		offset += n;
		count -= n;
	}
	return 0;
}
