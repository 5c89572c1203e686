/*
 * lru_table.c - the striped hash table with per-stripe LRU of lru_table.h.
 * Buckets are singly linked chains; a removal walks its chain, which stays
 * short because a stripe's buckets are sized to its capacity.
 */
#include "lru_table.h"

#include <errno.h>
#include <stdlib.h>

static struct lru_node **bucket_of(struct lru_stripe *s, uint64_t hash)
{
	return &s->buckets[(hash >> 16) & s->bucket_mask];
}

int lru_table_init(struct lru_table *t, uint32_t nstripes, uint32_t max_entries)
{
	if (nstripes == 0 || (nstripes & (nstripes - 1)) != 0)
		return -EINVAL;
	t->nstripes = nstripes;
	uint32_t bits = 0;
	while ((1u << bits) < nstripes)
		bits++;
	t->stripe_shift = 64 - bits;
	t->stripes = calloc(nstripes, sizeof(*t->stripes));
	if (!t->stripes)
		return -ENOMEM;
	uint32_t per_stripe = max_entries / nstripes > 4 ? max_entries / nstripes : 4;
	uint32_t nbuckets = 4;
	while (nbuckets < per_stripe)
		nbuckets <<= 1;
	for (uint32_t i = 0; i < nstripes; i++) {
		struct lru_stripe *s = &t->stripes[i];
		pthread_mutex_init(&s->lock, NULL);
		s->lru.lru_next = s->lru.lru_prev = &s->lru;
		s->capacity = per_stripe;
		s->bucket_mask = nbuckets - 1;
		s->buckets = calloc(nbuckets, sizeof(*s->buckets));
		if (!s->buckets) {
			lru_table_fini(t, NULL);
			return -ENOMEM;
		}
	}
	return 0;
}

void lru_table_fini(struct lru_table *t, void (*free_node)(struct lru_node *))
{
	if (!t->stripes)
		return;
	for (uint32_t i = 0; i < t->nstripes; i++) {
		struct lru_stripe *s = &t->stripes[i];
		if (s->buckets && free_node)
			for (struct lru_node *n = s->lru.lru_next; n != &s->lru;) {
				struct lru_node *next = n->lru_next;
				free_node(n);
				n = next;
			}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t->stripes);
	t->stripes = NULL;
}

struct lru_node *lru_stripe_bucket(struct lru_stripe *s, uint64_t hash)
{
	return *bucket_of(s, hash);
}

static void lru_unlink(struct lru_node *n)
{
	n->lru_prev->lru_next = n->lru_next;
	n->lru_next->lru_prev = n->lru_prev;
}

static void lru_push_front(struct lru_stripe *s, struct lru_node *n)
{
	n->lru_next = s->lru.lru_next;
	n->lru_prev = &s->lru;
	s->lru.lru_next->lru_prev = n;
	s->lru.lru_next = n;
}

void lru_stripe_touch(struct lru_stripe *s, struct lru_node *n)
{
	lru_unlink(n);
	lru_push_front(s, n);
}

void lru_stripe_insert(struct lru_stripe *s, struct lru_node *n)
{
	struct lru_node **b = bucket_of(s, n->hash);
	n->hash_next = *b;
	*b = n;
	lru_push_front(s, n);
	s->count++;
}

void lru_stripe_remove(struct lru_stripe *s, struct lru_node *n)
{
	for (struct lru_node **pp = bucket_of(s, n->hash); *pp; pp = &(*pp)->hash_next)
		if (*pp == n) {
			*pp = n->hash_next;
			break;
		}
	lru_unlink(n);
	s->count--;
}

struct lru_node *lru_stripe_victim(struct lru_stripe *s)
{
	return s->count >= s->capacity ? lru_stripe_oldest(s) : NULL;
}

struct lru_node *lru_stripe_oldest(struct lru_stripe *s)
{
	return s->lru.lru_prev != &s->lru ? s->lru.lru_prev : NULL;
}
