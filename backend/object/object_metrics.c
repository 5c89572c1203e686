/*
 * object_metrics.c - the object layer's metrics (metrics.h): requests,
 * bytes, errors and latency per operation, and retries (counted by the s3
 * driver).  object_store_open wraps every driver's store in a metered
 * store that forwards each call and counts it, so drivers stay unaware of
 * metrics except for their retries.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "object_driver.h"

enum op { OP_PUT, OP_GET, OP_HEAD, OP_DELETE, OP_DELETE_MANY, OP_LIST, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"put", "get", "head", "delete", "delete_many", "list"};

static struct op_metrics {
	struct metric_counter requests, errors, retries, bytes;
	struct metric_histogram latency;
} ops[OP_COUNT];

static void register_all(void)
{
	char labels[64];

	for (int i = 0; i < OP_COUNT; i++) {
		snprintf(labels, sizeof(labels), "operation=\"%s\"", op_names[i]);
		metrics_register(METRIC_COUNTER, "gatefs_object_requests_total",
				 "Object store operations by kind (one per call, however many attempts).", labels,
				 &ops[i].requests);
		metrics_register(METRIC_COUNTER, "gatefs_object_errors_total",
				 "Object store operations that failed (a missing key on get or head is not counted).",
				 labels, &ops[i].errors);
		metrics_register(METRIC_COUNTER, "gatefs_object_retries_total",
				 "Attempts repeated after a retryable failure (S3 5xx, timeouts, resets).", labels,
				 &ops[i].retries);
		metrics_register(METRIC_HISTOGRAM, "gatefs_object_request_seconds",
				 "Latency of one object store operation, retries included.", labels, &ops[i].latency);
	}
	metrics_register(METRIC_COUNTER, "gatefs_object_bytes_total", "Bytes moved to or from the object store.",
			 "operation=\"put\"", &ops[OP_PUT].bytes);
	metrics_register(METRIC_COUNTER, "gatefs_object_bytes_total", "Bytes moved to or from the object store.",
			 "operation=\"get\"", &ops[OP_GET].bytes);
}

void object_metrics_retry(const char *op)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(op, op_names[i]) == 0 || (i == OP_DELETE_MANY && strcmp(op, "delete-objects") == 0)) {
			metric_inc(&ops[i].retries);
			return;
		}
}

static void done(enum op op, uint64_t started, int rc, uint64_t bytes)
{
	metric_inc(&ops[op].requests);
	metric_observe_since(&ops[op].latency, started);
	if (rc < 0 && !(rc == -ENOENT && (op == OP_GET || op == OP_HEAD)))
		metric_inc(&ops[op].errors);
	if (rc == 0 && bytes)
		metric_add(&ops[op].bytes, bytes);
}

struct metered_store {
	struct object_store base;
	struct object_store *inner;
};

static struct object_store *inner_of(struct object_store *st)
{
	return ((struct metered_store *)st)->inner;
}

static int m_put(struct object_store *st, const char *key, const void *data, size_t len)
{
	uint64_t t = metric_now_ns();
	int rc = inner_of(st)->ops->put(inner_of(st), key, data, len);
	done(OP_PUT, t, rc, len);
	return rc;
}

static int m_get(struct object_store *st, const char *key, uint64_t offset, size_t len, void *buf, size_t *got)
{
	uint64_t t = metric_now_ns();
	int rc = inner_of(st)->ops->get(inner_of(st), key, offset, len, buf, got);
	done(OP_GET, t, rc, rc == 0 ? *got : 0);
	return rc;
}

static int m_head(struct object_store *st, const char *key, uint64_t *size)
{
	uint64_t t = metric_now_ns();
	int rc = inner_of(st)->ops->head(inner_of(st), key, size);
	done(OP_HEAD, t, rc, 0);
	return rc;
}

static int m_del(struct object_store *st, const char *key)
{
	uint64_t t = metric_now_ns();
	int rc = inner_of(st)->ops->del(inner_of(st), key);
	done(OP_DELETE, t, rc, 0);
	return rc;
}

static int m_del_many(struct object_store *st, const char *const *keys, size_t n, int *results)
{
	uint64_t t = metric_now_ns();
	int rc = inner_of(st)->ops->del_many(inner_of(st), keys, n, results);
	done(OP_DELETE_MANY, t, rc, 0);
	return rc;
}

static int m_list(struct object_store *st, const char *prefix, const char *start_after, object_list_cb cb, void *arg)
{
	uint64_t t = metric_now_ns();
	int rc = inner_of(st)->ops->list(inner_of(st), prefix, start_after, cb, arg);
	/* A positive value is the callback's own stop, not a failure. */
	done(OP_LIST, t, rc, 0);
	return rc;
}

static void m_destroy(struct object_store *st)
{
	object_store_close(inner_of(st));
	free(st);
}

/* One table per driver scheme, so that ops->scheme still names the driver. */
#define METERED_OPS(name, sch)                                                                                         \
	static const struct object_ops name = {                                                                        \
	    .scheme = sch,                                                                                             \
	    .put = m_put,                                                                                              \
	    .get = m_get,                                                                                              \
	    .head = m_head,                                                                                            \
	    .del = m_del,                                                                                              \
	    .del_many = m_del_many,                                                                                    \
	    .list = m_list,                                                                                            \
	    .destroy = m_destroy,                                                                                      \
	}
METERED_OPS(metered_s3, "s3");
METERED_OPS(metered_file, "file");

int object_metered(struct object_store **st)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_all);

	struct metered_store *m = calloc(1, sizeof(*m));
	if (!m) {
		object_store_close(*st);
		*st = NULL;
		return -ENOMEM;
	}
	m->inner = *st;
	m->base.ops = strcmp((*st)->ops->scheme, "s3") == 0 ? &metered_s3 : &metered_file;
	snprintf(m->base.description, sizeof(m->base.description), "%s", (*st)->description);
	*st = &m->base;
	return 0;
}
