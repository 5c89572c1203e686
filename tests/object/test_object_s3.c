/*
 * test_object_s3.c - the s3 driver against a real radosgw (the "radosgw"
 * ctest fixture; GATEFS_TEST_S3_ENV names the env file that
 * tests/support/radosgw.sh writes).  Every operation, keys that need URI
 * and XML escaping, ListObjectsV2 continuation (list_page=7), DeleteObjects
 * over more than one batch, a 16 MiB object, wrong credentials, an endpoint
 * with nothing listening, an endpoint that accepts and never answers, 8
 * threads at once (each with connections of its own), virtual-host
 * addressing.  The retry rules are tested without radosgw, against the
 * fault proxy, in test_object_s3_local.c.
 * Without the env file every test fails: S3 tests never skip.
 */
#include "credserver.h"
#include "object.h"
#include "s3proxy.h"
#include "testlib.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char s3_url[512];
static int env_loaded = -1;

/* Reads KEY=VALUE lines of the fixture's env file into the environment. */
static int load_env(void)
{
	if (env_loaded >= 0)
		return env_loaded;
	env_loaded = 0;
	const char *path = getenv("GATEFS_TEST_S3_ENV");
	if (!path || !*path) {
		fprintf(stderr, "GATEFS_TEST_S3_ENV is not set: run under ctest with the radosgw fixture\n");
		return 0;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot read S3 env file %s: %s\n", path, strerror(errno));
		return 0;
	}
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	fclose(f);
	const char *url = getenv("GATEFS_TEST_S3_URL");
	if (!url || !getenv("AWS_ACCESS_KEY_ID") || !getenv("AWS_SECRET_ACCESS_KEY")) {
		fprintf(stderr, "S3 env file %s lacks GATEFS_TEST_S3_URL or credentials\n", path);
		return 0;
	}
	snprintf(s3_url, sizeof(s3_url), "%s", url);
	env_loaded = 1;
	return 1;
}

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Opens the fixture's bucket under a prefix unique to this run and tag,
 * with extra URL parameters (may be ""). */
static struct object_store *open_s3(const char *tag, const char *params, const struct object_credentials *cred)
{
	if (!load_env())
		return NULL;
	char url[1024], err[512] = "";
	snprintf(url, sizeof(url), "%s/objtest-%d-%s%s%s", s3_url, (int)getpid(), tag, *params ? "?" : "", params);
	struct object_store *st = NULL;
	int rc = object_store_open(url, cred, &st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "open %s: %d %s\n", url, rc, err);
	return st;
}

struct collected {
	char keys[64][256];
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

TEST(probe)
{
	struct object_store *st = open_s3("probe", "", NULL);
	REQUIRE(st);
	CHECK_STR(st->ops->scheme, "s3");
	CHECK(strstr(st->description, "bucket") != NULL);
	CHECK(strstr(st->description, "SECRET") == NULL);
	char err[512] = "";
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "probe: %s\n", err);
	object_store_close(st);
}

TEST(put_get_head_delete)
{
	struct object_store *st = open_s3("basic", "", NULL);
	REQUIRE(st);
	const char *data = "hello, radosgw";
	CHECK_EQ(st->ops->put(st, "a/b/c", data, strlen(data)), 0);
	char buf[64];
	size_t got = 0;
	CHECK_EQ(st->ops->get(st, "a/b/c", 0, sizeof(buf), buf, &got), 0);
	CHECK_EQ(got, strlen(data));
	CHECK(memcmp(buf, data, got) == 0);
	uint64_t size = 0;
	CHECK_EQ(st->ops->head(st, "a/b/c", &size), 0);
	CHECK_EQ(size, strlen(data));
	/* ranges: inside, running past the end, starting at and past the end */
	CHECK_EQ(st->ops->get(st, "a/b/c", 7, 3, buf, &got), 0);
	CHECK_EQ(got, 3);
	CHECK(memcmp(buf, "rad", 3) == 0);
	CHECK_EQ(st->ops->get(st, "a/b/c", 10, 100, buf, &got), 0);
	CHECK_EQ(got, 4);
	CHECK(memcmp(buf, "sgw", 3) == 0 || memcmp(buf, "osgw", 4) == 0);
	CHECK_EQ(st->ops->get(st, "a/b/c", strlen(data), 10, buf, &got), 0);
	CHECK_EQ(got, 0);
	CHECK_EQ(st->ops->get(st, "a/b/c", 1000, 10, buf, &got), 0);
	CHECK_EQ(got, 0);
	/* overwrite, delete, missing */
	CHECK_EQ(st->ops->put(st, "a/b/c", "xy", 2), 0);
	CHECK_EQ(st->ops->head(st, "a/b/c", &size), 0);
	CHECK_EQ(size, 2);
	CHECK_EQ(st->ops->del(st, "a/b/c"), 0);
	CHECK_EQ(st->ops->head(st, "a/b/c", &size), -ENOENT);
	CHECK_EQ(st->ops->get(st, "a/b/c", 0, sizeof(buf), buf, &got), -ENOENT);
	CHECK_EQ(st->ops->del(st, "a/b/c"), 0);
	CHECK_EQ(st->ops->del(st, "never/existed"), 0);
	/* zero-length object */
	CHECK_EQ(st->ops->put(st, "empty", "", 0), 0);
	CHECK_EQ(st->ops->head(st, "empty", &size), 0);
	CHECK_EQ(size, 0);
	CHECK_EQ(st->ops->get(st, "empty", 0, sizeof(buf), buf, &got), 0);
	CHECK_EQ(got, 0);
	CHECK_EQ(st->ops->del(st, "empty"), 0);
	object_store_close(st);
}

TEST(keys_needing_escapes)
{
	struct object_store *st = open_s3("escape", "", NULL);
	REQUIRE(st);
	/* URI-encoded in the request path and the signature, XML-escaped in
	 * DeleteObjects, XML-unescaped in ListObjectsV2. */
	const char *keys[] = {"sp ace/plus+amp&lt<gt>", "quote\"apos'/eq=q?hash#pct%", "utf8/\xc3\xa9t\xc3\xa9~*"};
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(st->ops->put(st, keys[i], keys[i], strlen(keys[i])), 0);
		char buf[128];
		size_t got = 0;
		CHECK_EQ(st->ops->get(st, keys[i], 0, sizeof(buf), buf, &got), 0);
		CHECK_EQ(got, strlen(keys[i]));
		CHECK(memcmp(buf, keys[i], got) == 0);
	}
	struct collected c = {0};
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	REQUIRE_EQ(c.n, 3);
	CHECK_STR(c.keys[0], keys[1]);
	CHECK_STR(c.keys[1], keys[0]);
	CHECK_STR(c.keys[2], keys[2]);
	/* LastModified is parsed: gc's minimum object age depends on it.  The
	 * radosgw runs on this host, so its clock is ours. */
	int64_t now = (int64_t)time(NULL);
	for (int i = 0; i < 3; i++)
		CHECK(c.mtimes[i] > now - 120 && c.mtimes[i] <= now + 5);
	CHECK_EQ(st->ops->del_many(st, keys, 3, NULL), 0);
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	CHECK_EQ(c.n, 0);
	object_store_close(st);
}

TEST(list_continuation)
{
	struct object_store *st = open_s3("list", "list_page=7", NULL);
	REQUIRE(st);
	char names[30][32];
	const char *keys[30];
	for (int i = 0; i < 30; i++) {
		snprintf(names[i], sizeof(names[i]), "k/%02d", i);
		keys[i] = names[i];
		CHECK_EQ(st->ops->put(st, keys[i], names[i], (size_t)i), 0);
	}
	CHECK_EQ(st->ops->put(st, "other", "o", 1), 0);
	struct collected c = {0};
	CHECK_EQ(st->ops->list(st, "k/", NULL, collect, &c), 0);
	REQUIRE_EQ(c.n, 30);
	for (int i = 0; i < 30; i++) {
		CHECK_STR(c.keys[i], names[i]);
		CHECK_EQ(c.sizes[i], i);
	}
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "k/", "k/12", collect, &c), 0);
	REQUIRE_EQ(c.n, 17);
	CHECK_STR(c.keys[0], "k/13");
	CHECK_STR(c.keys[16], "k/29");
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	CHECK_EQ(c.n, 31);
	CHECK_STR(c.keys[30], "other");
	/* stopping inside the second page */
	memset(&c, 0, sizeof(c));
	c.stop_after = 10;
	CHECK_EQ(st->ops->list(st, "k/", NULL, collect, &c), 42);
	CHECK_EQ(c.n, 10);
	CHECK_EQ(st->ops->del_many(st, keys, 30, NULL), 0);
	CHECK_EQ(st->ops->del(st, "other"), 0);
	memset(&c, 0, sizeof(c));
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	CHECK_EQ(c.n, 0);
	object_store_close(st);
}

struct putter {
	struct object_store *st;
	const char *const *keys;
	size_t from, to;
	int failures;
};

static void *putter_main(void *arg)
{
	struct putter *p = arg;
	for (size_t i = p->from; i < p->to; i++)
		if (p->st->ops->put(p->st, p->keys[i], "d", 1))
			p->failures++;
	return NULL;
}

static int count_cb(void *arg, const struct object_info *info)
{
	(void)info;
	(*(int *)arg)++;
	return 0;
}

TEST(del_many_batches)
{
	/* 1003 keys: one full DeleteObjects batch of 1000 and one of 3. */
	enum { N = 1003 };
	struct object_store *st = open_s3("delmany", "", NULL);
	REQUIRE(st);
	static char names[N][32];
	static const char *keys[N + 1];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "dm/%04d", i);
		keys[i] = names[i];
	}
	pthread_t t[8];
	struct putter p[8];
	for (int i = 0; i < 8; i++) {
		p[i] = (struct putter){st, keys, (size_t)N * i / 8, (size_t)N * (i + 1) / 8, 0};
		pthread_create(&t[i], NULL, putter_main, &p[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(p[i].failures, 0);
	}
	int n = 0;
	CHECK_EQ(st->ops->list(st, "dm/", NULL, count_cb, &n), 0);
	CHECK_EQ(n, N);
	keys[N] = "dm/missing"; /* deleting a missing key is not an error */
	CHECK_EQ(st->ops->del_many(st, keys, N + 1, NULL), 0);
	n = 0;
	CHECK_EQ(st->ops->list(st, "dm/", NULL, count_cb, &n), 0);
	CHECK_EQ(n, 0);
	object_store_close(st);
}

TEST(big_object)
{
	struct object_store *st = open_s3("big", "", NULL);
	REQUIRE(st);
	size_t len = 16u << 20;
	char *data = malloc(len), *back = malloc(len + 16);
	REQUIRE(data && back);
	tl_fill_random(data, len, 16);
	CHECK_EQ(st->ops->put(st, "big", data, len), 0);
	uint64_t size = 0;
	CHECK_EQ(st->ops->head(st, "big", &size), 0);
	CHECK_EQ(size, len);
	size_t got = 0;
	CHECK_EQ(st->ops->get(st, "big", 0, len + 16, back, &got), 0);
	CHECK_EQ(got, len);
	CHECK(memcmp(data, back, len) == 0);
	CHECK_EQ(st->ops->get(st, "big", 5u << 20, 4u << 20, back, &got), 0);
	CHECK_EQ(got, 4u << 20);
	CHECK(memcmp(data + (5u << 20), back, 4u << 20) == 0);
	CHECK_EQ(st->ops->del(st, "big"), 0);
	free(data);
	free(back);
	object_store_close(st);
}

TEST(wrong_secret)
{
	REQUIRE(load_env());
	struct object_credentials cred = {.secret_key = "not-the-secret"};
	struct object_store *st = open_s3("wrong", "", &cred);
	REQUIRE(st);
	char err[512] = "";
	uint64_t t0 = ms_now();
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), -EACCES);
	CHECK(ms_now() - t0 < 2000); /* refused at once, not retried */
	fprintf(stderr, "  probe said: %s\n", err);
	CHECK(strstr(err, "access denied (SignatureDoesNotMatch)") != NULL);
	CHECK(strstr(err, "check the access key and secret") != NULL);
	CHECK(strstr(err, "bucket") != NULL);
	char buf[4];
	size_t got;
	CHECK_EQ(st->ops->get(st, "x", 0, sizeof(buf), buf, &got), -EACCES);
	object_store_close(st);

	struct object_credentials bad_key = {.access_key = "NOSUCHKEY"};
	st = open_s3("wrongkey", "", &bad_key);
	REQUIRE(st);
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), -EACCES);
	CHECK(strstr(err, "InvalidAccessKeyId") != NULL);
	object_store_close(st);
}

TEST(stopped_endpoint)
{
	REQUIRE(load_env());
	int port = tl_free_port();
	REQUIRE(port > 0);
	char url[256], err[512] = "";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?retry_ms=2000", port);
	struct object_store *st = NULL;
	REQUIRE(object_store_open(url, NULL, &st, err, sizeof(err)) == 0);
	uint64_t t0 = ms_now();
	CHECK_EQ(st->ops->put(st, "k", "v", 1), -EIO);
	uint64_t took = ms_now() - t0;
	fprintf(stderr, "  connection refused: -EIO after %llu ms\n", (unsigned long long)took);
	CHECK(took >= 1500); /* it did retry for the budget */
	CHECK(took < 10000);
	t0 = ms_now();
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), -EIO);
	CHECK(ms_now() - t0 < 10000);
	fprintf(stderr, "  probe said: %s\n", err);
	CHECK(strstr(err, "reachable") != NULL);
	CHECK(strstr(err, "attempts") != NULL);
	object_store_close(st);
}

/* A server that accepts connections and never says a word. */
struct mute_server {
	int fd, port;
	volatile int stop;
	pthread_t thread;
	int conns[64];
	int nconns;
};

static void *mute_main(void *arg)
{
	struct mute_server *m = arg;
	while (!m->stop) {
		int c = accept(m->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (m->nconns < 64)
			m->conns[m->nconns++] = c;
		else
			close(c);
	}
	return NULL;
}

TEST(slow_endpoint)
{
	REQUIRE(load_env());
	struct mute_server m = {0};
	m.fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);
	REQUIRE(bind(m.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	REQUIRE(listen(m.fd, 16) == 0);
	REQUIRE(getsockname(m.fd, (struct sockaddr *)&sa, &slen) == 0);
	m.port = ntohs(sa.sin_port);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(m.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* lets accept() see stop */
	pthread_create(&m.thread, NULL, mute_main, &m);

	char url[256], err[512] = "";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?retry_ms=2000", m.port);
	struct object_store *st = NULL;
	CHECK(object_store_open(url, NULL, &st, err, sizeof(err)) == 0);
	if (st) {
		char buf[16];
		size_t got;
		uint64_t t0 = ms_now();
		CHECK_EQ(st->ops->get(st, "k", 0, sizeof(buf), buf, &got), -EIO);
		uint64_t took = ms_now() - t0;
		fprintf(stderr, "  mute server: -EIO after %llu ms\n", (unsigned long long)took);
		CHECK(took >= 1500);
		CHECK(took < 10000);
		CHECK(m.nconns >= 1);
		object_store_close(st);
	}
	m.stop = 1;
	pthread_join(m.thread, NULL);
	for (int i = 0; i < m.nconns; i++)
		close(m.conns[i]);
	close(m.fd);
}

struct worker {
	struct object_store *st;
	int id;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t len = 64 * 1024;
	char *data = malloc(len), *back = malloc(len);
	char key[64];
	for (int i = 0; data && back && i < 20; i++) {
		snprintf(key, sizeof(key), "w%d/%d", w->id, i);
		tl_fill_random(data, len, (uint64_t)(w->id * 100 + i));
		size_t got = 0;
		if (w->st->ops->put(w->st, key, data, len) || w->st->ops->get(w->st, key, 0, len, back, &got) ||
		    got != len || memcmp(data, back, len) != 0 || w->st->ops->del(w->st, key))
			w->failures++;
	}
	if (!data || !back)
		w->failures++;
	free(data);
	free(back);
	return NULL;
}

TEST(concurrent_threads)
{
	struct object_store *st = open_s3("threads", "", NULL);
	REQUIRE(st);
	pthread_t t[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){st, i, 0};
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].failures, 0);
	}
	int n = 0;
	CHECK_EQ(st->ops->list(st, "", NULL, count_cb, &n), 0);
	CHECK_EQ(n, 0);
	object_store_close(st);
}

/* Established TCP connections from this process to 127.0.0.1:port, found by
 * matching the socket inodes of /proc/self/fd against /proc/net/tcp. */
static int my_connections_to(int port)
{
	unsigned long inodes[1024];
	int ninodes = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && ninodes < 1024) {
		char path[300], link[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		unsigned long ino;
		if (sscanf(link, "socket:[%lu]", &ino) == 1)
			inodes[ninodes++] = ino;
	}
	closedir(d);
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return -1;
	char line[512];
	int count = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned rport, state;
		unsigned long ino;
		if (sscanf(line, " %*d: %*x:%*x %*x:%x %x %*x:%*x %*x:%*x %*x %*d %*d %lu", &rport, &state, &ino) != 3)
			continue;
		for (int i = 0; i < ninodes; i++)
			if (inodes[i] == ino && (int)rport == port && state == 1)
				count++;
	}
	fclose(f);
	return count;
}

TEST(connections_are_per_thread)
{
	/* libcurl does not support one connection cache shared by threads that
	 * run transfers at once, so each thread's handle keeps its own: the
	 * connections of threads that exited are closed with their handles,
	 * and the main thread reuses its own connection for every request. */
	struct object_store *st = open_s3("share", "", NULL);
	REQUIRE(st);
	int port = atoi(getenv("GATEFS_TEST_S3_PORT"));
	int before = my_connections_to(port); /* other stores' connections, if any */
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){st, i, 0};
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].failures, 0);
	}
	int after_threads = my_connections_to(port) - before;
	fprintf(stderr, "  connections left after the threads exited: %d\n", after_threads);
	CHECK_EQ(after_threads, 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(st->ops->put(st, "main", "m", 1), 0);
	CHECK_EQ(st->ops->del(st, "main"), 0);
	CHECK_EQ(my_connections_to(port) - before, 1); /* one, reused */
	object_store_close(st);
	CHECK_EQ(my_connections_to(port), before);
}

TEST(prefixes_isolate_stores)
{
	struct object_store *a = open_s3("iso/a", "", NULL), *root = open_s3("iso", "", NULL);
	REQUIRE(a && root);
	CHECK_EQ(a->ops->put(a, "x", "1", 1), 0);
	uint64_t size;
	CHECK_EQ(root->ops->head(root, "a/x", &size), 0);
	CHECK_EQ(root->ops->head(root, "x", &size), -ENOENT);
	struct collected c = {0};
	CHECK_EQ(a->ops->list(a, "", NULL, collect, &c), 0);
	REQUIRE_EQ(c.n, 1);
	CHECK_STR(c.keys[0], "x");
	CHECK_EQ(root->ops->del(root, "a/x"), 0);
	CHECK_EQ(a->ops->head(a, "x", &size), -ENOENT);
	object_store_close(a);
	object_store_close(root);
}

TEST(s3_url_form_with_endpoint)
{
	REQUIRE(load_env());
	/* s3://BUCKET/PREFIX?endpoint=... names the same bucket as the http form */
	char endpoint[256], bucket[128], url[600], err[512] = "";
	const char *u = getenv("GATEFS_TEST_S3_URL");
	const char *slash = strchr(u + strlen("http://"), '/');
	REQUIRE(slash);
	snprintf(endpoint, sizeof(endpoint), "%.*s", (int)(slash - u), u);
	snprintf(bucket, sizeof(bucket), "%s", slash + 1);
	snprintf(url, sizeof(url), "s3://%s/objtest-%d-s3form?endpoint=%s&region=us-east-1", bucket, (int)getpid(),
		 endpoint);
	struct object_store *st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	REQUIRE(st);
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), 0);
	object_store_close(st);
	/* a bucket that does not exist: the probe says so */
	snprintf(url, sizeof(url), "%s/no-such-bucket-%d", endpoint, (int)getpid());
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	REQUIRE(st);
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), -ENOENT);
	fprintf(stderr, "  probe said: %s\n", err);
	CHECK(strstr(err, "NoSuchBucket") != NULL);
	object_store_close(st);
}

TEST(virtual_host_style)
{
	REQUIRE(load_env());
	/* path_style=0 puts the bucket in the host name: BUCKET.localhost:PORT,
	 * which curl resolves to loopback and radosgw (rgw_dns_name=localhost)
	 * maps back to the bucket. */
	const char *port = getenv("GATEFS_TEST_S3_PORT"), *bucket = getenv("GATEFS_TEST_S3_BUCKET");
	REQUIRE(port && bucket);
	char url[512], err[512] = "";
	snprintf(url, sizeof(url), "s3://%s/objtest-%d-vhost?endpoint=http://localhost:%s&path_style=0", bucket,
		 (int)getpid(), port);
	struct object_store *st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	REQUIRE(st);
	CHECK_EQ(st->ops->put(st, "v/1", "one", 3), 0);
	struct collected c = {0};
	CHECK_EQ(st->ops->list(st, "", NULL, collect, &c), 0);
	REQUIRE_EQ(c.n, 1);
	CHECK_STR(c.keys[0], "v/1");
	const char *keys[] = {"v/1"};
	CHECK_EQ(st->ops->del_many(st, keys, 1, NULL), 0);
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), 0);
	object_store_close(st);
	/* and the object really was in the fixture's bucket, seen path-style */
	struct object_store *path_style = open_s3("vhost", "", NULL);
	REQUIRE(path_style);
	CHECK_EQ(path_style->ops->put(path_style, "p", "x", 1), 0);
	snprintf(url, sizeof(url), "s3://%s/objtest-%d-vhost?endpoint=http://localhost:%s&path_style=0", bucket,
		 (int)getpid(), port);
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	REQUIRE(st);
	uint64_t size = 0;
	CHECK_EQ(st->ops->head(st, "p", &size), 0);
	CHECK_EQ(size, 1);
	CHECK_EQ(st->ops->del(st, "p"), 0);
	object_store_close(st);
	object_store_close(path_style);
}

/* ---- faults injected by the proxy in front of radosgw ----------------- */

/* Opens the fixture's bucket through a fault proxy in front of radosgw. */
static struct object_store *open_via_proxy(struct s3proxy **proxy, const char *tag, const char *params)
{
	if (!load_env() || s3proxy_start(atoi(getenv("GATEFS_TEST_S3_PORT")), proxy) != 0)
		return NULL;
	char url[1024], err[512] = "";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/objtest-%d-%s%s%s", s3proxy_port(*proxy),
		 getenv("GATEFS_TEST_S3_BUCKET"), (int)getpid(), tag, *params ? "?" : "", params);
	struct object_store *st = NULL;
	if (object_store_open(url, NULL, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "open %s: %s\n", url, err);
		s3proxy_stop(*proxy);
	}
	return st;
}

TEST(every_fault_is_retried_and_nothing_corrupt_is_returned)
{
	struct s3proxy *p;
	struct object_store *st = open_via_proxy(&p, "faults", "retry_ms=20000&stall_ms=1000");
	REQUIRE(st);
	size_t len = 1 << 20;
	uint8_t *data = malloc(len), *back = malloc(len);
	tl_fill_random(data, len, 99);
	static const struct {
		struct s3proxy_fault f;
		const char *name;
	} faults[] = {
	    {{.kind = S3F_STATUS, .status = 500, .code = "InternalError", .count = 2}, "500"},
	    {{.kind = S3F_STATUS, .status = 503, .code = "SlowDown", .count = 2}, "503 SlowDown"},
	    {{.kind = S3F_STATUS, .status = 429, .code = "TooManyRequests", .count = 2}, "429"},
	    {{.kind = S3F_RESET_BEFORE, .count = 2}, "reset before the response"},
	    {{.kind = S3F_RESET_MID, .count = 2}, "reset mid-body"},
	    {{.kind = S3F_TRUNCATE, .count = 2}, "truncated body"},
	    {{.kind = S3F_STALL, .count = 1}, "stall"},
	    {{.kind = S3F_TRICKLE, .count = 1}, "trickle"},
	    {{.kind = S3F_IGNORE_RANGE}, "range ignored"},
	};
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char key[32];
		snprintf(key, sizeof(key), "f%zu", i);
		/* PUT through the fault (the range fault only concerns GET) */
		if (faults[i].f.kind != S3F_IGNORE_RANGE)
			s3proxy_set_fault(p, &faults[i].f);
		int rc = st->ops->put(st, key, data, len);
		s3proxy_set_fault(p, NULL);
		if (rc)
			fprintf(stderr, "  put through %s: %d\n", faults[i].name, rc);
		CHECK_EQ(rc, 0);
		/* GET of a range through the fault: the bytes are right or it fails */
		s3proxy_set_fault(p, &faults[i].f);
		size_t got = 0;
		memset(back, 0, len);
		rc = st->ops->get(st, key, 4096, len - 8192, back, &got);
		s3proxy_set_fault(p, NULL);
		if (rc)
			fprintf(stderr, "  get through %s: %d\n", faults[i].name, rc);
		CHECK_EQ(rc, 0);
		CHECK_EQ(got, len - 8192);
		CHECK(memcmp(back, data + 4096, len - 8192) == 0);
		struct s3proxy_stats s;
		s3proxy_get_stats(p, &s);
		CHECK(s.faulted >= 1);
		CHECK_EQ(st->ops->del(st, key), 0);
	}
	free(data);
	free(back);
	object_store_close(st);
	s3proxy_stop(p);
}

TEST(delete_many_reports_each_failed_key)
{
	struct s3proxy *p;
	struct object_store *st = open_via_proxy(&p, "delkeys", "retry_ms=5000");
	REQUIRE(st);
	char names[10][16];
	const char *keys[10];
	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "%s%d", i == 3 || i == 7 ? "bad" : "ok", i);
		keys[i] = names[i];
		CHECK_EQ(st->ops->put(st, keys[i], "x", 1), 0);
	}
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_DELETE_KEY_ERROR, .match = "bad"});
	int results[10];
	memset(results, 0x55, sizeof(results));
	CHECK_EQ(st->ops->del_many(st, keys, 10, results), -EIO);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(results[i], i == 3 || i == 7 ? -EIO : 0);
	s3proxy_set_fault(p, NULL);
	CHECK_EQ(st->ops->del_many(st, keys, 10, results), 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(results[i], 0);
	object_store_close(st);
	s3proxy_stop(p);
}

/* ---- credentials rotated under a running store ------------------------- */

/* radosgw-admin on the fixture's cluster: adds or removes an S3 key of
 * the fixture's user. */
static int rgw_key(const char *verb, const char *access, const char *secret)
{
	const char *env = getenv("GATEFS_TEST_S3_ENV");
	char dir[512], cmd[1600];
	snprintf(dir, sizeof(dir), "%s", env ? env : ".");
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(cmd, sizeof(cmd),
		 "radosgw-admin -c %s/ceph.conf key %s --uid=gatefs --key-type=s3 --access-key=%s%s%s >/dev/null 2>&1",
		 dir, verb, access, secret ? " --secret-key=" : "", secret ? secret : "");
	return system(cmd) == 0 ? 0 : -1;
}

/* Puts until the store has fetched credentials `want` times (the old key
 * may be honoured by radosgw's user cache for a moment); each put must
 * succeed. */
static void put_until_refreshed(struct object_store *st, uint64_t (*count)(void *), void *arg, uint64_t want)
{
	for (int i = 0; i < 100 && count(arg) < want; i++) {
		CHECK_EQ(st->ops->put(st, "rot", "r", 1), 0);
		usleep(100000);
	}
	CHECK(count(arg) >= want);
	CHECK_EQ(st->ops->put(st, "rot", "r", 1), 0);
}

static uint64_t cs_count(void *arg)
{
	return credserver_requests(arg);
}

TEST(rotated_keys_are_picked_up)
{
	REQUIRE(load_env());
	char saved_key[256], saved_secret[256], a[32], b[32], c[32], url[600], err[512] = "";
	snprintf(saved_key, sizeof(saved_key), "%s", getenv("AWS_ACCESS_KEY_ID"));
	snprintf(saved_secret, sizeof(saved_secret), "%s", getenv("AWS_SECRET_ACCESS_KEY"));
	snprintf(a, sizeof(a), "ROTA%d", (int)getpid());
	snprintf(b, sizeof(b), "ROTB%d", (int)getpid());
	snprintf(c, sizeof(c), "ROTC%d", (int)getpid());
	REQUIRE_EQ(rgw_key("create", a, "secretA0123456789"), 0);

	/* The container endpoint serves key A, then key B after A is removed:
	 * the store's next request is refused, it fetches B and goes on. */
	struct credserver *cs;
	REQUIRE_EQ(credserver_start(&cs), 0);
	credserver_set(cs, a, "secretA0123456789", NULL, 3600);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/gatefs-test-credentials", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", credserver_url(cs), 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	snprintf(url, sizeof(url), "%s/objtest-%d-rotate?retry_ms=5000", s3_url, (int)getpid());
	struct object_store *st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK_EQ(st->ops->put(st, "rot", "r", 1), 0);
		CHECK_EQ(rgw_key("create", b, "secretB0123456789"), 0);
		credserver_set(cs, b, "secretB0123456789", NULL, 3600);
		CHECK_EQ(rgw_key("rm", a, NULL), 0);
		put_until_refreshed(st, cs_count, cs, 2);
		object_store_close(st);
	}
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	credserver_stop(cs);

	/* The shared credentials file: rewritten with key C, read again at the
	 * next request. */
	char dir[256], path[300];
	REQUIRE(tl_tmpdir("gatefs-creds", dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/credentials", dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fprintf(f,
		"[other]\naws_access_key_id = NOPE\naws_secret_access_key = nope\n\n[default]\n"
		"aws_access_key_id = %s\naws_secret_access_key = secretB0123456789\n",
		b);
	fclose(f);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK_EQ(st->ops->put(st, "rot", "r", 1), 0);
		CHECK_EQ(rgw_key("create", c, "secretC0123456789"), 0);
		usleep(20000);
		f = fopen(path, "w");
		REQUIRE(f);
		fprintf(f, "[default]\naws_access_key_id = %s\naws_secret_access_key = secretC0123456789\n", c);
		fclose(f);
		CHECK_EQ(rgw_key("rm", b, NULL), 0);
		for (int i = 0; i < 20; i++)
			CHECK_EQ(st->ops->put(st, "rot", "r", 1), 0);
		CHECK_EQ(st->ops->del(st, "rot"), 0);
		object_store_close(st);
	}
	/* the old keys are gone for real */
	struct object_credentials old = {.access_key = a, .secret_key = "secretA0123456789"};
	CHECK_EQ(object_store_open(url, &old, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK_EQ(st->ops->put(st, "rot", "r", 1), -EACCES);
		object_store_close(st);
	}
	rgw_key("rm", c, NULL);
	tl_rm_rf(dir);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("AWS_ACCESS_KEY_ID", saved_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", saved_secret, 1);
}

TEST_MAIN()
