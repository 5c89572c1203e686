/*
 * gc.c - the gc thread of gc.h.  It wakes every gc_interval_ms, runs queued
 * compactions, then the delayed delete.  Compaction reads the chunk through
 * the normal read path one block at a time (bounded memory), uploads the
 * result as a new slice and swaps it in with meta_compact_chunk, which only
 * succeeds if no one else changed the records it read.
 *
 * The delayed delete sends the keys of up to 256 dead slices in one
 * del_many and looks at each key's result: the slices whose objects are all
 * gone leave the queue, and each slice with a failing key is moved later in
 * the queue with an exponential backoff (1 s doubling to 10 min), so one
 * key the store refuses never stops the rest of the queue.
 */
#include "gc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "data.h"
#include "data_metrics.h"
#include "log.h"
#include "slice_view.h"

#define GC_QUEUE_MAX 256
#define GC_DELETE_BATCH 256
#define GC_RETRY_MAX 4096    /* failing slices whose attempts are remembered */
#define GC_RETRY_CAP_SEC 600 /* longest backoff of a failing delete */

struct retry_entry {
	uint64_t id;
	uint32_t attempts;
};

struct compact_req {
	gfs_ino_t ino;
	uint32_t chunk;
};

struct gc {
	struct gfs_vfs *vfs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
	pthread_t thread;
	struct compact_req queue[GC_QUEUE_MAX];
	size_t nqueue;
	struct retry_entry retry[GC_RETRY_MAX];
	size_t nretry;
};

/* Reads [pos, pos+len) of a chunk as committed records say (pending data of
 * this gateway is newer and is not part of the records being replaced). */
static int read_records(struct gfs_vfs *vfs, const struct meta_slice *recs, size_t n, uint32_t pos, uint32_t len,
			uint8_t *dst)
{
	struct view_src *srcs = calloc(n ? n : 1, sizeof(*srcs));
	if (!srcs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		srcs[i] = (struct view_src){
		    .pos = recs[i].pos, .len = recs[i].len, .off = recs[i].off, .id = recs[i].id, .size = recs[i].size};
	struct view_seg *segs;
	size_t nseg;
	int rc = slice_view(srcs, n, pos, pos + len, &segs, &nseg);
	if (rc < 0) {
		free(srcs);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < nseg; i++) {
		uint8_t *d = dst + (segs[i].pos - pos);
		if (segs[i].src < 0)
			memset(d, 0, segs[i].len);
		else
			rc = cache_read_slice(vfs->cache, srcs[segs[i].src].id, srcs[segs[i].src].size,
					      segs[i].slice_off, segs[i].len, d);
	}
	free(segs);
	free(srcs);
	return rc;
}

int gc_compact_chunk(struct gfs_vfs *vfs, gfs_ino_t ino, uint32_t chunk)
{
	struct meta_slice *recs = NULL;
	size_t n = 0;
	int rc = meta_read_chunk(vfs->meta, ino, chunk, &recs, &n);
	if (rc < 0)
		return rc;
	if (n < 2) {
		free(recs);
		return 0;
	}
	/* The new slice spans the records' data; zero records at its ends need
	 * no bytes, since uncovered bytes read as zeros as well. */
	uint32_t start = UINT32_MAX, end = 0;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].id == 0 || recs[i].len == 0)
			continue;
		if (recs[i].pos < start)
			start = recs[i].pos;
		if (recs[i].pos + recs[i].len > end)
			end = recs[i].pos + recs[i].len;
	}
	struct meta_slice repl = {0};
	size_t nrepl = 0;
	uint32_t bs = vfs->info.block_size;
	uint8_t *buf = NULL;
	if (start < end) {
		uint32_t size = end - start;
		rc = data_new_slice_id(vfs, &repl.id);
		buf = rc == 0 ? malloc(bs) : NULL;
		if (rc == 0 && !buf)
			rc = -ENOMEM;
		uint32_t nb = slice_nblocks(size, bs);
		for (uint32_t i = 0; rc == 0 && i < nb; i++) {
			uint32_t blen = slice_block_len(size, bs, i);
			rc = read_records(vfs, recs, n, start + i * bs, blen, buf);
			if (rc == 0)
				rc = data_put_block(vfs, repl.id, i, buf, blen);
		}
		repl = (struct meta_slice){.pos = start, .id = repl.id, .size = size, .off = 0, .len = size};
		nrepl = 1;
	}
	free(buf);
	if (rc == 0)
		rc = meta_compact_chunk(vfs->meta, ino, chunk, recs, n, &repl, nrepl);
	if (rc < 0 && nrepl && repl.id) {
		/* Never referenced: remove what we uploaded. */
		data_delete_slice(vfs, repl.id, repl.size);
	}
	if (rc == 0)
		atomic_fetch_add(&vfs->n_compactions, 1);
	free(recs);
	return rc;
}

/* Failing slices and their attempts, for the backoff (in memory: after a
 * restart a failing slice starts again at the shortest backoff). */
static uint32_t retry_attempts(struct gc *g, uint64_t id, int failed)
{
	if (!g)
		return 1;
	pthread_mutex_lock(&g->lock);
	size_t i = 0;
	while (i < g->nretry && g->retry[i].id != id)
		i++;
	uint32_t attempts = 0;
	if (failed) {
		if (i == g->nretry && g->nretry < GC_RETRY_MAX)
			g->retry[g->nretry++] = (struct retry_entry){id, 0};
		if (i < g->nretry)
			attempts = ++g->retry[i].attempts;
		else
			attempts = 1;
	} else if (i < g->nretry) {
		g->retry[i] = g->retry[--g->nretry];
	}
	pthread_mutex_unlock(&g->lock);
	return attempts;
}

/* Deletes the objects of one batch of dead slices with one del_many;
 * sorts the slices into done (every key gone) and failed. */
static int delete_batch(struct gfs_vfs *vfs, const struct meta_dead_slice *dead, size_t n, struct meta_dead_slice *done,
			size_t *ndone, struct meta_dead_slice *failed, size_t *nfailed)
{
	uint32_t bs = vfs->info.block_size;
	size_t nkeys = 0;
	for (size_t i = 0; i < n; i++)
		nkeys += slice_nblocks(dead[i].size, bs);
	char **keys = calloc(nkeys ? nkeys : 1, sizeof(*keys));
	int *results = calloc(nkeys ? nkeys : 1, sizeof(*results));
	int rc = keys && results ? 0 : -ENOMEM;
	for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
		for (uint32_t b = 0; rc == 0 && b < slice_nblocks(dead[i].size, bs); b++, k++) {
			keys[k] = malloc(256);
			if (!keys[k])
				rc = -ENOMEM;
			else if (slice_block_key(keys[k], 256, vfs->info.uuid, dead[i].id, b,
						 slice_block_len(dead[i].size, bs, b)) < 0)
				rc = -ENAMETOOLONG;
		}
	}
	if (rc == 0 && nkeys)
		vfs->store->ops->del_many(vfs->store, (const char *const *)keys, nkeys, results);
	*ndone = *nfailed = 0;
	uint64_t deleted = 0, failed_keys = 0;
	for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
		int ok = 1;
		for (uint32_t b = 0; b < slice_nblocks(dead[i].size, bs); b++, k++) {
			ok &= results[k] == 0;
			deleted += results[k] == 0;
			failed_keys += results[k] != 0;
		}
		if (ok)
			done[(*ndone)++] = dead[i];
		else
			failed[(*nfailed)++] = dead[i];
	}
	atomic_fetch_add(&vfs->n_deletes, deleted);
	atomic_fetch_add(&vfs->n_delete_failures, failed_keys);
	metric_add(&data_metrics.delete_failures, failed_keys);
	for (size_t k = 0; keys && k < nkeys; k++)
		free(keys[k]);
	free(keys);
	free(results);
	return rc;
}

int gc_delete_dead(struct gfs_vfs *vfs, int64_t delay_sec)
{
	int total = 0;
	for (;;) {
		struct meta_dead_slice *dead = NULL;
		size_t n = 0;
		int rc = meta_dead_slices(vfs->meta, delay_sec, GC_DELETE_BATCH, &dead, &n);
		if (rc < 0)
			return rc;
		struct meta_dead_slice *done = calloc(n ? n : 1, sizeof(*done)),
				       *failed = calloc(n ? n : 1, sizeof(*failed));
		size_t ndone = 0, nfailed = 0;
		rc = done && failed ? 0 : -ENOMEM;
		if (rc == 0 && n)
			rc = delete_batch(vfs, dead, n, done, &ndone, failed, &nfailed);
		if (rc == 0 && ndone)
			rc = meta_dead_slices_done(vfs->meta, done, ndone);
		for (size_t i = 0; rc == 0 && i < ndone; i++)
			retry_attempts(vfs->gc, done[i].id, 0);
		/* Failing slices step aside: each comes back after its own backoff
		 * (delay_sec later than that, as the queue time is what moves). */
		for (size_t i = 0; rc == 0 && i < nfailed; i++) {
			uint32_t attempts = retry_attempts(vfs->gc, failed[i].id, 1);
			int64_t backoff = attempts >= 10 ? GC_RETRY_CAP_SEC : (int64_t)1 << (attempts - 1);
			if (backoff > GC_RETRY_CAP_SEC)
				backoff = GC_RETRY_CAP_SEC;
			rc = meta_dead_slices_retry(vfs->meta, &failed[i], 1, backoff);
		}
		if (rc == 0 && nfailed)
			log_warn("gc: %zu dead slices could not be deleted; retried with backoff", nfailed);
		free(dead);
		free(done);
		free(failed);
		if (rc < 0)
			return rc;
		total += (int)ndone;
		if (n < GC_DELETE_BATCH)
			return total;
	}
}

void gc_schedule_compact(struct gc *g, gfs_ino_t ino, uint32_t chunk)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	int dup = 0;
	for (size_t i = 0; i < g->nqueue; i++)
		dup |= g->queue[i].ino == ino && g->queue[i].chunk == chunk;
	if (!dup && g->nqueue < GC_QUEUE_MAX) {
		g->queue[g->nqueue++] = (struct compact_req){ino, chunk};
		pthread_cond_signal(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
}

/* A failing delayed delete (Redis or the store away) is logged when it
 * starts failing, then at most once a minute, and when it works again:
 * the deleter runs every second, and a line a second hides everything else. */
#define DELETE_WARN_EVERY_SEC 60

static void note_delete_result(int rc, int *failing, time_t *last_warn)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rc >= 0) {
		if (*failing)
			log_info("gc: delayed delete works again");
		*failing = 0;
		return;
	}
	if (!*failing || now.tv_sec - *last_warn >= DELETE_WARN_EVERY_SEC) {
		log_warn("gc: delayed delete failed: %s%s", strerror(-rc),
			 *failing ? " (still failing)" : "; retrying every second, logged once a minute");
		*last_warn = now.tv_sec;
	}
	*failing = 1;
}

static void *gc_main(void *arg)
{
	struct gc *g = arg;
	struct gfs_vfs *vfs = g->vfs;
	int delete_failing = 0;
	time_t last_delete_warn = 0;
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		if (g->nqueue == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts); /* g->cond's clock */
			uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)vfs->tuning.gc_interval_ms * 1000000ull;
			ts.tv_sec += (time_t)(ns / 1000000000ull);
			ts.tv_nsec = (long)(ns % 1000000000ull);
			pthread_cond_timedwait(&g->cond, &g->lock, &ts);
		}
		if (g->stopping)
			break;
		struct compact_req req = {0};
		int have = g->nqueue > 0;
		if (have) {
			req = g->queue[0];
			memmove(g->queue, g->queue + 1, (g->nqueue - 1) * sizeof(*g->queue));
			g->nqueue--;
		}
		pthread_mutex_unlock(&g->lock);
		if (have) {
			int rc = gc_compact_chunk(vfs, req.ino, req.chunk);
			if (rc < 0 && rc != -EAGAIN && rc != -ENOENT && rc != -ESTALE)
				log_warn("gc: compaction of inode %llu chunk %u: %d", (unsigned long long)req.ino,
					 req.chunk, rc);
		} else if (!vfs->read_only) {
			int rc = gc_delete_dead(vfs, vfs->tuning.delete_delay_sec);
			note_delete_result(rc, &delete_failing, &last_delete_warn);
		}
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int gc_start(struct gfs_vfs *vfs, struct gc **out)
{
	struct gc *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->vfs = vfs;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&g->thread, NULL, gc_main, g);
	if (rc) {
		free(g);
		return -rc;
	}
	*out = g;
	return 0;
}

void gc_stop(struct gc *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

size_t gc_retrying(struct gc *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	size_t n = g->nretry;
	pthread_mutex_unlock(&g->lock);
	return n;
}
