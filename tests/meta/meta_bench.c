/*
 * meta_bench.c - ops/s of create, lookup, getattr and remove on one thread,
 * next to redis-benchmark GET on one connection against the same server, so
 * the result is a ratio (the target is >= 0.5: one round trip per op).
 * Registered as a test with the "bench" label.
 *
 * The machine is shared and its load drifts by 2x within seconds, so one
 * GET figure taken before all the ops says little.  Instead the work runs
 * in ROUNDS rounds, each measuring GET and then a batch of every op, and
 * each op's ratio is the median of its per-round ratios.  Medians below the
 * 0.5 goal are reported; the test fails only below an op's floor, set
 * under the lowest medians seen on a loaded 2-core VM (reads 0.57, create
 * 0.36, remove 0.46), so that load does not trip it but a second round
 * trip per op, or scripts twice as slow, does.  An idle VM gives higher
 * ratios: its slow wakeups lengthen every round trip, GET's included.
 */
#include <time.h>

#include "meta_fixture.h"

enum { ROUNDS = 7, BATCH = 1000, GETS = 5000, NOPS = 4 };
static const char *const op_names[NOPS] = {"create", "lookup", "getattr", "remove"};
static const double op_floor[NOPS] = {0.25, 0.4, 0.4, 0.3};
#define GOAL 0.5

static struct fixture F;

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* redis-benchmark GET, one client, no pipelining: requests per second. */
static double redis_get_rate(int port, int n)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "redis-benchmark -p %d -c 1 -P 1 -n %d -t get -q --csv 2>/dev/null | tail -1", port,
		 n);
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	char line[256] = "";
	double rate = 0;
	if (fgets(line, sizeof(line), p)) {
		/* "GET","12345.67",... */
		char *q = strchr(line, ',');
		if (q)
			rate = atof(q + 2);
	}
	pclose(p);
	return rate;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One batch of op on files r<round>_<i> in dir; ops/s, or -1 on an error. */
static double run_batch(int op, int round, struct gfs_ref dir, struct gfs_ref *refs)
{
	struct gfs_attr a;
	struct gfs_wcc w;
	double t0 = now_sec();
	for (int i = 0; i < BATCH; i++) {
		char name[32];
		snprintf(name, sizeof(name), "r%d_%d", round, i);
		int rc;
		if (op == 0)
			rc = meta_create(F.m, &ALICE, dir, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w);
		else if (op == 1)
			rc = meta_lookup(F.m, &ALICE, dir, name, &a);
		else if (op == 2)
			rc = meta_getattr(F.m, refs[i], &a);
		else
			rc = meta_remove(F.m, &ALICE, dir, name, &w);
		if (rc != 0) {
			fprintf(stderr, "%s %s: %d\n", op_names[op], name, rc);
			return -1;
		}
		if (op == 0)
			refs[i] = ref_of(&a);
		else if (op == 1 && a.ino != refs[i].ino)
			return -1;
	}
	return BATCH / (now_sec() - t0);
}

TEST(ops_per_second_vs_redis_get)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr d;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "bench", 0777, &d, &w), 0);
	/* A directory that already holds entries, as a real one would. */
	struct gfs_ref *refs = calloc(BATCH, sizeof(*refs));
	REQUIRE(refs != NULL);
	REQUIRE(run_batch(0, -1, ref_of(&d), refs) > 0);
	double ratio[NOPS][ROUNDS], get[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		get[r] = redis_get_rate(F.redis.port, GETS);
		REQUIRE(get[r] > 0);
		for (int op = 0; op < NOPS; op++) {
			double rate = run_batch(op, r, ref_of(&d), refs);
			REQUIRE(rate > 0);
			ratio[op][r] = rate / get[r];
		}
	}
	double get_med = median(get, ROUNDS);
	fprintf(stderr, "redis GET (1 client): median %.0f/s over %d rounds\n", get_med, ROUNDS);
	for (int op = 0; op < NOPS; op++) {
		double lo = ratio[op][0], hi = ratio[op][0];
		for (int r = 1; r < ROUNDS; r++) {
			lo = ratio[op][r] < lo ? ratio[op][r] : lo;
			hi = ratio[op][r] > hi ? ratio[op][r] : hi;
		}
		double med = median(ratio[op], ROUNDS);
		fprintf(stderr, "meta %-8s median ratio %.2f (rounds %.2f..%.2f)%s\n", op_names[op], med, lo, hi,
			med < GOAL ? "  below the 0.5 goal" : "");
		double floor = op_floor[op];
#ifdef META_BENCH_REPORT_ONLY
		floor = 0; /* sanitized builds: numbers are printed, not judged */
#endif
		if (med < floor)
			tl_fail(__FILE__, __LINE__, "%s at %.2fx of GET, below %.2fx", op_names[op], med, floor);
	}
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d INFO commandstats | grep -E 'cmdstat_(fcall|evalsha|hgetall)' >&2",
		 F.redis.port);
	if (system(cmd) != 0)
		fprintf(stderr, "(no commandstats)\n");
	free(refs);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST_MAIN()
