/*
 * meta_fixture.h - what every meta test program shares: a fresh redis-server
 * with a formatted volume, credentials, and small wrappers that make test
 * bodies read as the operations they check.
 */
#ifndef GATEFS_META_FIXTURE_H
#define GATEFS_META_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "testlib.h"

struct fixture {
	struct tl_redis redis;
	struct meta *m;
	struct gfs_ref root;
};

static const struct gfs_cred ROOT = {0, 0, 0, {0}};
static const struct gfs_cred ALICE = {1000, 1000, 1, {1000}};
static const struct gfs_cred BOB = {1001, 1001, 2, {1001, 50}};

/* A test that stops at a failed REQUIRE skips fixture_down: its redis-server
 * is killed at exit instead of outliving the program. */
static struct tl_redis *fixture_live_redis;
static inline void fixture_kill_at_exit(void)
{
	if (fixture_live_redis)
		tl_redis_stop(fixture_live_redis);
}

/* Starts redis, opens and formats a volume; 0 on success. */
static inline int fixture_up(struct fixture *f)
{
	if (fixture_live_redis && fixture_live_redis->pid > 0)
		tl_redis_stop(fixture_live_redis); /* left over by a failed test */
	memset(f, 0, sizeof(*f));
	if (tl_redis_start(&f->redis) < 0)
		return -1;
	if (!fixture_live_redis)
		atexit(fixture_kill_at_exit);
	fixture_live_redis = &f->redis;
	char err[512];
	if (meta_open(f->redis.url, &f->m, err, sizeof(err)) < 0) {
		fprintf(stderr, "meta_open: %s\n", err);
		return -1;
	}
	struct gfs_volume_settings s = {.block_size = META_DEFAULT_BLOCK_SIZE, .chunk_size = META_CHUNK_SIZE};
	snprintf(s.name, sizeof(s.name), "test");
	snprintf(s.uuid, sizeof(s.uuid), "00000000-0000-0000-0000-000000000001");
	snprintf(s.storage_url, sizeof(s.storage_url), "file:///tmp/none");
	if (meta_format(f->m, &s, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "meta_format: %s\n", err);
		return -1;
	}
	struct gfs_attr a;
	if (meta_getattr(f->m, (struct gfs_ref){GFS_ROOT_INO, 0}, &a) < 0)
		return -1;
	f->root = (struct gfs_ref){a.ino, a.gen};
	return 0;
}

static inline void fixture_down(struct fixture *f)
{
	meta_close(f->m);
	f->m = NULL;
	tl_redis_stop(&f->redis);
}

static inline struct gfs_ref ref_of(const struct gfs_attr *a)
{
	return (struct gfs_ref){a->ino, a->gen};
}

static inline void report_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "fsck: %s\n", line);
}

static inline int fsck_problems(struct meta *m)
{
	return meta_fsck(m, report_line, NULL);
}

#endif
