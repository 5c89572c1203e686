/*
 * metrics.h - process-wide counters, gauges and latency histograms that
 * each layer owns and updates with relaxed atomic adds, and a registry
 * that renders them in the Prometheus text format (version 0.0.4).
 *
 * A layer declares its metrics as static structs, registers each series
 * once (name, help, labels) and bumps them on its hot paths; nothing is
 * allocated or locked there.  The HTTP exporter lives in server/ and only
 * calls metrics_render.  Names follow Prometheus conventions: a gatefs_
 * prefix, _total for counters, _seconds and _bytes in base units.
 */
#ifndef GATEFS_METRICS_H
#define GATEFS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct metric_counter {
	atomic_uint_fast64_t value;
};

struct metric_gauge {
	atomic_int_fast64_t value;
};

/* Upper bounds of the latency buckets, in nanoseconds (25 us .. 10 s); a
 * last bucket takes the rest (+Inf). */
#define METRIC_BUCKETS 17
extern const uint64_t metric_bucket_bounds_ns[METRIC_BUCKETS];

struct metric_histogram {
	atomic_uint_fast64_t bucket[METRIC_BUCKETS + 1]; /* not cumulative; the renderer sums */
	atomic_uint_fast64_t sum_ns;
};

static inline void metric_add(struct metric_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

static inline void metric_inc(struct metric_counter *c)
{
	metric_add(c, 1);
}

static inline void metric_gauge_add(struct metric_gauge *g, int64_t delta)
{
	atomic_fetch_add_explicit(&g->value, delta, memory_order_relaxed);
}

static inline void metric_gauge_set(struct metric_gauge *g, int64_t v)
{
	atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

/* A monotonic timestamp for metric_observe_since. */
static inline uint64_t metric_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void metric_observe_ns(struct metric_histogram *h, uint64_t ns)
{
	unsigned i = 0;
	while (i < METRIC_BUCKETS && ns > metric_bucket_bounds_ns[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static inline void metric_observe_since(struct metric_histogram *h, uint64_t start_ns)
{
	metric_observe_ns(h, metric_now_ns() - start_ns);
}

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/*
 * Adds one series to the family `name` (created on first use with help and
 * type; a later registration under the same name must have the same type).
 * labels is "" or Prometheus label pairs without braces, such as
 * `operation="put"`; it is copied.  name and help must live as long as the
 * process (string literals).  Registering the same metric again is a
 * no-op, so a layer may register from every open.  Returns 0, -EINVAL for
 * a type clash, or -ENOMEM.
 */
int metrics_register(enum metric_type type, const char *name, const char *help, const char *labels, void *metric);

/* The current value of every registered series as Prometheus text
 * (malloc'ed, NUL-terminated, *len bytes); NULL if out of memory. */
char *metrics_render(size_t *len);

#endif
