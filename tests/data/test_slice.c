/*
 * test_slice.c - unit tests of slice_view.c: newest-wins segment resolution
 * (checked against a byte-by-byte painter on random inputs), block math and
 * the object key layout.
 */
#include <errno.h>
#include <stdlib.h>

#include "meta.h"
#include "slice_view.h"
#include "testlib.h"

/* The data a segment list says each byte has, encoded as (src+1)<<32|slice
 * offset, 0 for zeros. */
static void render(const struct view_seg *segs, size_t n, uint32_t start, uint64_t *out)
{
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < segs[i].len; k++)
			out[segs[i].pos - start + k] =
			    segs[i].src < 0 ? 0 : ((uint64_t)(segs[i].src + 1) << 32) | (segs[i].slice_off + k);
}

/* The reference: paint every source, oldest first, byte by byte. */
static void paint_all(const struct view_src *srcs, size_t n, uint32_t start, uint32_t end, uint64_t *out)
{
	for (uint32_t p = start; p < end; p++)
		out[p - start] = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < srcs[i].len; k++) {
			uint32_t p = srcs[i].pos + k;
			if (p < start || p >= end)
				continue;
			out[p - start] =
			    srcs[i].id == 0 && !srcs[i].pending ? 0 : ((uint64_t)(i + 1) << 32) | (srcs[i].off + k);
		}
}

TEST(empty_chunk_is_one_hole)
{
	struct view_seg *segs;
	size_t n;
	REQUIRE_EQ(slice_view(NULL, 0, 10, 100, &segs, &n), 0);
	REQUIRE_EQ(n, 1);
	CHECK_EQ(segs[0].pos, 10);
	CHECK_EQ(segs[0].len, 90);
	CHECK_EQ(segs[0].src, -1);
	free(segs);
}

TEST(newest_wins_over_older)
{
	struct view_src s[] = {
	    {.pos = 0, .len = 100, .off = 0, .id = 7, .size = 100},
	    {.pos = 20, .len = 10, .off = 5, .id = 8, .size = 15},
	    {.pos = 50, .len = 10, .off = 0, .id = 0, .size = 0}, /* truncate's zeros */
	    {.pos = 25, .len = 30, .off = 0, .id = 9, .size = 30, .pending = 1},
	};
	struct view_seg *segs;
	size_t n;
	REQUIRE_EQ(slice_view(s, 4, 0, 120, &segs, &n), 0);
	/* expected: [0,20) s0, [20,25) s1 off 5, [25,55) s3, [55,60) zero, [60,100) s0 off 60, [100,120) hole */
	struct view_seg want[] = {{0, 20, 0, 0},  {20, 5, 1, 5},   {25, 30, 3, 0},
				  {55, 5, -1, 0}, {60, 40, 0, 60}, {100, 20, -1, 0}};
	REQUIRE_EQ(n, 6);
	for (size_t i = 0; i < 6; i++) {
		CHECK_EQ(segs[i].pos, want[i].pos);
		CHECK_EQ(segs[i].len, want[i].len);
		CHECK_EQ(segs[i].src, want[i].src);
		if (want[i].src >= 0)
			CHECK_EQ(segs[i].slice_off, want[i].slice_off);
	}
	free(segs);
}

TEST(random_views_match_byte_painter)
{
	uint64_t rng = 12345;
	enum { SPAN = 512 };
	uint64_t got[SPAN], want[SPAN];
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = tl_rand(&rng) % 12;
		struct view_src s[12];
		for (size_t i = 0; i < n; i++) {
			uint32_t pos = (uint32_t)(tl_rand(&rng) % SPAN);
			uint32_t len = (uint32_t)(tl_rand(&rng) % (SPAN - pos + 1));
			uint32_t off = (uint32_t)(tl_rand(&rng) % 64);
			s[i] = (struct view_src){.pos = pos,
						 .len = len,
						 .off = off,
						 .id = tl_rand(&rng) % 4,
						 .size = off + len,
						 .pending = (int)(tl_rand(&rng) % 3 == 0)};
		}
		uint32_t a = (uint32_t)(tl_rand(&rng) % SPAN), b = (uint32_t)(tl_rand(&rng) % SPAN);
		uint32_t start = a < b ? a : b, end = a < b ? b : a;
		struct view_seg *segs;
		size_t nseg;
		REQUIRE_EQ(slice_view(s, n, start, end, &segs, &nseg), 0);
		/* contiguous, sorted, exact cover */
		uint32_t at = start;
		for (size_t i = 0; i < nseg; i++) {
			REQUIRE_EQ(segs[i].pos, at);
			REQUIRE(segs[i].len > 0);
			at += segs[i].len;
		}
		REQUIRE_EQ(at, end);
		render(segs, nseg, start, got);
		paint_all(s, n, start, end, want);
		for (uint32_t p = 0; p < end - start; p++)
			if (got[p] != want[p]) {
				tl_fail(__FILE__, __LINE__, "iter %d byte %u: got %llx want %llx", iter, start + p,
					(unsigned long long)got[p], (unsigned long long)want[p]);
				free(segs);
				return;
			}
		free(segs);
	}
}

TEST(bad_range_is_einval)
{
	struct view_seg *segs;
	size_t n;
	CHECK_EQ(slice_view(NULL, 0, 10, 5, &segs, &n), -EINVAL);
}

TEST(block_math)
{
	uint32_t bs = 4u << 20;
	CHECK_EQ(slice_nblocks(0, bs), 0);
	CHECK_EQ(slice_nblocks(1, bs), 1);
	CHECK_EQ(slice_nblocks(bs, bs), 1);
	CHECK_EQ(slice_nblocks(bs + 1, bs), 2);
	CHECK_EQ(slice_nblocks(64u << 20, bs), 16);
	CHECK_EQ(slice_block_len(bs + 10, bs, 0), bs);
	CHECK_EQ(slice_block_len(bs + 10, bs, 1), 10);
	CHECK_EQ(slice_block_len(bs + 10, bs, 2), 0);
	uint32_t first, last;
	slice_blocks_touched(0, 1, bs, &first, &last);
	CHECK_EQ(first, 0);
	CHECK_EQ(last, 0);
	slice_blocks_touched(bs - 1, 2, bs, &first, &last);
	CHECK_EQ(first, 0);
	CHECK_EQ(last, 1);
	slice_blocks_touched(bs, bs, bs, &first, &last);
	CHECK_EQ(first, 1);
	CHECK_EQ(last, 1);
	slice_blocks_touched(3 * bs + 5, 64u << 20, bs, &first, &last);
	CHECK_EQ(first, 3);
	CHECK_EQ(last, 19);
}

TEST(block_key_layout)
{
	char key[256];
	int n = slice_block_key(key, sizeof(key), "0b4f0c4e-8a35-4c3a-9c51-2d1f3b2a1e00", 123456789, 3, 65536);
	CHECK(n > 0);
	CHECK_STR(key, "0b4f0c4e-8a35-4c3a-9c51-2d1f3b2a1e00/chunks/123/123456/123456789_3_65536");
	/* A tagged id: directories by its counter, the name by the whole id. */
	uint64_t id = meta_slice_id_make(0x7abcde, 123456789);
	CHECK_EQ(meta_slice_counter(id), 123456789);
	CHECK_EQ(meta_slice_counter(123456789), 123456789);
	CHECK(id != meta_slice_id_make(0x7abcdf, 123456789));
	n = slice_block_key(key, sizeof(key), "u", id, 0, 10);
	CHECK(n > 0);
	char want[128];
	snprintf(want, sizeof(want), "u/chunks/123/123456/%llu_0_10", (unsigned long long)id);
	CHECK_STR(key, want);
	char small[16];
	CHECK_EQ(slice_block_key(small, sizeof(small), "u", 1, 0, 1), -ENAMETOOLONG);
}

TEST_MAIN()
