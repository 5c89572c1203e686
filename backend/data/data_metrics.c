/*
 * data_metrics.c - registration of the data layer's metrics (data_metrics.h).
 */
#include "data_metrics.h"

#include <pthread.h>

struct data_metrics data_metrics;

static void register_all(void)
{
	struct data_metrics *d = &data_metrics;

	metrics_register(METRIC_COUNTER, "gatefs_block_cache_hits_total",
			 "Block reads answered from the memory block cache.", "", &d->cache_hits);
	metrics_register(METRIC_COUNTER, "gatefs_block_cache_misses_total",
			 "Block reads that had to fetch the block (disk tier or object store).", "", &d->cache_misses);
	metrics_register(METRIC_COUNTER, "gatefs_block_cache_shared_fetches_total",
			 "Block reads that waited for another reader's fetch of the same block.", "", &d->cache_waits);
	metrics_register(METRIC_GAUGE, "gatefs_block_cache_bytes", "Bytes held in the memory block cache.", "",
			 &d->cache_bytes);
	metrics_register(METRIC_GAUGE, "gatefs_write_buffer_bytes", "Write buffer bytes in use by buffered writes.", "",
			 &d->writebuf_bytes);
	metrics_register(METRIC_GAUGE, "gatefs_write_buffer_budget_bytes", "Write buffer budget (buffer_size).", "",
			 &d->writebuf_budget);
	metrics_register(METRIC_GAUGE, "gatefs_write_buffer_waiters", "Writers waiting for write buffer budget now.",
			 "", &d->writebuf_waiters);
	metrics_register(METRIC_COUNTER, "gatefs_write_buffer_waits_total",
			 "Times a writer had to wait for write buffer budget.", "", &d->writebuf_waits);
	metrics_register(METRIC_COUNTER, "gatefs_block_fetch_timeouts_total",
			 "Reads that stopped waiting for a block fetch and were answered retry-later (JUKEBOX).", "",
			 &d->fetch_timeouts);
	metrics_register(METRIC_COUNTER, "gatefs_delete_failed_keys_total",
			 "Object keys a delayed delete failed on (their slices are retried with backoff).", "",
			 &d->delete_failures);
}

void data_metrics_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_all);
}
