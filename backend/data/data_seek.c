/*
 * data_seek.c - where a file's data and holes are (lseek SEEK_DATA and
 * SEEK_HOLE, NFSv4.2 SEEK), read from its committed chunk records: a chunk
 * without a list is a hole, and so is whatever of a chunk only zero
 * records or no record at all cover.  The caller commits the file's
 * buffered writes first, so that only committed records need be read.
 */
#include <errno.h>
#include <stdlib.h>

#include "data.h"
#include "meta.h"
#include "slice_view.h"

/* In chunk idx, from byte pos of the chunk up to end (exclusive): the
 * first byte that is data (want_data) or a hole.  0 and *found, or
 * -ENOENT if none is. */
static int seek_in_chunk(struct gfs_vfs *vfs, gfs_ino_t ino, uint32_t idx, uint32_t pos, uint32_t end, int want_data,
			 uint32_t *found)
{
	struct meta_slice *recs = NULL;
	size_t nrec = 0;
	int rc = meta_read_chunk(vfs->meta, ino, idx, &recs, &nrec);
	if (rc < 0)
		return rc;
	struct view_src *srcs = calloc(nrec ? nrec : 1, sizeof(*srcs));
	struct view_seg *segs = NULL;
	size_t nseg = 0;
	if (!srcs) {
		free(recs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nrec; i++)
		srcs[i] = (struct view_src){
		    .pos = recs[i].pos, .len = recs[i].len, .off = recs[i].off, .id = recs[i].id, .size = recs[i].size};
	rc = slice_view(srcs, nrec, pos, end, &segs, &nseg);
	if (rc == 0) {
		rc = -ENOENT;
		for (size_t i = 0; i < nseg && rc == -ENOENT; i++) {
			if ((segs[i].src >= 0) == (want_data != 0)) {
				*found = segs[i].pos;
				rc = 0;
			}
		}
	}
	free(segs);
	free(srcs);
	free(recs);
	return rc;
}

int data_seek(struct gfs_vfs *vfs, gfs_ino_t ino, uint64_t size, uint64_t offset, int want_data, uint64_t *out)
{
	if (offset >= size)
		return -ENXIO;
	uint64_t pos = offset;
	while (pos < size) {
		uint32_t idx = (uint32_t)(pos / META_CHUNK_SIZE), next;
		int rc = meta_next_chunk(vfs->meta, ino, idx, &next);
		if (rc == -EOPNOTSUPP) {
			/* Chunks not indexed: taking all of the file as data is
			 * allowed, and never makes a copy skip data. */
			if (!want_data)
				break;
			*out = pos;
			return 0;
		}
		if (rc == -ENOENT)
			next = UINT32_MAX; /* no list from here on: a hole up to the end */
		else if (rc < 0)
			return rc;
		if (next > idx) {
			/* pos lies in a chunk without a list: a hole */
			if (!want_data) {
				*out = pos;
				return 0;
			}
			if (next == UINT32_MAX)
				break;
			pos = (uint64_t)next * META_CHUNK_SIZE;
			continue;
		}
		uint64_t base = (uint64_t)idx * META_CHUNK_SIZE;
		uint64_t stop = size - base < META_CHUNK_SIZE ? size - base : META_CHUNK_SIZE;
		uint32_t found;
		rc = seek_in_chunk(vfs, ino, idx, (uint32_t)(pos - base), (uint32_t)stop, want_data, &found);
		if (rc == 0) {
			*out = base + found;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		pos = base + META_CHUNK_SIZE;
	}
	if (want_data)
		return -ENXIO;
	*out = size; /* the hole every file has at its end */
	return 0;
}
