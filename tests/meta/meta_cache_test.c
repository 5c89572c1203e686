/*
 * meta_cache_test.c - the attribute cache against a real redis-server, with
 * two engine handles standing for two gateways of one volume: hits after a
 * gateway's own changes, every change made through the other gateway seen
 * on the next read, removal and re-creation of names, ACCESS answered from
 * the cache exactly as the script answers it, a lost tracking connection
 * emptying the cache until tracking is back, and a tracking connection
 * delayed or silenced by a proxy (tcpproxy.c) never letting a stale
 * answer out.
 */
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "meta_fixture.h"
#include "tcpproxy.h"

static struct fixture F; /* gateway A: F.m, with the cache */
static struct meta *B;	 /* gateway B: a second handle, no cache */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_tracking(struct meta *m, int want, int ms)
{
	for (int64_t end = now_ms() + ms; now_ms() < end; usleep(2000)) {
		struct meta_cache_stats st;
		meta_cache_stats(m, &st);
		if (st.tracking == want)
			return 0;
	}
	return -1;
}

static void up(void)
{
	REQUIRE(fixture_up(&F) == 0);
	char err[512];
	REQUIRE_EQ(meta_cache_start(F.m, 4096, err, sizeof(err)), 0);
	REQUIRE_EQ(meta_open(F.redis.url, &B, err, sizeof(err)), 0);
	REQUIRE_EQ(wait_tracking(F.m, 1, 5000), 0);
}

static void down(void)
{
	meta_close(B);
	B = NULL;
	fixture_down(&F);
}

static uint64_t hits(void)
{
	struct meta_cache_stats st;
	meta_cache_stats(F.m, &st);
	return st.hits;
}

static struct gfs_attr create(struct meta *m, const struct gfs_cred *c, struct gfs_ref dir, const char *name,
			      uint32_t mode)
{
	struct gfs_attr a = {0};
	struct gfs_wcc w;
	int rc = meta_create(m, c, dir, name, mode, GFS_CREATE_GUARDED, NULL, &a, &w);
	if (rc != 0)
		tl_fail(__FILE__, __LINE__, "creating %s: %d", name, rc);
	return a;
}

/* Reads ref through gateway A until it is a cache hit (the re-read after
 * A's own change has landed); -1 if that never happens. */
static int getattr_until_hit(struct gfs_ref ref, struct gfs_attr *out)
{
	for (int64_t end = now_ms() + 3000; now_ms() < end; usleep(1000)) {
		uint64_t before = hits();
		if (meta_getattr(F.m, ref, out) != 0)
			return -1;
		if (hits() > before)
			return 0;
	}
	return -1;
}

TEST(own_changes_stay_cached)
{
	up();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "f", 0644);
	struct gfs_setattr to_alice = {.valid = GFS_SET_UID | GFS_SET_GID, .uid = ALICE.uid, .gid = ALICE.gid};
	struct gfs_wcc w0;
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &to_alice, NULL, &w0), 0);
	struct gfs_attr a, truth;
	REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
	REQUIRE_EQ(meta_getattr(B, ref_of(&f), &truth), 0);
	CHECK_EQ(a.mode, truth.mode);
	CHECK_EQ(a.change, truth.change);
	CHECK_EQ(a.ctime.nsec, truth.ctime.nsec);
	/* A's own chmod: the next read is the new mode, and soon a hit again */
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0600};
	struct gfs_wcc w;
	REQUIRE_EQ(meta_setattr(F.m, &ALICE, ref_of(&f), &sa, NULL, &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, 0600);
	REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, 0600);
	/* the directory too: its attributes after the create are served */
	REQUIRE_EQ(getattr_until_hit(F.root, &a), 0);
	REQUIRE_EQ(meta_getattr(B, F.root, &truth), 0);
	CHECK_EQ(a.change, truth.change);
	CHECK_EQ(a.mtime.nsec, truth.mtime.nsec);
	down();
}

/* Each round: A has the file cached, B changes it, and A's very next read
 * must show B's change.  Redis sends the invalidation in the same event
 * loop pass as B's reply; A's read sees it pending on the socket or
 * applied.  The rounds alternate chmod and truncate (size), so that both an
 * attribute and the data length are covered. */
TEST(other_gateway_changes_are_seen_at_once)
{
	up();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "shared", 0644);
	int stale = 0;
	for (int i = 0; i < 1000; i++) {
		struct gfs_attr a;
		REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
		struct gfs_setattr sa = {.valid = (i & 1) ? GFS_SET_SIZE : GFS_SET_MODE,
					 .mode = 0600 + (uint32_t)(i % 64),
					 .size = (uint64_t)i * 4096};
		struct gfs_wcc w;
		REQUIRE_EQ(meta_setattr(B, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
		REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
		if ((i & 1) ? a.size != sa.size : a.mode != sa.mode)
			stale++;
		CHECK_EQ(a.change, w.post.change);
	}
	CHECK_EQ(stale, 0);
	down();
}

TEST(other_gateway_remove_and_recreate)
{
	up();
	struct gfs_attr d = create(F.m, &ROOT, F.root, "x", 0644), a;
	REQUIRE_EQ(getattr_until_hit(ref_of(&d), &a), 0);
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, F.root, "x", &a), 0);
	CHECK_EQ(a.ino, d.ino);
	struct gfs_wcc w;
	REQUIRE_EQ(meta_remove(B, &ROOT, F.root, "x", &w), 0);
	CHECK_EQ(meta_getattr(F.m, ref_of(&d), &a), -ESTALE);
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, "x", &a), -ENOENT);
	struct gfs_attr d2 = create(B, &ROOT, F.root, "x", 0600);
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, F.root, "x", &a), 0);
	CHECK_EQ(a.ino, d2.ino);
	CHECK_EQ(a.mode, 0600);
	CHECK_EQ(meta_getattr(F.m, ref_of(&d), &a), -ESTALE);
	/* the directory's attributes follow B's changes too */
	struct gfs_attr root_a, root_b;
	REQUIRE_EQ(meta_getattr(F.m, F.root, &root_a), 0);
	REQUIRE_EQ(meta_getattr(B, F.root, &root_b), 0);
	CHECK_EQ(root_a.change, root_b.change);
	down();
}

/* A's new inode is cached at once (its own create's invalidation is
 * recognised, so no re-read is needed), yet a change that B makes right
 * after the create is seen by A's very next read. */
TEST(new_inodes_are_cached_and_still_follow_changes)
{
	up();
	int stale = 0;
	char name[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		struct gfs_attr f = create(F.m, &ROOT, F.root, name, 0644), a;
		struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0600 + (uint32_t)(i % 64)};
		struct gfs_wcc w;
		REQUIRE_EQ(meta_setattr(B, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
		REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
		stale += a.mode != sa.mode;
	}
	CHECK_EQ(stale, 0);
	struct meta_cache_stats st;
	meta_cache_stats(F.m, &st);
	CHECK_EQ(st.new_fresh + st.new_reread, 300);
	CHECK(st.new_fresh > 240); /* all but those whose create was reported before the reply was read */
	down();
}

/* A name cached by gateway A (from its create) is answered from memory;
 * whatever B does to the name - unlink, rename away, rename another file
 * over it, link and unlink - A's very next LOOKUP agrees with B's. */
TEST(cached_names_follow_other_gateway_changes)
{
	up();
	int disagreed = 0, hit_rounds = 0;
	for (int i = 0; i < 400; i++) {
		struct gfs_attr n = create(F.m, &ROOT, F.root, "n", 0644), a, b;
		struct gfs_attr other = create(F.m, &ROOT, F.root, "other", 0644);
		(void)other;
		REQUIRE_EQ(getattr_until_hit(ref_of(&n), &a), 0); /* the candidate was re-read */
		REQUIRE_EQ(getattr_until_hit(F.root, &a), 0);
		uint64_t before = hits();
		REQUIRE_EQ(meta_lookup(F.m, &ROOT, F.root, "n", &a), 0);
		CHECK_EQ(a.ino, n.ino);
		hit_rounds += hits() >= before + 2; /* directory and child from memory */
		struct gfs_wcc w1, w2;
		switch (i % 4) {
		case 0:
			REQUIRE_EQ(meta_remove(B, &ROOT, F.root, "n", &w1), 0);
			break;
		case 1:
			REQUIRE_EQ(meta_rename(B, &ROOT, F.root, "n", F.root, "moved", &w1, &w2), 0);
			break;
		case 2:
			REQUIRE_EQ(meta_rename(B, &ROOT, F.root, "other", F.root, "n", &w1, &w2), 0);
			break;
		case 3:
			REQUIRE_EQ(meta_link(B, &ROOT, ref_of(&n), F.root, "n2", NULL, &w1), 0);
			REQUIRE_EQ(meta_remove(B, &ROOT, F.root, "n", &w1), 0);
			break;
		}
		int ra = meta_lookup(F.m, &ROOT, F.root, "n", &a);
		int rb = meta_lookup(B, &ROOT, F.root, "n", &b);
		disagreed += ra != rb || (ra == 0 && a.ino != b.ino);
		/* clean up for the next round, through B */
		const char *names[] = {"n", "other", "moved", "n2"};
		for (size_t k = 0; k < 4; k++)
			(void)meta_remove(B, &ROOT, F.root, names[k], &w1);
	}
	CHECK_EQ(disagreed, 0);
	CHECK_EQ(hit_rounds, 400);
	down();
}

/* ACCESS and LOOKUP permissions decided in gatefs from cached attributes
 * must equal what the scripts decide in Redis, for every owner/group/other
 * combination of bits and both kinds of inode. */
TEST(cached_permissions_match_the_scripts)
{
	up();
	struct gfs_attr dir, file;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "d", 0755, &dir, &w), 0);
	file = create(F.m, &ROOT, F.root, "f", 0644);
	struct gfs_setattr to_alice = {.valid = GFS_SET_UID | GFS_SET_GID, .uid = ALICE.uid, .gid = ALICE.gid};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&dir), &to_alice, NULL, &w), 0);
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&file), &to_alice, NULL, &w), 0);
	const struct gfs_cred *creds[] = {&ROOT, &ALICE, &BOB};
	static const struct gfs_cred GROUP = {1002, 7, 1, {1000}}; /* in ALICE's group 1000 */
	int compared = 0, mismatched = 0;
	for (uint32_t mode = 0; mode < 01000; mode += 011) {
		for (int k = 0; k < 2; k++) {
			struct gfs_attr *t = k ? &dir : &file;
			struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = mode};
			REQUIRE_EQ(meta_setattr(B, &ROOT, ref_of(t), &sa, NULL, &w), 0);
			struct gfs_attr a;
			REQUIRE_EQ(getattr_until_hit(ref_of(t), &a), 0);
			for (int c = 0; c < 4; c++) {
				const struct gfs_cred *cred = c < 3 ? creds[c] : &GROUP;
				uint32_t cached = 0, scripted = 0;
				uint64_t before = hits();
				REQUIRE_EQ(meta_access(F.m, cred, ref_of(t), 0x3f, &cached, NULL), 0);
				CHECK(hits() > before);
				REQUIRE_EQ(meta_access(B, cred, ref_of(t), 0x3f, &scripted, NULL), 0);
				mismatched += cached != scripted;
				compared++;
				if (k) { /* lookup in the directory: search permission */
					struct gfs_attr x;
					int lc = meta_lookup(F.m, cred, ref_of(t), "nothing", &x);
					int ls = meta_lookup(B, cred, ref_of(t), "nothing", &x);
					mismatched += lc != ls;
				}
			}
		}
	}
	CHECK(compared > 200);
	CHECK_EQ(mismatched, 0);
	down();
}

/* Without its tracking connection the cache must not answer: a change made
 * while it is down is seen, and caching resumes once tracking is back. */
TEST(lost_tracking_connection_empties_the_cache)
{
	up();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "k", 0644), a;
	REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, "CLIENT KILL TYPE pubsub"), 0);
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0640};
	struct gfs_wcc w;
	REQUIRE_EQ(meta_setattr(B, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, 0640);
	REQUIRE_EQ(wait_tracking(F.m, 1, 5000), 0);
	REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, 0640);
	sa.mode = 0604;
	REQUIRE_EQ(meta_setattr(B, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, 0604);
	down();
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* With Redis gone, the tracking thread retries with a growing pause; it
 * must not spin (its wake-up descriptor, left readable by the loss, once
 * made every pause return at once: a core per gateway whose Redis died). */
TEST(tracking_thread_waits_while_redis_is_down)
{
	up();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "w", 0644), a;
	REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
	REQUIRE_EQ(kill(F.redis.pid, SIGKILL), 0);
	REQUIRE_EQ(wait_tracking(F.m, 0, 5000), 0);
	usleep(300 * 1000); /* past the first retries */
	double before = cpu_seconds();
	usleep(1500 * 1000);
	double used = cpu_seconds() - before;
	CHECK(used < 0.3);
	if (used >= 0.3)
		tl_fail(__FILE__, __LINE__, "%.2f s of CPU in 1.5 s with redis down", used);
	down();
}

/* FLUSHALL (a wiped or replaced database) is announced with no key names:
 * everything cached goes. */
TEST(redis_flush_invalidates_everything)
{
	up();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "gone", 0644), a;
	REQUIRE_EQ(getattr_until_hit(ref_of(&f), &a), 0);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, "FLUSHALL"), 0);
	/* Redis 7.0 sends this one a little after its reply to FLUSHALL */
	int rc = 0;
	for (int64_t end = now_ms() + 2000; rc == 0 && now_ms() < end; usleep(1000))
		rc = meta_getattr(F.m, ref_of(&f), &a);
	CHECK_EQ(rc, -ESTALE);
	down();
}

/* ---- a gateway whose tracking connection goes through a proxy ---- */

static struct meta *A; /* cached, every connection through the proxy */
static struct tcpproxy *proxy;

static void up_proxied(void)
{
	REQUIRE(fixture_up(&F) == 0); /* F.m plays gateway B, uncached */
	int port = 0;
	proxy = tcpproxy_start(F.redis.port, "SUBSCRIBE", &port);
	REQUIRE(proxy);
	char url[128], err[512];
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
	REQUIRE_EQ(meta_open(url, &A, err, sizeof(err)), 0);
	REQUIRE_EQ(meta_cache_start(A, 4096, err, sizeof(err)), 0);
	REQUIRE_EQ(wait_tracking(A, 1, 5000), 0);
}

static void down_proxied(void)
{
	tcpproxy_set(proxy, TCPPROXY_PASS, 0);
	tcpproxy_reset_marked(proxy); /* a swallowed SUBSCRIBE must not hold the close up */
	meta_close(A);
	A = NULL;
	tcpproxy_stop(proxy);
	proxy = NULL;
	fixture_down(&F);
}

static int a_getattr_until_hit(struct gfs_ref ref, struct gfs_attr *out)
{
	for (int64_t end = now_ms() + 5000; now_ms() < end; usleep(1000)) {
		struct meta_cache_stats before, after;
		meta_cache_stats(A, &before);
		if (meta_getattr(A, ref, out) != 0)
			return -1;
		meta_cache_stats(A, &after);
		if (after.hits > before.hits)
			return 0;
	}
	return -1;
}

/* The invalidations reach A 300 ms after Redis sent them: a change B made
 * must still be what A answers next (the barrier waits for them). */
TEST(delayed_tracking_connection_still_shows_changes_at_once)
{
	up_proxied();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "slow", 0644), a;
	tcpproxy_set(proxy, TCPPROXY_DELAY, 300);
	int stale = 0;
	for (int i = 0; i < 6; i++) {
		REQUIRE_EQ(a_getattr_until_hit(ref_of(&f), &a), 0);
		struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0600 + (uint32_t)i};
		struct gfs_wcc w;
		REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
		REQUIRE_EQ(meta_getattr(A, ref_of(&f), &a), 0);
		if (a.mode != sa.mode)
			stale++;
	}
	CHECK_EQ(stale, 0);
	down_proxied();
}

/* The tracking connection goes silent (open, but nothing passes either
 * way): within 2 s A answers from Redis, with B's change, and keeps doing
 * so; once the path is back, A tracks and caches again. */
TEST(silent_tracking_connection_falls_back_to_redis_within_2s)
{
	up_proxied();
	struct gfs_attr f = create(F.m, &ROOT, F.root, "silent", 0644), a;
	REQUIRE_EQ(a_getattr_until_hit(ref_of(&f), &a), 0);
	tcpproxy_set(proxy, TCPPROXY_SILENCE, 0);
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0611};
	struct gfs_wcc w;
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	int64_t t0 = now_ms();
	REQUIRE_EQ(meta_getattr(A, ref_of(&f), &a), 0);
	int64_t took = now_ms() - t0;
	CHECK_EQ(a.mode, 0611);
	CHECK(took <= 2000);
	fprintf(stderr, "  first read after the silence: %lld ms\n", (long long)took);
	for (int i = 0; i < 5; i++) {
		sa.mode = 0620 + (uint32_t)i;
		REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
		t0 = now_ms();
		REQUIRE_EQ(meta_getattr(A, ref_of(&f), &a), 0);
		CHECK_EQ(a.mode, sa.mode);
		CHECK(now_ms() - t0 <= 2000);
	}
	tcpproxy_set(proxy, TCPPROXY_PASS, 0);
	tcpproxy_reset_marked(proxy);
	REQUIRE_EQ(wait_tracking(A, 1, 15000), 0);
	REQUIRE_EQ(a_getattr_until_hit(ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, sa.mode);
	down_proxied();
}

TEST_MAIN()
