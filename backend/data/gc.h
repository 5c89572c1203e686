/*
 * gc.h - background work on committed data: compaction of chunks with many
 * records, and the delayed delete of dead slices' block objects.
 */
#ifndef GATEFS_GC_H
#define GATEFS_GC_H

#include <stdint.h>

#include "gfs_types.h"

struct gfs_vfs;
struct gc;

int gc_start(struct gfs_vfs *vfs, struct gc **out);
void gc_stop(struct gc *g);

/* Asks the gc thread to compact a chunk soon (deduplicated, best effort). */
void gc_schedule_compact(struct gc *g, gfs_ino_t ino, uint32_t chunk);

/* Rewrites a chunk's current view as one slice (0, or -EAGAIN if the chunk
 * changed meanwhile; the new objects are then deleted again). */
int gc_compact_chunk(struct gfs_vfs *vfs, gfs_ino_t ino, uint32_t chunk);
/* Deletes block objects of slices dead for at least delay_sec; returns the
 * number of slices reclaimed or <0. */
int gc_delete_dead(struct gfs_vfs *vfs, int64_t delay_sec);

#endif
