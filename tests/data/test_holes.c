/*
 * test_holes.c - holes of a file on a real redis-server and file:// store:
 * SEEK_DATA/SEEK_HOLE over sparse chunks, partial chunks and punched
 * ranges (gfs_seek), punching (gfs_deallocate: zeros from then on, on
 * every gateway, buffered writes never land over the hole later, size
 * kept, permission as for a write), and gfs_allocate growing a file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "data_fixture.h"

#define KiB 1024ULL
#define MiB (1024ULL * KiB)

static const struct gfs_cred user = {.uid = 1000, .gid = 1000};

static int put(struct volume *v, struct gfs_ref f, uint64_t off, size_t len, uint64_t seed, enum gfs_stable how)
{
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	tl_fill_random(buf, len, seed);
	int rc = gfs_write(v->vfs, &v->root, f, off, len, buf, how, NULL, NULL);
	free(buf);
	return rc;
}

/* 1 if [off, off+len) of f on vfs holds the bytes of seed (or zeros with
 * seed 0). */
static int holds(struct gfs_vfs *vfs, struct gfs_ref f, uint64_t off, size_t len, uint64_t seed)
{
	uint8_t *want = calloc(1, len), *got = malloc(len);
	size_t n = 0;
	int eof = 0, ok = 0;
	if (want && got) {
		if (seed)
			tl_fill_random(want, len, seed);
		struct gfs_cred root = {0};
		ok = gfs_read(vfs, &root, f, off, len, got, &n, &eof, NULL) == 0 && n == len &&
		     memcmp(want, got, len) == 0;
	}
	free(want);
	free(got);
	return ok;
}

static uint64_t seek(struct volume *v, struct gfs_ref f, uint64_t off, int data, int *rc_out)
{
	uint64_t out = UINT64_MAX;
	int eof = -1;
	*rc_out = gfs_seek(v->vfs, f, off, data, &out, &eof);
	return out;
}

TEST(seek_finds_data_and_holes_of_a_sparse_file)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "sparse", &f), 0);
	REQUIRE_EQ(put(&v, f, 0, 3 * MiB, 1, GFS_FILE_SYNC), 0);
	REQUIRE_EQ(put(&v, f, 200 * MiB, 1 * MiB, 2, GFS_UNSTABLE), 0); /* buffered: seek commits it */
	int rc;
	CHECK_EQ(seek(&v, f, 0, 1, &rc), 0);
	CHECK_EQ(rc, 0);
	CHECK_EQ(seek(&v, f, 0, 0, &rc), 3 * MiB); /* the rest of chunk 0 */
	CHECK_EQ(seek(&v, f, 100, 1, &rc), 100);
	CHECK_EQ(seek(&v, f, 3 * MiB, 1, &rc), 200 * MiB); /* chunks 1 and 2 have no list */
	CHECK_EQ(seek(&v, f, 70 * MiB, 0, &rc), 70 * MiB);
	CHECK_EQ(seek(&v, f, 200 * MiB, 0, &rc), 201 * MiB); /* the end is a hole */
	uint64_t out;
	int eof = 0;
	CHECK_EQ(gfs_seek(v.vfs, f, 200 * MiB + 5, 0, &out, &eof), 0);
	CHECK_EQ(out, 201 * MiB);
	CHECK_EQ(eof, 1);
	CHECK_EQ(gfs_seek(v.vfs, f, 201 * MiB, 1, &out, &eof), -ENXIO); /* at the end */
	/* data after the last data: none */
	REQUIRE_EQ(put(&v, f, 300 * MiB, 10, 3, GFS_FILE_SYNC), 0);
	struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 400 * MiB};
	REQUIRE_EQ(gfs_setattr(v.vfs, &v.root, f, &sa, NULL, NULL), 0);
	CHECK_EQ(seek(&v, f, 300 * MiB + 10, 1, &rc), UINT64_MAX);
	CHECK_EQ(rc, -ENXIO);
	CHECK_EQ(seek(&v, f, 300 * MiB + 10, 0, &rc), 300 * MiB + 10);
	/* a directory */
	CHECK_EQ(gfs_seek(v.vfs, (struct gfs_ref){GFS_ROOT_INO, 0}, 0, 1, &out, &eof), -EISDIR);
	volume_teardown(&v);
}

TEST(punched_range_reads_zeros_everywhere_and_keeps_the_size)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "punch", &f), 0);
	REQUIRE_EQ(put(&v, f, 0, 3 * MiB, 7, GFS_FILE_SYNC), 0);
	char err[256];
	struct gfs_vfs *other = NULL;
	REQUIRE_EQ(gfs_vfs_open(&v.cfg, &other, err, sizeof(err)), 0);
	CHECK(holds(other, f, 0, 3 * MiB, 7)); /* the other gateway caches the blocks */

	/* a buffered write inside the range is older than the punch */
	REQUIRE_EQ(put(&v, f, 1 * MiB + 100, 4000, 8, GFS_UNSTABLE), 0);
	struct gfs_wcc wcc = {0};
	REQUIRE_EQ(gfs_deallocate(v.vfs, &v.root, f, 1 * MiB, 1 * MiB, &wcc), 0);
	CHECK(wcc.has_post && wcc.post.size == 3 * MiB);
	CHECK(wcc.post.change != wcc.pre_change);
	REQUIRE_EQ(gfs_commit(v.vfs, f, NULL), 0);
	uint8_t *model = malloc(3 * MiB), *got = malloc(3 * MiB);
	REQUIRE(model && got);
	tl_fill_random(model, 3 * MiB, 7);
	memset(model + 1 * MiB, 0, 1 * MiB);
	for (int g = 0; g < 2; g++) {
		struct gfs_vfs *vfs = g ? other : v.vfs;
		size_t n = 0;
		int eof = 0;
		struct gfs_attr a;
		REQUIRE_EQ(gfs_read(vfs, &v.root, f, 0, 3 * MiB, got, &n, &eof, &a), 0);
		CHECK_EQ(n, 3 * MiB);
		CHECK(memcmp(model, got, 3 * MiB) == 0);
		CHECK_EQ(a.size, 3 * MiB);
	}
	int rc;
	CHECK_EQ(seek(&v, f, 0, 0, &rc), 1 * MiB);
	CHECK_EQ(seek(&v, f, 1 * MiB, 1, &rc), 2 * MiB);

	/* a write after the punch is newer than it */
	REQUIRE_EQ(put(&v, f, 1 * MiB + 100, 4000, 9, GFS_FILE_SYNC), 0);
	CHECK(holds(other, f, 1 * MiB + 100, 4000, 9));
	CHECK(holds(other, f, 1 * MiB, 100, 0));

	/* past the end: nothing changes, no error; the whole file from 2 MiB */
	REQUIRE_EQ(gfs_deallocate(v.vfs, &v.root, f, 10 * MiB, 5, NULL), 0);
	REQUIRE_EQ(gfs_deallocate(v.vfs, &v.root, f, 2 * MiB, UINT64_MAX - 2 * MiB, NULL), 0);
	CHECK(holds(other, f, 2 * MiB, 1 * MiB, 0));
	CHECK_EQ(gfs_deallocate(v.vfs, &v.root, f, 2, UINT64_MAX, NULL), -EINVAL);

	/* reopened: from the store, not from any cache */
	REQUIRE_EQ(volume_reopen(&v), 0);
	tl_fill_random(model + 1 * MiB + 100, 4000, 9);
	memset(model + 2 * MiB, 0, 1 * MiB);
	size_t n = 0;
	int eof = 0;
	REQUIRE_EQ(gfs_read(v.vfs, &v.root, f, 0, 3 * MiB, got, &n, &eof, NULL), 0);
	CHECK_EQ(n, 3 * MiB);
	CHECK(memcmp(model, got, 3 * MiB) == 0);
	free(model);
	free(got);
	gfs_vfs_close(other);
	volume_teardown(&v);
}

TEST(punch_needs_write_permission)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "roots", &f), 0); /* 0644, root's */
	REQUIRE_EQ(put(&v, f, 0, 100 * KiB, 5, GFS_FILE_SYNC), 0);
	CHECK_EQ(gfs_deallocate(v.vfs, &user, f, 0, 10 * KiB, NULL), -EACCES);
	CHECK_EQ(gfs_allocate(v.vfs, &user, f, 0, 1 * MiB, NULL), -EACCES);
	CHECK_EQ(gfs_allocate(v.vfs, &user, f, 0, 10 * KiB, NULL), -EACCES);
	CHECK(holds(v.vfs, f, 0, 100 * KiB, 5));
	/* the owner may, whatever the mode says (knfsd: owner override) */
	struct gfs_setattr sa = {.valid = GFS_SET_UID | GFS_SET_MODE, .uid = 1000, .mode = 0444};
	REQUIRE_EQ(gfs_setattr(v.vfs, &v.root, f, &sa, NULL, NULL), 0);
	CHECK_EQ(gfs_deallocate(v.vfs, &user, f, 0, 10 * KiB, NULL), 0);
	CHECK(holds(v.vfs, f, 0, 10 * KiB, 0));
	/* set-id bits go as with a write */
	sa = (struct gfs_setattr){.valid = GFS_SET_MODE, .mode = 04755};
	REQUIRE_EQ(gfs_setattr(v.vfs, &user, f, &sa, NULL, NULL), 0);
	struct gfs_wcc wcc = {0};
	REQUIRE_EQ(gfs_deallocate(v.vfs, &user, f, 0, 1, &wcc), 0);
	CHECK_EQ(wcc.post.mode & 07777, 0755);
	volume_teardown(&v);
}

TEST(allocate_grows_the_file_and_charges_it)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, NULL, 0), 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "alloc", &f), 0);
	REQUIRE_EQ(put(&v, f, 0, 10 * KiB, 4, GFS_FILE_SYNC), 0);
	struct gfs_wcc wcc = {0};
	REQUIRE_EQ(gfs_allocate(v.vfs, &v.root, f, 100 * MiB, 1 * MiB, &wcc), 0);
	CHECK_EQ(wcc.post.size, 101 * MiB);
	REQUIRE_EQ(gfs_allocate(v.vfs, &v.root, f, 0, 5 * KiB, &wcc), 0); /* within: nothing */
	CHECK_EQ(wcc.post.size, 101 * MiB);
	CHECK(holds(v.vfs, f, 0, 10 * KiB, 4));
	CHECK(holds(v.vfs, f, 100 * MiB, 1 * MiB, 0));
	struct gfs_statfs st;
	REQUIRE_EQ(gfs_statfs(v.vfs, &st), 0);
	CHECK(st.used_bytes >= 101 * MiB);
	CHECK_EQ(gfs_allocate(v.vfs, &v.root, f, GFS_MAX_FILE_SIZE, 1, NULL), -EFBIG);
	CHECK_EQ(gfs_allocate(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, 0, 1, NULL), -EISDIR);
	volume_teardown(&v);
}

TEST_MAIN()
