/*
 * test_big.c - a 1 GiB file written with 1 MiB UNSTABLE writes, committed,
 * and read back through a fresh gateway (cold cache, sequential read-ahead)
 * with its SHA-256 compared to the data written.  The file:// store lives
 * on /dev/shm when it exists.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data_fixture.h"

#define MiB (1024ull * 1024)
#define TOTAL (1024 * MiB)

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(one_gib_sequential_write_commit_read_sha256)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 4 * MiB, NULL, 1), 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "big", &f), 0);
	uint8_t *buf = malloc(MiB);
	unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned int wlen = 0, glen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	double t0 = now_sec();
	for (uint64_t off = 0; off < TOTAL; off += MiB) {
		tl_fill_random(buf, MiB, off / MiB + 1);
		EVP_DigestUpdate(ctx, buf, MiB);
		enum gfs_stable how;
		REQUIRE_EQ(gfs_write(v.vfs, &v.root, f, off, MiB, buf, GFS_UNSTABLE, &how, NULL), 0);
	}
	REQUIRE_EQ(gfs_commit(v.vfs, f, NULL), 0);
	double t1 = now_sec();
	EVP_DigestFinal_ex(ctx, want, &wlen);
	REQUIRE_EQ(volume_reopen(&v), 0);
	struct gfs_attr a;
	REQUIRE_EQ(gfs_getattr(v.vfs, f, &a), 0);
	CHECK_EQ(a.size, TOTAL);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	double t2 = now_sec();
	for (uint64_t off = 0; off < TOTAL; off += MiB) {
		size_t n = 0;
		int eof = 0;
		REQUIRE_EQ(gfs_read(v.vfs, &v.root, f, off, MiB, buf, &n, &eof, NULL), 0);
		REQUIRE_EQ(n, MiB);
		CHECK_EQ(eof, off + MiB == TOTAL);
		EVP_DigestUpdate(ctx, buf, MiB);
	}
	double t3 = now_sec();
	EVP_DigestFinal_ex(ctx, got, &glen);
	CHECK_EQ(glen, wlen);
	CHECK(memcmp(want, got, wlen) == 0);
	struct gfs_data_stats st;
	gfs_data_stats(v.vfs, &st);
	CHECK(st.prefetches > 0); /* sequential reads were detected */
	/* Each block object fetched exactly once (slices cut by budget flushes
	 * end in short blocks, so there are a few more than TOTAL / 4 MiB). */
	CHECK_EQ(st.object_gets, volume_count_objects(&v));
	CHECK(st.object_gets >= TOTAL / (4 * MiB));
	printf("  write+commit %.0f MB/s, cold read %.0f MB/s, %llu prefetches\n", TOTAL / 1e6 / (t1 - t0),
	       TOTAL / 1e6 / (t3 - t2), (unsigned long long)st.prefetches);
	EVP_MD_CTX_free(ctx);
	free(buf);
	volume_teardown(&v);
}

TEST_MAIN()
