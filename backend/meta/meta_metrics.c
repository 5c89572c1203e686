/*
 * meta_metrics.c - registration of the metadata engine's metrics
 * (meta_metrics.h).
 */
#include "meta_metrics.h"

#include <pthread.h>

struct meta_metrics meta_metrics;

static void register_all(void)
{
	struct meta_metrics *m = &meta_metrics;

	metrics_register(METRIC_COUNTER, "gatefs_redis_round_trips_total",
			 "Commands sent to Redis and answered or failed (a pipeline counts once).", "",
			 &m->round_trips);
	metrics_register(METRIC_COUNTER, "gatefs_redis_errors_total",
			 "Redis round trips that failed: connection lost or refused, or an error reply.", "",
			 &m->errors);
	metrics_register(METRIC_HISTOGRAM, "gatefs_redis_round_trip_seconds", "Latency of one Redis round trip.", "",
			 &m->latency);
	metrics_register(METRIC_COUNTER, "gatefs_attr_cache_hits_total",
			 "Attribute lookups answered from the attribute cache.", "", &m->cache_hits);
	metrics_register(METRIC_COUNTER, "gatefs_attr_cache_misses_total", "Attribute lookups that had to ask Redis.",
			 "", &m->cache_misses);
	metrics_register(METRIC_COUNTER, "gatefs_attr_cache_invalidations_total",
			 "Inode invalidations received from Redis (changes by any gateway).", "",
			 &m->cache_invalidations);
}

void meta_metrics_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_all);
}
