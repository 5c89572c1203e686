/*
 * writebuf.h - the write buffer: per-inode pending slices of this gateway,
 * their uploads, their commit to Redis in creation order, and the global
 * memory budget that makes writers wait while it is full.
 */
#ifndef GATEFS_WRITEBUF_H
#define GATEFS_WRITEBUF_H

#include <stddef.h>
#include <stdint.h>

#include "slice_view.h"
#include "gfs_types.h"

struct gfs_vfs;
struct writebuf;

int writebuf_create(struct gfs_vfs *vfs, uint64_t budget, struct writebuf **out);
/* Stops the flusher and commits everything it can (errors are logged).
 * Upload jobs may still be finishing: stop the upload pool before
 * writebuf_destroy, which frees what is left. */
void writebuf_shutdown(struct writebuf *wb);
void writebuf_destroy(struct writebuf *wb);

/* Buffers count bytes at offset; may wait for budget and may commit this
 * file's older data to make room.  Returns 0 or a negative errno. */
int writebuf_write(struct writebuf *wb, struct gfs_ref ref, uint64_t offset, const void *buf, size_t count);
/* Brackets one client write of [offset, offset+count) of ino, from before
 * its attributes are read to after writebuf_write returns.  A write that
 * overtook an earlier one (several in flight) waits for it to go in first,
 * so the file stays one slice; this is how it knows that one is coming.
 * Without memory for the bookkeeping the write just does not wait. */
struct writebuf_writer {
	void *file;
	int slot;
};
void writebuf_writer_enter(struct writebuf *wb, gfs_ino_t ino, uint64_t offset, size_t count,
			   struct writebuf_writer *w);
void writebuf_writer_leave(struct writebuf *wb, struct writebuf_writer *w);
/* Uploads and commits everything buffered for ino before the call. */
int writebuf_flush(struct writebuf *wb, gfs_ino_t ino);
/* Same for every file; returns the first error. */
int writebuf_flush_all(struct writebuf *wb);

/* If ino has buffered data: its end offset and last write time (returns 1). */
int writebuf_pending_attr(struct writebuf *wb, gfs_ino_t ino, uint64_t *end, struct gfs_time *mtime);

/* A consistent snapshot of one chunk's pending slices, oldest first, as view
 * sources (pending=1, opaque = the slice).  Must be released. */
struct pending_snap {
	struct writebuf *wb;
	void *file;
	size_t n;
	struct view_src *srcs;
};
int writebuf_snapshot(struct writebuf *wb, gfs_ino_t ino, uint32_t chunk, struct pending_snap *snap);
/* Copies bytes [slice_off, slice_off+len) of a snapshotted pending slice. */
void writebuf_copy(struct pending_snap *snap, const struct view_src *src, uint32_t slice_off, uint32_t len, void *dst);
void writebuf_snap_release(struct pending_snap *snap);

struct writebuf_counters {
	uint64_t budget, used, peak, waits;
};
void writebuf_counters(struct writebuf *wb, struct writebuf_counters *out);
void writebuf_reset_peak(struct writebuf *wb);

#endif
