/*
 * test_serve.c - the `gatefs serve` command itself: --help, refusal to
 * start on a bad configuration (file:line:problem, exit 2), and the
 * embedded default (private redis-server, file:// objects, formatted on
 * first start, /hf for loopback; the same volume and handles after a
 * restart; SIGTERM and SIGINT stop cleanly and stop redis too).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "rawrpc.h"
#include "testlib.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Runs gatefs with argv (after "gatefs"), output to log; returns the pid. */
static pid_t spawn(char *const args[], const char *log, const char *data_dir_env)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (data_dir_env)
		setenv("GATEFS_DATA_DIR", data_dir_env, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that dies takes its gateway along */
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)gw_binary();
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	execv(argv[0], argv);
	_exit(127);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int st;
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static bool file_contains(const char *path, const char *text)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, text) != NULL;
}

static int count_in_file(const char *path, const char *text)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

TEST(serve_help)
{
	char dir[256], log[512];
	REQUIRE_EQ(tl_tmpdir("serve", dir, sizeof(dir)), 0);
	snprintf(log, sizeof(log), "%s/out", dir);
	char *args[] = {"serve", "--help", NULL};
	CHECK_EQ(wait_exit(spawn(args, log, NULL), 10000), 0);
	CHECK(file_contains(log, "SYNOPSIS"));
	CHECK(file_contains(log, "--portmapper"));
	tl_rm_rf(dir);
}

TEST(serve_refuses_bad_config_and_flags)
{
	char dir[256], log[512], conf[512];
	REQUIRE_EQ(tl_tmpdir("serve", dir, sizeof(dir)), 0);
	snprintf(log, sizeof(log), "%s/out", dir);
	snprintf(conf, sizeof(conf), "%s/gatefs.conf", dir);
	FILE *f = fopen(conf, "w");
	REQUIRE(f);
	fputs("# test\nnfs_port = 0\n/hf 127.0.0.1(rw,turbo)\n", f);
	fclose(f);

	char *args[] = {"serve", "--config", conf, NULL};
	CHECK_EQ(wait_exit(spawn(args, log, NULL), 10000), 2);
	char want[600];
	snprintf(want, sizeof(want), "%s:3: unknown export option 'turbo'", conf);
	CHECK(file_contains(log, want));

	char *bad_flag[] = {"serve", "--nfs-port", "99999", NULL};
	CHECK_EQ(wait_exit(spawn(bad_flag, log, NULL), 10000), 2);
	char *extra[] = {"serve", "stray", NULL};
	CHECK_EQ(wait_exit(spawn(extra, log, NULL), 10000), 2);
	tl_rm_rf(dir);
}

TEST(serve_refuses_unformatted_volume)
{
	struct tl_redis redis;
	char dir[256], log[512], conf[512];
	REQUIRE_EQ(tl_redis_start(&redis), 0);
	REQUIRE_EQ(tl_tmpdir("serve", dir, sizeof(dir)), 0);
	snprintf(log, sizeof(log), "%s/out", dir);
	snprintf(conf, sizeof(conf), "%s/gatefs.conf", dir);
	FILE *f = fopen(conf, "w");
	REQUIRE(f);
	fprintf(f, "meta_url = %s\nlisten = 127.0.0.1\nnfs_port = 0\nmount_port = 0\nportmapper = off\n", redis.url);
	fclose(f);
	char *args[] = {"serve", "--config", conf, NULL};
	CHECK_EQ(wait_exit(spawn(args, log, NULL), 30000), 1);
	CHECK(file_contains(log, "cannot open the volume"));
	CHECK(file_contains(log, "gatefs not started"));
	tl_redis_stop(&redis);
	tl_rm_rf(dir);
}

static bool port_listening(int port)
{
	int fd = rr_tcp_connect(port);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Waits until both ports accept; false if pid exits first or after 30 s. */
static bool wait_listening(pid_t pid, int port1, int port2)
{
	for (int i = 0; i < 600; i++) {
		if (port_listening(port1) && port_listening(port2))
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return false;
}

/* MNT /hf; returns the handle length (0 on failure). */
static size_t mount_hf(int port, uint8_t fh[64])
{
	struct xb args = {.len = 0};
	struct rr_reply r;
	struct rr_call c = {.xid = (uint32_t)time(NULL), .prog = 100005, .vers = 3, .proc = 1, .auth_sys = true};
	int fd = rr_tcp_connect(port);
	size_t len = 0;

	if (fd < 0)
		return 0;
	xb_string(&args, "/hf");
	if (rr_call_tcp(fd, &c, args.data, args.len, &r) == 0 && r.accept_stat == RR_SUCCESS && xr_u32(&r.body) == 0)
		len = xr_opaque(&r.body, fh, 64);
	close(fd);
	return len;
}

static pid_t logged_redis_pid(const char *log)
{
	char line[2048];
	pid_t pid = -1;
	FILE *f = fopen(log, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "embedded redis-server pid ");
		if (p)
			pid = (pid_t)atoi(p + strlen("embedded redis-server pid "));
	}
	fclose(f);
	return pid;
}

TEST(serve_embedded_default)
{
	char dir[256], data[300], log[512], nfs[16], mnt[16], path[600];
	REQUIRE_EQ(tl_tmpdir("serve", dir, sizeof(dir)), 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	int nfs_port = tl_free_port(), mount_port = tl_free_port();
	while (mount_port == nfs_port)
		mount_port = tl_free_port();
	snprintf(nfs, sizeof(nfs), "%d", nfs_port);
	snprintf(mnt, sizeof(mnt), "%d", mount_port);

	/* First start: --data-dir; nothing there yet. */
	char *args[] = {"serve", "--data-dir",	 data, "--listen",     "127.0.0.1", "--nfs-port",
			nfs,	 "--mount-port", mnt,  "--portmapper", "off",	    NULL};
	pid_t pid = spawn(args, log, NULL);
	bool up = wait_listening(pid, nfs_port, mount_port);
	if (!up) {
		struct gateway g;
		snprintf(g.log, sizeof(g.log), "%s", log);
		gw_print_log(&g);
	}
	REQUIRE(up);
	uint8_t fh1[64], fh2[64];
	size_t len1 = mount_hf(mount_port, fh1);
	CHECK(len1 > 0);
	snprintf(path, sizeof(path), "%s/objects", data);
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/redis/appendonlydir", data);
	char path2[600];
	snprintf(path2, sizeof(path2), "%s/redis/appendonly.aof", data);
	CHECK(stat(path, &st) == 0 || stat(path2, &st) == 0); /* AOF is on */
	pid_t redis_pid = logged_redis_pid(log);
	CHECK(redis_pid > 0 && kill(redis_pid, 0) == 0);
	/* Every change is fsynced before Redis replies: COMMIT means stable. */
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "redis-cli -s %s/redis.sock CONFIG GET appendfsync | grep -qx always", data);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(count_in_file(log, "formatted embedded volume"), 1);

	kill(pid, SIGTERM);
	CHECK_EQ(wait_exit(pid, 30000), 0);
	CHECK(count_in_file(log, "gatefs stopped") == 1);
	sleep_ms(100);
	CHECK(redis_pid > 0 && kill(redis_pid, 0) != 0); /* redis stopped too */

	/* Second start: the data dir from $GATEFS_DATA_DIR; same volume. */
	char *args2[] = {"serve",	 "--listen", "127.0.0.1",    "--nfs-port", nfs,
			 "--mount-port", mnt,	     "--portmapper", "off",	   NULL};
	pid = spawn(args2, log, data);
	REQUIRE(wait_listening(pid, nfs_port, mount_port));
	size_t len2 = mount_hf(mount_port, fh2);
	CHECK(len2 == len1 && memcmp(fh1, fh2, len1) == 0); /* handles survive restarts */
	CHECK_EQ(count_in_file(log, "formatted embedded volume"), 1);
	kill(pid, SIGINT);
	CHECK_EQ(wait_exit(pid, 30000), 0);
	CHECK(count_in_file(log, "gatefs stopped") == 2);
	if (tl_current_failed) {
		struct gateway g;
		snprintf(g.log, sizeof(g.log), "%s", log);
		gw_print_log(&g);
	}
	tl_rm_rf(dir);
}

TEST_MAIN()
