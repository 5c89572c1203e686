/*
 * embedded_test.c - the embedded redis-server never outlives gatefs, even
 * when gatefs dies between fork and the child's PR_SET_PDEATHSIG (which
 * would then never fire).  fork is interposed to make that window certain:
 * the parent exits at once, the child waits before it goes on.  This test
 * process is a child subreaper, so the orphan becomes its child and its
 * fate can be checked.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve_embedded.h"
#include "testlib.h"

static int die_after_fork;

/* This program's fork takes the place of libc's for the statically linked
 * gatefs code. */
pid_t fork(void)
{
	pid_t (*real_fork)(void) = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
	pid_t pid = real_fork();
	if (!die_after_fork)
		return pid;
	if (pid == 0) {
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL); /* the parent is gone before prctl runs */
		return 0;
	}
	if (pid > 0)
		_exit(0); /* gatefs dies right after fork */
	return pid;
}

/* Kills and reaps every child of ours (the orphan, if it became one). */
static int kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int killed = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		const char *close_paren = strrchr(buf, ')');
		int ppid = 0;
		if (close_paren && sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == getpid()) {
			kill(atoi(e->d_name), SIGKILL);
			waitpid(atoi(e->d_name), NULL, 0);
			killed++;
		}
	}
	closedir(d);
	return killed;
}

TEST(no_orphan_redis_when_gatefs_dies_before_pdeathsig)
{
	char dir[256];
	REQUIRE_EQ(tl_tmpdir("embedded", dir, sizeof(dir)), 0);
	REQUIRE_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

	pid_t gatefs = fork();
	REQUIRE(gatefs >= 0);
	if (gatefs == 0) {
		struct embedded_redis r;
		char err[256];
		die_after_fork = 1;
		embedded_redis_start(dir, -1, &r, err, sizeof(err));
		_exit(2); /* not reached: the interposed fork exits */
	}
	int status = 0;
	REQUIRE_EQ(waitpid(gatefs, &status, 0), gatefs);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The orphan is ours now.  It must give up by itself, not run
	 * redis-server with nobody to stop it. */
	pid_t orphan = 0;
	for (int waited = 0; waited < 5000 && orphan <= 0; waited += 50) {
		orphan = waitpid(-1, &status, WNOHANG);
		if (orphan <= 0) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (orphan <= 0) {
		int n = kill_children();
		tl_fail(__FILE__, __LINE__, "the child outlived gatefs by 5 s (%d process(es) killed)", n);
	} else {
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	tl_rm_rf(dir);
}

TEST_MAIN()
