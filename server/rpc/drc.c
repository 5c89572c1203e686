/*
 * drc.c - duplicate request cache (see drc.h): a chained hash table of
 * entries on one LRU list, under one mutex.  The critical sections are a
 * lookup and a memcpy of at most one reply; the handler runs outside.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "drc.h"

struct drc_entry {
	struct drc_key key;
	bool done;
	void *reply;
	size_t reply_len;
	struct drc_entry *hash_next;
	struct drc_entry *lru_prev, *lru_next; /* lru_prev toward most recent */
};

struct drc {
	pthread_mutex_t lock;
	struct drc_entry **buckets;
	size_t nbuckets;		       /* power of two */
	struct drc_entry *lru_head, *lru_tail; /* head: most recently used */
	uint32_t max_entries;
	uint64_t max_bytes;
	struct drc_stats stats;
};

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

static bool key_equal(const struct drc_key *a, const struct drc_key *b)
{
	return a->xid == b->xid && a->prog == b->prog && a->vers == b->vers && a->proc == b->proc &&
	       a->args_hash == b->args_hash && a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static size_t bucket_of(const struct drc *drc, const struct drc_key *key)
{
	uint64_t h = drc_hash(key->addr, sizeof(key->addr)) ^ key->xid ^ ((uint64_t)key->proc << 32) ^ key->args_hash;
	return (size_t)(h * 0x9e3779b97f4a7c15ull >> 17) & (drc->nbuckets - 1);
}

struct drc *drc_create(uint32_t max_entries, uint64_t max_bytes)
{
	struct drc *drc = calloc(1, sizeof(*drc));

	if (!drc)
		return NULL;
	drc->max_entries = max_entries ? max_entries : 1;
	drc->max_bytes = max_bytes;
	drc->nbuckets = 16;
	while (drc->nbuckets < drc->max_entries)
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

	while (*slot && !key_equal(&(*slot)->key, key))
		slot = &(*slot)->hash_next;
	return slot;
}

static void remove_entry(struct drc *drc, struct drc_entry *e)
{
	struct drc_entry **slot = find_slot(drc, &e->key);

	if (*slot == e)
		*slot = e->hash_next;
	lru_unlink(drc, e);
	drc->stats.entries--;
	drc->stats.bytes -= e->reply_len;
	free(e->reply);
	free(e);
}

static void evict(struct drc *drc)
{
	while (drc->lru_tail && (drc->stats.entries > drc->max_entries || drc->stats.bytes > drc->max_bytes))
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

	pthread_mutex_lock(&drc->lock);
	struct drc_entry **slot = find_slot(drc, key), *e = *slot;
	if (e) {
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
			e->key = *key;
			*slot = e;
			lru_push_head(drc, e);
			drc->stats.entries++;
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
	struct drc_entry *e = *find_slot(drc, key);
	if (e && !e->done) {
		void *copy = reply_len <= drc->max_bytes / 4 ? malloc(reply_len ? reply_len : 1) : NULL;
		if (copy) {
			memcpy(copy, reply, reply_len);
			e->reply = copy;
			e->reply_len = reply_len;
			e->done = true;
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
