/*
 * data_metrics.h - the data layer's metrics (metrics.h): block cache hits,
 * misses and bytes held, and the write buffer's bytes in use, budget and
 * waiting writers.  Process-wide sums over every open volume; updated by
 * cache.c and writebuf.c, registered by data_metrics_register.
 */
#ifndef GATEFS_DATA_METRICS_H
#define GATEFS_DATA_METRICS_H

#include "metrics.h"

struct data_metrics {
	struct metric_counter cache_hits;   /* block found ready in memory */
	struct metric_counter cache_misses; /* block fetched (from disk tier or store) */
	struct metric_counter cache_waits;  /* joined another reader's fetch */
	struct metric_gauge cache_bytes;    /* memory tier, now */
	struct metric_gauge writebuf_bytes; /* budget reserved by buffered writes, now */
	struct metric_gauge writebuf_budget;
	struct metric_gauge writebuf_waiters;  /* writers waiting for budget, now */
	struct metric_counter writebuf_waits;  /* times a writer had to wait */
	struct metric_counter fetch_timeouts;  /* reads that stopped waiting for a block (JUKEBOX) */
	struct metric_counter delete_failures; /* object keys a delayed delete failed on */
};

extern struct data_metrics data_metrics;

/* Registers the series above (once per process; later calls do nothing). */
void data_metrics_register(void);

#endif
