/*
 * nfs3_metrics_test.c - the Prometheus endpoint, `gatefs status --watch`
 * and `gatefs health` of a real gateway (metrics_listen set), driven by a
 * libtirpc NFSv3 client as an unprivileged user (uid 1000):
 *   - counters move by exactly what the workload did (calls and errors per
 *     procedure, latency counts), object bytes and Redis round trips move,
 *     clients connected follows the client;
 *   - scrapes taken while the workload runs all answer, and the result
 *     passes `promtool check metrics`;
 *   - the health check fails while Redis is down and passes once it is back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "gateway.h"

#define MIB (1u << 20)

static const struct timeval timeout = {20, 0};

static double proc_value(const char *text, const char *family, const char *proc)
{
	char key[256];
	snprintf(key, sizeof(key), "%s{program=\"nfs3\",version=\"3\",procedure=\"%s\"}", family, proc);
	return gw_metrics_value(text, key);
}

struct scraper {
	int port;
	atomic_int stop;
	int ok, failed;
};

static void *scrape_loop(void *arg)
{
	struct scraper *s = arg;
	while (!atomic_load(&s->stop)) {
		char *t = gw_metrics_scrape(s->port);
		if (t && strstr(t, "gatefs_build_info{"))
			s->ok++;
		else
			s->failed++;
		free(t);
		usleep(20000);
	}
	return NULL;
}

static struct gateway gw, peer;
static int metrics_port;

/* A gateway with the endpoint: a peer of a harness gateway (the harness
 * takes extra configuration lines only for peers). */
static int start_gateways(void)
{
	char extra[128];
	if (gw_start(&gw, NULL) != 0)
		return -1;
	metrics_port = tl_free_port();
	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d\nlog_format = json", metrics_port);
	if (gw_start_peer(&peer, &gw, extra) != 0)
		return -1;
	for (int i = 0; i < 100; i++) {
		char *t = gw_metrics_scrape(metrics_port);
		if (t) {
			free(t);
			return 0;
		}
		usleep(50000);
	}
	return -1;
}

static int run_quiet(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(metrics_follow_a_workload)
{
	static const struct client_opts user = {.uid = 1000, .gid = 1000};
	nfs_fh3 root = {0}, fh = {0}, missing = {0};
	fattr3 attr;

	static const struct client_opts admin = {.uid = 0, .gid = 0};
	nfs_fh3 top = {0};

	REQUIRE(start_gateways() == 0);
	/* uid 1000 works in a directory of its own, made by root. */
	REQUIRE_EQ(client_mount(peer.mount_port, "/hf", &admin, &top), 0);
	CLIENT *rc = client_connect(peer.nfs_port, 100003, 3, &admin);
	REQUIRE(rc != NULL);
	REQUIRE_EQ(nfs_mkdir(rc, &top, "user", 0777, &root), NFS3_OK);
	client_destroy(rc);
	fh_free(&top);

	char *before = NULL;
	for (int i = 0; i < 100 && (!before || gw_metrics_value(before, "gatefs_clients_connected") != 0); i++) {
		free(before);
		usleep(50000);
		before = gw_metrics_scrape(metrics_port);
	}
	REQUIRE(before != NULL);
	CHECK(gw_metrics_value(before, "gatefs_clients_connected") == 0);

	CLIENT *c = client_connect(peer.nfs_port, 100003, 3, &user);
	REQUIRE(c != NULL);
	clnt_control(c, CLSET_TIMEOUT, (char *)&timeout);

	struct scraper sc = {.port = metrics_port};
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, scrape_loop, &sc) == 0);

	/* The workload: 1 CREATE, 3 FILE_SYNC WRITEs of 1 MiB, 10 GETATTRs,
	 * 5 LOOKUPs of a missing name (NFS3ERR_NOENT), 3 READs of 1 MiB. */
	char *buf = malloc(MIB), *back = malloc(MIB);
	REQUIRE(buf && back);
	tl_fill_random(buf, MIB, 11);
	CHECK_EQ(nfs_create(c, &root, "metrics.bin", UNCHECKED, 0644, NULL, &fh, &attr), NFS3_OK);
	for (int i = 0; i < 3; i++) {
		stable_how committed;
		char verf[8];
		CHECK_EQ(nfs_write(c, &fh, (uint64_t)i * MIB, buf, MIB, FILE_SYNC, &committed, verf), NFS3_OK);
	}
	for (int i = 0; i < 10; i++)
		CHECK_EQ(nfs_getattr(c, &fh, &attr), NFS3_OK);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(nfs_lookup(c, &root, "no-such-file", &missing, NULL), NFS3ERR_NOENT);
	for (int i = 0; i < 3; i++) {
		uint32_t got = 0;
		bool eof;
		CHECK_EQ(nfs_read(c, &fh, (uint64_t)i * MIB, MIB, back, &got, &eof), NFS3_OK);
		CHECK(got == MIB && memcmp(back, buf, MIB) == 0);
	}

	char *after = gw_metrics_scrape(metrics_port);
	atomic_store(&sc.stop, 1);
	pthread_join(th, NULL);
	REQUIRE(after != NULL);
	CHECK(sc.ok >= 1);
	CHECK_EQ(sc.failed, 0);

	CHECK_EQ(proc_value(after, "gatefs_rpc_calls_total", "CREATE") -
		     proc_value(before, "gatefs_rpc_calls_total", "CREATE"),
		 1);
	CHECK_EQ(proc_value(after, "gatefs_rpc_calls_total", "WRITE") -
		     proc_value(before, "gatefs_rpc_calls_total", "WRITE"),
		 3);
	CHECK_EQ(proc_value(after, "gatefs_rpc_calls_total", "GETATTR") -
		     proc_value(before, "gatefs_rpc_calls_total", "GETATTR"),
		 10);
	CHECK_EQ(proc_value(after, "gatefs_rpc_calls_total", "LOOKUP") -
		     proc_value(before, "gatefs_rpc_calls_total", "LOOKUP"),
		 5);
	CHECK_EQ(proc_value(after, "gatefs_rpc_errors_total", "LOOKUP") -
		     proc_value(before, "gatefs_rpc_errors_total", "LOOKUP"),
		 5);
	CHECK_EQ(proc_value(after, "gatefs_rpc_errors_total", "WRITE") -
		     proc_value(before, "gatefs_rpc_errors_total", "WRITE"),
		 0);
	CHECK_EQ(proc_value(after, "gatefs_rpc_calls_total", "READ") -
		     proc_value(before, "gatefs_rpc_calls_total", "READ"),
		 3);
	CHECK_EQ(proc_value(after, "gatefs_rpc_duration_seconds_count", "WRITE") -
		     proc_value(before, "gatefs_rpc_duration_seconds_count", "WRITE"),
		 3);
	CHECK(gw_metrics_value(after, "gatefs_rpc_calls_total{program=\"MOUNT\",version=\"3\",procedure=\"MNT\"}") >=
	      1);

	/* FILE_SYNC: every byte reached the store before the reply. */
	double put = gw_metrics_value(after, "gatefs_object_bytes_total{operation=\"put\"}") -
		     gw_metrics_value(before, "gatefs_object_bytes_total{operation=\"put\"}");
	CHECK(put >= 3.0 * MIB && put <= 4.0 * MIB);
	CHECK(gw_metrics_value(after, "gatefs_object_requests_total{operation=\"put\"}") -
		  gw_metrics_value(before, "gatefs_object_requests_total{operation=\"put\"}") >=
	      3);
	CHECK(gw_metrics_value(after, "gatefs_redis_round_trips_total") -
		  gw_metrics_value(before, "gatefs_redis_round_trips_total") >=
	      4);
	CHECK(gw_metrics_value(after, "gatefs_redis_round_trip_seconds_count") >=
	      gw_metrics_value(after, "gatefs_redis_round_trips_total") - 0.5);
	CHECK(gw_metrics_value(after, "gatefs_block_cache_hits_total") +
		  gw_metrics_value(after, "gatefs_block_cache_misses_total") -
		  gw_metrics_value(before, "gatefs_block_cache_hits_total") -
		  gw_metrics_value(before, "gatefs_block_cache_misses_total") >=
	      1);
	CHECK(gw_metrics_value(after, "gatefs_attr_cache_hits_total") -
		  gw_metrics_value(before, "gatefs_attr_cache_hits_total") >=
	      1);
	CHECK(gw_metrics_value(after, "gatefs_write_buffer_budget_bytes") == 128.0 * MIB);
	CHECK(gw_metrics_value(after, "gatefs_write_buffer_bytes") >= 0);
	CHECK(gw_metrics_value(after, "gatefs_clients_connected") >= 1);
	CHECK_EQ(gw_metrics_promtool(after), 0);

	/* The live view shows the same figures. */
	char cmd[512], out[8192];
	snprintf(cmd, sizeof(cmd), "%s status --watch --metrics 127.0.0.1:%d --count 1", gw_binary(), metrics_port);
	CHECK_EQ(run_quiet(cmd, out, sizeof(out)), 0);
	CHECK(strstr(out, "GETATTR") != NULL && strstr(out, "Redis") != NULL && strstr(out, "hit ") != NULL);

	client_destroy(c);
	double connected = -1;
	for (int i = 0; i < 100 && connected != 0; i++) {
		usleep(50000);
		char *t = gw_metrics_scrape(metrics_port);
		connected = t ? gw_metrics_value(t, "gatefs_clients_connected") : -1;
		free(t);
	}
	CHECK(connected == 0);

	fh_free(&root);
	fh_free(&fh);
	free(buf);
	free(back);
	free(before);
	free(after);
}

/* Starts redis-server again on r's port and directory (its AOF). */
static int redis_restart(struct tl_redis *r)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", r->port);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", r->dir, "--save",
		       "", "--appendonly", "yes", "--maxmemory-policy", "noeviction", (char *)NULL);
		_exit(127);
	}
	r->pid = pid;
	return 0;
}

TEST(health_follows_redis)
{
	char cmd[1024], out[1024];
	if (peer.pid <= 0)
		REQUIRE(start_gateways() == 0);
	/* From the configuration file, as the container's HEALTHCHECK does. */
	snprintf(cmd, sizeof(cmd), "%s health --config %s", gw_binary(), peer.config);
	CHECK_EQ(run_quiet(cmd, out, sizeof(out)), 0);
	CHECK(strncmp(out, "healthy:", 8) == 0);
	snprintf(cmd, sizeof(cmd), "%s health --nfs 127.0.0.1:%d --meta %s --timeout 5", gw_binary(), peer.nfs_port,
		 gw.redis.url);
	CHECK_EQ(run_quiet(cmd, out, sizeof(out)), 0);

	kill(gw.redis.pid, SIGTERM);
	waitpid(gw.redis.pid, NULL, 0);
	gw.redis.pid = 0;
	CHECK_EQ(run_quiet(cmd, out, sizeof(out)), 1);
	CHECK(strstr(out, "unhealthy: redis") != NULL);

	REQUIRE(redis_restart(&gw.redis) == 0);
	int rc = -1;
	for (int i = 0; i < 100 && rc != 0; i++) {
		usleep(50000);
		rc = run_quiet(cmd, out, sizeof(out));
	}
	CHECK_EQ(rc, 0);

	/* log_format = json: every line the peer logged (the Redis outage
	 * included) is one JSON object with time, level and msg. */
	snprintf(
	    cmd, sizeof(cmd),
	    "python3 -c 'import json,sys\nfor l in open(sys.argv[1]):\n d=json.loads(l); d[\"time\"]; d[\"level\"]; "
	    "d[\"msg\"]' %s",
	    peer.log);
	CHECK_EQ(run_quiet(cmd, out, sizeof(out)), 0);
	CHECK_EQ(gw_log_count(&peer, "\"level\":\"info\",\"msg\":\"gatefs serving volume"), 1);

	/* And the NFS side: a stopped gateway is unhealthy too. */
	CHECK_EQ(gw_stop(&peer), 0);
	snprintf(cmd, sizeof(cmd), "%s health --nfs 127.0.0.1:%d --meta %s --timeout 5", gw_binary(), peer.nfs_port,
		 gw.redis.url);
	CHECK_EQ(run_quiet(cmd, out, sizeof(out)), 1);
	CHECK(strstr(out, "unhealthy: NULL call") != NULL);
	CHECK_EQ(gw_stop(&gw), 0);
}

TEST_MAIN()
