/*
 * data_pool.h - a fixed pool of threads running queued jobs in FIFO order.
 * Object-store calls block, so uploads and prefetches run here instead of
 * on the caller's (NFS worker's) thread.
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
/* Runs every queued job, then joins the threads and frees the pool. */
void data_pool_destroy(struct data_pool *p);

#endif
