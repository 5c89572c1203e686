/*
 * test_clone.c - cloning ranges of files by sharing their slices
 * (gfs_clone: NFSv4.2 CLONE and COPY) on a real redis-server and file://
 * store: nothing is stored again, each file reads its own bytes after
 * either is overwritten, compacted, truncated or removed, the delayed
 * delete frees a shared slice only with its last reference, ranges move
 * across chunk boundaries byte-exact, and permissions and overlaps are
 * refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_fixture.h"
#include "meta.h"

#define KiB 1024ULL
#define MiB (1024ULL * KiB)

static int put(struct volume *v, struct gfs_ref f, uint64_t off, size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	tl_fill_random(buf, len, seed);
	int rc = gfs_write(v->vfs, &v->root, f, off, len, buf, GFS_FILE_SYNC, NULL, NULL);
	free(buf);
	return rc;
}

/* malloc'ed bytes [off, off+len) of f read through vfs, or NULL. */
static uint8_t *bytes_of(struct gfs_vfs *vfs, struct gfs_ref f, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	size_t n = 0;
	int eof = 0;
	struct gfs_cred root = {0};
	if (buf && (gfs_read(vfs, &root, f, off, len, buf, &n, &eof, NULL) != 0 || n != len)) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* 1 if [a_off, +len) of a on vfs equals [b_off, +len) of b. */
static int same(struct gfs_vfs *vfs, struct gfs_ref a, uint64_t a_off, struct gfs_ref b, uint64_t b_off, size_t len)
{
	uint8_t *x = bytes_of(vfs, a, a_off, len), *y = bytes_of(vfs, b, b_off, len);
	int ok = x && y && memcmp(x, y, len) == 0;
	free(x);
	free(y);
	return ok;
}

static long sliceref_entries(struct volume *v)
{
	return tl_redis_int(&v->redis, "HLEN 'gatefs{gfs}:sliceref'");
}

TEST(clone_shares_slices_until_the_last_reference_goes)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 256 * KiB, NULL, 0), 0);
	struct gfs_ref src, dst, keep;
	REQUIRE_EQ(volume_create_file(&v, "src", &src), 0);
	REQUIRE_EQ(volume_create_file(&v, "dst", &dst), 0);
	REQUIRE_EQ(volume_create_file(&v, "keep", &keep), 0);
	REQUIRE_EQ(put(&v, src, 0, 3 * MiB, 1), 0);
	REQUIRE_EQ(put(&v, src, 100 * MiB, 100 * KiB, 2), 0);
	uint8_t *orig = bytes_of(v.vfs, src, 0, 3 * MiB);
	REQUIRE(orig != NULL);
	long objects = volume_count_objects(&v);
	CHECK_EQ(tl_redis_int(&v.redis, "HGET 'gatefs{gfs}:setting' version"), 1);

	uint64_t copied = 0;
	struct gfs_wcc wcc = {0};
	REQUIRE_EQ(gfs_clone(v.vfs, &v.root, src, dst, 0, 0, 0, &copied, &wcc), 0);
	CHECK_EQ(copied, 100 * MiB + 100 * KiB);
	CHECK_EQ(wcc.post.size, 100 * MiB + 100 * KiB);
	CHECK_EQ(volume_count_objects(&v), objects); /* nothing stored again */
	CHECK(sliceref_entries(&v) >= 2);
	CHECK_EQ(tl_redis_int(&v.redis, "HGET 'gatefs{gfs}:setting' version"), 2); /* older gatefs must refuse it */
	CHECK(same(v.vfs, src, 0, dst, 0, 3 * MiB));
	CHECK(same(v.vfs, src, 100 * MiB, dst, 100 * MiB, 100 * KiB));
	/* a part of it into a third file, which outlives both */
	REQUIRE_EQ(gfs_clone(v.vfs, &v.root, src, keep, 1 * MiB, 0, 1 * MiB, &copied, NULL), 0);
	CHECK_EQ(copied, 1 * MiB);

	/* fsck agrees with the counts, and notices one gone */
	CHECK_EQ(meta_fsck(v.vfs->meta, NULL, NULL), 0);
	REQUIRE_EQ(tl_redis_cmd(&v.redis, "HSET 'gatefs{gfs}:sliceref' probeprobe12 1"), 0); /* held by none */
	CHECK(meta_fsck(v.vfs->meta, NULL, NULL) > 0);
	REQUIRE_EQ(tl_redis_cmd(&v.redis, "HDEL 'gatefs{gfs}:sliceref' probeprobe12"), 0);
	REQUIRE_EQ(tl_redis_cmd(&v.redis, "RENAME 'gatefs{gfs}:sliceref' 'gatefs{gfs}:saved'"), 0); /* counts lost */
	CHECK(meta_fsck(v.vfs->meta, NULL, NULL) > 0);
	REQUIRE_EQ(tl_redis_cmd(&v.redis, "RENAME 'gatefs{gfs}:saved' 'gatefs{gfs}:sliceref'"), 0);
	CHECK_EQ(meta_fsck(v.vfs->meta, NULL, NULL), 0);

	/* overwriting either leaves the other alone */
	REQUIRE_EQ(put(&v, src, 0, 64 * KiB, 3), 0);
	REQUIRE_EQ(put(&v, dst, 2 * MiB, 64 * KiB, 4), 0);
	uint8_t *d = bytes_of(v.vfs, dst, 0, 3 * MiB), *s = bytes_of(v.vfs, src, 0, 3 * MiB);
	REQUIRE(d && s);
	CHECK(memcmp(d, orig, 2 * MiB) == 0);
	CHECK(memcmp(s + 64 * KiB, orig + 64 * KiB, 3 * MiB - 64 * KiB) == 0);
	free(d);
	free(s);

	/* removing the source: the delayed delete keeps what dst and keep hold */
	REQUIRE_EQ(gfs_remove(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, "src", NULL), 0);
	CHECK_EQ(gfs_data_gc_run(v.vfs, 0) >= 0, 1);
	REQUIRE_EQ(volume_reopen(&v), 0); /* no cache: from the store */
	d = bytes_of(v.vfs, dst, 0, 2 * MiB);
	CHECK(d && memcmp(d, orig, 2 * MiB) == 0);
	free(d);
	uint8_t *k = bytes_of(v.vfs, keep, 0, 1 * MiB);
	CHECK(k && memcmp(k, orig + 1 * MiB, 1 * MiB) == 0);
	free(k);

	/* truncating dst to nothing, then removing it: keep still reads */
	struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 0};
	REQUIRE_EQ(gfs_setattr(v.vfs, &v.root, dst, &sa, NULL, NULL), 0);
	REQUIRE_EQ(gfs_remove(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, "dst", NULL), 0);
	CHECK(gfs_data_gc_run(v.vfs, 0) >= 0);
	REQUIRE_EQ(volume_reopen(&v), 0);
	k = bytes_of(v.vfs, keep, 0, 1 * MiB);
	CHECK(k && memcmp(k, orig + 1 * MiB, 1 * MiB) == 0);
	free(k);
	CHECK(volume_count_objects(&v) > 0);

	/* the last reference: everything goes */
	REQUIRE_EQ(gfs_remove(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, "keep", NULL), 0);
	CHECK(gfs_data_gc_run(v.vfs, 0) >= 0);
	CHECK_EQ(volume_count_objects(&v), 0);
	CHECK_EQ(sliceref_entries(&v), 0);
	free(orig);
	volume_teardown(&v);
}

TEST(clone_moves_ranges_across_chunk_boundaries)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref src, dst;
	REQUIRE_EQ(volume_create_file(&v, "src", &src), 0);
	REQUIRE_EQ(volume_create_file(&v, "dst", &dst), 0);
	REQUIRE_EQ(put(&v, src, 1 * MiB, 1 * MiB, 5), 0);
	REQUIRE_EQ(put(&v, src, 63 * MiB, 2 * MiB, 6), 0);     /* two chunks, two slices */
	REQUIRE_EQ(put(&v, src, 63 * MiB + 5000, 3000, 7), 0); /* newer, over it */
	REQUIRE_EQ(put(&v, src, 70 * MiB, 10, 8), 0);
	struct gfs_wcc wcc;
	REQUIRE_EQ(gfs_deallocate(v.vfs, &v.root, src, 64 * MiB + 100, 200, &wcc), 0); /* a punched hole */
	/* old contents of dst that the clone must hide, holes included */
	REQUIRE_EQ(put(&v, dst, 60 * MiB, 20 * MiB, 9), 0);
	REQUIRE_EQ(put(&v, dst, 130 * MiB + 100, 1000, 10), 0);

	const uint64_t from = 1 * MiB + 123, to = 60 * MiB + 7, n = 70 * MiB + 10 - from;
	uint64_t copied = 0;
	REQUIRE_EQ(gfs_clone(v.vfs, &v.root, src, dst, from, to, n + 12345, &copied, NULL), 0);
	CHECK_EQ(copied, n); /* cut at the source's end */
	for (uint64_t off = 0; off < n; off += 8 * MiB) {
		size_t len = n - off < 8 * MiB ? n - off : 8 * MiB;
		CHECK(same(v.vfs, src, from + off, dst, to + off, len));
	}
	/* around the range: untouched */
	REQUIRE_EQ(volume_reopen(&v), 0);
	uint8_t *before = bytes_of(v.vfs, dst, 60 * MiB, 7), model[7];
	tl_fill_random(model, sizeof(model), 9); /* the first 7 bytes of seed 9's 20 MiB */
	CHECK(before && memcmp(before, model, 7) == 0);
	free(before);
	for (uint64_t off = 0; off < n; off += 8 * MiB) {
		size_t len = n - off < 8 * MiB ? n - off : 8 * MiB;
		CHECK(same(v.vfs, src, from + off, dst, to + off, len));
	}
	CHECK_EQ(meta_fsck(v.vfs->meta, NULL, NULL), 0);
	volume_teardown(&v);
}

TEST(compacting_a_clone_keeps_both_files)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref src, dst;
	REQUIRE_EQ(volume_create_file(&v, "src", &src), 0);
	REQUIRE_EQ(volume_create_file(&v, "dst", &dst), 0);
	for (int i = 0; i < 8; i++) /* eight slices */
		REQUIRE_EQ(put(&v, src, (uint64_t)i * 100 * KiB, 100 * KiB, 20 + (uint64_t)i), 0);
	uint8_t *orig = bytes_of(v.vfs, src, 0, 800 * KiB);
	REQUIRE(orig != NULL);
	REQUIRE_EQ(gfs_clone(v.vfs, &v.root, src, dst, 0, 0, 0, NULL, NULL), 0);
	/* small writes into both until each chunk is compacted */
	uint64_t rng = 3;
	for (int i = 0; i < 40; i++) {
		uint64_t off = 800 * KiB + tl_rand(&rng) % (200 * KiB);
		REQUIRE_EQ(put(&v, i % 2 ? src : dst, off, 1000, 100 + (uint64_t)i), 0);
	}
	struct gfs_data_stats st;
	for (int tries = 0; tries < 100; tries++) {
		gfs_data_stats(v.vfs, &st);
		if (st.compactions >= 2)
			break;
		usleep(50 * 1000);
	}
	CHECK(st.compactions >= 2);
	REQUIRE_EQ(gfs_remove(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, "src", NULL), 0);
	for (int i = 0; i < 3; i++) {
		CHECK(gfs_data_gc_run(v.vfs, 0) >= 0);
		usleep(100 * 1000);
	}
	REQUIRE_EQ(volume_reopen(&v), 0);
	uint8_t *d = bytes_of(v.vfs, dst, 0, 800 * KiB);
	CHECK(d && memcmp(d, orig, 800 * KiB) == 0);
	CHECK_EQ(meta_fsck(v.vfs->meta, NULL, NULL), 0);
	free(d);
	free(orig);
	volume_teardown(&v);
}

TEST(clone_checks_permissions_and_overlaps)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref f, g;
	REQUIRE_EQ(volume_create_file(&v, "f", &f), 0); /* root's, 0644 */
	REQUIRE_EQ(volume_create_file(&v, "g", &g), 0);
	REQUIRE_EQ(put(&v, f, 0, 1 * MiB, 30), 0);
	const struct gfs_cred user = {.uid = 1000, .gid = 1000};
	CHECK_EQ(gfs_clone(v.vfs, &user, f, g, 0, 0, 0, NULL, NULL), -EACCES); /* g not writable */
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0600};
	REQUIRE_EQ(gfs_setattr(v.vfs, &v.root, f, &sa, NULL, NULL), 0);
	sa = (struct gfs_setattr){.valid = GFS_SET_UID, .uid = 1000};
	REQUIRE_EQ(gfs_setattr(v.vfs, &v.root, g, &sa, NULL, NULL), 0);
	CHECK_EQ(gfs_clone(v.vfs, &user, f, g, 0, 0, 0, NULL, NULL), -EACCES); /* f not readable */
	/* one file: apart is fine, overlapping is not */
	uint64_t copied = 0;
	CHECK_EQ(gfs_clone(v.vfs, &v.root, f, f, 0, 1 * MiB, 1 * MiB, &copied, NULL), 0);
	CHECK_EQ(copied, 1 * MiB);
	CHECK(same(v.vfs, f, 0, f, 1 * MiB, 1 * MiB));
	CHECK_EQ(gfs_clone(v.vfs, &v.root, f, f, 0, 512 * KiB, 1 * MiB, NULL, NULL), -EINVAL);
	CHECK_EQ(gfs_clone(v.vfs, &v.root, f, (struct gfs_ref){GFS_ROOT_INO, 0}, 0, 0, 0, NULL, NULL), -EISDIR);
	CHECK_EQ(gfs_clone(v.vfs, &v.root, f, g, 0, GFS_MAX_FILE_SIZE - 10, 0, NULL, NULL), -EFBIG);
	copied = 7;
	CHECK_EQ(gfs_clone(v.vfs, &v.root, f, g, 5 * MiB, 0, 0, &copied, NULL), 0); /* past the end */
	CHECK_EQ(copied, 0);
	volume_teardown(&v);
}

TEST_MAIN()
