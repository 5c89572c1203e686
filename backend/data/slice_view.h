/*
 * slice_view.h - pure logic of the chunk format: which source supplies each
 * byte of a range of one chunk (newest wins), and block arithmetic of a
 * slice.  No I/O, no locks; unit-tested in tests/data/test_slice.c.
 */
#ifndef GATEFS_SLICE_VIEW_H
#define GATEFS_SLICE_VIEW_H

#include <stddef.h>
#include <stdint.h>

/* One source of bytes for a chunk, in the order they were written (oldest
 * first): the committed records of meta_read_chunk, then this gateway's
 * pending slices.  A committed record with id 0 reads as zeros. */
struct view_src {
	uint32_t pos;  /* offset in the chunk */
	uint32_t len;  /* bytes covered */
	uint32_t off;  /* offset of pos's data within the slice */
	uint64_t id;   /* slice id; 0 = zeros */
	uint32_t size; /* full size of the slice */
	int pending;   /* non-zero: a buffered slice of this gateway */
	void *opaque;  /* caller's pointer for pending sources */
};

/* A piece of the requested range: either zeros (src < 0) or bytes
 * [slice_off, slice_off+len) of srcs[src]'s slice. */
struct view_seg {
	uint32_t pos; /* offset in the chunk */
	uint32_t len;
	int src;	    /* index into srcs, or -1 for zeros */
	uint32_t slice_off; /* offset within the slice (not the record) */
};

/* Computes the segments covering [start, end) of a chunk, sorted by pos,
 * contiguous and together exactly covering the range.  Zero records
 * (id 0, not pending) come out as src -1.  *out is malloc'd (caller
 * frees); returns 0 or -ENOMEM/-EINVAL. */
int slice_view(const struct view_src *srcs, size_t nsrcs, uint32_t start, uint32_t end, struct view_seg **out,
	       size_t *nout);

/* Block arithmetic of a slice of `size` bytes split into blocks of
 * block_size: how many blocks, and the length of block i. */
static inline uint32_t slice_nblocks(uint32_t size, uint32_t block_size)
{
	return (uint32_t)(((uint64_t)size + block_size - 1) / block_size);
}

static inline uint32_t slice_block_len(uint32_t size, uint32_t block_size, uint32_t i)
{
	uint64_t start = (uint64_t)i * block_size;
	if (start >= size)
		return 0;
	uint64_t left = size - start;
	return left < block_size ? (uint32_t)left : block_size;
}

/* The blocks [*first, *last] that bytes [off, off+len) of a slice touch;
 * len must be > 0. */
static inline void slice_blocks_touched(uint32_t off, uint32_t len, uint32_t block_size, uint32_t *first,
					uint32_t *last)
{
	*first = off / block_size;
	*last = (uint32_t)(((uint64_t)off + len - 1) / block_size);
}

/* Object key of block idx (of length blen) of slice id:
 * "<uuid>/chunks/<id/1000000>/<id/1000>/<id>_<idx>_<blen>".  Returns the
 * length written, or -ENAMETOOLONG if it does not fit. */
int slice_block_key(char *buf, size_t buflen, const char *uuid, uint64_t id, uint32_t idx, uint32_t blen);

#endif
