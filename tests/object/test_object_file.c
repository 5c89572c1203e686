/*
 * test_object_file.c - the file:// driver, every operation: put/get/head/
 * delete, ranged reads past the end, missing keys, bad keys, list with
 * prefix and start_after in lexical order, del_many, concurrent puts, the
 * probe, and URL parsing errors of object_store_open; modes 0600/0700,
 * every new directory fsynced, listing mtimes, stale temporary files
 * removed at open.
 */
#include "object.h"
#include "testlib.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char url[400];

static struct object_store *open_store(void)
{
	if (tl_tmpdir("objfile", dir, sizeof(dir)) < 0)
		return NULL;
	snprintf(url, sizeof(url), "file://%s/store", dir);
	struct object_store *st = NULL;
	char err[256] = "";
	int rc = object_store_open(url, NULL, &st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "open %s: %d %s\n", url, rc, err);
	return st;
}

static void close_store(struct object_store *st)
{
	object_store_close(st);
	tl_rm_rf(dir);
}

TEST(put_get_head_delete)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	CHECK_STR(st->ops->scheme, "file");
	const char *data = "hello, object";
	CHECK_EQ(st->ops->put(st, "a/b/c", data, strlen(data)), 0);
	char buf[64];
	size_t got = 0;
	CHECK_EQ(st->ops->get(st, "a/b/c", 0, sizeof(buf), buf, &got), 0);
	CHECK_EQ(got, strlen(data));
	CHECK(memcmp(buf, data, got) == 0);
	uint64_t size = 0;
	CHECK_EQ(st->ops->head(st, "a/b/c", &size), 0);
	CHECK_EQ(size, strlen(data));
	/* overwrite replaces the whole object */
	CHECK_EQ(st->ops->put(st, "a/b/c", "xy", 2), 0);
	CHECK_EQ(st->ops->head(st, "a/b/c", &size), 0);
	CHECK_EQ(size, 2);
	CHECK_EQ(st->ops->del(st, "a/b/c"), 0);
	CHECK_EQ(st->ops->head(st, "a/b/c", &size), -ENOENT);
	CHECK_EQ(st->ops->get(st, "a/b/c", 0, sizeof(buf), buf, &got), -ENOENT);
	/* empty directories are pruned, the root is kept */
	char path[400];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/store/a", dir);
	CHECK(stat(path, &sb) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/store", dir);
	CHECK(stat(path, &sb) == 0);
	/* zero-length objects exist */
	CHECK_EQ(st->ops->put(st, "empty", "", 0), 0);
	CHECK_EQ(st->ops->head(st, "empty", &size), 0);
	CHECK_EQ(size, 0);
	CHECK_EQ(st->ops->get(st, "empty", 0, sizeof(buf), buf, &got), 0);
	CHECK_EQ(got, 0);
	close_store(st);
}

TEST(ranges)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	char data[1000], buf[1000];
	tl_fill_random(data, sizeof(data), 7);
	CHECK_EQ(st->ops->put(st, "r", data, sizeof(data)), 0);
	size_t got = 0;
	CHECK_EQ(st->ops->get(st, "r", 100, 50, buf, &got), 0);
	CHECK_EQ(got, 50);
	CHECK(memcmp(buf, data + 100, 50) == 0);
	/* a range running past the end is short */
	CHECK_EQ(st->ops->get(st, "r", 990, 100, buf, &got), 0);
	CHECK_EQ(got, 10);
	CHECK(memcmp(buf, data + 990, 10) == 0);
	/* a range starting at or past the end is empty, not an error */
	CHECK_EQ(st->ops->get(st, "r", 1000, 10, buf, &got), 0);
	CHECK_EQ(got, 0);
	CHECK_EQ(st->ops->get(st, "r", 5000, 10, buf, &got), 0);
	CHECK_EQ(got, 0);
	close_store(st);
}

TEST(missing_and_bad_keys)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	char buf[8];
	size_t got = 99;
	uint64_t size;
	CHECK_EQ(st->ops->get(st, "nope", 0, sizeof(buf), buf, &got), -ENOENT);
	CHECK_EQ(got, 0);
	CHECK_EQ(st->ops->head(st, "nope/deeper", &size), -ENOENT);
	CHECK_EQ(st->ops->del(st, "nope"), 0);
	CHECK_EQ(st->ops->del(st, "nope/deeper"), 0);
	const char *bad[] = {"", "/abs", "a//b", "a/", "../x", "a/../b", "./a", ".gatefs-tmp-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(st->ops->put(st, bad[i], "x", 1), -EINVAL);
		CHECK_EQ(st->ops->get(st, bad[i], 0, 1, buf, &got), -EINVAL);
	}
	/* a "directory" of other keys is not itself an object */
	CHECK_EQ(st->ops->put(st, "d/x", "x", 1), 0);
	CHECK_EQ(st->ops->head(st, "d", &size), -ENOENT);
	CHECK_EQ(st->ops->get(st, "d", 0, 1, buf, &got), -ENOENT);
	close_store(st);
}

struct collected {
	char keys[64][64];
	uint64_t sizes[64];
	int64_t mtimes[64];
	int n;
	int stop_after;
};

static int collect(void *arg, const struct object_info *info)
{
	struct collected *c = arg;
	if (c->n < 64) {
		snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", info->key);
		c->sizes[c->n] = info->size;
		c->mtimes[c->n] = info->mtime_sec;
	}
	c->n++;
	return c->stop_after && c->n >= c->stop_after ? 42 : 0;
}

TEST(list_prefix_start_after)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	/* '/' (0x2f) sorts before '0' and '-' (0x2d) before '/': a tree walk
	 * order would differ from lexical order here. */
	const char *keys[] = {"b/2", "a-1", "a/x", "a/b/c", "b/10", "a0", "c", "a/a"};
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(st->ops->put(st, keys[i], keys[i], strlen(keys[i])), 0);
	struct collected c = {0};
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	const char *all[] = {"a-1", "a/a", "a/b/c", "a/x", "a0", "b/10", "b/2", "c"};
	REQUIRE_EQ(c.n, 8);
	for (int i = 0; i < 8; i++) {
		CHECK_STR(c.keys[i], all[i]);
		CHECK_EQ(c.sizes[i], strlen(all[i]));
	}
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "a/", NULL, collect, &c), 0);
	REQUIRE_EQ(c.n, 3);
	CHECK_STR(c.keys[0], "a/a");
	CHECK_STR(c.keys[2], "a/x");
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "a", "a/b/c", collect, &c), 0);
	REQUIRE_EQ(c.n, 2);
	CHECK_STR(c.keys[0], "a/x");
	CHECK_STR(c.keys[1], "a0");
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, NULL, "b/10", collect, &c), 0);
	REQUIRE_EQ(c.n, 2);
	CHECK_STR(c.keys[0], "b/2");
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "zzz", NULL, collect, &c), 0);
	CHECK_EQ(c.n, 0);
	/* the callback's non-zero return stops the listing and is returned */
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 42);
	CHECK_EQ(c.n, 3);
	close_store(st);
}

/* fsync as the driver calls it, recorded: this program's definition takes
 * the place of libc's for the statically linked driver.  The paths of the
 * directories fsynced since the last reset, one per line. */
static char fsynced[8192];

int fsync(int fd)
{
	char link[64], path[1024];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	struct stat sb;
	if (n > 0 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		path[n] = 0;
		size_t used = strlen(fsynced);
		snprintf(fsynced + used, sizeof(fsynced) - used, "%s\n", path);
	}
	return (int)syscall(SYS_fsync, fd);
}

static int was_fsynced(const char *path)
{
	char line[1100];
	snprintf(line, sizeof(line), "%s\n", path);
	for (const char *p = fsynced; (p = strstr(p, line)) != NULL; p++)
		if (p == fsynced || p[-1] == '\n')
			return 1;
	return 0;
}

/* A crash after put returned must not lose the object because a directory
 * made on the way was never made durable: each new directory's entry is
 * fsynced in its parent, and the object's entry in its directory. */
TEST(put_fsyncs_every_new_directory)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	fsynced[0] = 0;
	REQUIRE_EQ(st->ops->put(st, "x/y/z/obj", "data", 4), 0);
	const char *dirs[] = {"store", "store/x", "store/x/y", "store/x/y/z"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		if (!was_fsynced(path))
			tl_fail(__FILE__, __LINE__, "%s was not fsynced; fsynced:\n%s", dirs[i], fsynced);
	}
	/* an existing directory is not fsynced again for its entries' sake */
	fsynced[0] = 0;
	REQUIRE_EQ(st->ops->put(st, "x/y/z/obj2", "data", 4), 0);
	char parent[600];
	snprintf(parent, sizeof(parent), "%s/store/x/y", dir);
	CHECK(!was_fsynced(parent));
	close_store(st);
}

/* What a local user can see: the store root, every directory a put makes
 * and every object are the gateway's alone, whatever the umask allows. */
TEST(objects_0600_directories_0700)
{
	umask(022);
	struct object_store *st = open_store();
	REQUIRE(st);
	REQUIRE_EQ(st->ops->put(st, "u/chunks/0/0/1_0_4", "data", 4), 0);
	const char *dirs[] = {"store", "store/u", "store/u/chunks", "store/u/chunks/0", "store/u/chunks/0/0"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[600];
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		REQUIRE_EQ(stat(path, &sb), 0);
		if ((sb.st_mode & 07777) != 0700)
			tl_fail(__FILE__, __LINE__, "%s has mode %o, want 700", dirs[i], sb.st_mode & 07777);
	}
	char path[600];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/store/u/chunks/0/0/1_0_4", dir);
	REQUIRE_EQ(stat(path, &sb), 0);
	CHECK_EQ(sb.st_mode & 07777, 0600);
	close_store(st);
}

/* The listing carries each object's modification time (gc's minimum age
 * depends on it). */
TEST(list_gives_mtime)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	REQUIRE_EQ(st->ops->put(st, "k", "v", 1), 0);
	struct collected c = {0};
	REQUIRE_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	REQUIRE_EQ(c.n, 1);
	int64_t now = (int64_t)time(NULL);
	CHECK(c.mtimes[0] > now - 60 && c.mtimes[0] <= now + 1);
	close_store(st);
}

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("partial", f);
		fclose(f);
	}
}

/* A put that died between creating its temporary file and the rename
 * leaves the file behind; the next open removes it.  A temporary file of a
 * live process (a gateway's put while gc opens the store) stays. */
TEST(open_removes_stale_temp_files)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	REQUIRE_EQ(st->ops->put(st, "a/b/obj", "x", 1), 0);
	object_store_close(st);

	pid_t dead = fork();
	REQUIRE(dead >= 0);
	if (dead == 0)
		_exit(0);
	REQUIRE_EQ(waitpid(dead, NULL, 0), dead);
	char stale[600], stale_root[600], live[600];
	snprintf(stale, sizeof(stale), "%s/store/a/b/.gatefs-tmp-%d-7", dir, (int)dead);
	snprintf(stale_root, sizeof(stale_root), "%s/store/.gatefs-tmp-%d-0", dir, (int)dead);
	snprintf(live, sizeof(live), "%s/store/a/.gatefs-tmp-%d-3", dir, (int)getpid());
	write_file(stale);
	write_file(stale_root);
	write_file(live);
	REQUIRE_EQ(access(stale, F_OK), 0);

	char err[256] = "";
	REQUIRE_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	CHECK(access(stale, F_OK) < 0 && errno == ENOENT);
	CHECK(access(stale_root, F_OK) < 0 && errno == ENOENT);
	CHECK_EQ(access(live, F_OK), 0);
	uint64_t size = 0;
	CHECK_EQ(st->ops->head(st, "a/b/obj", &size), 0);
	CHECK_EQ(size, 1);
	close_store(st);
}

TEST(del_many)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	char names[20][16];
	const char *keys[21];
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "dm/%02d", i);
		keys[i] = names[i];
		CHECK_EQ(st->ops->put(st, keys[i], "z", 1), 0);
	}
	keys[20] = "dm/missing";
	CHECK_EQ(st->ops->del_many(st, keys, 15), 0);
	CHECK_EQ(st->ops->del_many(st, keys + 15, 6), 0); /* includes a missing key */
	struct collected c = {0};
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	CHECK_EQ(c.n, 0);
	close_store(st);
}

struct writer {
	struct object_store *st;
	int id;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char key[64], data[4096], back[4096];
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "t%d/%d-%d", w->id % 4, w->id, i % 5);
		tl_fill_random(data, sizeof(data), (uint64_t)(w->id * 1000 + i));
		size_t got = 0;
		if (w->st->ops->put(w->st, key, data, sizeof(data)) ||
		    w->st->ops->get(w->st, key, 0, sizeof(back), back, &got) || got != sizeof(data) ||
		    memcmp(data, back, got) != 0)
			w->failures++;
		if (i % 5 == 4 && w->st->ops->del(w->st, key))
			w->failures++;
	}
	return NULL;
}

TEST(concurrent_put_get_delete)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	pthread_t t[8];
	struct writer w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct writer){st, i, 0}; /* pairs of threads share directories */
		pthread_create(&t[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].failures, 0);
	}
	close_store(st);
}

TEST(probe_and_urls)
{
	struct object_store *st = open_store();
	REQUIRE(st);
	char err[256] = "";
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), 0);
	struct collected c = {0};
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	CHECK_EQ(c.n, 0); /* the probe cleaned up */
	close_store(st);

	struct object_store *bad = NULL;
	CHECK_EQ(object_store_open("file://relative/dir", NULL, &bad, err, sizeof(err)), -EINVAL);
	CHECK(bad == NULL);
	CHECK(strstr(err, "absolute") != NULL);
	CHECK_EQ(object_store_open("ftp://x/y", NULL, &bad, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown") != NULL);
	CHECK_EQ(object_store_open("s3://bucket/p?endpoint=http://127.0.0.1:1&bogus=1", NULL, &bad, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "bogus") != NULL);
	CHECK_EQ(object_store_open("http://127.0.0.1:1/", NULL, &bad, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bucket") != NULL);

	/* a file where the directory should be */
	char file[300];
	REQUIRE(tl_tmpdir("objfile", dir, sizeof(dir)) == 0);
	snprintf(file, sizeof(file), "%s/plain", dir);
	FILE *f = fopen(file, "w");
	REQUIRE(f);
	fclose(f);
	snprintf(url, sizeof(url), "file://%s", file);
	CHECK(object_store_open(url, NULL, &bad, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a directory") != NULL);
	tl_rm_rf(dir);
}

TEST_MAIN()
