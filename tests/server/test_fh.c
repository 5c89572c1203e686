/*
 * test_fh.c - file handles: round trip, and every way a handle can be
 * malformed (-EBADMSG) or forged or foreign (-ESTALE).
 */
#include <errno.h>
#include <string.h>

#include "fh.h"
#include "testlib.h"

static struct gfs_volume_info volume(uint64_t id, uint8_t key_byte)
{
	struct gfs_volume_info v;

	memset(&v, 0, sizeof(v));
	v.volume_id = id;
	memset(v.secret, key_byte, sizeof(v.secret));
	return v;
}

TEST(fh_round_trip)
{
	struct gfs_volume_info v = volume(0x1122334455667788ull, 7);
	struct fh fh;
	uint32_t export_id = 0;
	struct gfs_ref ref = {0, 0};

	fh_encode(&v, 0xabcdef01u, (struct gfs_ref){0x0102030405060708ull, 42}, &fh);
	CHECK(fh.len > 0 && fh.len <= FH_MAX_SIZE);
	REQUIRE_EQ(fh_decode(&v, fh.data, fh.len, &export_id, &ref), 0);
	CHECK_EQ(export_id, 0xabcdef01u);
	CHECK_EQ(ref.ino, 0x0102030405060708ull);
	CHECK_EQ(ref.gen, 42);
}

TEST(fh_same_on_every_gateway)
{
	struct gfs_volume_info a = volume(99, 3), b = volume(99, 3);
	struct fh x, y;

	fh_encode(&a, 5, (struct gfs_ref){1234, 1}, &x);
	fh_encode(&b, 5, (struct gfs_ref){1234, 1}, &y);
	CHECK_EQ(x.len, y.len);
	CHECK(memcmp(x.data, y.data, x.len) == 0);
}

TEST(fh_every_flipped_byte_is_stale_or_malformed)
{
	struct gfs_volume_info v = volume(77, 9);
	struct fh fh;
	uint32_t export_id;
	struct gfs_ref ref;

	fh_encode(&v, 1, (struct gfs_ref){500, 2}, &fh);
	for (uint32_t i = 0; i < fh.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct fh bad = fh;
			bad.data[i] ^= (uint8_t)(1u << bit);
			int rc = fh_decode(&v, bad.data, bad.len, &export_id, &ref);
			if (i < 4)
				CHECK_EQ(rc, -EBADMSG); /* version and reserved bytes */
			else
				CHECK_EQ(rc, -ESTALE);
		}
	}
}

TEST(fh_truncated_or_padded_is_malformed)
{
	struct gfs_volume_info v = volume(77, 9);
	struct fh fh;
	uint32_t export_id;
	struct gfs_ref ref;
	uint8_t longer[FH_MAX_SIZE + 8] = {0};

	fh_encode(&v, 1, (struct gfs_ref){500, 2}, &fh);
	for (uint32_t len = 0; len < fh.len; len++)
		CHECK_EQ(fh_decode(&v, fh.data, len, &export_id, &ref), -EBADMSG);
	memcpy(longer, fh.data, fh.len);
	CHECK_EQ(fh_decode(&v, longer, fh.len + 4, &export_id, &ref), -EBADMSG);
	CHECK_EQ(fh_decode(&v, longer, sizeof(longer), &export_id, &ref), -EBADMSG);
}

TEST(fh_foreign_volume_or_secret_is_stale)
{
	struct gfs_volume_info v = volume(77, 9), other_id = volume(78, 9), other_key = volume(77, 10);
	struct fh fh;
	uint32_t export_id;
	struct gfs_ref ref;

	fh_encode(&v, 1, (struct gfs_ref){500, 2}, &fh);
	CHECK_EQ(fh_decode(&other_id, fh.data, fh.len, &export_id, &ref), -ESTALE);
	CHECK_EQ(fh_decode(&other_key, fh.data, fh.len, &export_id, &ref), -ESTALE);
}

TEST_MAIN()
