/*
 * object_driver.h - private to the object layer: what object.c (URL parsing,
 * dispatch, probe) and the drivers (object_file.c, object_s3.c) share.
 * Nothing outside backend/object/ includes this.
 *
 * The layer is a driver table, like the kernel's file_operations: object.c
 * picks a driver by URL scheme and calls its open function; the driver
 * returns a store whose ops table (object.h) every later call goes through.
 * Calls run one way only: object.c -> drivers -> object_cause.c and
 * sigv4.c.  A driver never calls object.c.
 */
#ifndef GATEFS_OBJECT_DRIVER_H
#define GATEFS_OBJECT_DRIVER_H

#include "object.h"

#include <stdint.h>

#define OBJECT_DEFAULT_RETRY_MS 30000u

/* Everything an s3:// or http(s):// URL says, resolved against defaults. */
struct object_s3_config {
	char endpoint[256]; /* "http://127.0.0.1:7480": scheme, host, optional port; no path */
	char bucket[128];
	char prefix[512]; /* "" or ends with '/' */
	char region[64];
	int path_style;	     /* 1: http://host/bucket/key, 0: http://bucket.host/key */
	uint32_t retry_ms;   /* total retry budget per operation */
	uint32_t list_page;  /* max-keys per ListObjectsV2 page; 0: server default */
	uint32_t stall_ms;   /* a transfer under 1 KiB/s this long fails (and is retried); >= 1 s */
	uint32_t attempt_ms; /* one attempt longer than this fails (and is retried); 0: 60 s */
};

int object_file_open(const char *dir, struct object_store **out, char *err, size_t errlen);
int object_s3_open(const struct object_s3_config *cfg, const struct object_credentials *cred, struct object_store **out,
		   char *err, size_t errlen);

/*
 * object_cause.c: the cause of the last failure on this thread, in words ("access denied
 * (SignatureDoesNotMatch)", "connection refused"), so object_store_probe can
 * explain a failure without the interface carrying error strings.
 */
void object_set_cause(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *object_last_cause(void);

/* object_metrics.c: wraps a just-opened store so that every call is counted
 * (on -ENOMEM the store is closed and *st set to NULL); the s3 driver
 * reports each retried attempt of an operation ("put", "get", ...). */
int object_metered(struct object_store **st);
void object_metrics_retry(const char *op);

#endif
