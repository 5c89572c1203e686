/*
 * object.h - the object-store interface.  A store holds immutable blobs by
 * key; it knows nothing of inodes, slices or chunks.  Each driver lives in
 * its own file (object_file.c, object_s3.c) and fills a struct object_ops.
 *
 * Return values: 0 on success or a negative errno:
 *   -ENOENT  the key does not exist
 *   -EACCES  the store refused our credentials (S3 403)
 *   -EIO     the store failed or stayed unreachable past the retry budget;
 *            the driver has logged the endpoint, key and last cause
 *   -EINVAL  bad arguments or URL
 * Every function is thread-safe.
 */
#ifndef GATEFS_OBJECT_H
#define GATEFS_OBJECT_H

#include <stddef.h>
#include <stdint.h>

struct object_store;

struct object_info {
	const char *key; /* relative to the store's prefix; valid during the callback */
	uint64_t size;
	int64_t mtime_sec; /* last modified, seconds since the epoch; 0 if the store did not say */
};

/* Return 0 to continue listing, non-zero to stop (that value is returned). */
typedef int (*object_list_cb)(void *arg, const struct object_info *info);

struct object_ops {
	const char *scheme; /* "s3", "file" */
	int (*put)(struct object_store *st, const char *key, const void *data, size_t len);
	/* Reads up to len bytes from offset into buf; *got is how many were
	 * read (short only at the end of the object). */
	int (*get)(struct object_store *st, const char *key, uint64_t offset, size_t len, void *buf, size_t *got);
	int (*head)(struct object_store *st, const char *key, uint64_t *size);
	/* Deleting a missing key succeeds. */
	int (*del)(struct object_store *st, const char *key);
	int (*del_many)(struct object_store *st, const char *const *keys, size_t n);
	/* Lists keys under prefix in lexical order, after start_after if given. */
	int (*list)(struct object_store *st, const char *prefix, const char *start_after, object_list_cb cb, void *arg);
	void (*destroy)(struct object_store *st);
};

struct object_store {
	const struct object_ops *ops;
	char description[256]; /* URL without secrets, for logs */
};

struct object_credentials {
	const char *access_key;	   /* NULL: AWS_ACCESS_KEY_ID */
	const char *secret_key;	   /* NULL: AWS_SECRET_ACCESS_KEY */
	const char *session_token; /* NULL: AWS_SESSION_TOKEN (optional) */
	const char *region;	   /* NULL: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
	uint32_t max_retry_ms;	   /* total retry budget; 0 = default (30 s) */
};

/*
 * URLs:
 *   file:///abs/dir
 *   s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:7480&path_style=1
 *   http(s)://HOST:PORT/BUCKET/PREFIX  (path-style on that endpoint)
 * On failure writes a human-readable reason into err.
 */
int object_store_open(const char *url, const struct object_credentials *cred, struct object_store **out, char *err,
		      size_t errlen);

static inline void object_store_close(struct object_store *st)
{
	if (st)
		st->ops->destroy(st);
}

/* Writes, reads back and deletes a probe object; explains failures in err. */
int object_store_probe(struct object_store *st, char *err, size_t errlen);

#endif
