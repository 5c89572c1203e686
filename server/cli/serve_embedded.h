/*
 * serve_embedded.h - the embedded default of "gatefs serve": with no
 * meta_url configured, a private redis-server runs under the data
 * directory (unix socket, AOF on, noeviction), objects go to
 * file://DATA/objects, and the volume is formatted on first start.
 */
#ifndef GATEFS_SERVE_EMBEDDED_H
#define GATEFS_SERVE_EMBEDDED_H

#include <stddef.h>
#include <sys/types.h>

struct embedded_redis {
	pid_t pid;
	char socket_path[108];
	char meta_url[160];
};

/* Starts redis-server as a child and waits until its socket accepts.
 * data_dir is absolute and locked by the caller (data_dir_lock; lock_fd is
 * handed down to redis-server so that it holds the lock as long as it runs). */
int embedded_redis_start(const char *data_dir, int lock_fd, struct embedded_redis *r, char *err, size_t errlen);
/* SIGTERM, then waits (redis writes its AOF before it exits). */
void embedded_redis_stop(struct embedded_redis *r);
/* Formats the volume at meta_url if it has never been formatted, with a
 * random uuid and secret and storage at file://DATA/objects, after checking
 * that the object store works.  An existing volume must keep its objects
 * in DATA/objects (data_dir_check_objects): -EXDEV otherwise. */
int embedded_volume_prepare(const char *meta_url, const char *data_dir, char *err, size_t errlen);

#endif
