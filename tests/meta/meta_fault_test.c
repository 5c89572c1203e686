/*
 * meta_fault_test.c - the metadata engine under faults: a client killed in
 * the middle of a mutation-heavy loop (fsck must stay clean), redis-server
 * killed and restarted (bounded -EAGAIN, then recovery, nothing lost), a
 * Redis that may evict (refused), CONFIG renamed away (warned, accepted),
 * and the unix-socket URL with db and prefix.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meta_fixture.h"

static struct fixture F;

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Starts redis-server with the given extra arguments; waits for PING. */
static pid_t start_redis(const char *dir, int port, const char *sock, const char *const *extra)
{
	char portstr[16], log[300];
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(log, sizeof(log), "%s/redis-restart.log", dir);
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[40] = {"redis-server",
					"--port",
					portstr,
					"--bind",
					"127.0.0.1",
					"--dir",
					dir,
					"--save",
					"",
					"--appendonly",
					"yes",
					"--appendfsync",
					"everysec",
					"--logfile",
					log,
					"--maxmemory-policy",
					"noeviction"};
		int n = 17;
		if (sock) {
			argv[n++] = "--unixsocket";
			argv[n++] = sock;
		}
		for (int i = 0; extra && extra[i]; i++)
			argv[n++] = extra[i];
		argv[n] = NULL;
		execvp("redis-server", (char **)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		char cmd[400];
		if (sock)
			snprintf(cmd, sizeof(cmd), "redis-cli -s %s PING >/dev/null 2>&1", sock);
		else
			snprintf(cmd, sizeof(cmd), "redis-cli -p %d PING >/dev/null 2>&1", port);
		if (system(cmd) == 0)
			return pid;
		usleep(25000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* One random mutation on a small namespace: 3 dirs x 8 names. */
static void random_op(struct meta *m, struct gfs_ref *dirs, uint64_t *rng)
{
	char a[16], b[16];
	struct gfs_ref d1 = dirs[tl_rand(rng) % 3], d2 = dirs[tl_rand(rng) % 3];
	snprintf(a, sizeof(a), "n%d", (int)(tl_rand(rng) % 8));
	snprintf(b, sizeof(b), "n%d", (int)(tl_rand(rng) % 8));
	struct gfs_attr at;
	struct gfs_wcc w, w2;
	switch (tl_rand(rng) % 8) {
	case 0:
		meta_create(m, &ROOT, d1, a, 0644, GFS_CREATE_UNCHECKED, NULL, &at, &w);
		break;
	case 1:
		meta_mkdir(m, &ROOT, d1, a, 0755, &at, &w);
		break;
	case 2:
	case 3:
		meta_rename(m, &ROOT, d1, a, d2, b, &w, &w2);
		break;
	case 4:
		meta_remove(m, &ROOT, d1, a, &w);
		break;
	case 5:
		meta_rmdir(m, &ROOT, d1, a, &w);
		break;
	case 6:
		if (meta_lookup(m, &ROOT, d1, a, &at) == 0 && at.type != GFS_DIR)
			meta_link(m, &ROOT, (struct gfs_ref){at.ino, at.gen}, d2, b, &at, &w);
		break;
	case 7:
		if (meta_lookup(m, &ROOT, d1, a, &at) == 0 && at.type == GFS_REG) {
			uint64_t id;
			if (meta_new_slice_ids(m, 1, &id) == 0) {
				struct meta_slice s = {
				    .pos = (uint32_t)(tl_rand(rng) % 1000), .id = id, .size = 4096, .len = 4096};
				meta_write_slice(m, (struct gfs_ref){at.ino, at.gen}, (uint32_t)(tl_rand(rng) % 3), &s,
						 0, &w, NULL);
			}
			struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = tl_rand(rng) % (3ULL << 26)};
			meta_setattr(m, &ROOT, (struct gfs_ref){at.ino, at.gen}, &sa, NULL, &w);
		}
		break;
	}
}

TEST(client_killed_mid_loop_leaves_no_damage)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_ref dirs[3] = {F.root};
	struct gfs_attr a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "d1", 0755, &a, &w), 0);
	dirs[1] = ref_of(&a);
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "d2", 0755, &a, &w), 0);
	dirs[2] = ref_of(&a);
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u + 1;
	for (int round = 0; round < 6; round++) {
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			struct meta *m;
			char err[256];
			if (meta_open(F.redis.url, &m, err, sizeof(err)) != 0)
				_exit(2);
			uint64_t rng = seed + (uint64_t)round;
			for (;;)
				random_op(m, dirs, &rng);
		}
		usleep((useconds_t)(100000 + tl_rand(&seed) % 400000));
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFSIGNALED(st));
		int problems = fsck_problems(F.m);
		CHECK_EQ(problems, 0);
		if (problems)
			break;
	}
	struct gfs_volume_usage u;
	REQUIRE_EQ(meta_usage(F.m, &u), 0);
	fprintf(stderr, "after the kills: %llu inodes, %llu dead slices\n", (unsigned long long)u.inodes,
		(unsigned long long)u.dead_slices);
	CHECK(u.inodes > 3);
	fixture_down(&F);
}

TEST(redis_restart)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr a, f;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "before", 0644, GFS_CREATE_GUARDED, NULL, &f, &w), 0);
	kill(F.redis.pid, SIGKILL);
	waitpid(F.redis.pid, NULL, 0);
	F.redis.pid = 0;
	/* every operation fails fast with EAGAIN while Redis is away */
	double t0 = now_sec();
	for (int i = 0; i < 50; i++) {
		CHECK_EQ(meta_getattr(F.m, ref_of(&f), &a), -EAGAIN);
		CHECK_EQ(meta_create(F.m, &ROOT, F.root, "during", 0644, GFS_CREATE_GUARDED, NULL, &a, &w), -EAGAIN);
	}
	double took = now_sec() - t0;
	fprintf(stderr, "100 ops against a dead redis took %.3fs\n", took);
	CHECK(took < 5.0);
	const char *const none[] = {NULL};
	F.redis.pid = start_redis(F.redis.dir, F.redis.port, NULL, none);
	REQUIRE(F.redis.pid > 0);
	/* back within the backoff bound (2 s max) */
	t0 = now_sec();
	int rc = -EAGAIN;
	while (rc == -EAGAIN && now_sec() - t0 < 10)
		if ((rc = meta_getattr(F.m, ref_of(&f), &a)) == -EAGAIN)
			usleep(50000);
	CHECK_EQ(rc, 0);
	CHECK(now_sec() - t0 < 3.0);
	/* what was acknowledged before the kill is still there (AOF) */
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, "before", &a), 0);
	CHECK_EQ(a.ino, f.ino);
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, "during", &a), -ENOENT);
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "after", 0644, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(redis_killed_under_load_recovers_clean)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_ref dirs[3] = {F.root, F.root, F.root};
	uint64_t rng = 42;
	for (int round = 0; round < 3; round++) {
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			struct meta *m;
			char err[256];
			if (meta_open(F.redis.url, &m, err, sizeof(err)) != 0)
				_exit(2);
			for (;;)
				random_op(m, dirs, &rng);
		}
		usleep(300000);
		kill(F.redis.pid, SIGKILL); /* the server dies, the client keeps going */
		waitpid(F.redis.pid, NULL, 0);
		usleep(100000);
		const char *const none[] = {NULL};
		F.redis.pid = start_redis(F.redis.dir, F.redis.port, NULL, none);
		REQUIRE(F.redis.pid > 0);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		struct gfs_attr a;
		int rc = -EAGAIN;
		for (int i = 0; i < 100 && rc == -EAGAIN; i++)
			if ((rc = meta_getattr(F.m, F.root, &a)) == -EAGAIN)
				usleep(50000);
		REQUIRE_EQ(rc, 0);
		CHECK_EQ(fsck_problems(F.m), 0);
	}
	fixture_down(&F);
}

TEST(evicting_redis_is_refused)
{
	struct tl_redis r;
	REQUIRE(tl_redis_start(&r) == 0);
	REQUIRE_EQ(tl_redis_cmd(&r, "CONFIG SET maxmemory-policy allkeys-lru"), 0);
	struct meta *m = NULL;
	char err[512] = "";
	CHECK_EQ(meta_open(r.url, &m, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "allkeys-lru") != NULL);
	CHECK(strstr(err, "CONFIG SET maxmemory-policy noeviction") != NULL);
	REQUIRE_EQ(tl_redis_cmd(&r, "CONFIG SET maxmemory-policy noeviction"), 0);
	CHECK_EQ(meta_open(r.url, &m, err, sizeof(err)), 0);
	meta_close(m);
	tl_redis_stop(&r);
}

TEST(config_renamed_and_unix_socket)
{
	char dir[256], sock[300];
	REQUIRE(tl_tmpdir("metasock", dir, sizeof(dir)) == 0);
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	const char *const extra[] = {"--rename-command", "CONFIG", "", NULL};
	pid_t pid = start_redis(dir, 0, sock, extra);
	REQUIRE(pid > 0);
	char url[400], err[512] = "";
	snprintf(url, sizeof(url), "unix://%s?db=2&prefix=vol2", sock);
	struct meta *m = NULL;
	int rc = meta_open(url, &m, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		struct gfs_volume_settings s = {.block_size = META_DEFAULT_BLOCK_SIZE};
		snprintf(s.name, sizeof(s.name), "v2");
		CHECK_EQ(meta_format(m, &s, 0, err, sizeof(err)), 0);
		struct gfs_attr a;
		struct gfs_wcc w;
		CHECK_EQ(meta_mkdir(m, &ROOT, (struct gfs_ref){GFS_ROOT_INO, 0}, "x", 0755, &a, &w), 0);
		meta_close(m);
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "test \"$(redis-cli -s %s -n 2 HGET 'gatefs{vol2}:i%llu' t)\" = 2", sock,
			 (unsigned long long)a.ino);
		CHECK_EQ(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "test \"$(redis-cli -s %s -n 0 DBSIZE)\" = 0", sock);
		CHECK_EQ(system(cmd), 0);
	}
	CHECK_EQ(meta_open("unix://relative?db=1", &m, err, sizeof(err)), -EINVAL);
	CHECK_EQ(meta_open("redis://127.0.0.1:6379/0?prefix=bad{tag}", &m, err, sizeof(err)), -EINVAL);
	CHECK_EQ(meta_open("http://x", &m, err, sizeof(err)), -EINVAL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	tl_rm_rf(dir);
}

TEST_MAIN()
