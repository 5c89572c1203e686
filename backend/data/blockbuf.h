/*
 * blockbuf.h - a bounded pool of block-sized buffers shared by the write
 * buffer (pending blocks) and the block cache (loaded blocks).  A buffer
 * freed by one is handed to the next user with its pages still mapped, so
 * streaming data does not pay an mmap, a munmap and a page fault per 4 KiB
 * for every block; at most `max_idle` buffers wait in the pool, the rest go
 * back to the kernel, so idle memory stays bounded.
 */
#ifndef GATEFS_BLOCKBUF_H
#define GATEFS_BLOCKBUF_H

#include <stddef.h>
#include <stdint.h>

struct blockbuf_pool;

struct blockbuf_counters {
	uint64_t maps;	 /* buffers taken from the kernel */
	uint64_t reuses; /* buffers handed out again from the pool */
	uint64_t idle;	 /* buffers waiting in the pool now */
};

int blockbuf_pool_create(size_t block_size, size_t max_idle, struct blockbuf_pool **out);
/* Frees the idle buffers; every buffer must have been put back. */
void blockbuf_pool_destroy(struct blockbuf_pool *p);

size_t blockbuf_size(const struct blockbuf_pool *p);
/* A buffer of blockbuf_size() bytes (contents undefined), or NULL. */
void *blockbuf_get(struct blockbuf_pool *p);
/* Returns a buffer from blockbuf_get; NULL is ignored. */
void blockbuf_put(struct blockbuf_pool *p, void *buf);

void blockbuf_counters(struct blockbuf_pool *p, struct blockbuf_counters *out);

#endif
