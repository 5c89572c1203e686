/*
 * meta_data_test.c - the slice side of the metadata engine: id allocation,
 * appending records, reading chunks, truncation, compaction, the delayed-
 * delete queue, usage accounting and capacity limits, against real Redis.
 */
#include <time.h>

#include "meta_fixture.h"

static struct fixture F;

static struct gfs_attr new_file(const char *name)
{
	struct gfs_attr a = {0};
	struct gfs_wcc w;
	if (meta_create(F.m, &ROOT, F.root, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w) != 0)
		tl_fail(__FILE__, __LINE__, "create %s", name);
	return a;
}

static int dead_has(uint64_t id)
{
	struct meta_dead_slice *d;
	size_t n;
	if (meta_dead_slices(F.m, META_DEAD_ANY_AGE, 100000, &d, &n) != 0)
		return -1;
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= d[i].id == id;
	free(d);
	return found;
}

static int count_live(void *arg, uint64_t id, uint32_t size)
{
	(void)size;
	uint64_t *want = arg;
	if (id == want[0])
		want[1]++;
	return 0;
}

TEST(slice_ids)
{
	REQUIRE(fixture_up(&F) == 0);
	uint64_t a, b;
	REQUIRE_EQ(meta_new_slice_ids(F.m, 10, &a), 0);
	REQUIRE_EQ(meta_new_slice_ids(F.m, 1, &b), 0);
	CHECK_EQ(a, 1);
	CHECK_EQ(b, 11);
	CHECK_EQ(meta_new_slice_ids(F.m, 0, &b), -EINVAL);
	fixture_down(&F);
}

TEST(write_read_truncate_compact)
{
	REQUIRE(fixture_up(&F) == 0);
	uint64_t first;
	REQUIRE_EQ(meta_new_slice_ids(F.m, 100, &first), 0);
	struct gfs_attr f = new_file("f"), a;
	struct gfs_wcc w;
	size_t n = 0;
	struct meta_slice s1 = {.pos = 0, .id = 1, .size = 8192, .off = 0, .len = 8192};
	REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 0, &s1, 8192, &w, &n), 0);
	CHECK_EQ(n, 1);
	CHECK(w.has_pre && w.has_post);
	CHECK_EQ(w.pre_size, 0);
	CHECK_EQ(w.post.size, 8192);
	CHECK(w.post.change > w.pre_change);
	struct meta_slice s2 = {.pos = 100, .id = 2, .size = 50, .off = 0, .len = 50};
	REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 0, &s2, 0, &w, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(w.post.size, 8192);
	/* a record far out raises the size to its end */
	struct meta_slice s3 = {.pos = 100, .id = 3, .size = 4096, .off = 96, .len = 4000};
	REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 2, &s3, 0, &w, &n), 0);
	CHECK_EQ(w.post.size, 2ULL * META_CHUNK_SIZE + 4100);
	struct meta_slice *rec;
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 0, &rec, &n), 0);
	REQUIRE_EQ(n, 2);
	CHECK(rec[0].pos == s1.pos && rec[0].id == s1.id && rec[0].size == s1.size && rec[0].off == s1.off &&
	      rec[0].len == s1.len);
	CHECK_EQ(rec[1].id, 2);
	CHECK_EQ(rec[1].pos, 100);
	free(rec);
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 1, &rec, &n), 0);
	CHECK_EQ(n, 0);
	CHECK(rec == NULL);
	/* bad records */
	struct meta_slice bad = {.pos = META_CHUNK_SIZE - 10, .id = 4, .size = 100, .off = 0, .len = 100};
	CHECK_EQ(meta_write_slice(F.m, ref_of(&f), 0, &bad, 0, &w, NULL), -EINVAL);
	/* truncate: chunk 2 goes (its slice is queued), chunk 0 gets a zero record */
	struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 1000};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.size, 1000);
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 2, &rec, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(dead_has(3), 1);
	CHECK_EQ(dead_has(1), 0);
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 0, &rec, &n), 0);
	REQUIRE_EQ(n, 3);
	CHECK_EQ(rec[2].id, 0);
	CHECK_EQ(rec[2].pos, 1000);
	CHECK_EQ(rec[2].len, META_CHUNK_SIZE - 1000); /* old size ran past this chunk */
	/* compaction: only if the list still starts with the given records */
	struct meta_slice wrong[2] = {rec[1], rec[0]};
	struct meta_slice repl = {.pos = 0, .id = 9, .size = 1000, .off = 0, .len = 1000};
	CHECK_EQ(meta_compact_chunk(F.m, f.ino, 0, wrong, 2, &repl, 1), -EAGAIN);
	REQUIRE_EQ(meta_compact_chunk(F.m, f.ino, 0, rec, 3, &repl, 1), 0);
	free(rec);
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 0, &rec, &n), 0);
	REQUIRE_EQ(n, 1);
	CHECK_EQ(rec[0].id, 9);
	free(rec);
	CHECK_EQ(dead_has(1), 1);
	CHECK_EQ(dead_has(2), 1);
	uint64_t want[2] = {9, 0};
	REQUIRE_EQ(meta_scan_slices(F.m, count_live, want), 0);
	CHECK_EQ(want[1], 1);
	/* extending only sets the size */
	sa.size = 10 << 20;
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 0, &rec, &n), 0);
	CHECK_EQ(n, 1);
	free(rec);
	struct gfs_volume_usage u;
	REQUIRE_EQ(meta_usage(F.m, &u), 0);
	CHECK_EQ(u.bytes, 10 << 20);
	CHECK_EQ(u.inodes, 2);
	CHECK_EQ(u.dead_slices, 3);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.used, 10 << 20);
	CHECK_EQ(fsck_problems(F.m), 0);
	/* the dead queue is drained by gc */
	struct meta_dead_slice *d;
	REQUIRE_EQ(meta_dead_slices(F.m, 3600, 100, &d, &n), 0);
	CHECK_EQ(n, 0); /* nothing is that old */
	free(d);
	REQUIRE_EQ(meta_dead_slices(F.m, META_DEAD_ANY_AGE, 100, &d, &n), 0);
	CHECK_EQ(n, 3);
	for (size_t i = 0; i < n; i++)
		if (d[i].id == 3)
			CHECK_EQ(d[i].size, 4096);
	REQUIRE_EQ(meta_dead_slices_done(F.m, d, n), 0);
	free(d);
	REQUIRE_EQ(meta_usage(F.m, &u), 0);
	CHECK_EQ(u.dead_slices, 0);
	/* removing the file queues its slices and releases its space */
	REQUIRE_EQ(meta_remove(F.m, &ROOT, F.root, "f", &w), 0);
	CHECK_EQ(dead_has(9), 1);
	REQUIRE_EQ(meta_usage(F.m, &u), 0);
	CHECK_EQ(u.bytes, 0);
	CHECK_EQ(u.inodes, 1);
	/* a slice for a removed inode is refused and queued */
	struct meta_slice late = {.pos = 0, .id = 77, .size = 10, .off = 0, .len = 10};
	CHECK_EQ(meta_write_slice(F.m, ref_of(&f), 0, &late, 10, &w, NULL), -ESTALE);
	CHECK_EQ(dead_has(77), 1);
	REQUIRE_EQ(meta_read_chunk(F.m, f.ino, 0, &rec, &n), 0);
	CHECK_EQ(n, 0);
	/* ... and so is one with a wrong generation */
	struct gfs_attr g = new_file("g");
	struct gfs_ref stale = ref_of(&g);
	stale.gen ^= 1;
	late.id = 78;
	CHECK_EQ(meta_write_slice(F.m, stale, 0, &late, 10, &w, NULL), -ESTALE);
	CHECK_EQ(dead_has(78), 1);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(capacity)
{
	REQUIRE(fixture_up(&F) == 0);
	char err[256];
	struct gfs_volume_settings s;
	REQUIRE_EQ(meta_load_settings(F.m, &s, err, sizeof(err)), 0);
	s.capacity_bytes = 1 << 20;
	s.capacity_inodes = 3;
	REQUIRE_EQ(meta_format(F.m, &s, 1, err, sizeof(err)), 0);
	struct gfs_statfs st;
	REQUIRE_EQ(meta_statfs(F.m, &st), 0);
	CHECK_EQ(st.total_bytes, 1 << 20);
	CHECK_EQ(st.total_files, 3);
	CHECK_EQ(st.free_files, 2);
	uint64_t first;
	REQUIRE_EQ(meta_new_slice_ids(F.m, 100, &first), 0);
	struct gfs_attr f = new_file("f"), a;
	struct gfs_wcc w;
	struct meta_slice big = {.pos = 0, .id = 1, .size = 2 << 20, .off = 0, .len = 2 << 20};
	CHECK_EQ(meta_write_slice(F.m, ref_of(&f), 0, &big, 2 << 20, &w, NULL), -ENOSPC);
	big.len = big.size = 1 << 20;
	CHECK_EQ(meta_write_slice(F.m, ref_of(&f), 0, &big, 1 << 20, &w, NULL), 0);
	REQUIRE_EQ(meta_statfs(F.m, &st), 0);
	CHECK_EQ(st.free_bytes, 0);
	new_file("g");
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "h", 0644, GFS_CREATE_GUARDED, NULL, &a, &w), -ENOSPC);
	/* at the inode limit an existing name still answers as before */
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "g", 0644, GFS_CREATE_GUARDED, NULL, &a, &w), -EEXIST);
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "g", 0644, GFS_CREATE_UNCHECKED, NULL, &a, &w), 0);
	CHECK_EQ(a.type, GFS_REG);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A file of almost 4 PiB with one record at each end: removing it and
 * truncating it must cost what it holds, not what its size spans (walking
 * 2^26 chunk indexes in one script would hold Redis, and every gateway,
 * for minutes).  The bound is a hundred times what it takes. */
TEST(sparse_petabyte_files_are_cheap_to_remove_and_truncate)
{
	REQUIRE(fixture_up(&F) == 0);
	uint64_t first_id; /* ids below 100 are then allocated, as fsck expects */
	REQUIRE_EQ(meta_new_slice_ids(F.m, 100, &first_id), 0);
	const uint32_t last = (uint32_t)((1ULL << 52) / META_CHUNK_SIZE) - 1;
	for (int round = 0; round < 2; round++) {
		struct gfs_attr f = new_file(round ? "t" : "r");
		struct gfs_wcc w;
		struct meta_slice head = {
		    .pos = 0, .id = 11 + 2 * (uint64_t)round, .size = 4096, .off = 0, .len = 4096};
		struct meta_slice tail = {
		    .pos = 0, .id = 12 + 2 * (uint64_t)round, .size = 4096, .off = 0, .len = 4096};
		REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 0, &head, 0, &w, NULL), 0);
		REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), last, &tail, 0, &w, NULL), 0);
		CHECK_EQ(w.post.size, (uint64_t)last * META_CHUNK_SIZE + 4096);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (round == 0) {
			REQUIRE_EQ(meta_remove(F.m, &ROOT, F.root, "r", &w), 0);
		} else {
			struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 100};
			REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
		}
		CHECK(seconds_since(&t0) < 2.0);
		CHECK_EQ(dead_has(tail.id), 1);
		CHECK_EQ(dead_has(head.id), round == 0 ? 1 : 0);
	}
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

/* A file written before chunk indexes existed (no 'k' field, no P k<INO>)
 * is still cleaned up completely, by its size. */
TEST(files_without_a_chunk_index_are_walked_by_size)
{
	REQUIRE(fixture_up(&F) == 0);
	uint64_t first_id; /* ids below 100 are then allocated, as fsck expects */
	REQUIRE_EQ(meta_new_slice_ids(F.m, 100, &first_id), 0);
	struct gfs_attr f = new_file("old");
	struct gfs_wcc w;
	struct meta_slice a = {.pos = 0, .id = 21, .size = 10, .off = 0, .len = 10};
	struct meta_slice b = {.pos = 0, .id = 22, .size = 10, .off = 0, .len = 10};
	REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 0, &a, 0, &w, NULL), 0);
	REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 3, &b, 0, &w, NULL), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "HDEL 'gatefs{gfs}:i%llu' k", (unsigned long long)f.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	snprintf(cmd, sizeof(cmd), "DEL 'gatefs{gfs}:k%llu'", (unsigned long long)f.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	CHECK_EQ(fsck_problems(F.m), 0);
	REQUIRE_EQ(meta_remove(F.m, &ROOT, F.root, "old", &w), 0);
	CHECK_EQ(dead_has(21), 1);
	CHECK_EQ(dead_has(22), 1);
	CHECK_EQ(fsck_problems(F.m), 0); /* no chunk list left behind */
	fixture_down(&F);
}

/* fsck notices a chunk list that the file's index does not list: deleting
 * the file would leave it behind. */
TEST(fsck_finds_a_chunk_missing_from_the_index)
{
	REQUIRE(fixture_up(&F) == 0);
	uint64_t first_id; /* ids below 100 are then allocated, as fsck expects */
	REQUIRE_EQ(meta_new_slice_ids(F.m, 100, &first_id), 0);
	struct gfs_attr f = new_file("x");
	struct gfs_wcc w;
	struct meta_slice a = {.pos = 0, .id = 31, .size = 10, .off = 0, .len = 10};
	REQUIRE_EQ(meta_write_slice(F.m, ref_of(&f), 1, &a, 0, &w, NULL), 0);
	CHECK_EQ(fsck_problems(F.m), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ZREM 'gatefs{gfs}:k%llu' 1", (unsigned long long)f.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	CHECK_EQ(fsck_problems(F.m), 1);
	fixture_down(&F);
}

TEST_MAIN()
