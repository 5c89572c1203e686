/*
 * meta_metrics.h - the metadata engine's metrics (metrics.h): Redis round
 * trips with their latency and failures (meta_conn.c), and the attribute
 * cache's hits, misses and invalidations (meta_cache.c).  Process-wide,
 * registered by meta_open.
 */
#ifndef GATEFS_META_METRICS_H
#define GATEFS_META_METRICS_H

#include "metrics.h"

struct meta_metrics {
	struct metric_counter round_trips;
	struct metric_counter errors; /* connection lost or refused, or an error reply */
	struct metric_histogram latency;
	struct metric_counter cache_hits;
	struct metric_counter cache_misses;
	struct metric_counter cache_invalidations;
};

extern struct meta_metrics meta_metrics;

void meta_metrics_register(void);

/* One Redis command answered (or not: reply NULL) after started_ns. */
static inline void meta_metrics_round_trip(uint64_t started_ns, int failed)
{
	metric_inc(&meta_metrics.round_trips);
	metric_observe_since(&meta_metrics.latency, started_ns);
	if (failed)
		metric_inc(&meta_metrics.errors);
}

#endif
