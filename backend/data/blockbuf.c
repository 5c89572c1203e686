/*
 * blockbuf.c - the block buffer pool of blockbuf.h: a mutex-protected stack
 * of idle buffers.  Buffers are mapped with mmap directly rather than taken
 * from malloc, so that a buffer released beyond the idle bound really goes
 * back to the kernel instead of staying in a malloc arena.
 */
#include "blockbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

struct blockbuf_pool {
	pthread_mutex_t lock;
	size_t size;
	size_t max_idle, nidle;
	void **idle;
	struct blockbuf_counters n;
};

int blockbuf_pool_create(size_t block_size, size_t max_idle, struct blockbuf_pool **out)
{
	struct blockbuf_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->idle = calloc(max_idle ? max_idle : 1, sizeof(*p->idle));
	if (!p->idle) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->size = block_size;
	p->max_idle = max_idle;
	*out = p;
	return 0;
}

void blockbuf_pool_destroy(struct blockbuf_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nidle; i++)
		munmap(p->idle[i], p->size);
	pthread_mutex_destroy(&p->lock);
	free(p->idle);
	free(p);
}

size_t blockbuf_size(const struct blockbuf_pool *p)
{
	return p->size;
}

void *blockbuf_get(struct blockbuf_pool *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->nidle > 0) {
		void *buf = p->idle[--p->nidle];
		p->n.reuses++;
		pthread_mutex_unlock(&p->lock);
		return buf;
	}
	p->n.maps++;
	pthread_mutex_unlock(&p->lock);
	void *buf = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return buf == MAP_FAILED ? NULL : buf;
}

void blockbuf_put(struct blockbuf_pool *p, void *buf)
{
	if (!buf)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nidle < p->max_idle) {
		p->idle[p->nidle++] = buf;
		buf = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (buf)
		munmap(buf, p->size);
}

void blockbuf_counters(struct blockbuf_pool *p, struct blockbuf_counters *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->n;
	out->idle = p->nidle;
	pthread_mutex_unlock(&p->lock);
}
