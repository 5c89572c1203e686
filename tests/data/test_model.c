/*
 * test_model.c - model test of the data layer: random writes, overwrites,
 * truncates and extensions at offsets around block and chunk boundaries,
 * mirrored on a local file and compared byte for byte after every batch,
 * with random commits, stable writes, compactions (background, with a low
 * threshold, and explicit) and gateway restarts.
 *
 * The store is file:// by default; with GATEFS_TEST_S3_ENV set (the radosgw
 * fixture's env file) it runs against S3.  GATEFS_TEST_MODEL_BATCHES sets
 * the number of batches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_fixture.h"
#include "meta.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)

static uint64_t pick_offset(uint64_t *rng)
{
	/* near the start (several blocks) or around the first chunk boundary */
	if (tl_rand(rng) % 2)
		return tl_rand(rng) % (2 * MiB);
	return META_CHUNK_SIZE - MiB + tl_rand(rng) % (2 * MiB);
}

static int compare(struct volume *v, struct gfs_ref f, int local, int batch)
{
	struct gfs_attr a;
	int rc = gfs_getattr(v->vfs, f, &a);
	if (rc < 0) {
		tl_fail(__FILE__, __LINE__, "batch %d: getattr %d", batch, rc);
		return -1;
	}
	off_t lsize = lseek(local, 0, SEEK_END);
	if ((off_t)a.size != lsize) {
		tl_fail(__FILE__, __LINE__, "batch %d: size %llu, model %lld", batch, (unsigned long long)a.size,
			(long long)lsize);
		return -1;
	}
	size_t io = 1 * MiB;
	uint8_t *got = malloc(io), *want = malloc(io);
	int bad = 0;
	for (uint64_t off = 0; off < a.size && !bad; off += io) {
		size_t n = a.size - off < io ? a.size - off : io, nread = 0;
		int eof = 0;
		rc = gfs_read(v->vfs, &v->root, f, off, n, got, &nread, &eof, NULL);
		if (rc < 0 || nread != n || pread(local, want, n, (off_t)off) != (ssize_t)n) {
			tl_fail(__FILE__, __LINE__, "batch %d: read at %llu: rc %d n %zu", batch,
				(unsigned long long)off, rc, nread);
			bad = 1;
		} else if (memcmp(got, want, n) != 0) {
			size_t k = 0;
			while (got[k] == want[k])
				k++;
			tl_fail(__FILE__, __LINE__, "batch %d: byte %llu differs (%02x, model %02x)", batch,
				(unsigned long long)(off + k), got[k], want[k]);
			bad = 1;
		}
	}
	free(got);
	free(want);
	return bad ? -1 : 0;
}

TEST(model_random_ops)
{
	setenv("GATEFS_COMPACT_THRESHOLD", "6", 1);
	setenv("GATEFS_GC_INTERVAL_MS", "100", 1);
	const char *s3 = NULL;
	if (getenv("GATEFS_TEST_S3_ENV")) {
		s3 = s3_url_from_env_file();
		REQUIRE(s3 != NULL);
	}
	/* On S3, dead slices are deleted at once (deletes race with reads); on
	 * file://, the default delay lets reads reuse cached chunk records. */
	setenv("GATEFS_DELETE_DELAY", s3 ? "0" : "60", 1);
	const char *nb = getenv("GATEFS_TEST_MODEL_BATCHES");
	int batches = nb ? atoi(nb) : 40;
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, 64 * KiB, s3, 0), 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "model", &f), 0);
	char path[400];
	snprintf(path, sizeof(path), "%s/mirror", v.dir);
	int local = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(local >= 0);
	uint64_t rng = 20260;
	size_t maxio = 300 * KiB;
	uint8_t *buf = malloc(maxio);
	uint64_t ops = 0, last_end[2] = {0, 0}, last_len = 0;
	for (int b = 0; b < batches; b++) {
		for (int i = 0; i < 12; i++, ops++) {
			uint64_t kind = tl_rand(&rng) % 100;
			if (kind < 75) {
				uint64_t off = pick_offset(&rng), shape = tl_rand(&rng) % 10;
				size_t len = 1 + tl_rand(&rng) % maxio;
				if (shape < 3)
					len = 1 + tl_rand(&rng) % 3000;	 /* small writes */
				if (shape >= 3 && shape < 6 && last_len) /* continue an earlier write */
					off = last_end[tl_rand(&rng) % 2];
				else if (shape >= 6 && shape < 8 && last_len) /* rewrite inside the last one */
					off = last_end[0] - last_len + tl_rand(&rng) % last_len;
				last_end[1] = last_end[0];
				last_end[0] = off + len;
				last_len = len;
				tl_fill_random(buf, len, ops);
				enum gfs_stable how = tl_rand(&rng) % 8 == 0 ? GFS_FILE_SYNC : GFS_UNSTABLE, got;
				REQUIRE_EQ(gfs_write(v.vfs, &v.root, f, off, len, buf, how, &got, NULL), 0);
				REQUIRE_EQ(pwrite(local, buf, len, (off_t)off), (ssize_t)len);
			} else if (kind < 87) {
				off_t cur = lseek(local, 0, SEEK_END);
				uint64_t size = tl_rand(&rng) % 2 ? (uint64_t)tl_rand(&rng) % ((uint64_t)cur + 1)
								  : pick_offset(&rng);
				struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = size};
				REQUIRE_EQ(gfs_setattr(v.vfs, &v.root, f, &sa, NULL, NULL), 0);
				REQUIRE_EQ(ftruncate(local, (off_t)size), 0);
			} else if (kind < 97) {
				REQUIRE_EQ(gfs_commit(v.vfs, f, NULL), 0);
			} else {
				int rc = gfs_data_compact(v.vfs, f.ino, (uint32_t)(tl_rand(&rng) % 2));
				CHECK(rc == 0 || rc == -EAGAIN);
			}
		}
		if (compare(&v, f, local, b) < 0)
			break;
		if (b % 10 == 9) {
			REQUIRE_EQ(volume_reopen(&v), 0);
			if (compare(&v, f, local, b) < 0)
				break;
		}
	}
	REQUIRE_EQ(volume_reopen(&v), 0);
	CHECK_EQ(compare(&v, f, local, batches), 0);
	struct gfs_data_stats st;
	gfs_data_stats(v.vfs, &st);
	printf("  %llu ops, %llu puts, %llu gets after final reopen\n", (unsigned long long)ops,
	       (unsigned long long)st.object_puts, (unsigned long long)st.object_gets);
	close(local);
	free(buf);
	volume_teardown(&v);
}

TEST_MAIN()
