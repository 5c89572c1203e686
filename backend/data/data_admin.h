/*
 * data_admin.h - the data layer's part of volume administration, for
 * backend/vfs/vfs_admin.c: checking that every block object the metadata
 * references exists with its size (fsck --objects), and finding the
 * objects that no slice references (gc).  Both work on a volume that no
 * data layer of this process has open: they take the engine and the store
 * directly, and report each finding as a line through a callback.
 */
#ifndef GATEFS_DATA_ADMIN_H
#define GATEFS_DATA_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "gfs_types.h"
#include "meta.h"
#include "object.h"

typedef void (*data_report_fn)(void *arg, const char *line);

/* Heads every block of every live slice.  Counts slices and problems
 * (missing or wrong-sized blocks, each reported); <0 if the check could
 * not finish (a block unreadable for another reason is reported too). */
int data_check_objects(struct meta *m, struct object_store *store, const struct gfs_volume_settings *s,
		       data_report_fn report, void *arg, uint64_t *slices, uint64_t *problems);

struct data_leak_sweep {
	bool delete;	     /* delete what is found, else only report it */
	int64_t min_age_sec; /* an object younger than this is never taken */
	/* results */
	uint64_t objects, leaked, leaked_bytes, deleted, too_new;
};

/* Lists the volume's block objects and reports ("leaked: KEY (N bytes)")
 * each one that provably belongs to no slice that may still be committed:
 * its slice counter was handed out before the scan began, no live or
 * queued-for-delete slice references it, and it is older than the minimum
 * age (an object whose age the store does not give is never old enough).
 * So a sweep is safe while gateways write, compact and delete. */
int data_sweep_leaks(struct meta *m, struct object_store *store, const struct gfs_volume_settings *s,
		     struct data_leak_sweep *sweep, data_report_fn report, void *arg);

#endif
