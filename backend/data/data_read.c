/*
 * data_read.c - the read path: for each chunk a read touches, the pending
 * slices of this gateway are snapshotted first and the committed records
 * read second, so a slice committed in between is seen in one or the other
 * (it is the same data either way).  slice_view picks the newest source of
 * every byte; committed bytes come through the block cache.
 *
 * Chunk records are cached for a moment per (inode, chunk), tagged with the
 * inode's change counter: every write, truncate or other gateway's commit
 * bumps it, so a tag match means the records are current.  Compaction does
 * not bump it but keeps the bytes the same, and entries expire well before
 * the slices they name could be deleted (tuning.delete_delay_sec).  A
 * commit of this gateway can race with a read between its getattr and its
 * pending snapshot, so entries are also tagged with vfs->commit_epoch.
 *
 * Sequential reads of a file (each starting where the previous ended) grow
 * a read-ahead window, doubled per read up to tuning.readahead_max; the
 * blocks of the window are prefetched into the cache on the fetch pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "data.h"
#include "slice_view.h"
#include "writebuf.h"

#define RA_SLOTS 1024
#define REC_SLOTS 256
#define REC_MAX_AGE_MS 1000

struct rec_slot {
	gfs_ino_t ino;
	uint32_t chunk;
	uint64_t change;
	uint64_t epoch;
	uint64_t born_ms;
	struct meta_slice *recs; /* NULL: empty slot */
	size_t n;
};

struct ra_slot {
	gfs_ino_t ino;
	uint64_t next; /* where a sequential read would start */
	uint64_t window;
};

struct readahead {
	pthread_mutex_t lock;
	struct ra_slot slot[RA_SLOTS];
	struct rec_slot rec[REC_SLOTS];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rec_max_age(const struct gfs_vfs *vfs)
{
	uint64_t half_delay = vfs->tuning.delete_delay_sec > 0 ? (uint64_t)vfs->tuning.delete_delay_sec * 500 : 0;
	return half_delay < REC_MAX_AGE_MS ? half_delay : REC_MAX_AGE_MS;
}

/* meta_read_chunk, or a fresh enough copy with the same change counter.
 * Caller frees *out. */
static int read_records(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint32_t chunk, struct meta_slice **out,
			size_t *n)
{
	struct readahead *ra = vfs->ra;
	struct rec_slot *slot = &ra->rec[((ino * 0x9E3779B97F4A7C15ULL >> 40) + chunk) % REC_SLOTS];
	uint64_t max_age = rec_max_age(vfs), now = mono_ms();
	/* Read before the records: a commit after this makes the entry stale. */
	uint64_t epoch = atomic_load(&vfs->commit_epoch);
	if (max_age > 0) {
		pthread_mutex_lock(&ra->lock);
		if (slot->recs && slot->ino == ino && slot->chunk == chunk && slot->change == change &&
		    slot->epoch == epoch && now - slot->born_ms < max_age) {
			*out = malloc(slot->n * sizeof(**out) + 1);
			if (*out) {
				if (slot->n)
					memcpy(*out, slot->recs, slot->n * sizeof(**out));
				*n = slot->n;
				pthread_mutex_unlock(&ra->lock);
				return 0;
			}
		}
		pthread_mutex_unlock(&ra->lock);
	}
	int rc = meta_read_chunk(vfs->meta, ino, chunk, out, n);
	if (rc < 0 || max_age == 0)
		return rc;
	struct meta_slice *copy = malloc(*n * sizeof(*copy) + 1);
	if (!copy)
		return 0;
	if (*n)
		memcpy(copy, *out, *n * sizeof(*copy));
	pthread_mutex_lock(&ra->lock);
	free(slot->recs);
	*slot = (struct rec_slot){ino, chunk, change, epoch, now, copy, *n};
	pthread_mutex_unlock(&ra->lock);
	return 0;
}

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
	for (size_t i = 0; i < REC_SLOTS; i++)
		free(vfs->ra->rec[i].recs);
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

static void prefetch_records(struct gfs_vfs *vfs, const struct view_src *srcs, size_t n, uint32_t start, uint32_t end)
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

/* Reads [pos, pos+len) of one chunk into dst.  With lend non-NULL and dst
 * NULL, it instead lends the bytes from the cache when they are one run of
 * one cached block (the common case of a sequential reader), and returns
 * -ENOTSUP when they are not. */
static int read_chunk_part(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint32_t chunk, uint32_t pos,
			   uint32_t len, uint8_t *dst, uint64_t window, struct data_lent *lend)
{
	struct pending_snap snap;
	int rc = writebuf_snapshot(vfs->wb, ino, chunk, &snap);
	if (rc < 0)
		return rc;
	struct meta_slice *recs = NULL;
	size_t nrec = 0;
	rc = read_records(vfs, ino, change, chunk, &recs, &nrec);
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
	if (rc == 0 && lend) {
		const struct view_seg *g = nseg == 1 ? &segs[0] : NULL;
		const struct view_src *src = g && g->src >= 0 ? &srcs[g->src] : NULL;
		uint32_t bs = vfs->info.block_size;
		if (src && !src->pending && g->slice_off / bs == (g->slice_off + len - 1) / bs) {
			uint32_t idx = g->slice_off / bs;
			uint32_t blen = slice_block_len(src->size, bs, idx);
			struct cache_block *b = NULL;
			if (g->slice_off % bs + len > blen)
				rc = -EIO; /* record points past its slice: corrupt metadata */
			else
				rc = cache_get(vfs->cache, src->id, idx, blen, &b);
			if (rc == 0)
				*lend = (struct data_lent){.block = b, .data = b->data + g->slice_off % bs};
		} else {
			rc = -ENOTSUP;
		}
		nseg = 0;
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

static int read_range(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint64_t offset, size_t count, void *buf,
		      uint64_t window)
{
	uint8_t *dst = buf;
	while (count > 0) {
		uint32_t chunk = (uint32_t)(offset / META_CHUNK_SIZE), pos = (uint32_t)(offset % META_CHUNK_SIZE);
		size_t n = META_CHUNK_SIZE - pos;
		if (n > count)
			n = count;
		int rc = read_chunk_part(vfs, ino, change, chunk, pos, (uint32_t)n, dst, count == n ? window : 0, NULL);
		if (rc < 0)
			return rc;
		dst += n;
		offset += n;
		count -= n;
	}
	return 0;
}

int data_read_range(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint64_t offset, size_t count, void *buf)
{
	return read_range(vfs, ino, change, offset, count, buf, readahead_note(vfs, ino, offset, count));
}

int data_read_lend(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t change, uint64_t offset, size_t count,
		   struct data_lent *out)
{
	*out = (struct data_lent){0};
	uint64_t window = readahead_note(vfs, ino, offset, count);
	uint32_t chunk = (uint32_t)(offset / META_CHUNK_SIZE), pos = (uint32_t)(offset % META_CHUNK_SIZE);
	int rc = -ENOTSUP;
	if (count > 0 && count <= META_CHUNK_SIZE - pos) {
		rc = read_chunk_part(vfs, ino, change, chunk, pos, (uint32_t)count, NULL, window, out);
		window = 0; /* prefetched already */
	}
	if (rc != -ENOTSUP)
		return rc;
	out->buf = malloc(count ? count : 1);
	if (!out->buf)
		return -ENOMEM;
	rc = read_range(vfs, ino, change, offset, count, out->buf, window);
	if (rc < 0) {
		free(out->buf);
		*out = (struct data_lent){0};
		return rc;
	}
	out->data = out->buf;
	return 0;
}

void data_lent_release(struct gfs_vfs *vfs, struct data_lent *l)
{
	if (l->block)
		cache_release(vfs->cache, l->block);
	free(l->buf);
	*l = (struct data_lent){0};
}
