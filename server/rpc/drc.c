/*
 * drc.c - duplicate request cache (see drc.h): a chained hash table of
 * entries on one LRU list, under one mutex.  The critical sections are a
 * lookup and a memcpy of at most one reply; the handler runs outside.
 *
 * Sized to hold minutes of calls (a TCP client retransmits after 60 s), so
 * an entry is one allocation, its key packed and its reply bytes inline,
 * and the byte budget counts the whole of it (drc_footprint).  An entry
 * whose call is still running is never evicted: its reply would be lost
 * and a retransmission would run the call a second time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drc.h"

/* 72 bytes before the reply on LP64. */
struct drc_entry {
	struct drc_entry *hash_next;
	struct drc_entry *lru_prev, *lru_next; /* lru_prev toward most recent */
	uint64_t args_hash;
	uint8_t addr[16];
	uint32_t xid;
	uint32_t prog;
	uint32_t reply_len;
	uint32_t stamp; /* monotonic seconds of the last use */
	uint8_t vers, proc, family;
	bool done;
	uint8_t reply[];
};

struct drc {
	pthread_mutex_t lock;
	struct drc_entry **buckets;
	size_t nbuckets;		       /* power of two */
	struct drc_entry *lru_head, *lru_tail; /* head: most recently used */
	uint32_t max_entries;
	uint64_t max_bytes;
	uint32_t retention_s;
	struct drc_stats stats;
};

size_t drc_footprint(size_t reply_len)
{
	return sizeof(struct drc_entry) + reply_len;
}

static uint32_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

uint64_t drc_hash(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

void drc_key_set_addr(struct drc_key *key, const struct sockaddr *sa)
{
	memset(key->addr, 0, sizeof(key->addr));
	key->family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(key->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(key->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static bool key_matches(const struct drc_entry *e, const struct drc_key *k)
{
	return e->xid == k->xid && e->prog == k->prog && e->vers == (uint8_t)k->vers && e->proc == (uint8_t)k->proc &&
	       e->args_hash == k->args_hash && e->family == (uint8_t)k->family && memcmp(e->addr, k->addr, 16) == 0;
}

static void key_store(struct drc_entry *e, const struct drc_key *k)
{
	memcpy(e->addr, k->addr, 16);
	e->family = (uint8_t)k->family;
	e->xid = k->xid;
	e->prog = k->prog;
	e->vers = (uint8_t)k->vers;
	e->proc = (uint8_t)k->proc;
	e->args_hash = k->args_hash;
}

static struct drc_key key_of(const struct drc_entry *e)
{
	struct drc_key k = {.family = e->family,
			    .xid = e->xid,
			    .prog = e->prog,
			    .vers = e->vers,
			    .proc = e->proc,
			    .args_hash = e->args_hash};
	memcpy(k.addr, e->addr, 16);
	return k;
}

static size_t bucket_of(const struct drc *drc, const struct drc_key *key)
{
	uint64_t h = drc_hash(key->addr, sizeof(key->addr)) ^ key->xid ^ ((uint64_t)key->proc << 32) ^ key->args_hash;
	return (size_t)(h * 0x9e3779b97f4a7c15ull >> 17) & (drc->nbuckets - 1);
}

struct drc *drc_create(uint32_t max_entries, uint64_t max_bytes, uint32_t retention_s)
{
	struct drc *drc = calloc(1, sizeof(*drc));

	if (!drc)
		return NULL;
	drc->max_entries = max_entries ? max_entries : 1;
	drc->max_bytes = max_bytes;
	drc->retention_s = retention_s;
	drc->nbuckets = 16;
	while (drc->nbuckets < drc->max_entries / 2)
		drc->nbuckets <<= 1;
	drc->buckets = calloc(drc->nbuckets, sizeof(*drc->buckets));
	if (!drc->buckets) {
		free(drc);
		return NULL;
	}
	pthread_mutex_init(&drc->lock, NULL);
	return drc;
}

static void lru_unlink(struct drc *drc, struct drc_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		drc->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		drc->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(struct drc *drc, struct drc_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = drc->lru_head;
	if (drc->lru_head)
		drc->lru_head->lru_prev = e;
	drc->lru_head = e;
	if (!drc->lru_tail)
		drc->lru_tail = e;
}

static struct drc_entry **find_slot(struct drc *drc, const struct drc_key *key)
{
	struct drc_entry **slot = &drc->buckets[bucket_of(drc, key)];

	while (*slot && !key_matches(*slot, key))
		slot = &(*slot)->hash_next;
	return slot;
}

static void remove_entry(struct drc *drc, struct drc_entry *e)
{
	struct drc_key key = key_of(e);
	struct drc_entry **slot = find_slot(drc, &key);

	if (*slot == e)
		*slot = e->hash_next;
	lru_unlink(drc, e);
	drc->stats.entries--;
	drc->stats.bytes -= drc_footprint(e->reply_len);
	free(e);
}

static bool over_budget(const struct drc *drc)
{
	return drc->stats.entries > drc->max_entries || drc->stats.bytes > drc->max_bytes;
}

/* Oldest first, skipping calls still running (at most one per thread). */
static void evict(struct drc *drc)
{
	for (struct drc_entry *e = drc->lru_tail; e && over_budget(drc);) {
		struct drc_entry *newer = e->lru_prev;
		if (e->done) {
			remove_entry(drc, e);
			drc->stats.evicted++;
		}
		e = newer;
	}
}

/* Replies older than the retention time are of no use to any client. */
static void expire(struct drc *drc, uint32_t now)
{
	while (drc->lru_tail && drc->lru_tail->done && now - drc->lru_tail->stamp > drc->retention_s)
		remove_entry(drc, drc->lru_tail);
}

void drc_destroy(struct drc *drc)
{
	if (!drc)
		return;
	while (drc->lru_head)
		remove_entry(drc, drc->lru_head);
	pthread_mutex_destroy(&drc->lock);
	free(drc->buckets);
	free(drc);
}

enum drc_result drc_begin(struct drc *drc, const struct drc_key *key, void **reply, size_t *reply_len)
{
	enum drc_result result = DRC_NEW;

	uint32_t now = now_s();

	pthread_mutex_lock(&drc->lock);
	expire(drc, now);
	struct drc_entry **slot = find_slot(drc, key), *e = *slot;
	if (e) {
		e->stamp = now;
		lru_unlink(drc, e);
		lru_push_head(drc, e);
		if (!e->done) {
			drc->stats.drops++;
			result = DRC_IN_PROGRESS;
		} else {
			*reply = malloc(e->reply_len ? e->reply_len : 1);
			if (*reply) {
				memcpy(*reply, e->reply, e->reply_len);
				*reply_len = e->reply_len;
				drc->stats.replays++;
				result = DRC_REPLAY;
			} else {
				/* No memory to replay: dropping makes the client retry. */
				result = DRC_IN_PROGRESS;
			}
		}
	} else {
		e = calloc(1, sizeof(*e));
		if (e) {
			key_store(e, key);
			e->stamp = now;
			*slot = e;
			lru_push_head(drc, e);
			drc->stats.entries++;
			drc->stats.bytes += drc_footprint(0);
			evict(drc);
		}
		/* Without memory the call simply runs uncached. */
	}
	pthread_mutex_unlock(&drc->lock);
	return result;
}

void drc_finish(struct drc *drc, const struct drc_key *key, const void *reply, size_t reply_len)
{
	pthread_mutex_lock(&drc->lock);
	struct drc_entry **slot = find_slot(drc, key), *e = *slot;
	if (e && !e->done) {
		/* The entry grows to hold the reply inline: same place in the
		 * table and on the list, new address. */
		struct drc_entry *grown = drc_footprint(reply_len) <= drc->max_bytes / 4 && reply_len <= UINT32_MAX
					      ? realloc(e, drc_footprint(reply_len))
					      : NULL;
		if (grown) {
			*slot = grown;
			if (grown->lru_prev)
				grown->lru_prev->lru_next = grown;
			else
				drc->lru_head = grown;
			if (grown->lru_next)
				grown->lru_next->lru_prev = grown;
			else
				drc->lru_tail = grown;
			memcpy(grown->reply, reply, reply_len);
			grown->reply_len = (uint32_t)reply_len;
			grown->done = true;
			drc->stats.bytes += reply_len;
			evict(drc);
		} else {
			remove_entry(drc, e);
		}
	}
	pthread_mutex_unlock(&drc->lock);
}

void drc_abandon(struct drc *drc, const struct drc_key *key)
{
	pthread_mutex_lock(&drc->lock);
	struct drc_entry *e = *find_slot(drc, key);
	if (e && !e->done)
		remove_entry(drc, e);
	pthread_mutex_unlock(&drc->lock);
}

void drc_get_stats(struct drc *drc, struct drc_stats *out)
{
	pthread_mutex_lock(&drc->lock);
	*out = drc->stats;
	pthread_mutex_unlock(&drc->lock);
}
