/*
 * meta_runner_test.c - how the scripts reach Redis: as a Redis 7 function
 * library (FCALL) loaded at open and again when Redis lost it, or with
 * EVALSHA when the server refuses FUNCTION LOAD.  Both paths must give the
 * same results; commandstats shows which one ran.
 */
#include "meta_fixture.h"

static struct fixture F;

/* calls= of cmdstat_<cmd> in INFO commandstats, -1 if absent. */
static long command_calls(int port, const char *cmd)
{
	char line[512], sh[200];
	snprintf(sh, sizeof(sh), "redis-cli -p %d INFO commandstats", port);
	FILE *p = popen(sh, "r");
	if (!p)
		return -1;
	char want[64];
	int n = snprintf(want, sizeof(want), "cmdstat_%s:calls=", cmd);
	long calls = -1;
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, want, (size_t)n) == 0)
			calls = atol(line + n);
	pclose(p);
	return calls;
}

/* Creates, looks up and removes a file in the root; 0 if all went right. */
static int round_trip(struct meta *m, struct gfs_ref root, const char *name)
{
	struct gfs_attr a, b;
	struct gfs_wcc w;
	int rc = meta_create(m, &ALICE, root, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w);
	if (rc == 0)
		rc = meta_lookup(m, &ALICE, root, name, &b);
	if (rc == 0 && (b.ino != a.ino || b.gen != a.gen || b.uid != ALICE.uid))
		rc = -EIO;
	if (rc == 0)
		rc = meta_remove(m, &ALICE, root, name, &w);
	return rc;
}

static void open_root_writable(struct fixture *f)
{
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0777};
	struct gfs_wcc w;
	REQUIRE_EQ(meta_setattr(f->m, &ROOT, f->root, &sa, NULL, &w), 0);
}

TEST(functions_loaded_and_reloaded_after_flush)
{
	REQUIRE(fixture_up(&F) == 0);
	open_root_writable(&F);
	REQUIRE_EQ(round_trip(F.m, F.root, "a"), 0);
	CHECK(command_calls(F.redis.port, "fcall") >= 3);
	CHECK_EQ(command_calls(F.redis.port, "evalsha"), -1);
	/* Redis loses the library (FUNCTION FLUSH, or a restart without
	 * persistence): the next call loads it again and succeeds. */
	REQUIRE_EQ(tl_redis_cmd(&F.redis, "FUNCTION FLUSH"), 0);
	REQUIRE_EQ(round_trip(F.m, F.root, "b"), 0);
	CHECK_EQ(command_calls(F.redis.port, "evalsha"), -1);
	/* A second gateway of the same build shares the library. */
	struct meta *other;
	char err[256];
	REQUIRE_EQ(meta_open(F.redis.url, &other, err, sizeof(err)), 0);
	CHECK_EQ(round_trip(other, F.root, "c"), 0);
	meta_close(other);
	/* Lost and now refused: the handle goes on with EVALSHA. */
	REQUIRE_EQ(tl_redis_cmd(&F.redis, "FUNCTION FLUSH"), 0);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, "ACL SETUSER default -function"), 0);
	CHECK_EQ(round_trip(F.m, F.root, "d"), 0);
	CHECK_EQ(round_trip(F.m, F.root, "e"), 0);
	CHECK(command_calls(F.redis.port, "evalsha") >= 6);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(evalsha_when_function_load_is_refused)
{
	struct tl_redis r;
	REQUIRE(tl_redis_start(&r) == 0);
	/* The default user may run scripts and FCALL, but not FUNCTION LOAD. */
	REQUIRE_EQ(tl_redis_cmd(&r, "ACL SETUSER default -function"), 0);
	struct meta *m;
	char err[256];
	REQUIRE_EQ(meta_open(r.url, &m, err, sizeof(err)), 0);
	struct gfs_volume_settings s = {.block_size = META_DEFAULT_BLOCK_SIZE, .chunk_size = META_CHUNK_SIZE};
	snprintf(s.name, sizeof(s.name), "test");
	snprintf(s.uuid, sizeof(s.uuid), "00000000-0000-0000-0000-000000000002");
	snprintf(s.storage_url, sizeof(s.storage_url), "file:///tmp/none");
	REQUIRE_EQ(meta_format(m, &s, 0, err, sizeof(err)), 0);
	struct fixture f = {.redis = r, .m = m, .root = {GFS_ROOT_INO, 0}};
	struct gfs_attr root;
	REQUIRE_EQ(meta_getattr(m, f.root, &root), 0);
	f.root.gen = root.gen;
	open_root_writable(&f);
	CHECK_EQ(round_trip(m, f.root, "a"), 0);
	/* the scripts' own cache lost: EVALSHA reloads with SCRIPT LOAD */
	REQUIRE_EQ(tl_redis_cmd(&r, "SCRIPT FLUSH"), 0);
	CHECK_EQ(round_trip(m, f.root, "b"), 0);
	CHECK(command_calls(r.port, "evalsha") >= 6);
	CHECK_EQ(command_calls(r.port, "fcall"), -1);
	CHECK_EQ(fsck_problems(m), 0);
	meta_close(m);
	tl_redis_stop(&r);
}

TEST_MAIN()
