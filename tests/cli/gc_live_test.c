/*
 * gc_live_test.c - `gatefs gc --delete` is safe while a gateway writes: gc
 * runs in a loop while NFS clients write UNSTABLE and FILE_SYNC data and
 * small FILE_SYNC overwrites keep the compactor busy; meanwhile leaked
 * objects (unreferenced, ids handed out long ago, two hours old) are
 * dropped into the store.  Afterwards every file reads back exactly as
 * written, `fsck --objects` finds every block, compaction did run, and gc
 * did delete the genuine leaks, so it was not idle.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "rawnfs.h"

#define NFILES 3
#define FILE_BYTES (3u << 20)	/* written UNSTABLE in four parts, each committed */
#define SMALL_WRITES 80		/* FILE_SYNC overwrites per file: far above the compaction threshold */
#define SMALL_SPAN (256u << 10) /* they land in the first 256 KiB: one chunk */
#ifndef FIRST_LIVE_ID
#define FIRST_LIVE_ID 1000 /* ids below were handed out before any write, and never used */
#endif

static int run(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One line of a command's output (first line matching prefix) into out. */
static int capture(const char *cmd, const char *prefix, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	char line[512];
	int found = -1;
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (found < 0 && strncmp(line, prefix, strlen(prefix)) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, outlen, "%s", line + strlen(prefix));
			found = 0;
		}
	pclose(p);
	return found;
}

/* The gc loop: `gatefs gc --delete` (default --min-age) until SIGTERM; the
 * number of runs that failed is the exit status. */
static pid_t start_gc_loop(const char *meta_url, const char *log)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	static volatile sig_atomic_t stop;
	signal(SIGTERM, SIG_DFL);
	int bad = 0;
	char *argv[] = {(char *)gw_binary(), "gc", "--meta", (char *)meta_url, "--delete", NULL};
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	while (!stop) {
		/* SIGTERM only between runs, so a run is never cut short */
		sigprocmask(SIG_BLOCK, &term, NULL);
		if (run(argv, log) != 0)
			bad++;
		struct timespec zero = {0, 0};
		if (sigtimedwait(&term, NULL, &zero) == SIGTERM)
			stop = 1;
	}
	_exit(bad > 100 ? 100 : bad);
}

static void leak(const char *objects, const char *uuid, uint64_t id, char *path, size_t pathlen)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/%s/chunks/%llu/%llu", objects, uuid, (unsigned long long)(id / 1000000),
		 (unsigned long long)(id / 1000));
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	if (system(cmd) != 0)
		return;
	snprintf(path, pathlen, "%s/%llu_0_6", dir, (unsigned long long)id);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fputs("leaked", f);
	fclose(f);
	struct timeval two_hours_ago[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
	utimes(path, two_hours_ago);
}

TEST(gc_delete_in_a_loop_during_writes_and_compaction)
{
	/* Compact often, so that compaction results are committed while gc
	 * scans; the gateway inherits the environment. */
	setenv("GATEFS_COMPACT_THRESHOLD", "4", 1);
	struct gateway gw;
	REQUIRE_EQ(gw_start(&gw, NULL), 0);
	struct rn_client c;
	if (rn_connect(&c, gw.nfs_port, gw.mount_port, "/hf") != 0) {
		gw_stop(&gw);
		REQUIRE(0);
	}
	char cmd[700], uuid[64] = "", objects[400], gc_log[400];
	snprintf(cmd, sizeof(cmd), "%s status --meta %s", gw_binary(), gw.redis.url);
	REQUIRE_EQ(capture(cmd, "uuid:            ", uuid, sizeof(uuid)), 0);
	snprintf(objects, sizeof(objects), "%s/objects", gw.dir);
	snprintf(gc_log, sizeof(gc_log), "%s/gc.log", gw.dir);
	snprintf(cmd, sizeof(cmd), "INCRBY 'gatefs{gfs}:nextslice' %d", FIRST_LIVE_ID);
	REQUIRE_EQ(tl_redis_cmd(&gw.redis, cmd), 0);

	char *data[NFILES];
	struct rn_fh fh[NFILES];
	uint64_t seed = 12345;
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		data[i] = malloc(FILE_BYTES);
		REQUIRE(data[i]);
		tl_fill_random(data[i], FILE_BYTES, seed + (uint64_t)i);
		REQUIRE_EQ(rn_create(&c, &c.root, name, 0644, &fh[i]), NFS3_OK);
	}

	pid_t gc = start_gc_loop(gw.redis.url, gc_log);
	REQUIRE(gc > 0);
	char leaked[4][800];
	int nleaked = 0;
	for (int round = 0; round < 4; round++) {
		/* a genuine leak: an id handed out long ago, an old object */
		leak(objects, uuid, 10 + (uint64_t)round, leaked[nleaked], sizeof(leaked[0]));
		nleaked++;
		for (int i = 0; i < NFILES; i++) {
			/* big UNSTABLE writes committed later: uploads in flight */
			uint64_t off = (uint64_t)round * (FILE_BYTES / 4);
			CHECK_EQ(rn_write_all(&c, &fh[i], off, data[i] + off, FILE_BYTES / 4, UNSTABLE), NFS3_OK);
		}
		for (int i = 0; i < NFILES; i++)
			CHECK_EQ(rn_commit(&c, &fh[i]), NFS3_OK);
		for (int w = 0; w < SMALL_WRITES / 4; w++) {
			for (int i = 0; i < NFILES; i++) {
				uint64_t off = tl_rand(&seed) % (SMALL_SPAN - 4096);
				tl_fill_random(data[i] + off, 4096, tl_rand(&seed));
				CHECK_EQ(rn_write(&c, &fh[i], off, data[i] + off, 4096, FILE_SYNC, NULL), NFS3_OK);
			}
		}
	}
	/* Let the compactor finish what the last writes scheduled, under gc. */
	sleep(2);
	kill(gc, SIGTERM);
	int status = 0;
	REQUIRE_EQ(waitpid(gc, &status, 0), gc);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	for (int i = 0; i < NFILES; i++) {
		char *back = NULL;
		size_t len = 0;
		CHECK_EQ(rn_read_all(&c, &fh[i], &back, &len), NFS3_OK);
		CHECK_EQ(len, FILE_BYTES);
		if (back && len == FILE_BYTES && memcmp(back, data[i], FILE_BYTES) != 0)
			tl_fail(__FILE__, __LINE__, "file f%d does not read back as written", i);
		free(back);
		free(data[i]);
	}
	/* gc was not idle: it took the genuine leaks while the load ran */
	for (int i = 0; i < nleaked; i++)
		if (access(leaked[i], F_OK) == 0)
			tl_fail(__FILE__, __LINE__, "leaked object %s was not deleted", leaked[i]);
	/* compaction ran: no chunk kept its SMALL_WRITES records */
	char longest[64] = "";
	snprintf(
	    cmd, sizeof(cmd),
	    "redis-cli -p %d --scan --pattern 'gatefs{gfs}:c*_*' | while read k; do redis-cli -p %d STRLEN \"$k\"; "
	    "done | sort -n | tail -1 | sed 's/^/max /'",
	    gw.redis.port, gw.redis.port);
	CHECK_EQ(capture(cmd, "max ", longest, sizeof(longest)), 0);
	fprintf(stderr, "longest chunk record list: %s bytes\n", longest);
	CHECK(atoi(longest) > 0 && atoi(longest) < 24 * SMALL_WRITES / 2);

	char *fsck[] = {(char *)gw_binary(), "fsck", "--meta", gw.redis.url, "--objects", NULL};
	char fsck_log[450];
	snprintf(fsck_log, sizeof(fsck_log), "%s/fsck.log", gw.dir);
	CHECK_EQ(run(fsck, fsck_log), 0);
	rn_close(&c);
	CHECK_EQ(gw_stop(&gw), 0);
}

TEST_MAIN()
