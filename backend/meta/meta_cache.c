/*
 * meta_cache.c - the inode attribute cache (see meta_cache.h for why it is
 * coherent): entries in a striped LRU table (util/lru_table.h) with an
 * epoch per stripe, the draining of Redis invalidations (by readers and by
 * the tracking thread), and the tracking thread's re-reads of changed
 * inodes.
 *
 * Each stripe has an epoch, bumped under its lock by every invalidation of
 * one of its inodes.  A value read from Redis is stored as fresh only if
 * its stripe's epoch did not move since the reader took its token; else it
 * is stored stale and queued for the tracking thread to re-read.  An entry
 * turns fresh only through such a put or through a re-read whose entry saw
 * no invalidation between sending and storing it (a per-entry count), so a
 * fresh entry is never older than the last change whose invalidation has
 * been applied.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lru_table.h"
#include "meta_cache.h"
#include "meta_internal.h"
#include "meta_metrics.h"

#define NSTRIPES META_CACHE_STRIPES
#define RETRY_FIRST_MS 100 /* then doubling: a Redis without tracking (< 6) is asked rarely */
#define RETRY_MAX_MS 5000
#define REFRESH_BATCH 512
/* Re-reads wait this long to gather: a directory changed by a stream of
 * creates is then read once per window, not once per create, and each
 * window's inodes share one pipeline.  Only the hit rate pays for it. */
#define REREAD_DELAY_MS 2
#define RECENT_UNCACHED 16
/* After draining the subscriber, the tracking thread leaves it alone this
 * long: readers drain it when they need to, and a stream of changes then
 * costs a wake-up per window instead of one per change. */
#define DRAIN_GAP_MS 1
/* A barrier whose PONG has not come back by then means the tracking
 * connection is silent or too slow to be trusted: the cache is emptied, the
 * caller reads Redis, and the connection is replaced.  Within the 2 s bound
 * of docs/architecture/meta-cache.md. */
#define BARRIER_TIMEOUT_MS 1000
/* A waiting reader looks at the socket at least this often. */
#define BARRIER_POLL_MS 50

struct cache_entry {
	struct lru_node node; /* first: an lru_node is its entry */
	struct gfs_attr attr;
	int fresh;
	int own_change_pending; /* the next invalidation is this gateway's create of it */
	uint64_t invalidated;	/* invalidations applied to it: a re-read sent before the last one is stale */
};

/* What the cache keeps per stripe of its table, under that stripe's lock. */
struct stripe_state {
	atomic_uint_fast64_t epoch;
	/* The latest invalidations of inodes that were not cached, with how
	 * many each had: lets a new inode whose create was reported before
	 * its put still be cached (meta_cache_put_new). */
	struct {
		gfs_ino_t ino;
		uint32_t count;
	} uncached[RECENT_UNCACHED];
	uint32_t uncached_next;
} __attribute__((aligned(64)));

/* One stripe of the cache: the table's part and the cache's own. */
struct stripe {
	struct lru_stripe *t;
	struct stripe_state *st;
	uint32_t index;
};

struct meta_cache {
	struct meta *m;
	struct lru_table table;
	struct stripe_state stripes[NSTRIPES];
	char key_prefix[META_KEY_MAX]; /* "gatefs{V}:i" */
	size_t key_prefix_len;

	/* Tracking state.  The subscriber is read by whoever needs its news
	 * first, under drain_lock: a reader about to answer from memory, or
	 * the tracking thread; the tracking thread alone connects, reconnects
	 * and re-reads. */
	atomic_int tracking;	/* invalidations are being received */
	atomic_int applying;	/* invalidations read but not yet applied */
	atomic_int tracking_fd; /* the subscribed connection's socket, -1 when none */
	atomic_int broken;	/* a drain found the subscriber gone: reconnect */
	pthread_mutex_t drain_lock;
	redisContext *subscriber; /* receives invalidations (drain_lock) */

	/* Barriers (all under drain_lock): a PING on the subscriber is
	 * answered after every invalidation Redis queued for it before it
	 * read the PING.  At most one is outstanding; readers that arrive
	 * meanwhile ask for the next one, sent when this one returns. */
	pthread_cond_t barrier_cond; /* a PONG arrived, or the connection changed */
	uint64_t pings_sent, pongs_seen;
	uint64_t connection_gen; /* moves with every new or lost subscriber */
	int ping_wanted;	 /* readers wait for a PING not yet sent */
	int barrier_poller;	 /* a reader is polling the socket for the rest */
	int barrier_wake_fd;	 /* eventfd: another thread's drain saw a PONG the poller waits for */
	redisContext *reader;	 /* re-reads changed inodes (tracking thread) */

	pthread_t thread;
	int wake_fd; /* eventfd: stop, or inodes queued */
	atomic_int stopping;
	int use_barrier; /* set at start; GATEFS_META_BARRIER=0 turns it off (benchmarks) */

	pthread_mutex_t queue_lock;
	gfs_ino_t *queue; /* stale puts waiting for a re-read */
	size_t queue_len, queue_cap;

	atomic_uint_fast64_t hits, misses, invalidations, refreshes, new_fresh, new_reread, barriers, barrier_timeouts;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_of(gfs_ino_t ino)
{
	return ino * 0x9E3779B97F4A7C15ULL;
}

/* The stripe of ino, locked. */
static struct stripe lock_stripe(struct meta_cache *c, gfs_ino_t ino)
{
	uint64_t h = hash_of(ino);
	uint32_t i = lru_stripe_index(&c->table, h);
	struct stripe s = {.t = &c->table.stripes[i], .st = &c->stripes[i], .index = i};
	pthread_mutex_lock(&s.t->lock);
	return s;
}

static void unlock_stripe(struct stripe s)
{
	pthread_mutex_unlock(&s.t->lock);
}

static struct cache_entry *find(struct stripe s, gfs_ino_t ino)
{
	for (struct lru_node *n = lru_stripe_bucket(s.t, hash_of(ino)); n; n = n->hash_next)
		if (((struct cache_entry *)n)->attr.ino == ino)
			return (struct cache_entry *)n;
	return NULL;
}

static void remove_entry(struct stripe s, struct cache_entry *e)
{
	lru_stripe_remove(s.t, &e->node);
	free(e);
}

static void free_node(struct lru_node *n)
{
	free(n);
}

/* An entry for ino, new or recycled from the least recently used; NULL
 * only when out of memory.  The caller fills attr and fresh. */
static struct cache_entry *entry_for(struct stripe s, gfs_ino_t ino)
{
	struct cache_entry *e = find(s, ino);
	if (e) {
		lru_stripe_touch(s.t, &e->node);
		return e;
	}
	struct lru_node *victim = lru_stripe_victim(s.t);
	if (victim) {
		lru_stripe_remove(s.t, victim);
		e = (struct cache_entry *)victim;
	} else {
		e = malloc(sizeof(*e));
		if (!e)
			return NULL;
	}
	e->attr.ino = ino;
	e->node.hash = hash_of(ino);
	lru_stripe_insert(s.t, &e->node);
	return e;
}

static void note_uncached(struct stripe_state *s, gfs_ino_t ino)
{
	for (int i = 0; i < RECENT_UNCACHED; i++)
		if (s->uncached[i].ino == ino) {
			s->uncached[i].count++;
			return;
		}
	s->uncached[s->uncached_next % RECENT_UNCACHED].ino = ino;
	s->uncached[s->uncached_next % RECENT_UNCACHED].count = 1;
	s->uncached_next++;
}

/* How many invalidations of ino, not cached, the stripe remembers; -1 if
 * it does not remember ino. */
static int uncached_count(const struct stripe_state *s, gfs_ino_t ino)
{
	for (int i = 0; i < RECENT_UNCACHED; i++)
		if (s->uncached[i].ino == ino)
			return (int)s->uncached[i].count;
	return -1;
}

/* Drops everything and moves every epoch, so that no value read before
 * this can be stored as fresh. */
static void flush_all(struct meta_cache *c)
{
	for (int i = 0; i < NSTRIPES; i++) {
		struct stripe s = {.t = &c->table.stripes[i], .st = &c->stripes[i], .index = (uint32_t)i};
		pthread_mutex_lock(&s.t->lock);
		atomic_fetch_add(&s.st->epoch, 1);
		for (struct lru_node *n; (n = lru_stripe_oldest(s.t));)
			remove_entry(s, (struct cache_entry *)n);
		pthread_mutex_unlock(&s.t->lock);
	}
}

/* ---- the reader side ---- */

static int drain_locked(struct meta_cache *c);
static void lose_tracking(struct meta_cache *c);

/* Sends a PING on the subscriber (drain_lock held). */
static int send_ping_locked(struct meta_cache *c)
{
	static const char ping[] = "*1\r\n$4\r\nPING\r\n";
	if (!c->subscriber)
		return -EIO;
	ssize_t n = send(c->subscriber->fd, ping, sizeof(ping) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)(sizeof(ping) - 1))
		return -EIO; /* a 14-byte write that does not fit: the connection is stuck */
	c->pings_sent++;
	atomic_fetch_add_explicit(&c->barriers, 1, memory_order_relaxed);
	return 0;
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Returns once every invalidation that Redis had queued for this gateway
 * when the call began has been applied: a PING sent after the call began
 * has come back on the tracking connection.  Concurrent callers share
 * PINGs (one outstanding, the next one gathers everybody who came
 * meanwhile), so the cost is one round trip per batch, not per call.
 * 0, or -EIO when the connection failed or stayed silent for
 * BARRIER_TIMEOUT_MS: then the cache has been emptied and turned off until
 * the tracking thread has a new connection. */
static int barrier(struct meta_cache *c)
{
	int64_t deadline = now_ms() + BARRIER_TIMEOUT_MS;
	int rc = 0;
	pthread_mutex_lock(&c->drain_lock);
	uint64_t gen = c->connection_gen, target;
	if (!c->subscriber || !atomic_load(&c->tracking)) {
		pthread_mutex_unlock(&c->drain_lock);
		return -EIO;
	}
	if (c->pings_sent == c->pongs_seen) {
		if (send_ping_locked(c) < 0) {
			lose_tracking(c);
			pthread_mutex_unlock(&c->drain_lock);
			return -EIO;
		}
		target = c->pings_sent;
	} else {
		/* The outstanding PING may have been read by Redis before a
		 * change that completed before this call: wait for the next. */
		c->ping_wanted = 1;
		target = c->pings_sent + 1;
	}
	while (c->pongs_seen < target) {
		int64_t left = deadline - now_ms();
		if (c->connection_gen != gen || !c->subscriber) {
			rc = -EIO;
			break;
		}
		if (left <= 0) {
			atomic_fetch_add_explicit(&c->barrier_timeouts, 1, memory_order_relaxed);
			log_warn("meta cache: the tracking connection did not answer a PING within %d ms; "
				 "cache emptied, reading redis, reconnecting",
				 BARRIER_TIMEOUT_MS);
			lose_tracking(c);
			rc = -EIO;
			break;
		}
		int wait_ms = left < BARRIER_POLL_MS ? (int)left : BARRIER_POLL_MS;
		if (!c->barrier_poller) {
			/* Read the socket ourselves rather than wait for the
			 * tracking thread to be scheduled. */
			c->barrier_poller = 1;
			int fd = c->subscriber->fd;
			pthread_mutex_unlock(&c->drain_lock);
			/* The tracking thread may take the PONG off the socket
			 * first: its drain then wakes us through the eventfd. */
			struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
					      {.fd = c->barrier_wake_fd, .events = POLLIN}};
			int ready = poll(p, 2, wait_ms);
			if (p[1].revents & POLLIN) {
				uint64_t v;
				if (read(c->barrier_wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_warn("meta cache: barrier wake read: %s", strerror(errno));
			}
			pthread_mutex_lock(&c->drain_lock);
			c->barrier_poller = 0;
			pthread_cond_broadcast(&c->barrier_cond); /* another waiter may poll now */
			if (ready != 0 && c->connection_gen == gen && drain_locked(c) < 0) {
				rc = -EIO;
				break;
			}
		} else {
			struct timespec ts;
			deadline_in(&ts, wait_ms);
			pthread_cond_timedwait(&c->barrier_cond, &c->drain_lock, &ts);
		}
	}
	pthread_mutex_unlock(&c->drain_lock);
	return rc;
}

/* Whether the cache may answer now: after this returns 1, every
 * invalidation that Redis had sent this gateway when it was called is
 * applied, however slow the tracking connection (a barrier, above).  With
 * the barrier off (tests of the old rule), only what had reached this host:
 * the socket is polled before the flag is read, as a drain raises the flag
 * before it takes bytes off the socket, so one of the two shows them. */
int meta_cache_usable(struct meta *m)
{
	struct meta_cache *c = m->cache;
	if (!c || !atomic_load(&c->tracking))
		return 0;
	if (c->use_barrier)
		return barrier(c) == 0 && atomic_load(&c->tracking);
	int fd = atomic_load(&c->tracking_fd);
	if (fd < 0)
		return 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 0) != 0 || atomic_load(&c->applying)) {
		pthread_mutex_lock(&c->drain_lock);
		int rc = drain_locked(c);
		pthread_mutex_unlock(&c->drain_lock);
		if (rc < 0)
			return 0;
	}
	return atomic_load(&c->tracking);
}

int meta_cache_peek(struct meta *m, gfs_ino_t ino, struct gfs_attr *out)
{
	struct meta_cache *c = m->cache;
	int rc = -ENOENT;
	struct stripe s = lock_stripe(c, ino);
	struct cache_entry *e = find(s, ino);
	if (e && e->fresh) {
		*out = e->attr;
		lru_stripe_touch(s.t, &e->node);
		rc = 0;
	}
	unlock_stripe(s);
	atomic_fetch_add_explicit(rc == 0 ? &c->hits : &c->misses, 1, memory_order_relaxed);
	metric_inc(rc == 0 ? &meta_metrics.cache_hits : &meta_metrics.cache_misses);
	return rc;
}

int meta_cache_get(struct meta *m, gfs_ino_t ino, struct gfs_attr *out)
{
	if (!meta_cache_usable(m)) {
		if (m->cache) {
			atomic_fetch_add_explicit(&m->cache->misses, 1, memory_order_relaxed);
			metric_inc(&meta_metrics.cache_misses);
		}
		return -ENOENT;
	}
	return meta_cache_peek(m, ino, out);
}

uint64_t meta_cache_token(struct meta *m, gfs_ino_t ino)
{
	struct meta_cache *c = m->cache;
	return c ? atomic_load(&c->stripes[lru_stripe_index(&c->table, hash_of(ino))].epoch) : 0;
}

static void queue_refresh(struct meta_cache *c, gfs_ino_t ino)
{
	pthread_mutex_lock(&c->queue_lock);
	int was_empty = c->queue_len == 0;
	if (c->queue_len == c->queue_cap) {
		size_t cap = c->queue_cap ? c->queue_cap * 2 : 256;
		gfs_ino_t *q = realloc(c->queue, cap * sizeof(*q));
		if (!q) { /* the stale entry just stays unused until evicted */
			pthread_mutex_unlock(&c->queue_lock);
			return;
		}
		c->queue = q;
		c->queue_cap = cap;
	}
	c->queue[c->queue_len++] = ino;
	pthread_mutex_unlock(&c->queue_lock);
	if (was_empty) {
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("meta cache: cannot wake the tracking thread: %s", strerror(errno));
	}
}

void meta_cache_put(struct meta *m, const struct gfs_attr *attr, uint64_t token)
{
	struct meta_cache *c = m->cache;
	if (!c || !attr->ino || !atomic_load(&c->tracking))
		return;
	struct stripe s = lock_stripe(c, attr->ino);
	int fresh = atomic_load(&s.st->epoch) == token;
	struct cache_entry *e = entry_for(s, attr->ino);
	if (e) {
		e->attr = *attr;
		e->fresh = fresh;
		e->own_change_pending = 0;
	}
	unlock_stripe(s);
	if (e && !fresh)
		queue_refresh(c, attr->ino);
}

void meta_cache_snapshot(struct meta *m, struct meta_cache_snapshot *snap)
{
	struct meta_cache *c = m->cache;
	if (!c)
		return;
	for (int i = 0; i < NSTRIPES; i++)
		snap->epochs[i] = atomic_load(&c->stripes[i].epoch);
}

/* A new inode cannot be known to anyone else before the reply that made it
 * was sent, so Redis's first invalidation of its key is the create itself,
 * alone: nothing else can change the key in the same event-loop pass.  So
 * the entry is fresh if that invalidation was not applied yet (the
 * stripe's epoch has not moved since the snapshot: it is skipped when it
 * comes) or was the only one applied (the stripe remembers one); otherwise
 * it is a candidate, as any put. */
void meta_cache_put_new(struct meta *m, const struct gfs_attr *attr, const struct meta_cache_snapshot *snap)
{
	struct meta_cache *c = m->cache;
	if (!c || !attr->ino || !atomic_load(&c->tracking))
		return;
	struct stripe s = lock_stripe(c, attr->ino);
	uint64_t since = atomic_load(&s.st->epoch) - snap->epochs[s.index];
	int unseen = since == 0;
	/* The ring holds every invalidation since the snapshot only if no more
	 * than its size happened; the inode did not exist before it. */
	int fresh = unseen || (since <= RECENT_UNCACHED && uncached_count(s.st, attr->ino) == 1);
	struct cache_entry *e = entry_for(s, attr->ino);
	if (e) {
		e->attr = *attr;
		e->fresh = fresh;
		e->own_change_pending = unseen;
	}
	unlock_stripe(s);
	atomic_fetch_add_explicit(fresh ? &c->new_fresh : &c->new_reread, 1, memory_order_relaxed);
	if (e && !fresh)
		queue_refresh(c, attr->ino);
}

void meta_cache_forget(struct meta *m, gfs_ino_t ino)
{
	struct meta_cache *c = m->cache;
	if (!c)
		return;
	struct stripe s = lock_stripe(c, ino);
	struct cache_entry *e = find(s, ino);
	if (e)
		remove_entry(s, e);
	unlock_stripe(s);
}

void meta_cache_stats(struct meta *m, struct meta_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct meta_cache *c = m->cache;
	if (!c)
		return;
	out->hits = atomic_load(&c->hits);
	out->misses = atomic_load(&c->misses);
	out->invalidations = atomic_load(&c->invalidations);
	out->refreshes = atomic_load(&c->refreshes);
	out->new_fresh = atomic_load(&c->new_fresh);
	out->new_reread = atomic_load(&c->new_reread);
	out->tracking = atomic_load(&c->tracking);
	for (int i = 0; i < NSTRIPES; i++) {
		pthread_mutex_lock(&c->table.stripes[i].lock);
		out->entries += c->table.stripes[i].count;
		pthread_mutex_unlock(&c->table.stripes[i].lock);
	}
}

/* ---- the tracking thread ---- */

struct ino_list {
	gfs_ino_t *v;
	size_t len, cap;
};

static int list_add(struct ino_list *l, gfs_ino_t ino)
{
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		gfs_ino_t *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->len++] = ino;
	return 0;
}

/* Marks ino changed; a fresh entry is queued for a re-read (a stale one is
 * queued already). */
static void invalidate(struct meta_cache *c, gfs_ino_t ino)
{
	struct stripe s = lock_stripe(c, ino);
	atomic_fetch_add(&s.st->epoch, 1);
	struct cache_entry *e = find(s, ino);
	int queue = 0;
	if (!e) {
		note_uncached(s.st, ino);
	} else if (e->own_change_pending) {
		e->own_change_pending = 0; /* our own create: what we hold is what it wrote */
	} else {
		e->invalidated++;
		queue = e->fresh;
		e->fresh = 0;
	}
	unlock_stripe(s);
	if (queue)
		queue_refresh(c, ino);
	atomic_fetch_add_explicit(&c->invalidations, 1, memory_order_relaxed);
	metric_inc(&meta_metrics.cache_invalidations);
}

/* The inode number of an invalidated key, or 0 for another key. */
static gfs_ino_t key_ino(const struct meta_cache *c, const redisReply *k)
{
	if (k->type != REDIS_REPLY_STRING || k->len <= c->key_prefix_len ||
	    memcmp(k->str, c->key_prefix, c->key_prefix_len) != 0)
		return 0;
	gfs_ino_t ino = 0;
	for (size_t i = c->key_prefix_len; i < k->len; i++) {
		if (k->str[i] < '0' || k->str[i] > '9' || ino > UINT64_MAX / 10 - 1)
			return 0;
		ino = ino * 10 + (gfs_ino_t)(k->str[i] - '0');
	}
	return ino;
}

/* One Pub/Sub message: {"message", channel, keys or nil (FLUSHALL)}. */
static void apply_message(struct meta_cache *c, const redisReply *r)
{
	/* A barrier's answer: {"pong", ""} in subscribed mode. */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "pong") == 0) {
		c->pongs_seen++;
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0)
		return; /* subscribe confirmations and the like */
	const redisReply *keys = r->element[2];
	if (keys->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < keys->elements; i++) {
			gfs_ino_t ino = key_ino(c, keys->element[i]);
			if (ino)
				invalidate(c, ino);
		}
	} else if (keys->type == REDIS_REPLY_STRING) {
		gfs_ino_t ino = key_ino(c, keys);
		if (ino)
			invalidate(c, ino);
	} else {
		flush_all(c); /* the database was flushed */
	}
}

/* Stores what a re-read found, unless the entry turned fresh meanwhile
 * (a put with an unmoved epoch: as new as this) or was invalidated again
 * after the re-read was sent (it is queued again). */
static void apply_reread(struct meta_cache *c, gfs_ino_t ino, uint64_t invalidated, const redisReply *r)
{
	struct gfs_attr a;
	int rc = meta_parse_attr(r, &a);
	struct stripe s = lock_stripe(c, ino);
	struct cache_entry *e = find(s, ino);
	if (e && !e->fresh && e->invalidated == invalidated) {
		if (rc == 0 && a.ino == ino) {
			e->attr = a;
			e->fresh = 1;
		} else {
			remove_entry(s, e); /* gone (or unreadable): nothing to cache */
		}
	}
	unlock_stripe(s);
}

/* Re-reads the listed inodes with one pipelined HGETALL each.  Each
 * entry's invalidation count is noted before its read is sent. */
static int reread(struct meta_cache *c, const gfs_ino_t *inos, size_t n)
{
	uint64_t seen[REFRESH_BATCH];
	for (size_t done = 0; done < n;) {
		size_t batch = n - done < REFRESH_BATCH ? n - done : REFRESH_BATCH;
		for (size_t i = 0; i < batch; i++) {
			struct stripe s = lock_stripe(c, inos[done + i]);
			struct cache_entry *e = find(s, inos[done + i]);
			seen[i] = e ? e->invalidated : UINT64_MAX;
			unlock_stripe(s);
			if (!e)
				continue; /* dropped meanwhile (removed, evicted): nothing to refresh */
			char key[META_KEY_MAX];
			int len =
			    snprintf(key, sizeof(key), "%s%llu", c->key_prefix, (unsigned long long)inos[done + i]);
			const char *argv[2] = {"HGETALL", key};
			size_t argvlen[2] = {7, (size_t)len};
			if (redisAppendCommandArgv(c->reader, 2, argv, argvlen) != REDIS_OK)
				return -EIO;
		}
		for (size_t i = 0; i < batch; i++) {
			if (seen[i] == UINT64_MAX)
				continue;
			redisReply *r = NULL;
			if (redisGetReply(c->reader, (void **)&r) != REDIS_OK || !r)
				return -EIO;
			apply_reread(c, inos[done + i], seen[i], r); /* an error reply drops the entry */
			freeReplyObject(r);
		}
		atomic_fetch_add_explicit(&c->refreshes, batch, memory_order_relaxed);
		done += batch;
	}
	return 0;
}

/* Stops answering from memory at once; the tracking thread reconnects. */
static void lose_tracking(struct meta_cache *c)
{
	atomic_store(&c->tracking, 0);
	c->connection_gen++; /* drain_lock is held: waiting barriers give up */
	flush_all(c);
	atomic_store(&c->broken, 1);
	uint64_t one = 1;
	if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("meta cache: cannot wake the tracking thread: %s", strerror(errno));
}

static void disconnect(struct meta_cache *c)
{
	pthread_mutex_lock(&c->drain_lock);
	atomic_store(&c->tracking, 0);
	flush_all(c);
	atomic_store(&c->tracking_fd, -1);
	if (c->subscriber)
		redisFree(c->subscriber);
	c->subscriber = NULL;
	c->connection_gen++;
	pthread_cond_broadcast(&c->barrier_cond);
	atomic_store(&c->broken, 0);
	pthread_mutex_unlock(&c->drain_lock);
	if (c->reader)
		redisFree(c->reader);
	c->reader = NULL;
}

static int expect(redisContext *ctx, redisReply *r, int type, char *why, size_t whylen)
{
	int ok = r && r->type == type;
	if (!ok)
		snprintf(why, whylen, "%s", r && r->type == REDIS_REPLY_ERROR ? r->str : ctx->errstr);
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -EIO;
}

/* Subscribes to invalidations of every inode key (CLIENT TRACKING in
 * broadcast mode, redirected to the same connection, which then only
 * listens) and opens the connection that re-reads. */
static int connect_tracking(struct meta_cache *c, char *why, size_t whylen)
{
	redisContext *sub = meta_connect(c->m, why, whylen);
	c->reader = sub ? meta_connect(c->m, why, whylen) : NULL;
	if (!c->reader) {
		if (sub)
			redisFree(sub);
		return -EIO;
	}
	redisReply *r = redisCommand(sub, "CLIENT ID");
	long long id = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	int rc = expect(sub, r, REDIS_REPLY_INTEGER, why, whylen);
	if (rc == 0) {
		r = redisCommand(sub, "CLIENT TRACKING on REDIRECT %lld BCAST PREFIX %s", id, c->key_prefix);
		rc = expect(sub, r, REDIS_REPLY_STATUS, why, whylen);
	}
	if (rc == 0) {
		r = redisCommand(sub, "SUBSCRIBE __redis__:invalidate");
		rc = expect(sub, r, REDIS_REPLY_ARRAY, why, whylen);
	}
	if (rc < 0) {
		redisFree(sub);
		return -EIO;
	}
	pthread_mutex_lock(&c->drain_lock);
	c->subscriber = sub;
	c->pings_sent = c->pongs_seen = 0;
	c->ping_wanted = 0;
	c->connection_gen++;
	/* Whatever was read before this point may predate changes that no
	 * invalidation will ever report: nothing read so far may become fresh. */
	flush_all(c);
	atomic_store(&c->tracking_fd, sub->fd);
	atomic_store(&c->tracking, 1);
	pthread_mutex_unlock(&c->drain_lock);
	return 0;
}

/* Applies everything the subscriber has received so far, without waiting
 * for more.  Called with drain_lock held; on a lost connection the cache
 * stops answering and -EIO is returned. */
static int drain_locked(struct meta_cache *c)
{
	if (!c->subscriber)
		return -EIO;
	uint64_t pongs_before = c->pongs_seen;
	atomic_store(&c->applying, 1);
	int rc = 0;
	char buf[16384];
	for (;;) {
		ssize_t n = recv(c->subscriber->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			if (redisReaderFeed(c->subscriber->reader, buf, (size_t)n) != REDIS_OK) {
				rc = -EIO;
				break;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		rc = -EIO; /* closed by Redis, or a socket error */
		break;
	}
	for (;;) {
		void *reply = NULL;
		if (redisReaderGetReply(c->subscriber->reader, &reply) != REDIS_OK) {
			rc = -EIO;
			break;
		}
		if (!reply)
			break;
		apply_message(c, reply);
		freeReplyObject(reply);
	}
	if (rc == 0 && c->ping_wanted && c->pings_sent == c->pongs_seen) {
		c->ping_wanted = 0;
		if (send_ping_locked(c) < 0)
			rc = -EIO;
	}
	if (rc < 0)
		lose_tracking(c); /* before applying drops: no reader may trust the cache now */
	if (c->pongs_seen != pongs_before || rc < 0) {
		pthread_cond_broadcast(&c->barrier_cond);
		if (c->barrier_poller) {
			uint64_t one = 1;
			if (write(c->barrier_wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				log_warn("meta cache: cannot wake a barrier: %s", strerror(errno));
		}
	}
	atomic_store(&c->applying, 0);
	return rc;
}

static int queue_waiting(struct meta_cache *c)
{
	pthread_mutex_lock(&c->queue_lock);
	int waiting = c->queue_len > 0;
	pthread_mutex_unlock(&c->queue_lock);
	return waiting;
}

static void take_queue(struct meta_cache *c, struct ino_list *l)
{
	pthread_mutex_lock(&c->queue_lock);
	for (size_t i = 0; i < c->queue_len; i++)
		if (list_add(l, c->queue[i]) < 0)
			break;
	c->queue_len = 0;
	pthread_mutex_unlock(&c->queue_lock);
}

/* Sleeps up to ms, or until woken (stop, queued re-reads).  The wake-up is
 * consumed: left readable, it would end every later pause at once. */
static void wait_for_wake(struct meta_cache *c, int ms)
{
	struct pollfd p = {.fd = c->wake_fd, .events = POLLIN};
	if (poll(&p, 1, ms) > 0 && (p.revents & POLLIN)) {
		uint64_t v;
		if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("meta cache: wake read: %s", strerror(errno));
	}
}

static void *tracking_main(void *arg)
{
	struct meta_cache *c = arg;
	struct ino_list todo = {0};
	int64_t reread_at = 0;	 /* when the gathered re-reads are due; 0 = none */
	int64_t quiet_until = 0; /* the subscriber is left to readers until then */
	int down_logged = 0;
	int retry_ms = RETRY_FIRST_MS;
	while (!atomic_load(&c->stopping)) {
		if (atomic_load(&c->broken)) {
			log_warn("meta cache: lost the tracking connection; cache emptied, reconnecting");
			down_logged = 1;
			reread_at = 0;
			disconnect(c);
		}
		if (!c->subscriber) {
			char why[256] = "";
			if (connect_tracking(c, why, sizeof(why)) < 0) {
				if (!down_logged++)
					log_warn(
					    "meta cache: cannot track changes (%s); attributes are read from redis "
					    "until it can",
					    why);
				disconnect(c);
				wait_for_wake(c, retry_ms);
				retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
				continue;
			}
			if (down_logged)
				log_info("meta cache: tracking changes again");
			down_logged = 0;
			retry_ms = RETRY_FIRST_MS;
		}
		int64_t now = now_ms();
		int64_t due = reread_at;
		if (quiet_until > now && (!due || quiet_until < due))
			due = quiet_until;
		int timeout = due ? (due > now ? (int)(due - now) : 0) : 1000;
		struct pollfd p[2] = {{.fd = c->wake_fd, .events = POLLIN},
				      {.fd = c->subscriber->fd, .events = POLLIN}};
		int watch_subscriber = quiet_until <= now;
		if (poll(p, watch_subscriber ? 2 : 1, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("meta cache: wake read: %s", strerror(errno));
		}
		if (watch_subscriber && p[1].revents) {
			pthread_mutex_lock(&c->drain_lock);
			int rc = drain_locked(c);
			pthread_mutex_unlock(&c->drain_lock);
			if (rc < 0)
				continue; /* broken is set */
			quiet_until = now_ms() + DRAIN_GAP_MS;
		}
		if (!reread_at && queue_waiting(c))
			reread_at = now_ms() + REREAD_DELAY_MS;
		if (reread_at && now_ms() >= reread_at) {
			take_queue(c, &todo);
			int rc = reread(c, todo.v, todo.len);
			todo.len = 0;
			reread_at = 0;
			if (rc < 0)
				atomic_store(&c->broken, 1);
		}
	}
	free(todo.v);
	disconnect(c);
	return NULL;
}

int meta_attr_cache_start(struct meta *m, uint32_t max_entries, char *err, size_t errlen)
{
	struct meta_cache *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->m = m;
	c->wake_fd = -1;
	c->barrier_wake_fd = -1;
	c->key_prefix_len = (size_t)snprintf(c->key_prefix, sizeof(c->key_prefix), "%si", m->prefix);
	atomic_init(&c->tracking_fd, -1);
	for (int i = 0; i < NSTRIPES; i++)
		atomic_init(&c->stripes[i].epoch, 1); /* token 0 never matches: "read before anything was known" */
	if (lru_table_init(&c->table, NSTRIPES, max_entries) < 0) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->queue_lock, NULL);
	pthread_mutex_init(&c->drain_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->barrier_cond, &ca);
	pthread_condattr_destroy(&ca);
	c->barrier_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->barrier_wake_fd < 0) {
		snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
		c->wake_fd = -1;
		m->cache = c;
		meta_cache_stop(m);
		return -EIO;
	}
	const char *barrier_env = getenv("GATEFS_META_BARRIER");
	c->use_barrier = !(barrier_env && strcmp(barrier_env, "0") == 0);
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0 || pthread_create(&c->thread, NULL, tracking_main, c) != 0) {
		snprintf(err, errlen, "cannot start the cache thread: %s", strerror(errno));
		if (c->wake_fd >= 0)
			close(c->wake_fd);
		c->wake_fd = -1;
		m->cache = c;
		meta_cache_stop(m);
		return -EIO;
	}
	m->cache = c;
	return 0;
}

void meta_cache_stop(struct meta *m)
{
	struct meta_cache *c = m->cache;
	if (!c)
		return;
	struct meta_cache_stats st;
	meta_cache_stats(m, &st);
	uint64_t asked = st.hits + st.misses;
	log_info("meta cache: %llu of %llu reads answered from memory (%.1f%%), %llu invalidations, %llu re-reads, "
		 "%llu new inodes cached at once",
		 (unsigned long long)st.hits, (unsigned long long)asked,
		 asked ? 100.0 * (double)st.hits / (double)asked : 0.0, (unsigned long long)st.invalidations,
		 (unsigned long long)st.refreshes, (unsigned long long)st.new_fresh);
	if (c->wake_fd >= 0) {
		atomic_store(&c->stopping, 1);
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof(one)) < 0)
			log_warn("meta cache: cannot wake the tracking thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		close(c->wake_fd);
	}
	m->cache = NULL;
	lru_table_fini(&c->table, free_node);
	pthread_mutex_destroy(&c->queue_lock);
	pthread_mutex_destroy(&c->drain_lock);
	pthread_cond_destroy(&c->barrier_cond);
	if (c->barrier_wake_fd >= 0)
		close(c->barrier_wake_fd);
	free(c->queue);
	free(c);
}
