/*
 * data_pool.h - a fixed pool of threads running queued jobs in FIFO order,
 * urgent jobs first.  Object-store calls block, so uploads and fetches run
 * here instead of on the caller's (NFS worker's) thread: a reader waits
 * for its block with a time limit, and the fetch goes on without it.
 */
#ifndef GATEFS_DATA_POOL_H
#define GATEFS_DATA_POOL_H

#include <stddef.h>

struct data_pool;

typedef void (*data_job_fn)(void *arg);

int data_pool_create(const char *name, unsigned nthreads, struct data_pool **out);
/* Queues fn(arg); -ENOMEM or -ESHUTDOWN (pool stopping) if not queued, in
 * which case the caller still owns arg. */
int data_pool_submit(struct data_pool *p, data_job_fn fn, void *arg);
/* Queues fn(arg) ahead of every job queued by data_pool_submit_bounded or
 * data_pool_submit (a reader waiting never queues behind prefetches). */
int data_pool_submit_urgent(struct data_pool *p, data_job_fn fn, void *arg);
/* As data_pool_submit, but -EBUSY when max_queued jobs already wait. */
int data_pool_submit_bounded(struct data_pool *p, data_job_fn fn, void *arg, size_t max_queued);
/* Jobs queued and not yet started. */
size_t data_pool_queued(struct data_pool *p);
/* Runs every queued job, then joins the threads and frees the pool. */
void data_pool_destroy(struct data_pool *p);

#endif
