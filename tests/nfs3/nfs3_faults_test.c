/*
 * nfs3_faults_test.c - a real `gatefs serve` whose object store is the
 * radosgw fixture's bucket seen through the fault-injecting S3 proxy
 * (tests/support/s3proxy.c), under an NFSv3 load from libnfs clients.  For
 * each fault the proxy injects, a writer (new files, FILE_SYNC or UNSTABLE
 * + COMMIT) and a reader (files written before, not in the gateway's small
 * memory cache, so their blocks come from the store) run while the fault
 * is on.  Then the fault is turned off and:
 *   - nothing corrupt was served during the fault: every READ either
 *     failed with an NFS error (JUKEBOX, IO, ...) or returned the bytes
 *     written;
 *   - the gateway recovers: a new stable write and a read of uncached data
 *     succeed within RECOVER_LIMIT_MS of the fault's end;
 *   - every write acknowledged as stable reads back byte-exact, at once
 *     (JUKEBOX retried, as clients do) and, at the end, from the store
 *     after a gateway restart.
 * Each fault outlasts the store's retry budget, so fetches and uploads do
 * fail during the load.  The test fails when a failed upload is counted as
 * stored (writebuf.c: acknowledged files missing after the restart), when
 * a failed fetch is kept as a cached block (cache.c: wrong bytes read),
 * and when a failed fetch is never fetched again (cache.c: no recovery).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "rawnfs.h"
#include "s3proxy.h"

#define KiB 1024u
#define BLOCK (64 * KiB)
#define POOL 12			 /* files written before the faults */
#define POOL_SIZE (96 * KiB + 7) /* two blocks, the second one partial */
#define NEW_SIZE (80 * KiB + 3)
#define MAX_NEW 48	       /* new files per fault, at most */
#define WINDOW_MS 1500	       /* how long each fault stays on */
#define RECOVER_LIMIT_MS 10000 /* the gateway works again within this */
/* The object store's budgets (URL parameters, docs/architecture/object.md)
 * and the read's wait for a block (GATEFS_FETCH_WAIT_MS): short, so that a
 * fault costs seconds, not the production 30 s. */
#define STORE_PARAMS "retry_ms=1000&stall_ms=1000&attempt_ms=1000"
#define FETCH_WAIT_MS "1000"
/* The gateway's memory cache holds 4 of the pool's 24 blocks, so the
 * reader's round robin fetches from the store. */
#define GW_CONFIG "cache_mem = 256K\n" GW_TEST_EXPORTS

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct file_model {
	char name[32];
	struct rn_fh fh;
	uint8_t *data;
	size_t len;
	int acked; /* acknowledged as stable */
};

/* Outcomes of the calls of one fault's load. */
struct tally {
	int writes, acked, write_errors;
	int reads, reads_ok, jukebox, eio, other_error, other_status; /* other_status: the last one */
	int corrupt; /* a READ that succeeded with wrong bytes or a wrong length */
	int rpc_failures;
};

struct load {
	struct rn_client c;
	const struct file_model *pool;
	struct file_model *made; /* writer: the files it made */
	int nmade, fault;
	atomic_int *stop;
	struct tally t;
};

/* Creates name and writes model->data: FILE_SYNC in one WRITE, or
 * UNSTABLE then COMMIT.  Sets model->acked when the server said stable. */
static void write_file(struct rn_client *c, struct file_model *m, int sync, struct tally *t)
{
	t->writes++;
	int rc = rn_create(c, &c->root, m->name, 0644, &m->fh);
	if (rc == NFS3_OK) {
		stable_how got = UNSTABLE;
		rc = rn_write(c, &m->fh, 0, m->data, (uint32_t)m->len, sync ? FILE_SYNC : UNSTABLE, &got);
		if (rc == NFS3_OK && sync && got != FILE_SYNC)
			rc = NFS3ERR_IO; /* a sync write answered less than stable is not acknowledged */
		if (rc == NFS3_OK && !sync)
			rc = rn_commit(c, &m->fh);
	}
	if (rc == NFS3_OK) {
		m->acked = 1;
		t->acked++;
	} else if (rc < 0) {
		t->rpc_failures++;
	} else {
		t->write_errors++;
	}
}

/* Reads m whole; counts the outcome.  0 when it read m's bytes. */
static int read_check(struct rn_client *c, const struct file_model *m, uint8_t *buf, struct tally *t)
{
	uint32_t got = 0;
	int eof = 0;
	t->reads++;
	int rc = rn_read(c, &m->fh, 0, buf, (uint32_t)m->len + 1, &got, &eof);
	if (rc < 0) {
		t->rpc_failures++;
		return -1;
	}
	if (rc == NFS3ERR_JUKEBOX)
		t->jukebox++;
	else if (rc == NFS3ERR_IO)
		t->eio++;
	else if (rc != NFS3_OK) {
		t->other_error++;
		t->other_status = rc;
	}
	if (rc != NFS3_OK)
		return -1;
	if (got != m->len || !eof || memcmp(buf, m->data, m->len) != 0) {
		fprintf(stderr, "  CORRUPT read of %s: %u bytes (want %zu), eof %d\n", m->name, got, m->len, eof);
		t->corrupt++;
		return -1;
	}
	t->reads_ok++;
	return 0;
}

static void model_init(struct file_model *m, const char *name, size_t len, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->len = len;
	m->data = malloc(len);
	tl_fill_random(m->data, len, seed);
}

static void *writer_main(void *arg)
{
	struct load *l = arg;
	while (!atomic_load(l->stop) && l->nmade < MAX_NEW) {
		struct file_model *m = &l->made[l->nmade];
		char name[32];
		snprintf(name, sizeof(name), "w%d-%d", l->fault, l->nmade);
		model_init(m, name, NEW_SIZE, 1000u * (uint64_t)l->fault + (uint64_t)l->nmade);
		write_file(&l->c, m, l->nmade % 2 == 0, &l->t);
		l->nmade++;
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	struct load *l = arg;
	uint8_t *buf = malloc(POOL_SIZE + 1);
	for (int i = 0; !atomic_load(l->stop); i++)
		read_check(&l->c, &l->pool[i % POOL], buf, &l->t);
	free(buf);
	return NULL;
}

struct fault_case {
	const char *name;
	struct s3proxy_fault f;
};

/* Every fault stays on (count 0) until the test clears it. */
static const struct fault_case faults[] = {
    {"500 InternalError", {.kind = S3F_STATUS, .status = 500, .code = "InternalError"}},
    {"503 SlowDown", {.kind = S3F_STATUS, .status = 503, .code = "SlowDown"}},
    {"429", {.kind = S3F_STATUS, .status = 429, .code = "TooManyRequests"}},
    {"reset before the response", {.kind = S3F_RESET_BEFORE}},
    {"reset mid-body", {.kind = S3F_RESET_MID}},
    {"stall", {.kind = S3F_STALL}},
    {"trickle", {.kind = S3F_TRICKLE}},
    {"truncated body", {.kind = S3F_TRUNCATE}},
    /* The gateway fetches whole blocks, so a Range ignored changes nothing
     * here; the driver's own tests (test_object_s3) ask for parts. */
    {"range ignored", {.kind = S3F_IGNORE_RANGE}},
    {"expired token", {.kind = S3F_EXPIRED_TOKEN}},
};
#define NFAULTS ((int)(sizeof(faults) / sizeof(faults[0])))

/* After the fault: a new stable write and a read of an uncached pool file
 * through c, repeated until both work; the ms it took, or -1. */
static long recover(struct rn_client *c, const struct file_model *pool, int fault, struct file_model *probe)
{
	uint64_t t0 = ms_now();
	uint8_t *buf = malloc(POOL_SIZE + 1);
	struct tally t = {0};
	long took = -1;
	char name[32];
	snprintf(name, sizeof(name), "probe%d", fault);
	model_init(probe, name, NEW_SIZE, 50000u + (uint64_t)fault);
	int wrote = 0;
	for (int i = 0; ms_now() - t0 < RECOVER_LIMIT_MS; i++) {
		if (!wrote) {
			snprintf(probe->name, sizeof(probe->name), "probe%d-%d", fault, i);
			write_file(c, probe, 1, &t);
			wrote = probe->acked;
		}
		if (wrote && read_check(c, &pool[(fault * 5 + i) % POOL], buf, &t) == 0) {
			took = (long)(ms_now() - t0);
			break;
		}
		usleep(100 * 1000);
	}
	free(buf);
	return t.corrupt || t.rpc_failures ? -1 : took;
}

/* Reads every acknowledged file through c, as a client does: JUKEBOX
 * means "try again later" (the kernel retries it), so it is retried for
 * RECOVER_LIMIT_MS; a gateway that has just seen its store fail answers a
 * read of an uncached block with JUKEBOX at once and fetches it behind
 * the reply.  Any other error, or wrong bytes, counts.  The count of files
 * that did not read back byte-exact. */
static int verify(struct rn_client *c, const struct file_model *files, int n)
{
	uint8_t *buf = malloc(POOL_SIZE > NEW_SIZE ? POOL_SIZE + 1 : NEW_SIZE + 1);
	struct tally t = {0};
	int bad = 0;
	for (int i = 0; i < n; i++) {
		if (!files[i].acked)
			continue;
		uint64_t t0 = ms_now();
		int rc;
		for (;;) {
			int jukebox_before = t.jukebox;
			rc = read_check(c, &files[i], buf, &t);
			if (rc == 0 || t.jukebox == jukebox_before || ms_now() - t0 >= RECOVER_LIMIT_MS)
				break;
			usleep(100 * 1000);
		}
		if (rc != 0) {
			fprintf(stderr,
				"  acknowledged %s does not read back (jukebox %d, eio %d, other %d/%d, corrupt %d)\n",
				files[i].name, t.jukebox, t.eio, t.other_error, t.other_status, t.corrupt);
			bad++;
		}
	}
	free(buf);
	return bad;
}

static struct file_model pool[POOL];
static struct file_model made[NFAULTS][MAX_NEW + 1]; /* + the recovery probe */
static int nmade[NFAULTS];

TEST(nfs_load_through_every_s3_fault)
{
	char bucket[128], storage[512], config[2048];
	int rgw_port;
	if (gw_s3_env(bucket, sizeof(bucket), &rgw_port) != 0) {
		fprintf(stderr, "no radosgw fixture (GATEFS_TEST_S3_ENV)\n");
		REQUIRE(0);
	}
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(rgw_port, &p), 0);
	/* `format` gets the default budget (a radosgw that just started may
	 * take seconds over its first request); `serve` the short one, through
	 * the configuration's storage_url. */
	snprintf(storage, sizeof(storage), "http://127.0.0.1:%d/%s/nfsfaults-%d", s3proxy_port(p), bucket,
		 (int)getpid());
	snprintf(config, sizeof(config), "storage_url = %s?" STORE_PARAMS "\n" GW_CONFIG, storage);
	setenv("GATEFS_FETCH_WAIT_MS", FETCH_WAIT_MS, 1); /* inherited by the gateway */
	struct gateway gw;
	int rc = gw_start_storage(&gw, storage, BLOCK, config);
	if (rc != 0) {
		gw_stop(&gw);
		s3proxy_stop(p);
		REQUIRE_EQ(rc, 0);
	}
	struct rn_client c;
	REQUIRE_EQ(rn_connect(&c, gw.nfs_port, gw.mount_port, "/hf"), 0);
	struct tally setup = {0};
	for (int i = 0; i < POOL; i++) {
		char name[32];
		snprintf(name, sizeof(name), "pool%d", i);
		model_init(&pool[i], name, POOL_SIZE, 77 + (uint64_t)i);
		write_file(&c, &pool[i], i % 2, &setup);
	}
	REQUIRE_EQ(setup.acked, POOL);

	uint64_t t_start = ms_now();
	for (int fi = 0; fi < NFAULTS; fi++) {
		atomic_int stop = 0;
		struct load w = {.pool = pool, .made = made[fi], .fault = fi, .stop = &stop};
		struct load r = {.pool = pool, .fault = fi, .stop = &stop};
		REQUIRE_EQ(rn_connect(&w.c, gw.nfs_port, gw.mount_port, "/hf"), 0);
		REQUIRE_EQ(rn_connect(&r.c, gw.nfs_port, gw.mount_port, "/hf"), 0);
		struct s3proxy_stats before, after;
		s3proxy_get_stats(p, &before);
		s3proxy_set_fault(p, &faults[fi].f);
		pthread_t tw, tr;
		pthread_create(&tw, NULL, writer_main, &w);
		pthread_create(&tr, NULL, reader_main, &r);
		usleep(WINDOW_MS * 1000);
		s3proxy_get_stats(p, &after);
		s3proxy_set_fault(p, NULL); /* the fault ends; the load stops */
		atomic_store(&stop, 1);
		long took = recover(&c, pool, fi, &made[fi][MAX_NEW]);
		pthread_join(tw, NULL);
		pthread_join(tr, NULL);
		rn_close(&w.c);
		rn_close(&r.c);
		nmade[fi] = w.nmade;
		if (w.nmade < MAX_NEW) { /* the probe goes right after the writer's files */
			made[fi][w.nmade] = made[fi][MAX_NEW];
			made[fi][MAX_NEW] = (struct file_model){0};
		}
		int bad = verify(&c, made[fi], w.nmade + 1);
		fprintf(stderr,
			"  %-26s %3" PRIu64 " requests faulted; writes %d (%d stable, %d errors); reads %d (%d ok, "
			"%d jukebox, %d eio, %d other (status %d), %d corrupt); rpc failures %d; recovered in %ld ms\n",
			faults[fi].name, after.faulted - before.faulted, w.t.writes, w.t.acked, w.t.write_errors,
			r.t.reads, r.t.reads_ok, r.t.jukebox, r.t.eio, r.t.other_error, r.t.other_status, r.t.corrupt,
			w.t.rpc_failures + r.t.rpc_failures, took);
		CHECK(after.faulted > before.faulted); /* the load met the fault */
		CHECK(w.t.writes > 0 && r.t.reads > 0);
		CHECK_EQ(r.t.corrupt, 0);
		/* JUKEBOX or IO only: the store's trouble is not the caller's
		 * permission (an ACCES here would say it is). */
		CHECK_EQ(r.t.other_error, 0);
		CHECK_EQ(w.t.rpc_failures + r.t.rpc_failures, 0);
		CHECK(took >= 0);
		CHECK_EQ(bad, 0);
	}
	fprintf(stderr, "  %d faults in %.1f s\n", NFAULTS, (double)(ms_now() - t_start) / 1000.0);

	/* A new gateway process: no cache, every block comes from the store. */
	rn_close(&c);
	REQUIRE_EQ(gw_restart(&gw), 0);
	REQUIRE_EQ(rn_connect(&c, gw.nfs_port, gw.mount_port, "/hf"), 0);
	int bad = verify(&c, pool, POOL), acked = 0;
	for (int fi = 0; fi < NFAULTS; fi++) {
		bad += verify(&c, made[fi], nmade[fi] + 1);
		for (int i = 0; i <= nmade[fi]; i++)
			acked += made[fi][i].acked;
	}
	fprintf(stderr, "  after a restart: %d acknowledged files read back, %d not\n", acked + POOL - bad, bad);
	CHECK_EQ(bad, 0);
	rn_close(&c);
	CHECK_EQ(gw_stop(&gw), 0);
	s3proxy_stop(p);
	for (int i = 0; i < POOL; i++)
		free(pool[i].data);
	for (int fi = 0; fi < NFAULTS; fi++)
		for (int i = 0; i <= MAX_NEW; i++)
			free(made[fi][i].data);
}

TEST_MAIN()
