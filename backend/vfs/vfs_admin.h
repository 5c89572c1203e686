/*
 * vfs_admin.h - the volume administration API, beside vfs.h: what the
 * admin commands (format, status, fsck, gc) and the embedded default need
 * of a volume that no gateway of this process serves.  It opens only the
 * metadata engine (and the object store when a call needs it), returns
 * errors as negative errnos with words in err, reports findings as lines
 * through a callback, and prints nothing.
 */
#ifndef GATEFS_VFS_ADMIN_H
#define GATEFS_VFS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gfs_types.h"

struct gfs_admin;

/* Opens the metadata engine at meta_url (checking that the Redis will not
 * evict metadata). */
int gfs_admin_open(const char *meta_url, struct gfs_admin **out, char *err, size_t errlen);
void gfs_admin_close(struct gfs_admin *a);

/* The volume's settings: 0, -ENOENT when there is no volume, else <0. */
int gfs_admin_settings(struct gfs_admin *a, struct gfs_volume_settings *s, char *err, size_t errlen);
int gfs_admin_usage(struct gfs_admin *a, struct gfs_volume_usage *u);

struct gfs_format_request {
	const char *name;
	const char *storage_url;
	uint32_t block_size; /* 0 = default */
	uint64_t capacity_bytes, capacity_inodes;
	/* Update the settings of an existing volume.  Never its uuid, secret
	 * or block size: refused when they cannot be read, and a new storage
	 * URL is refused unless that store already holds objects of the
	 * volume (a fresh identity would make every handle stale and every
	 * block unreadable). */
	bool force;
};
/* Probes the object store (write, read back, delete), then writes the
 * settings and the root directory in one script.  -EEXIST when a volume
 * exists and force is not set.  *out: the settings as stored. */
int gfs_admin_format(struct gfs_admin *a, const struct gfs_format_request *req, struct gfs_volume_settings *out,
		     char *err, size_t errlen);

typedef void (*gfs_report_fn)(void *arg, const char *line);
/* The namespace check: the number of problems (each reported), or <0 when
 * the check could not finish. */
int gfs_admin_fsck_namespace(struct gfs_admin *a, gfs_report_fn report, void *arg);
/* Every block object that metadata references exists with its size: 0
 * with the counts (each problem reported), or <0 (err) when the check
 * could not finish. */
int gfs_admin_fsck_objects(struct gfs_admin *a, gfs_report_fn report, void *arg, uint64_t *slices, uint64_t *problems,
			   char *err, size_t errlen);

struct gfs_gc_request {
	bool delete;
	int64_t min_age_sec;
	/* results */
	uint64_t objects, leaked, leaked_bytes, deleted, too_new;
};
/* Finds (and with delete, removes) the objects that no slice references;
 * safe while gateways run (backend/data/data_admin.h says why). */
int gfs_admin_gc(struct gfs_admin *a, struct gfs_gc_request *req, gfs_report_fn report, void *arg, char *err,
		 size_t errlen);

/* One round trip to the Redis at meta_url (a health check): 0 or <0 with
 * words in err.  Opens no engine and loads nothing. */
int gfs_admin_probe_meta(const char *meta_url, char *err, size_t errlen);

/* url with any password replaced by "***", for messages. */
void gfs_admin_redact_url(const char *url, char *out, size_t outlen);
/* A new random version-4 uuid. */
int gfs_admin_new_uuid(char out[37]);

#endif
