/*
 * metrics.c - the metric registry of metrics.h and its Prometheus text
 * renderer.  Registration and rendering share one mutex; the metrics
 * themselves are only ever touched with atomics, so updating never waits
 * for a scrape.
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint64_t metric_bucket_bounds_ns[METRIC_BUCKETS] = {
    25000,    50000,	100000,	   250000,    500000,	 1000000,    2500000,	 5000000,     10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 10000000000,
};

struct series {
	char *labels;
	void *metric;
	struct series *next;
};

struct family {
	const char *name, *help;
	enum metric_type type;
	struct series *first, *last;
	struct family *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct family *families, *last_family;

static struct family *find_family(const char *name)
{
	for (struct family *f = families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static int add_series(enum metric_type type, const char *name, const char *help, const char *labels, void *metric)
{
	struct family *f = find_family(name);
	if (f && f->type != type)
		return -EINVAL;
	if (f)
		for (struct series *s = f->first; s; s = s->next)
			if (s->metric == metric)
				return 0;
	struct series *s = calloc(1, sizeof(*s));
	if (!s || !(s->labels = strdup(labels ? labels : ""))) {
		free(s);
		return -ENOMEM;
	}
	s->metric = metric;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			free(s->labels);
			free(s);
			return -ENOMEM;
		}
		f->name = name;
		f->help = help;
		f->type = type;
		if (last_family)
			last_family->next = f;
		else
			families = f;
		last_family = f;
	}
	if (f->last)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	return 0;
}

int metrics_register(enum metric_type type, const char *name, const char *help, const char *labels, void *metric)
{
	pthread_mutex_lock(&registry_lock);
	int rc = add_series(type, name, help, labels, metric);
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

/* "{labels}" or "{labels,extra}" or "" */
static void print_labels(FILE *out, const char *labels, const char *extra)
{
	if (!labels[0] && !extra)
		return;
	fprintf(out, "{%s%s%s}", labels, labels[0] && extra ? "," : "", extra ? extra : "");
}

static void render_histogram(FILE *out, const struct family *f, const struct series *s)
{
	const struct metric_histogram *h = s->metric;
	uint64_t cumulative = 0;
	char le[48];

	for (unsigned i = 0; i <= METRIC_BUCKETS; i++) {
		cumulative += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		if (i < METRIC_BUCKETS)
			snprintf(le, sizeof(le), "le=\"%g\"", (double)metric_bucket_bounds_ns[i] / 1e9);
		else
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		fprintf(out, "%s_bucket", f->name);
		print_labels(out, s->labels, le);
		fprintf(out, " %" PRIu64 "\n", cumulative);
	}
	fprintf(out, "%s_sum", f->name);
	print_labels(out, s->labels, NULL);
	fprintf(out, " %.9f\n", (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
	fprintf(out, "%s_count", f->name);
	print_labels(out, s->labels, NULL);
	fprintf(out, " %" PRIu64 "\n", cumulative);
}

char *metrics_render(size_t *len)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	char *text = NULL;
	FILE *out = open_memstream(&text, len);
	if (!out)
		return NULL;

	pthread_mutex_lock(&registry_lock);
	for (const struct family *f = families; f; f = f->next) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_names[f->type]);
		for (const struct series *s = f->first; s; s = s->next) {
			if (f->type == METRIC_HISTOGRAM) {
				render_histogram(out, f, s);
				continue;
			}
			fputs(f->name, out);
			print_labels(out, s->labels, NULL);
			if (f->type == METRIC_COUNTER)
				fprintf(out, " %" PRIu64 "\n",
					(uint64_t)atomic_load_explicit(&((struct metric_counter *)s->metric)->value,
								       memory_order_relaxed));
			else
				fprintf(out, " %" PRId64 "\n",
					(int64_t)atomic_load_explicit(&((struct metric_gauge *)s->metric)->value,
								      memory_order_relaxed));
		}
	}
	pthread_mutex_unlock(&registry_lock);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
