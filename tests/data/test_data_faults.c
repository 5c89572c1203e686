/*
 * test_data_faults.c - the data layer on a real radosgw behind the fault
 * proxy (tests/support/s3proxy.c): stable writes and reads through every
 * kind of S3 fault lose nothing and serve nothing corrupt, and the volume
 * works again once the fault ends; while the store stalls, reads of
 * uncached data give up after a bounded wait (-EAGAIN, NFS3ERR_JUKEBOX)
 * and metadata calls and reads of cached data keep answering; eight
 * readers of one block that certainly overlap cost one GET.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data_fixture.h"
#include "meta.h"
#include "s3proxy.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)

static uint64_t us_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A volume whose store is the fixture's bucket seen through a new proxy. */
static int setup_via_proxy(struct volume *v, struct s3proxy **p, uint32_t block_size, const char *params)
{
	const char *url = s3_url_from_env_file();
	const char *port = getenv("GATEFS_TEST_S3_PORT"), *bucket = getenv("GATEFS_TEST_S3_BUCKET");
	if (!url || !port || !bucket) {
		fprintf(stderr, "no radosgw env file (GATEFS_TEST_S3_ENV)\n");
		return -1;
	}
	if (s3proxy_start(atoi(port), p) != 0)
		return -1;
	static unsigned seq;
	char s3[512];
	snprintf(s3, sizeof(s3), "http://127.0.0.1:%d/%s/faults-%d-%u?%s", s3proxy_port(*p), bucket, (int)getpid(),
		 seq++, params);
	return volume_setup(v, block_size, s3, 0);
}

static int write_stable(struct volume *v, struct gfs_ref f, uint64_t off, const void *buf, size_t len)
{
	enum gfs_stable got;
	return gfs_write(v->vfs, &v->root, f, off, len, buf, GFS_FILE_SYNC, &got, NULL);
}

static int read_all(struct volume *v, struct gfs_ref f, uint64_t off, void *buf, size_t len)
{
	size_t n;
	int eof;
	int rc = gfs_read(v->vfs, &v->root, f, off, len, buf, &n, &eof, NULL);
	return rc < 0 ? rc : n == len ? 0 : -EIO;
}

TEST(stable_writes_and_reads_survive_every_fault)
{
	struct volume v;
	struct s3proxy *p;
	setenv("GATEFS_FETCH_WAIT_MS", "30000", 1); /* here every read waits for its block */
	int rc = setup_via_proxy(&v, &p, 64 * KiB, "retry_ms=20000&stall_ms=1000");
	unsetenv("GATEFS_FETCH_WAIT_MS");
	REQUIRE_EQ(rc, 0);
	static const struct {
		struct s3proxy_fault f;
		const char *name;
	} faults[] = {
	    {{.kind = S3F_STATUS, .status = 500, .code = "InternalError", .count = 3}, "500"},
	    {{.kind = S3F_STATUS, .status = 503, .code = "SlowDown", .count = 3}, "503 SlowDown"},
	    {{.kind = S3F_STATUS, .status = 429, .code = "TooManyRequests", .count = 3}, "429"},
	    {{.kind = S3F_RESET_BEFORE, .count = 3}, "reset before the response"},
	    {{.kind = S3F_RESET_MID, .count = 3}, "reset mid-body"},
	    {{.kind = S3F_TRUNCATE, .count = 3}, "truncated body"},
	    {{.kind = S3F_STALL, .count = 1}, "stall"},
	    {{.kind = S3F_TRICKLE, .count = 1}, "trickle"},
	    {{.kind = S3F_IGNORE_RANGE}, "range ignored"},
	};
	enum { NF = sizeof(faults) / sizeof(faults[0]), SIZE = 300 * 1024 + 5 };
	static uint8_t model[NF][SIZE];
	struct gfs_ref files[NF];
	int acked[NF];
	for (int i = 0; i < NF; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		REQUIRE_EQ(volume_create_file(&v, name, &files[i]), 0);
		tl_fill_random(model[i], SIZE, 700 + (uint64_t)i);
		s3proxy_set_fault(p, &faults[i].f);
		rc = write_stable(&v, files[i], 0, model[i], SIZE);
		s3proxy_set_fault(p, NULL);
		acked[i] = rc == 0;
		fprintf(stderr, "  stable write through %s: %d\n", faults[i].name, rc);
		CHECK_EQ(rc, 0); /* the retry budget outlasts every fault above */
	}
	/* Reads of uncached blocks through each fault: right bytes or an error. */
	REQUIRE_EQ(volume_reopen(&v), 0);
	uint8_t *r = malloc(SIZE);
	for (int i = 0; i < NF; i++) {
		memset(r, 0, SIZE);
		s3proxy_set_fault(p, &faults[i].f);
		rc = read_all(&v, files[i], 0, r, SIZE);
		s3proxy_set_fault(p, NULL);
		fprintf(stderr, "  read through %s: %d\n", faults[i].name, rc);
		CHECK_EQ(rc, 0);
		if (rc == 0 && acked[i])
			CHECK(memcmp(r, model[i], SIZE) == 0);
	}
	/* The fault has ended: everything acknowledged reads back from the store. */
	REQUIRE_EQ(volume_reopen(&v), 0);
	for (int i = 0; i < NF; i++) {
		if (!acked[i])
			continue;
		CHECK_EQ(read_all(&v, files[i], 0, r, SIZE), 0);
		CHECK(memcmp(r, model[i], SIZE) == 0);
	}
	free(r);
	volume_teardown(&v);
	s3proxy_stop(p);
}

struct reader_arg {
	struct volume *v;
	struct gfs_ref f;
	uint8_t buf[4096];
	int rc;
};

static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	a->rc = read_all(a->v, a->f, 1000, a->buf, sizeof(a->buf));
	return NULL;
}

TEST(single_flight_one_get_for_eight_overlapping_readers)
{
	/* The proxy holds the GET until all eight readers are inside the cache
	 * (one fetching, seven waiting), so the reads overlap for certain. */
	struct volume v;
	struct s3proxy *p;
	setenv("GATEFS_FETCH_WAIT_MS", "60000", 1);
	int rc = setup_via_proxy(&v, &p, 1 * MiB, "retry_ms=20000&stall_ms=30000");
	unsetenv("GATEFS_FETCH_WAIT_MS");
	REQUIRE_EQ(rc, 0);
	struct gfs_ref f;
	REQUIRE_EQ(volume_create_file(&v, "one", &f), 0);
	uint8_t *w = malloc(MiB);
	tl_fill_random(w, MiB, 6);
	REQUIRE_EQ(write_stable(&v, f, 0, w, MiB), 0);
	REQUIRE_EQ(volume_reopen(&v), 0);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_STALL, .method = "GET"});
	pthread_t t[8];
	struct reader_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct reader_arg){.v = &v, .f = f};
		pthread_create(&t[i], NULL, reader_main, &args[i]);
	}
	CHECK_EQ(s3proxy_wait_held(p, 1, 20000), 0);
	struct gfs_data_stats st;
	for (int i = 0; i < 2000; i++) {
		gfs_data_stats(v.vfs, &st);
		if (st.cache_misses + st.cache_waits >= 8)
			break;
		usleep(10000);
	}
	CHECK_EQ(st.cache_misses, 1);
	CHECK_EQ(st.cache_waits, 7);
	s3proxy_set_fault(p, NULL);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(args[i].rc, 0);
		CHECK(memcmp(args[i].buf, w + 1000, sizeof(args[i].buf)) == 0);
	}
	gfs_data_stats(v.vfs, &st);
	CHECK_EQ(st.object_gets, 1);
	struct s3proxy_stats ps;
	s3proxy_get_stats(p, &ps);
	CHECK_EQ(ps.faulted, 1); /* one GET reached the store */
	free(w);
	volume_teardown(&v);
	s3proxy_stop(p);
}

/* ---- no freeze while the store stalls ------------------------------- */

enum { STUCK_READERS = 8 };

struct stuck_reader {
	struct volume *v;
	struct gfs_ref f;
	atomic_int *stop;
	uint64_t worst_us;
	int calls, eagain, other;
};

static void *stuck_reader_main(void *p)
{
	struct stuck_reader *a = p;
	uint8_t *buf = malloc(64 * KiB);
	uint64_t off = 0;
	while (!atomic_load(a->stop)) {
		size_t n;
		int eof;
		uint64_t t0 = us_now();
		int rc = gfs_read(a->v->vfs, &a->v->root, a->f, off, 64 * KiB, buf, &n, &eof, NULL);
		uint64_t took = us_now() - t0;
		if (took > a->worst_us)
			a->worst_us = took;
		a->calls++;
		if (rc == -EAGAIN)
			a->eagain++;
		else if (rc != -EIO)
			a->other++;
		off = (off + 64 * KiB) % (4 * MiB);
	}
	free(buf);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int count_entry(void *arg, const struct gfs_dirent *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

TEST(no_freeze_while_the_store_stalls)
{
	struct volume v;
	struct s3proxy *p;
	setenv("GATEFS_FETCH_WAIT_MS", "500", 1);
	int rc = setup_via_proxy(&v, &p, 256 * KiB, "retry_ms=30000");
	unsetenv("GATEFS_FETCH_WAIT_MS");
	REQUIRE_EQ(rc, 0);
	struct gfs_ref cold, warm;
	REQUIRE_EQ(volume_create_file(&v, "cold", &cold), 0);
	REQUIRE_EQ(volume_create_file(&v, "warm", &warm), 0);
	uint8_t *w = malloc(4 * MiB), *r = malloc(4 * MiB);
	tl_fill_random(w, 4 * MiB, 31);
	REQUIRE_EQ(write_stable(&v, cold, 0, w, 4 * MiB), 0);
	REQUIRE_EQ(write_stable(&v, warm, 0, w, MiB), 0);
	setenv("GATEFS_FETCH_WAIT_MS", "500", 1);
	rc = volume_reopen(&v);
	unsetenv("GATEFS_FETCH_WAIT_MS");
	REQUIRE_EQ(rc, 0);
	REQUIRE_EQ(read_all(&v, warm, 0, r, MiB), 0); /* cached from now on */

	/* The store stops answering: every request is held. */
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_STALL});
	atomic_int stop = 0;
	pthread_t t[STUCK_READERS];
	struct stuck_reader sr[STUCK_READERS];
	for (int i = 0; i < STUCK_READERS; i++) {
		sr[i] = (struct stuck_reader){.v = &v, .f = cold, .stop = &stop};
		pthread_create(&t[i], NULL, stuck_reader_main, &sr[i]);
	}
	enum { SAMPLES = 400 };
	static uint64_t lat[SAMPLES];
	int bad = 0;
	for (int i = 0; i < SAMPLES; i++) {
		struct gfs_attr a;
		int entries = 0, eof = 0;
		uint64_t verf;
		uint64_t t0 = us_now();
		switch (i % 4) {
		case 0:
			bad += gfs_getattr(v.vfs, cold, &a) != 0;
			break;
		case 1:
			bad += gfs_lookup(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, "cold", &a) != 0;
			break;
		case 2:
			bad += gfs_readdir(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, 0, 0, 1, 100, count_entry,
					   &entries, &eof, &verf, NULL) != 0;
			break;
		default:
			bad += read_all(&v, warm, (uint64_t)(i % 16) * 64 * KiB, r, 64 * KiB) != 0;
			bad += memcmp(r, w + (i % 16) * 64 * KiB, 64 * KiB) != 0;
		}
		lat[i] = us_now() - t0;
		usleep(5000);
	}
	atomic_store(&stop, 1);
	uint64_t worst_read = 0;
	int calls = 0, eagain = 0, other = 0;
	for (int i = 0; i < STUCK_READERS; i++) {
		pthread_join(t[i], NULL);
		worst_read = sr[i].worst_us > worst_read ? sr[i].worst_us : worst_read;
		calls += sr[i].calls;
		eagain += sr[i].eagain;
		other += sr[i].other;
	}
	qsort(lat, SAMPLES, sizeof(lat[0]), cmp_u64);
	fprintf(stderr,
		"  store stalled: getattr/lookup/readdir/cached read p50 %.2f ms p99 %.2f ms max %.2f ms; "
		"%d uncached reads by %d threads: %d EAGAIN, worst %.0f ms\n",
		lat[SAMPLES / 2] / 1000.0, lat[SAMPLES * 99 / 100] / 1000.0, lat[SAMPLES - 1] / 1000.0, calls,
		STUCK_READERS, eagain, worst_read / 1000.0);
	CHECK_EQ(bad, 0);
	CHECK(lat[SAMPLES * 99 / 100] < 100 * 1000);
	CHECK(calls > STUCK_READERS * 3); /* the readers' threads were not held */
	CHECK_EQ(other, 0);
	CHECK(eagain > 0);
	CHECK(worst_read < 1500 * 1000); /* fetch_wait_ms = 500, plus scheduling */

	/* The store answers again: the reads of uncached data succeed. */
	s3proxy_set_fault(p, NULL);
	rc = -EAGAIN;
	for (int tries = 0; tries < 100 && rc == -EAGAIN; tries++) {
		rc = read_all(&v, cold, 0, r, 4 * MiB);
		if (rc == -EAGAIN)
			usleep(100000);
	}
	CHECK_EQ(rc, 0);
	CHECK(memcmp(r, w, 4 * MiB) == 0);
	free(w);
	free(r);
	volume_teardown(&v);
	s3proxy_stop(p);
}

/* ---- a delete the store refuses for one key --------------------------- */

static int count_key(void *arg, const struct object_info *info)
{
	(void)info;
	(*(int *)arg)++;
	return 0;
}

TEST(one_failing_key_does_not_stop_the_delete_queue)
{
	struct volume v;
	struct s3proxy *p;
	REQUIRE_EQ(setup_via_proxy(&v, &p, 64 * KiB, "retry_ms=5000"), 0);
	enum { FILES = 6 };
	uint8_t *w = malloc(200 * KiB);
	uint64_t bad_id = 0;
	for (int i = 0; i < FILES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "d%d", i);
		struct gfs_ref f;
		REQUIRE_EQ(volume_create_file(&v, name, &f), 0);
		tl_fill_random(w, 200 * KiB, 900 + (uint64_t)i);
		REQUIRE_EQ(write_stable(&v, f, 0, w, 200 * KiB), 0);
		if (i == 1) { /* the oldest but one: ahead of most of the queue */
			struct meta_slice *recs;
			size_t n;
			REQUIRE_EQ(meta_read_chunk(v.vfs->meta, f.ino, 0, &recs, &n), 0);
			REQUIRE_EQ(n, 1);
			bad_id = recs[0].id;
			free(recs);
		}
		REQUIRE_EQ(gfs_remove(v.vfs, &v.root, (struct gfs_ref){GFS_ROOT_INO, 0}, name, NULL), 0);
	}
	char match[64];
	snprintf(match, sizeof(match), "/%llu_2_", (unsigned long long)bad_id); /* one block of that slice */
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_DELETE_KEY_ERROR, .match = match});
	CHECK_EQ(gfs_data_gc_run(v.vfs, 0), FILES - 1);
	struct gfs_data_stats st;
	gfs_data_stats(v.vfs, &st);
	CHECK_EQ(st.delete_failures, 1);
	CHECK_EQ(st.delete_retrying, 1);
	struct gfs_volume_usage u;
	REQUIRE_EQ(meta_usage(v.vfs->meta, &u), 0);
	CHECK_EQ(u.dead_slices, 1);
	CHECK_EQ(u.dead_slices_failing, 1); /* what `gatefs status` shows */
	/* Backing off: the next run does not try it again at once. */
	struct s3proxy_stats before, after;
	s3proxy_get_stats(p, &before);
	CHECK_EQ(gfs_data_gc_run(v.vfs, 0), 0);
	s3proxy_get_stats(p, &after);
	CHECK_EQ(after.requests, before.requests + 0);

	/* The store takes the key again: after its backoff the slice goes. */
	s3proxy_set_fault(p, NULL);
	int reclaimed = 0;
	for (int tries = 0; tries < 50 && reclaimed == 0; tries++) {
		reclaimed = gfs_data_gc_run(v.vfs, 0);
		if (reclaimed == 0)
			usleep(100000);
	}
	CHECK_EQ(reclaimed, 1);
	gfs_data_stats(v.vfs, &st);
	CHECK_EQ(st.delete_retrying, 0);
	REQUIRE_EQ(meta_usage(v.vfs->meta, &u), 0);
	CHECK_EQ(u.dead_slices, 0);
	CHECK_EQ(u.dead_slices_failing, 0);
	int objects = 0;
	CHECK_EQ(v.vfs->store->ops->list(v.vfs->store, v.vfs->info.uuid, NULL, count_key, &objects), 0);
	CHECK_EQ(objects, 0);
	free(w);
	volume_teardown(&v);
	s3proxy_stop(p);
}

TEST_MAIN()
