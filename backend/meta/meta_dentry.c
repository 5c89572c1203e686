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

#include "lru_table.h"
#include "meta_cache.h"
#include "meta_internal.h"

#define NSTRIPES 64

struct dentry {
	struct lru_node node; /* first: an lru_node is its dentry */
	gfs_ino_t dir;
	gfs_ino_t ino;
	uint32_t gen;
	uint64_t change;
	size_t namelen;
	char name[];
};

struct meta_dentries {
	struct lru_table table;
};

/* FNV-1a over the directory number and the name. */
static uint64_t hash_of(gfs_ino_t dir, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (dir * 0x9E3779B97F4A7C15ULL);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
	return h;
}

static void free_node(struct lru_node *n)
{
	free(n);
}

int meta_dentries_start(struct meta *m, uint32_t max_entries)
{
	struct meta_dentries *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	int rc = lru_table_init(&t->table, NSTRIPES, max_entries);
	if (rc < 0) {
		free(t);
		return rc;
	}
	m->dentries = t;
	return 0;
}

void meta_dentries_stop(struct meta *m)
{
	struct meta_dentries *t = m->dentries;
	if (!t)
		return;
	m->dentries = NULL;
	lru_table_fini(&t->table, free_node);
	free(t);
}

/* Where (dir, name) lives: its stripe, locked on return, and its entry if
 * there is one.  -ENOENT when the cache is off (nothing is locked then). */
struct place {
	struct lru_stripe *s;
	struct dentry *d;
	uint64_t h;
	size_t len;
};

static int lock_place(struct meta *m, gfs_ino_t dir, const char *name, struct place *p)
{
	struct meta_dentries *t = m->dentries;
	if (!t)
		return -ENOENT;
	p->len = strlen(name);
	p->h = hash_of(dir, name, p->len);
	p->s = lru_stripe_of(&t->table, p->h);
	pthread_mutex_lock(&p->s->lock);
	p->d = NULL;
	for (struct lru_node *n = lru_stripe_bucket(p->s, p->h); n; n = n->hash_next) {
		struct dentry *d = (struct dentry *)n;
		if (n->hash == p->h && d->dir == dir && d->namelen == p->len && memcmp(d->name, name, p->len) == 0) {
			p->d = d;
			break;
		}
	}
	return 0;
}

void meta_dentry_put(struct meta *m, gfs_ino_t dir, const char *name, const struct gfs_attr *child)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return;
	struct dentry *d = p.d;
	if (!d) {
		struct lru_node *victim = lru_stripe_victim(p.s);
		if (victim) {
			lru_stripe_remove(p.s, victim);
			free(victim);
		}
		d = malloc(sizeof(*d) + p.len);
		if (!d) {
			pthread_mutex_unlock(&p.s->lock);
			return;
		}
		d->dir = dir;
		d->namelen = p.len;
		memcpy(d->name, name, p.len);
		d->node.hash = p.h;
		lru_stripe_insert(p.s, &d->node);
	} else {
		lru_stripe_touch(p.s, &d->node);
	}
	d->ino = child->ino;
	d->gen = child->gen;
	d->change = child->change;
	pthread_mutex_unlock(&p.s->lock);
}

void meta_dentry_drop(struct meta *m, gfs_ino_t dir, const char *name)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return;
	if (p.d) {
		lru_stripe_remove(p.s, &p.d->node);
		free(p.d);
	}
	pthread_mutex_unlock(&p.s->lock);
}

gfs_ino_t meta_dentry_peek_ino(struct meta *m, gfs_ino_t dir, const char *name)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return 0;
	gfs_ino_t ino = p.d ? p.d->ino : 0;
	pthread_mutex_unlock(&p.s->lock);
	return ino;
}

int meta_dentry_get(struct meta *m, gfs_ino_t dir, const char *name, struct gfs_attr *child)
{
	struct place p;
	if (lock_place(m, dir, name, &p) < 0)
		return -ENOENT;
	struct dentry *d = p.d;
	gfs_ino_t ino = 0;
	uint32_t gen = 0;
	uint64_t change = 0;
	if (d) {
		ino = d->ino;
		gen = d->gen;
		change = d->change;
		lru_stripe_touch(p.s, &d->node);
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
