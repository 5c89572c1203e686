/*
 * meta_dentry.c - the positive directory-entry cache: (directory, name) ->
 * the inode it named, with that inode's change counter read atomically
 * with the name (a script's reply).
 *
 * It needs no invalidations of its own.  Every way an entry stops naming
 * an inode (unlink, rmdir, rename away, rename over it) changes that inode
 * in the same script, which bumps its change counter or deletes it
 * (docs/FORMAT.md, "ch").  So a cached entry is used only while the
 * inode's cached attributes are fresh and still carry the recorded change
 * counter; any change of the inode, removal or not, retires it.  The
 * attribute cache's coherence (meta_cache.c) thus carries over.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "meta_cache.h"
#include "meta_internal.h"

#define NSTRIPES 64

struct dentry {
	gfs_ino_t dir;
	gfs_ino_t ino;
	uint32_t gen;
	uint64_t change;
	struct dentry *hash_next, *lru_prev, *lru_next;
	size_t namelen;
	char name[];
};

struct dentry_stripe {
	pthread_mutex_t lock;
	struct dentry **buckets;
	uint32_t bucket_mask;
	uint32_t count, capacity;
	struct dentry lru; /* sentinel */
} __attribute__((aligned(64)));

struct meta_dentries {
	struct dentry_stripe stripes[NSTRIPES];
};

/* FNV-1a over the directory number and the name. */
static uint64_t hash_of(gfs_ino_t dir, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (dir * 0x9E3779B97F4A7C15ULL);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
	return h;
}

static void lru_unlink(struct dentry *d)
{
	d->lru_prev->lru_next = d->lru_next;
	d->lru_next->lru_prev = d->lru_prev;
}

static void lru_push_front(struct dentry_stripe *s, struct dentry *d)
{
	d->lru_next = s->lru.lru_next;
	d->lru_prev = &s->lru;
	s->lru.lru_next->lru_prev = d;
	s->lru.lru_next = d;
}

/* The bucket slot that points at the entry for (dir, name), or at the
 * chain's end if there is none. */
static struct dentry **slot_of(struct dentry_stripe *s, uint64_t h, gfs_ino_t dir, const char *name, size_t len)
{
	struct dentry **pp = &s->buckets[(h >> 20) & s->bucket_mask];
	while (*pp && !((*pp)->dir == dir && (*pp)->namelen == len && memcmp((*pp)->name, name, len) == 0))
		pp = &(*pp)->hash_next;
	return pp;
}

static void unlink_slot(struct dentry_stripe *s, struct dentry **pp)
{
	struct dentry *d = *pp;
	*pp = d->hash_next;
	lru_unlink(d);
	s->count--;
	free(d);
}

struct meta_dentries *meta_dentries_new(uint32_t max_entries)
{
	struct meta_dentries *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	uint32_t per_stripe = max_entries / NSTRIPES > 4 ? max_entries / NSTRIPES : 4;
	uint32_t nbuckets = 4;
	while (nbuckets < per_stripe)
		nbuckets <<= 1;
	for (int i = 0; i < NSTRIPES; i++) {
		struct dentry_stripe *s = &t->stripes[i];
		pthread_mutex_init(&s->lock, NULL);
		s->lru.lru_next = s->lru.lru_prev = &s->lru;
		s->capacity = per_stripe;
		s->bucket_mask = nbuckets - 1;
		s->buckets = calloc(nbuckets, sizeof(*s->buckets));
		if (!s->buckets) {
			meta_dentries_free(t);
			return NULL;
		}
	}
	return t;
}

void meta_dentries_free(struct meta_dentries *t)
{
	if (!t)
		return;
	for (int i = 0; i < NSTRIPES; i++) {
		struct dentry_stripe *s = &t->stripes[i];
		if (s->buckets)
			for (struct dentry *d = s->lru.lru_next; d && d != &s->lru;) {
				struct dentry *next = d->lru_next;
				free(d);
				d = next;
			}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

/* Where (dir, name) lives: its stripe, locked on return, and the link of
 * its chain that points at it or at the chain's end.  -ENOENT when the
 * cache is off (nothing is locked then). */
struct place {
	struct dentry_stripe *s;
	struct dentry **slot;
	uint64_t h;
	size_t len;
};

static int lock_place(struct meta *m, gfs_ino_t dir, const char *name, struct place *p)
{
	struct meta_dentries *t = meta_cache_dentries(m);
	if (!t)
		return -ENOENT;
	p->len = strlen(name);
	p->h = hash_of(dir, name, p->len);
	p->s = &t->stripes[p->h % NSTRIPES];
	pthread_mutex_lock(&p->s->lock);
	p->slot = slot_of(p->s, p->h, dir, name, p->len);
	return 0;
}

void meta_dentry_put(struct meta *m, gfs_ino_t dir, const char *name, const struct gfs_attr *child)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return;
	struct dentry_stripe *s = p.s;
	struct dentry *d = *p.slot;
	if (!d) {
		if (s->count >= s->capacity && s->lru.lru_prev != &s->lru) {
			struct dentry *old = s->lru.lru_prev;
			uint64_t oh = hash_of(old->dir, old->name, old->namelen);
			unlink_slot(s, slot_of(s, oh, old->dir, old->name, old->namelen));
			p.slot = slot_of(s, p.h, dir, name, p.len); /* the chain may have changed */
		}
		d = malloc(sizeof(*d) + p.len);
		if (!d) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
		d->dir = dir;
		d->namelen = p.len;
		memcpy(d->name, name, p.len);
		d->hash_next = NULL;
		*p.slot = d;
		s->count++;
	} else {
		lru_unlink(d);
	}
	lru_push_front(s, d);
	d->ino = child->ino;
	d->gen = child->gen;
	d->change = child->change;
	pthread_mutex_unlock(&s->lock);
}

void meta_dentry_drop(struct meta *m, gfs_ino_t dir, const char *name)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return;
	if (*p.slot)
		unlink_slot(p.s, p.slot);
	pthread_mutex_unlock(&p.s->lock);
}

gfs_ino_t meta_dentry_peek_ino(struct meta *m, gfs_ino_t dir, const char *name)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return 0;
	gfs_ino_t ino = *p.slot ? (*p.slot)->ino : 0;
	pthread_mutex_unlock(&p.s->lock);
	return ino;
}

int meta_dentry_get(struct meta *m, gfs_ino_t dir, const char *name, struct gfs_attr *child)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return -ENOENT;
	struct dentry *d = *p.slot;
	gfs_ino_t ino = 0;
	uint32_t gen = 0;
	uint64_t change = 0;
	if (d) {
		ino = d->ino;
		gen = d->gen;
		change = d->change;
		lru_unlink(d);
		lru_push_front(p.s, d);
	}
	pthread_mutex_unlock(&p.s->lock);
	if (!ino || meta_cache_peek(m, ino, child) < 0)
		return -ENOENT;
	if (child->gen != gen || child->change != change) {
		meta_dentry_drop(m, dir, name); /* the inode changed since: maybe no longer this name */
		return -ENOENT;
	}
	return 0;
}
