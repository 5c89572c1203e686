/*
 * lru_table.h - a striped hash table with a least-recently-used list per
 * stripe, for caches that many threads read at once (the metadata engine's
 * attribute cache and name cache).
 *
 * Entries are intrusive: a cache embeds struct lru_node in its own entry
 * and owns the entry's memory; the table only links nodes.  A node is
 * placed by a 64-bit hash that its owner computes: the high bits choose the
 * stripe, middle bits the bucket.  Each stripe has its own mutex; every
 * lru_stripe_* call below must be made with that stripe's lock held
 * (lru_stripe_lock / unlock), which is also what lets a cache keep
 * per-stripe state of its own beside the table, indexed by
 * lru_stripe_index.
 */
#ifndef GATEFS_LRU_TABLE_H
#define GATEFS_LRU_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct lru_node {
	uint64_t hash;
	struct lru_node *hash_next;
	struct lru_node *lru_prev, *lru_next;
};

struct lru_stripe {
	pthread_mutex_t lock;
	struct lru_node **buckets;
	uint32_t bucket_mask;
	uint32_t count, capacity;
	struct lru_node lru; /* sentinel: lru.lru_next is the most recent */
} __attribute__((aligned(64)));

struct lru_table {
	struct lru_stripe *stripes;
	uint32_t nstripes; /* a power of two */
	uint32_t stripe_shift;
};

/* nstripes must be a power of two; max_entries is spread over the stripes
 * (at least 4 each).  0, or -ENOMEM with nothing allocated. */
int lru_table_init(struct lru_table *t, uint32_t nstripes, uint32_t max_entries);
/* Calls free_node (if not NULL) on every entry, then frees the table. */
void lru_table_fini(struct lru_table *t, void (*free_node)(struct lru_node *));

static inline uint32_t lru_stripe_index(const struct lru_table *t, uint64_t hash)
{
	return t->stripe_shift >= 64 ? 0 : (uint32_t)(hash >> t->stripe_shift);
}
static inline struct lru_stripe *lru_stripe_of(struct lru_table *t, uint64_t hash)
{
	return &t->stripes[lru_stripe_index(t, hash)];
}

/* The first node of the bucket of hash; walk it with ->hash_next and
 * compare keys (several keys can share a hash). */
struct lru_node *lru_stripe_bucket(struct lru_stripe *s, uint64_t hash);
/* Makes n the most recently used. */
void lru_stripe_touch(struct lru_stripe *s, struct lru_node *n);
/* Links a node whose hash is set as the most recently used. */
void lru_stripe_insert(struct lru_stripe *s, struct lru_node *n);
/* Unlinks n; the caller frees or reuses it. */
void lru_stripe_remove(struct lru_stripe *s, struct lru_node *n);
/* The least recently used node if the stripe is at capacity (the one to
 * evict before an insert), else NULL. */
struct lru_node *lru_stripe_victim(struct lru_stripe *s);
/* The least recently used node, or NULL when the stripe is empty. */
struct lru_node *lru_stripe_oldest(struct lru_stripe *s);

#endif
