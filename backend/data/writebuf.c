/*
 * writebuf.c - the write buffer of writebuf.h.
 *
 * Each file with buffered data has a wfile with a list of pending slices in
 * creation order.  A write goes into the newest unsealed slice of its chunk
 * that it can extend (or overwrite in place, if the blocks it touches are
 * not uploading) provided no newer slice overlaps it; otherwise it starts a
 * new slice.  Full blocks are uploaded at once on the upload pool; a flush
 * seals the slices, uploads what is left, waits, and commits the slices to
 * Redis one by one in creation order, so newest-wins holds in Redis too.
 *
 * Locks, in the order they may be taken: flush_lock (one flush per file at a
 * time, so commits stay ordered) -> map_lock -> file lock -> budget_lock.
 * No lock but flush_lock is held across Redis or object-store calls: slice
 * ids are reserved ahead, before a writer takes any of these locks.
 */
#include "writebuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockbuf.h"
#include "data.h"
#include "data_metrics.h"
#include "data_pool.h"
#include "gc.h"
#include "log.h"

enum { BL_EMPTY = 0, BL_UPLOADING = 1, BL_DONE = 2, BL_FAILED = 3 };

#define WB_BUCKETS 1024
#define WB_ALLOC_STEP (64u << 10) /* block buffers grow in these steps */
#define WB_WAIT_LIMIT_MS 60000	  /* a writer gives up (-EAGAIN) after this */
/* A write that starts a little past the end of the newest slice of its
 * chunk is usually one that overtook the writes before it (a client with
 * several WRITEs in flight; the server runs them on several threads).  It
 * waits this long for them to close the gap, so that the file stays one
 * slice instead of one slice per overtaking write. */
#define WB_REORDER_WINDOW (32u << 20)
#define WB_REORDER_WAIT_US 1000	      /* no write in progress covers the gap */
#define WB_REORDER_WAIT_BUSY_US 50000 /* a write in progress covers the gap */
#define WB_INFLIGHT_MAX 16	      /* writes in progress tracked per file */
#define WB_GAP_WAITERS 16	      /* writes waiting for a gap, per file */
#define WB_REORDER_BACKOFF_MS 100     /* after a gap that stayed open */

struct wfile;

struct pslice {
	struct pslice *prev, *next;
	uint32_t chunk, pos, len;
	uint64_t id;
	int sealed;
	int refs; /* the file's list holds one */
	uint32_t nblk;
	uint8_t **blk;
	uint32_t *cap;
	uint8_t *state;
	uint64_t alloc; /* bytes charged to the budget */
};

struct wfile {
	gfs_ino_t ino;
	uint32_t gen;
	struct wfile *hnext;
	int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* an upload finished */
	/* Writes waiting for a gap before them (wait_for_gap), each woken by
	 * the writes that reach its position; clock CLOCK_MONOTONIC. */
	struct {
		uint64_t pos; /* file offset the waiter's write starts at */
		int used;
		pthread_cond_t cv;
	} gap_waiter[WB_GAP_WAITERS];
	uint64_t reorder_off_until_ms; /* no waiting for gaps before this */
	struct {
		uint64_t start, end; /* end 0: free slot */
	} inflight[WB_INFLIGHT_MAX]; /* writes in progress (writebuf_writer_enter) */
	pthread_mutex_t flush_lock;
	struct pslice *head, *tail;
	uint64_t end;
	struct gfs_time mtime;
	uint64_t last_write_ms;
	uint64_t alloc;
	int err; /* a final commit error not yet reported by writebuf_flush */
};

struct writebuf {
	struct gfs_vfs *vfs;
	uint32_t bs;
	pthread_mutex_t map_lock;
	struct wfile *buckets[WB_BUCKETS];

	pthread_mutex_t budget_lock;
	pthread_cond_t budget_cond; /* budget freed, or flusher wake-up; CLOCK_MONOTONIC */
	uint64_t budget, used, peak, waits;
	atomic_uint_fast64_t gap_timeouts; /* gaps that stayed open a whole wait */
	int pressure, stopping;
	int ready; /* a sealed slice finished uploading: commit_ready may run */
	pthread_t flusher;
	int flusher_started;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A deadline for pthread_cond_timedwait on a CLOCK_MONOTONIC condition
 * variable: a wall-clock step must not stretch or skip a wait. */
static struct timespec deadline_after_ms(uint32_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000u;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

static struct gfs_time now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct gfs_time){.sec = ts.tv_sec, .nsec = (uint32_t)ts.tv_nsec};
}

/* ---- budget ---- */

static int budget_try(struct writebuf *wb, uint64_t n)
{
	int ok = 0;
	pthread_mutex_lock(&wb->budget_lock);
	if (wb->used + n <= wb->budget) {
		wb->used += n;
		metric_gauge_add(&data_metrics.writebuf_bytes, (int64_t)n);
		if (wb->used > wb->peak)
			wb->peak = wb->used;
		ok = 1;
	}
	pthread_mutex_unlock(&wb->budget_lock);
	return ok;
}

static void budget_release(struct writebuf *wb, uint64_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&wb->budget_lock);
	wb->used -= n;
	metric_gauge_add(&data_metrics.writebuf_bytes, -(int64_t)n);
	pthread_cond_broadcast(&wb->budget_cond);
	pthread_mutex_unlock(&wb->budget_lock);
}

/* ---- slices ---- */

static struct pslice *slice_new(struct writebuf *wb, uint32_t chunk, uint32_t pos, uint64_t id)
{
	struct pslice *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->chunk = chunk;
	s->pos = pos;
	s->id = id;
	s->refs = 1;
	s->nblk = slice_nblocks(META_CHUNK_SIZE - pos, wb->bs);
	s->blk = calloc(s->nblk, sizeof(*s->blk));
	s->cap = calloc(s->nblk, sizeof(*s->cap));
	s->state = calloc(s->nblk, sizeof(*s->state));
	if (!s->blk || !s->cap || !s->state) {
		free(s->blk);
		free(s->cap);
		free(s->state);
		free(s);
		return NULL;
	}
	return s;
}

/* A block buffer of the full block size comes from the shared pool (and
 * goes back to it); smaller ones, for small writes, from malloc. */
static void block_buf_free(struct writebuf *wb, uint8_t *buf, uint32_t cap)
{
	if (cap == wb->bs)
		blockbuf_put(wb->vfs->bufs, buf);
	else
		free(buf);
}

static void slice_free(struct writebuf *wb, struct pslice *s)
{
	for (uint32_t i = 0; i < s->nblk; i++)
		block_buf_free(wb, s->blk[i], s->cap[i]);
	budget_release(wb, s->alloc);
	free(s->blk);
	free(s->cap);
	free(s->state);
	free(s);
}

/* Drops a reference; the caller holds the file lock and frees the slice
 * (after unlocking) if this returns 1. */
static int slice_unref_locked(struct pslice *s)
{
	return --s->refs == 0;
}

/* ---- files ---- */

static size_t file_bucket(gfs_ino_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 40) % WB_BUCKETS;
}

static struct wfile *file_get(struct writebuf *wb, gfs_ino_t ino, int create)
{
	pthread_mutex_lock(&wb->map_lock);
	struct wfile *f = wb->buckets[file_bucket(ino)];
	while (f && f->ino != ino)
		f = f->hnext;
	if (!f && create) {
		f = calloc(1, sizeof(*f));
		if (f) {
			f->ino = ino;
			pthread_mutex_init(&f->lock, NULL);
			pthread_cond_init(&f->cond, NULL);
			pthread_condattr_t ca;
			pthread_condattr_init(&ca);
			pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
			for (int i = 0; i < WB_GAP_WAITERS; i++)
				pthread_cond_init(&f->gap_waiter[i].cv, &ca);
			pthread_condattr_destroy(&ca);
			pthread_mutex_init(&f->flush_lock, NULL);
			f->hnext = wb->buckets[file_bucket(ino)];
			wb->buckets[file_bucket(ino)] = f;
		}
	}
	if (f)
		f->refs++;
	pthread_mutex_unlock(&wb->map_lock);
	return f;
}

static void file_free(struct wfile *f)
{
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	for (int i = 0; i < WB_GAP_WAITERS; i++)
		pthread_cond_destroy(&f->gap_waiter[i].cv);
	pthread_mutex_destroy(&f->flush_lock);
	free(f);
}

/* Drops a reference; a file without references and without pending
 * slices leaves the table. */
static void file_put(struct writebuf *wb, struct wfile *f)
{
	pthread_mutex_lock(&wb->map_lock);
	int gone = --f->refs == 0 && f->head == NULL && f->err == 0;
	if (gone) {
		struct wfile **pp = &wb->buckets[file_bucket(f->ino)];
		while (*pp != f)
			pp = &(*pp)->hnext;
		*pp = f->hnext;
	}
	pthread_mutex_unlock(&wb->map_lock);
	if (gone)
		file_free(f);
}

/* ---- uploads ---- */

static int slice_uploaded(const struct writebuf *wb, const struct pslice *s);
static void signal_ready_locked(struct writebuf *wb, struct wfile *f);

struct upload_job {
	struct writebuf *wb;
	struct wfile *f;
	struct pslice *s;
	uint32_t idx;
};

static void upload_run(void *arg)
{
	struct upload_job *j = arg;
	struct wfile *f = j->f;
	struct pslice *s = j->s;
	pthread_mutex_lock(&f->lock);
	const uint8_t *data = s->blk[j->idx];
	uint32_t blen = slice_block_len(s->len, j->wb->bs, j->idx);
	pthread_mutex_unlock(&f->lock);

	/* The block cannot change while it is UPLOADING: writers skip it.  The
	 * file stays alive without a reference of ours: a slice leaves the
	 * file's list only after a flush saw all its uploads finish, and the
	 * upload pool is stopped before the write buffer is freed. */
	int rc = data_put_block(j->wb->vfs, s->id, j->idx, data, blen);

	pthread_mutex_lock(&f->lock);
	s->state[j->idx] = rc == 0 ? BL_DONE : BL_FAILED;
	pthread_cond_broadcast(&f->cond);
	if (s == f->head) /* the oldest slice may be committable now */
		signal_ready_locked(j->wb, f);
	int last = slice_unref_locked(s);
	pthread_mutex_unlock(&f->lock);
	if (last)
		slice_free(j->wb, s);
	free(j);
}

/* Marks block idx UPLOADING and queues it.  File lock held. */
static void upload_start_locked(struct writebuf *wb, struct wfile *f, struct pslice *s, uint32_t idx)
{
	struct upload_job *j = malloc(sizeof(*j));
	if (!j)
		return; /* stays EMPTY: the flush fails (EIO) rather than commit it, and a later flush retries */
	*j = (struct upload_job){wb, f, s, idx};
	s->state[idx] = BL_UPLOADING;
	s->refs++;
	if (data_pool_submit(wb->vfs->upload_pool, upload_run, j) < 0) {
		/* pool stopping: upload here */
		pthread_mutex_unlock(&f->lock);
		upload_run(j);
		pthread_mutex_lock(&f->lock);
	}
}

/* ---- writes ---- */

static uint32_t round_up(uint32_t v, uint32_t step)
{
	return (uint32_t)(((uint64_t)v + step - 1) / step * step);
}

/* The capacity a block buffer of capacity cur must grow to so that it
 * holds need bytes. */
static uint32_t block_cap_for(uint32_t cur, uint32_t need, uint32_t bs)
{
	if (cur >= need)
		return cur;
	uint32_t c = round_up(need, WB_ALLOC_STEP);
	if (c < cur * 2)
		c = cur * 2;
	/* Past a quarter of a block, take the whole block at once: streaming
	 * writes then never copy a block while growing it, and the buffer is
	 * one the pool can recycle. */
	return c >= bs / 4 || c > bs ? bs : c;
}

/* The capacity block i must have so that slice bytes up to `upto` fit. */
static uint32_t wanted_cap(const struct pslice *s, uint32_t bs, uint32_t i, uint32_t upto)
{
	uint64_t bstart = (uint64_t)i * bs;
	uint32_t need = upto - bstart > bs ? bs : (uint32_t)(upto - bstart);
	return block_cap_for(s->cap[i], need, bs);
}

/* Budget the blocks of s that [soff, soff+len) touches would need to grow. */
static uint64_t growth(const struct pslice *s, uint32_t bs, uint32_t soff, uint32_t len)
{
	uint32_t first, last;
	uint64_t n = 0;
	slice_blocks_touched(soff, len, bs, &first, &last);
	for (uint32_t i = first; i <= last; i++)
		n += wanted_cap(s, bs, i, soff + len) - s->cap[i];
	return n;
}

static int overlaps(const struct pslice *s, uint32_t pos, uint32_t len)
{
	return s->pos < pos + len && pos < s->pos + s->len;
}

/* The pending slice a write of [pos, pos+len) in chunk may go into, or
 * NULL for a new slice.  File lock held. */
static struct pslice *pick_target(struct writebuf *wb, struct wfile *f, uint32_t chunk, uint32_t pos, uint32_t len)
{
	for (struct pslice *s = f->tail; s; s = s->prev) {
		if (s->chunk != chunk)
			continue;
		if (!s->sealed && s->pos <= pos && pos <= s->pos + s->len) {
			uint32_t first, last, ok = 1;
			slice_blocks_touched(pos - s->pos, len, wb->bs, &first, &last);
			for (uint32_t i = first; i <= last && ok; i++)
				ok = s->state[i] == BL_EMPTY;
			if (ok)
				return s;
		}
		if (overlaps(s, pos, len))
			return NULL; /* anything older would be shadowed by s */
	}
	return NULL;
}

/* Copies data into s at soff, growing blocks (budget already reserved). */
static int slice_store(struct writebuf *wb, struct pslice *s, uint32_t soff, const uint8_t *data, uint32_t len)
{
	uint32_t bs = wb->bs, first, last;
	slice_blocks_touched(soff, len, bs, &first, &last);
	for (uint32_t i = first; i <= last; i++) {
		uint32_t want = wanted_cap(s, bs, i, soff + len);
		if (want > s->cap[i]) {
			uint8_t *nb;
			if (want == bs) {
				nb = blockbuf_get(wb->vfs->bufs);
				if (nb && s->cap[i])
					memcpy(nb, s->blk[i], s->cap[i]);
				if (nb)
					free(s->blk[i]);
			} else {
				nb = realloc(s->blk[i], want);
			}
			if (!nb)
				return -ENOMEM;
			s->alloc += want - s->cap[i];
			s->blk[i] = nb;
			s->cap[i] = want;
		}
	}
	uint32_t off = soff, left = len;
	while (left > 0) {
		uint32_t i = off / bs, in = off % bs;
		uint32_t n = bs - in < left ? bs - in : left;
		memcpy(s->blk[i] + in, data, n);
		data += n;
		off += n;
		left -= n;
	}
	if (soff + len > s->len)
		s->len = soff + len;
	return 0;
}

static int flush_file(struct writebuf *wb, struct wfile *f);

/* Makes room for need bytes of budget.  If the file's oldest slice is
 * sealed, its commit is under way and will free memory: wait for it, rather
 * than seal the slice being streamed into (which would split the file into
 * one slice per wait).  Else commit this file's data if it has any, else
 * wait for the flusher to commit other files'. */
static int relieve_pressure(struct writebuf *wb, struct wfile *f, uint64_t need, uint64_t started)
{
	pthread_mutex_lock(&wb->budget_lock);
	wb->waits++;
	pthread_mutex_unlock(&wb->budget_lock);
	pthread_mutex_lock(&f->lock);
	int has_data = f->head != NULL;
	int committing = has_data && f->head->sealed;
	pthread_mutex_unlock(&f->lock);
	if (has_data && !committing)
		return flush_file(wb, f);
	if (now_ms() - started > WB_WAIT_LIMIT_MS)
		return -EAGAIN;
	struct timespec ts = deadline_after_ms(100);
	pthread_mutex_lock(&wb->budget_lock);
	/* Checked under the lock that budget_release takes, so that a release
	 * since our budget_try is not missed. */
	if (wb->used + need > wb->budget) {
		if (!committing) {
			wb->pressure = 1;
			pthread_cond_broadcast(&wb->budget_cond);
		}
		pthread_cond_timedwait(&wb->budget_cond, &wb->budget_lock, &ts);
	}
	pthread_mutex_unlock(&wb->budget_lock);
	return 0;
}

/* Whether a write at pos of chunk has a gap before it that earlier writes
 * may be about to fill: no pending slice of the chunk reaches pos, but an
 * unsealed one ends shortly before it, or (the first write of a chunk) pos
 * is a little past the chunk's start.  *gap is the chunk offset where the
 * gap starts.  File lock held. */
static int gap_before(struct wfile *f, uint32_t chunk, uint32_t pos, uint32_t *gap)
{
	int any = 0, below = 0;
	for (struct pslice *s = f->tail; s; s = s->prev) {
		if (s->chunk != chunk)
			continue;
		any = 1;
		uint32_t end = s->pos + s->len;
		if (s->pos <= pos && pos <= end)
			return 0;
		if (!s->sealed && end < pos && pos - end <= WB_REORDER_WINDOW && (!below || end > *gap)) {
			below = 1;
			*gap = end;
		}
	}
	*gap = any ? *gap : 0;
	return any ? below : pos > 0 && pos <= WB_REORDER_WINDOW;
}

/* A write in progress (writebuf_writer_enter) covers file offset `at`. */
static int inflight_covers(const struct wfile *f, uint64_t at)
{
	for (int i = 0; i < WB_INFLIGHT_MAX; i++)
		if (f->inflight[i].end > at && f->inflight[i].start <= at)
			return 1;
	return 0;
}

/* Some write in progress other than the one at file offset `at`. */
static int inflight_others(const struct wfile *f, uint64_t at)
{
	for (int i = 0; i < WB_INFLIGHT_MAX; i++)
		if (f->inflight[i].end && !(f->inflight[i].start <= at && at < f->inflight[i].end))
			return 1;
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Lets earlier writes that this one overtook go in first (gap_before): waits
 * as long as a write in progress covers the gap, and briefly otherwise (a
 * call may still be being decoded).  A gap that stays open while no other
 * write of the file is in progress is a sparse writer: no more waiting for
 * it for a while.  File lock held. */
static void wait_for_gap(struct writebuf *wb, struct wfile *f, uint32_t chunk, uint32_t pos)
{
	uint64_t start = now_us(), at = (uint64_t)chunk * META_CHUNK_SIZE + pos;
	uint32_t gap = 0;
	int slot = -1;
	while (gap_before(f, chunk, pos, &gap)) {
		int coming = inflight_covers(f, (uint64_t)chunk * META_CHUNK_SIZE + gap);
		int alone = !inflight_others(f, at);
		if (!coming && alone && now_ms() < f->reorder_off_until_ms)
			break;
		uint64_t limit = start + (coming ? WB_REORDER_WAIT_BUSY_US : WB_REORDER_WAIT_US);
		if (now_us() >= limit) {
			if (!coming && alone)
				f->reorder_off_until_ms = now_ms() + WB_REORDER_BACKOFF_MS;
			atomic_fetch_add(&wb->gap_timeouts, 1);
			break;
		}
		for (int i = 0; i < WB_GAP_WAITERS && slot < 0; i++) {
			if (!f->gap_waiter[i].used) {
				f->gap_waiter[i].used = 1;
				f->gap_waiter[i].pos = at;
				slot = i;
			}
		}
		if (slot < 0)
			break; /* more overtaking writes than we track: go ahead */
		struct timespec deadline = {.tv_sec = (time_t)(limit / 1000000),
					    .tv_nsec = (long)(limit % 1000000) * 1000};
		pthread_cond_timedwait(&f->gap_waiter[slot].cv, &f->lock, &deadline);
	}
	if (slot >= 0)
		f->gap_waiter[slot].used = 0;
}

/* Wakes the gap waiters whose position the file range [from, to] reaches or
 * covers: their gap may be closed now.  File lock held. */
static void wake_gap_waiters(struct wfile *f, uint64_t from, uint64_t to)
{
	for (int i = 0; i < WB_GAP_WAITERS; i++)
		if (f->gap_waiter[i].used && f->gap_waiter[i].pos >= from && f->gap_waiter[i].pos <= to)
			pthread_cond_signal(&f->gap_waiter[i].cv);
}

/* One piece: inside one chunk and at most one block long, so it touches at
 * most two blocks and needs at most 2 * block_size of budget. */
static int write_piece(struct writebuf *wb, struct wfile *f, uint32_t chunk, uint32_t pos, const uint8_t *data,
		       uint32_t len)
{
	uint64_t started = now_ms();
	for (;;) {
		/* Before the file lock: it may wait for Redis.  A failure matters
		 * only if the piece needs a new slice (take fails below). */
		(void)data_reserve_slice_ids(wb->vfs);
		pthread_mutex_lock(&f->lock);
		wait_for_gap(wb, f, chunk, pos);
		struct pslice *s = pick_target(wb, f, chunk, pos, len);
		uint64_t need;
		if (s) {
			need = growth(s, wb->bs, pos - s->pos, len);
		} else {
			uint32_t first, last;
			slice_blocks_touched(0, len, wb->bs, &first, &last);
			need = 0;
			for (uint32_t i = first; i <= last; i++) {
				uint32_t upto = len - i * wb->bs > wb->bs ? wb->bs : len - i * wb->bs;
				need += block_cap_for(0, upto, wb->bs);
			}
		}
		if (!budget_try(wb, need)) {
			pthread_mutex_unlock(&f->lock);
			metric_inc(&data_metrics.writebuf_waits);
			metric_gauge_add(&data_metrics.writebuf_waiters, 1);
			int rc = relieve_pressure(wb, f, need, started);
			metric_gauge_add(&data_metrics.writebuf_waiters, -1);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!s) {
			uint64_t id;
			int rc = data_take_slice_id(wb->vfs, &id);
			if (rc == -EAGAIN) {
				/* None at hand: reserve holding no lock, then retry. */
				pthread_mutex_unlock(&f->lock);
				budget_release(wb, need);
				rc = data_reserve_slice_ids(wb->vfs);
				if (rc < 0)
					return rc;
				continue;
			}
			if (rc == 0 && !(s = slice_new(wb, chunk, pos, id)))
				rc = -ENOMEM;
			if (rc < 0) {
				pthread_mutex_unlock(&f->lock);
				budget_release(wb, need);
				return rc;
			}
			s->prev = f->tail;
			if (f->tail)
				f->tail->next = s;
			else
				f->head = s;
			f->tail = s;
		}
		uint64_t before = s->alloc;
		int rc = slice_store(wb, s, pos - s->pos, data, len);
		/* Return what the reservation over-estimated (or all of it on error). */
		budget_release(wb, need - (s->alloc - before));
		f->alloc += s->alloc - before;
		if (rc == 0) {
			/* A slice that reached the chunk's end, or holds a quarter of
			 * the budget at a block boundary, is sealed now so that it
			 * is committed (and its memory freed) as soon as it is
			 * stored, instead of at the next flush: writers stream. */
			if (s->pos + s->len == META_CHUNK_SIZE || (s->len % wb->bs == 0 && s->alloc >= wb->budget / 4))
				s->sealed = 1;
			uint32_t full = s->sealed ? slice_nblocks(s->len, wb->bs) : s->len / wb->bs;
			for (uint32_t i = 0; i < full; i++)
				if (s->state[i] == BL_EMPTY)
					upload_start_locked(wb, f, s, i);
			uint64_t end = (uint64_t)chunk * META_CHUNK_SIZE + pos + len;
			if (end > f->end)
				f->end = end;
			f->mtime = now_real();
			f->last_write_ms = now_ms();
			wake_gap_waiters(f, end - len, end);
		}
		pthread_mutex_unlock(&f->lock);
		return rc;
	}
}

int writebuf_write(struct writebuf *wb, struct gfs_ref ref, uint64_t offset, const void *buf, size_t count)
{
	if (count == 0)
		return 0;
	struct wfile *f = file_get(wb, ref.ino, 1);
	if (!f)
		return -ENOMEM;
	if (ref.gen) {
		pthread_mutex_lock(&f->lock);
		f->gen = ref.gen;
		pthread_mutex_unlock(&f->lock);
	}
	const uint8_t *p = buf;
	int rc = 0;
	while (count > 0 && rc == 0) {
		uint32_t chunk = (uint32_t)(offset / META_CHUNK_SIZE), pos = (uint32_t)(offset % META_CHUNK_SIZE);
		size_t n = META_CHUNK_SIZE - pos;
		if (n > count)
			n = count;
		if (n > wb->bs)
			n = wb->bs;
		rc = write_piece(wb, f, chunk, pos, p, (uint32_t)n);
		p += n;
		offset += n;
		count -= n;
	}
	file_put(wb, f);
	return rc;
}

void writebuf_writer_enter(struct writebuf *wb, gfs_ino_t ino, uint64_t offset, size_t count, struct writebuf_writer *w)
{
	*w = (struct writebuf_writer){.file = file_get(wb, ino, 1), .slot = -1};
	struct wfile *f = w->file;
	if (!f || count == 0)
		return;
	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < WB_INFLIGHT_MAX && w->slot < 0; i++) {
		if (f->inflight[i].end == 0) {
			f->inflight[i].start = offset;
			f->inflight[i].end = offset + count;
			w->slot = i;
		}
	}
	pthread_mutex_unlock(&f->lock);
}

void writebuf_writer_leave(struct writebuf *wb, struct writebuf_writer *w)
{
	struct wfile *f = w->file;
	if (!f)
		return;
	if (w->slot >= 0) {
		pthread_mutex_lock(&f->lock);
		/* A gap this write covered may stay open: its waiters re-check. */
		wake_gap_waiters(f, f->inflight[w->slot].start, f->inflight[w->slot].end);
		f->inflight[w->slot].end = 0;
		pthread_mutex_unlock(&f->lock);
	}
	file_put(wb, f);
	w->file = NULL;
}

/* ---- flush ---- */

/* Whether a commit error can never clear for this slice: the file is gone
 * or is not a regular file (the script queued the slice for deletion), or
 * the slice lies beyond the largest size the engine can store.  Such a
 * slice is dropped; anything else (NOSPC, EAGAIN, EIO) may clear, and the
 * slice stays buffered for the next flush to retry. */
static int commit_error_is_final(int rc)
{
	return rc == -ESTALE || rc == -EINVAL || rc == -EFBIG;
}

/* Commits the file's oldest slice s (uploads done, flush lock held) and
 * drops it from the buffer, also when the commit failed for good (the error
 * is returned, and kept in f->err for the next COMMIT of the file when it
 * is not a vanished file's).  A retryable error leaves s where it is. */
static int commit_head(struct writebuf *wb, struct wfile *f, struct pslice *s)
{
	struct gfs_vfs *vfs = wb->vfs;
	pthread_mutex_lock(&f->lock);
	struct gfs_ref ref = {f->ino, f->gen};
	pthread_mutex_unlock(&f->lock);

	struct meta_slice rec = {.pos = s->pos, .id = s->id, .size = s->len, .off = 0, .len = s->len};
	uint64_t size_min = (uint64_t)s->chunk * META_CHUNK_SIZE + s->pos + s->len;
	size_t nrec = 0;
	int rc = meta_write_slice(vfs->meta, ref, s->chunk, &rec, size_min, NULL, &nrec);
	if (rc == -ESTALE) {
		/* The file is gone; the script queued the slice for deletion. */
		log_debug("writebuf: inode %llu vanished before commit", (unsigned long long)f->ino);
	} else if (rc == -EFBIG) {
		/* Never referenced by any record: its objects can go at once. */
		log_warn("writebuf: slice %llu of inode %llu lies beyond the largest file size; dropped",
			 (unsigned long long)s->id, (unsigned long long)f->ino);
		int drc = data_delete_slice(vfs, s->id, s->len);
		if (drc < 0)
			log_warn("writebuf: objects of dropped slice %llu left for gc: %d", (unsigned long long)s->id,
				 drc);
	} else if (rc < 0 && !commit_error_is_final(rc)) {
		log_warn("writebuf: commit of slice %llu of inode %llu failed: %d", (unsigned long long)s->id,
			 (unsigned long long)f->ino, rc);
		return rc;
	} else if (rc == 0) {
		atomic_fetch_add(&vfs->commit_epoch, 1);
		atomic_fetch_add(&vfs->n_commits, 1);
		if (nrec > vfs->tuning.compact_threshold)
			gc_schedule_compact(vfs->gc, f->ino, s->chunk);
	}
	pthread_mutex_lock(&f->lock);
	if (rc < 0 && rc != -ESTALE && !f->err)
		f->err = rc;
	f->head = s->next;
	if (f->head)
		f->head->prev = NULL;
	else {
		f->tail = NULL;
		f->end = 0;
	}
	f->alloc -= s->alloc;
	int free_it = slice_unref_locked(s);
	pthread_mutex_unlock(&f->lock);
	if (free_it)
		slice_free(wb, s);
	return rc;
}

/* All blocks of a sealed slice are stored (file lock held). */
static int slice_uploaded(const struct writebuf *wb, const struct pslice *s)
{
	uint32_t n = slice_nblocks(s->len, wb->bs);
	for (uint32_t i = 0; i < n; i++)
		if (s->state[i] != BL_DONE)
			return 0;
	return s->sealed;
}

/* Tells the flusher that the file's oldest slice can be committed, if it
 * can (file lock held). */
static void signal_ready_locked(struct writebuf *wb, struct wfile *f)
{
	if (!f->head || !slice_uploaded(wb, f->head))
		return;
	pthread_mutex_lock(&wb->budget_lock);
	wb->ready = 1;
	pthread_cond_broadcast(&wb->budget_cond);
	pthread_mutex_unlock(&wb->budget_lock);
}

/* Commits the leading slices that are sealed and fully uploaded, without
 * waiting for anything.  If a flush of the file is running, that flush
 * signals again when it ends (flush_file), so the flusher's cleared `ready`
 * is not lost: slices sealed behind the flush's last one get committed. */
static void commit_ready(struct writebuf *wb, struct wfile *f)
{
	if (pthread_mutex_trylock(&f->flush_lock) != 0)
		return;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		struct pslice *s = f->head;
		int ready = s && slice_uploaded(wb, s);
		pthread_mutex_unlock(&f->lock);
		if (!ready)
			break;
		int rc = commit_head(wb, f, s);
		if (rc < 0 && !commit_error_is_final(rc))
			break;
	}
	pthread_mutex_unlock(&f->flush_lock);
}

/* Seals every slice up to the current tail, uploads their remaining
 * blocks, waits, then commits them in order.  Slices written meanwhile are
 * newer and stay for the next flush. */
static int flush_file(struct writebuf *wb, struct wfile *f)
{
	int rc = 0;
	pthread_mutex_lock(&f->flush_lock);
	pthread_mutex_lock(&f->lock);
	struct pslice *last = f->tail;
	if (!last) {
		pthread_mutex_unlock(&f->lock);
		pthread_mutex_unlock(&f->flush_lock);
		return 0;
	}
	for (struct pslice *s = f->head;; s = s->next) {
		s->sealed = 1;
		uint32_t n = slice_nblocks(s->len, wb->bs);
		for (uint32_t i = 0; i < n; i++)
			if (s->state[i] == BL_EMPTY || s->state[i] == BL_FAILED)
				upload_start_locked(wb, f, s, i);
		if (s == last)
			break;
	}
	for (;;) {
		int busy = 0, failed = 0;
		for (struct pslice *s = f->head;; s = s->next) {
			uint32_t n = slice_nblocks(s->len, wb->bs);
			for (uint32_t i = 0; i < n; i++) {
				busy |= s->state[i] == BL_UPLOADING;
				/* EMPTY here means its upload could not even be
				 * started (no memory): never commit over it */
				failed |= s->state[i] == BL_FAILED || s->state[i] == BL_EMPTY;
			}
			if (s == last)
				break;
		}
		if (!busy) {
			rc = failed ? -EIO : 0;
			break;
		}
		pthread_cond_wait(&f->cond, &f->lock);
	}
	pthread_mutex_unlock(&f->lock);

	/* A slice dropped for good does not stop the ones after it: they are
	 * other writes, and holding them would wedge the file. */
	int first = 0;
	while (rc == 0) {
		pthread_mutex_lock(&f->lock);
		struct pslice *s = f->head;
		int done = s == last;
		pthread_mutex_unlock(&f->lock);
		int crc = commit_head(wb, f, s);
		if (crc < 0 && !commit_error_is_final(crc))
			rc = crc;
		else if (crc < 0 && !first)
			first = crc;
		if (done)
			break;
	}
	pthread_mutex_unlock(&f->flush_lock);
	/* commit_ready may have skipped this file while we held the flush lock. */
	pthread_mutex_lock(&f->lock);
	signal_ready_locked(wb, f);
	pthread_mutex_unlock(&f->lock);
	return rc < 0 ? rc : first;
}

int writebuf_flush(struct writebuf *wb, gfs_ino_t ino)
{
	struct wfile *f = file_get(wb, ino, 0);
	if (!f)
		return 0;
	int rc = flush_file(wb, f);
	/* Report (once) data of this file that a background commit dropped. */
	pthread_mutex_lock(&f->lock);
	if ((rc == 0 || commit_error_is_final(rc)) && f->err) {
		rc = f->err;
		f->err = 0;
	}
	pthread_mutex_unlock(&f->lock);
	file_put(wb, f);
	return rc;
}

/* Takes a reference on every file with pending data (or, with only_idle,
 * only those idle for idle_ms, plus the largest one if want_largest). */
static size_t collect(struct writebuf *wb, struct wfile ***out, int only_idle, int want_largest)
{
	size_t n = 0, cap = 16;
	struct wfile **v = malloc(cap * sizeof(*v));
	struct wfile *largest = NULL;
	uint64_t now = now_ms();
	if (!v) {
		*out = NULL;
		return 0;
	}
	pthread_mutex_lock(&wb->map_lock);
	for (size_t b = 0; b < WB_BUCKETS; b++) {
		for (struct wfile *f = wb->buckets[b]; f; f = f->hnext) {
			pthread_mutex_lock(&f->lock);
			int has = f->head != NULL;
			int idle = now - f->last_write_ms >= wb->vfs->tuning.flush_idle_ms;
			if (has && (!largest || f->alloc > largest->alloc))
				largest = f;
			pthread_mutex_unlock(&f->lock);
			if (!has || (only_idle && !idle))
				continue;
			if (n == cap) {
				struct wfile **nv = realloc(v, cap * 2 * sizeof(*v));
				if (!nv)
					continue;
				v = nv;
				cap *= 2;
			}
			f->refs++;
			v[n++] = f;
		}
	}
	if (want_largest && largest) {
		int present = 0;
		for (size_t i = 0; i < n; i++)
			present |= v[i] == largest;
		if (!present && n < cap) {
			largest->refs++;
			v[n++] = largest;
		}
	}
	pthread_mutex_unlock(&wb->map_lock);
	*out = v;
	return n;
}

int writebuf_flush_all(struct writebuf *wb)
{
	struct wfile **v;
	size_t n = collect(wb, &v, 0, 0);
	int first = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = flush_file(wb, v[i]);
		if (rc < 0 && first == 0)
			first = rc;
		file_put(wb, v[i]);
	}
	free(v);
	return first;
}

static void *flusher_main(void *arg)
{
	struct writebuf *wb = arg;
	pthread_mutex_lock(&wb->budget_lock);
	while (!wb->stopping) {
		struct timespec ts = deadline_after_ms(200);
		if (!wb->pressure && !wb->ready)
			pthread_cond_timedwait(&wb->budget_cond, &wb->budget_lock, &ts);
		if (wb->stopping)
			break;
		int pressure = wb->pressure, ready = wb->ready;
		wb->pressure = wb->ready = 0;
		pthread_mutex_unlock(&wb->budget_lock);

		if (ready) {
			struct wfile **all;
			size_t n = collect(wb, &all, 0, 0);
			for (size_t i = 0; i < n; i++) {
				commit_ready(wb, all[i]);
				file_put(wb, all[i]);
			}
			free(all);
		}

		struct wfile **v;
		size_t n = collect(wb, &v, 1, pressure);
		for (size_t i = 0; i < n; i++) {
			int rc = flush_file(wb, v[i]);
			if (rc < 0)
				log_debug("writebuf: background commit of inode %llu: %d",
					  (unsigned long long)v[i]->ino, rc);
			file_put(wb, v[i]);
		}
		free(v);
		pthread_mutex_lock(&wb->budget_lock);
	}
	pthread_mutex_unlock(&wb->budget_lock);
	return NULL;
}

/* ---- reads of pending data ---- */

int writebuf_pending_attr(struct writebuf *wb, gfs_ino_t ino, uint64_t *end, struct gfs_time *mtime)
{
	struct wfile *f = file_get(wb, ino, 0);
	if (!f)
		return 0;
	pthread_mutex_lock(&f->lock);
	int has = f->head != NULL;
	if (has) {
		*end = f->end;
		*mtime = f->mtime;
	}
	pthread_mutex_unlock(&f->lock);
	file_put(wb, f);
	return has;
}

int writebuf_snapshot(struct writebuf *wb, gfs_ino_t ino, uint32_t chunk, struct pending_snap *snap)
{
	*snap = (struct pending_snap){.wb = wb};
	struct wfile *f = file_get(wb, ino, 0);
	if (!f)
		return 0;
	pthread_mutex_lock(&f->lock);
	size_t n = 0;
	for (struct pslice *s = f->head; s; s = s->next)
		n += s->chunk == chunk;
	if (n) {
		snap->srcs = calloc(n, sizeof(*snap->srcs));
		if (!snap->srcs) {
			pthread_mutex_unlock(&f->lock);
			file_put(wb, f);
			return -ENOMEM;
		}
	}
	for (struct pslice *s = f->head; s; s = s->next) {
		if (s->chunk != chunk)
			continue;
		s->refs++;
		snap->srcs[snap->n++] = (struct view_src){
		    .pos = s->pos, .len = s->len, .off = 0, .id = s->id, .size = s->len, .pending = 1, .opaque = s};
	}
	pthread_mutex_unlock(&f->lock);
	snap->file = f;
	return 0;
}

void writebuf_copy(struct pending_snap *snap, const struct view_src *src, uint32_t slice_off, uint32_t len, void *dst)
{
	struct wfile *f = snap->file;
	struct pslice *s = src->opaque;
	uint32_t bs = snap->wb->bs;
	uint8_t *out = dst;
	pthread_mutex_lock(&f->lock);
	while (len > 0) {
		uint32_t i = slice_off / bs, in = slice_off % bs;
		uint32_t n = bs - in < len ? bs - in : len;
		memcpy(out, s->blk[i] + in, n);
		out += n;
		slice_off += n;
		len -= n;
	}
	pthread_mutex_unlock(&f->lock);
}

void writebuf_snap_release(struct pending_snap *snap)
{
	struct wfile *f = snap->file;
	if (!f)
		return;
	for (size_t i = 0; i < snap->n; i++) {
		struct pslice *s = snap->srcs[i].opaque;
		pthread_mutex_lock(&f->lock);
		int free_it = slice_unref_locked(s);
		pthread_mutex_unlock(&f->lock);
		if (free_it)
			slice_free(snap->wb, s);
	}
	free(snap->srcs);
	file_put(snap->wb, f);
	snap->file = NULL;
	snap->srcs = NULL;
	snap->n = 0;
}

/* ---- lifetime and counters ---- */

int writebuf_create(struct gfs_vfs *vfs, uint64_t budget, struct writebuf **out)
{
	struct writebuf *wb = calloc(1, sizeof(*wb));
	if (!wb)
		return -ENOMEM;
	wb->vfs = vfs;
	wb->bs = vfs->info.block_size;
	/* One write piece may grow two blocks; less budget could never fit it. */
	wb->budget = budget < 2ull * wb->bs ? 2ull * wb->bs : budget;
	pthread_mutex_init(&wb->map_lock, NULL);
	pthread_mutex_init(&wb->budget_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wb->budget_cond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&wb->flusher, NULL, flusher_main, wb);
	if (rc) {
		free(wb);
		return -rc;
	}
	wb->flusher_started = 1;
	metric_gauge_add(&data_metrics.writebuf_budget, (int64_t)wb->budget);
	*out = wb;
	return 0;
}

void writebuf_shutdown(struct writebuf *wb)
{
	if (!wb)
		return;
	pthread_mutex_lock(&wb->budget_lock);
	wb->stopping = 1;
	pthread_cond_broadcast(&wb->budget_cond);
	pthread_mutex_unlock(&wb->budget_lock);
	if (wb->flusher_started)
		pthread_join(wb->flusher, NULL);
	wb->flusher_started = 0;
	int rc = writebuf_flush_all(wb);
	if (rc < 0)
		log_error("writebuf: data of some files could not be committed at shutdown: %d", rc);
}

void writebuf_destroy(struct writebuf *wb)
{
	if (!wb)
		return;
	/* Whatever is left could not be committed; it is dropped. */
	for (size_t b = 0; b < WB_BUCKETS; b++) {
		struct wfile *f = wb->buckets[b];
		while (f) {
			struct wfile *next = f->hnext;
			struct pslice *s = f->head;
			while (s) {
				struct pslice *sn = s->next;
				slice_free(wb, s);
				s = sn;
			}
			file_free(f);
			f = next;
		}
	}
	metric_gauge_add(&data_metrics.writebuf_budget, -(int64_t)wb->budget);
	pthread_mutex_destroy(&wb->map_lock);
	pthread_mutex_destroy(&wb->budget_lock);
	pthread_cond_destroy(&wb->budget_cond);
	free(wb);
}

void writebuf_counters(struct writebuf *wb, struct writebuf_counters *out)
{
	pthread_mutex_lock(&wb->budget_lock);
	*out = (struct writebuf_counters){wb->budget, wb->used, wb->peak, wb->waits, atomic_load(&wb->gap_timeouts)};
	pthread_mutex_unlock(&wb->budget_lock);
}

void writebuf_reset_peak(struct writebuf *wb)
{
	pthread_mutex_lock(&wb->budget_lock);
	wb->peak = wb->used;
	pthread_mutex_unlock(&wb->budget_lock);
}
