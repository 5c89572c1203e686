/*
 * test_memory.c - bounded memory under many readers: 100 threads each
 * read a file of their own sequentially (so each grows a read-ahead
 * window) from a real redis-server and a file:// store on /dev/shm.  The
 * process's peak resident memory during the reads (VmHWM, reset through
 * /proc/self/clear_refs before they start) must stay within the cache
 * budget, one block per reader, the block buffer pool's idle bound and a
 * stated fixed overhead.  Before prefetches were charged to the cache
 * budget, every reader's window was allocated on top of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_fixture.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)

enum { READERS = 100, BLOCK = 256 * 1024, FILE_SIZE = 4 * 1024 * 1024, IO = 128 * 1024 };

#define CACHE_BUDGET (16 * MiB)
#define POOL_IDLE (64 * MiB)	  /* blockbuf.c keeps this many idle buffers */
#define FIXED_OVERHEAD (48 * MiB) /* thread stacks, I/O buffers, malloc arenas */

static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Each IO-sized piece has bytes of its own, so a reader checks a piece
 * without holding its whole file. */
static uint64_t piece_seed(int file, uint64_t off)
{
	return (uint64_t)file * 1000003u + off / IO;
}

struct reader {
	struct volume *v;
	struct gfs_ref f;
	int idx;
	int rc;
};

static void *reader_main(void *p)
{
	struct reader *r = p;
	uint8_t *buf = malloc(IO), *want = malloc(IO);
	for (uint64_t off = 0; off < FILE_SIZE && r->rc == 0; off += IO) {
		size_t n;
		int eof;
		for (int tries = 0; tries < 100; tries++) {
			r->rc = gfs_read(r->v->vfs, &r->v->root, r->f, off, IO, buf, &n, &eof, NULL);
			if (r->rc != -EAGAIN)
				break;
		}
		tl_fill_random(want, IO, piece_seed(r->idx, off));
		if (r->rc == 0 && (n != IO || memcmp(buf, want, IO) != 0))
			r->rc = -EILSEQ;
	}
	free(buf);
	free(want);
	return NULL;
}

TEST(hundred_sequential_readers_stay_within_the_budgets)
{
	struct volume v;
	REQUIRE_EQ(volume_setup(&v, BLOCK, NULL, 1), 0);
	v.cfg.cache_mem_bytes = CACHE_BUDGET;
	v.cfg.buffer_bytes = 16 * MiB;
	REQUIRE_EQ(volume_reopen(&v), 0);
	struct gfs_ref files[READERS];
	uint8_t *w = malloc(FILE_SIZE);
	for (int i = 0; i < READERS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		REQUIRE_EQ(volume_create_file(&v, name, &files[i]), 0);
		for (uint64_t off = 0; off < FILE_SIZE; off += IO)
			tl_fill_random(w + off, IO, piece_seed(i, off));
		enum gfs_stable got;
		REQUIRE_EQ(gfs_write(v.vfs, &v.root, files[i], 0, FILE_SIZE, w, GFS_FILE_SYNC, &got, NULL), 0);
	}
	free(w);
	REQUIRE_EQ(volume_reopen(&v), 0);

	FILE *cr = fopen("/proc/self/clear_refs", "w");
	REQUIRE(cr);
	fputs("5", cr); /* resets VmHWM to the current RSS */
	fclose(cr);
	long base = status_kib("VmRSS");
	REQUIRE(base > 0);

	pthread_t t[READERS];
	struct reader r[READERS];
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct reader){.v = &v, .f = files[i], .idx = i};
		REQUIRE_EQ(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	for (int i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(r[i].rc, 0);
	}
	long peak = status_kib("VmHWM");
	struct gfs_data_stats st;
	gfs_data_stats(v.vfs, &st);
	uint64_t bound = CACHE_BUDGET + (uint64_t)READERS * BLOCK + POOL_IDLE + FIXED_OVERHEAD;
	fprintf(stderr,
		"  %d readers x %d MiB: peak RSS %ld MiB over %ld MiB before (bound %llu MiB = cache %llu + "
		"%d blocks + pool idle %llu + fixed %llu); prefetches %llu, skipped %llu, gets %llu\n",
		READERS, FILE_SIZE >> 20, (peak - base) / 1024, base / 1024, (unsigned long long)(bound >> 20),
		(unsigned long long)(CACHE_BUDGET >> 20), READERS, (unsigned long long)(POOL_IDLE >> 20),
		(unsigned long long)(FIXED_OVERHEAD >> 20), (unsigned long long)st.prefetches,
		(unsigned long long)st.prefetch_skips, (unsigned long long)st.object_gets);
	CHECK((uint64_t)(peak - base) * 1024 <= bound);
	CHECK(st.prefetches > 0); /* read-ahead did run */
	volume_teardown(&v);
}

TEST_MAIN()
