/*
 * test_object_s3.c - the s3 driver against a real radosgw (the "radosgw"
 * ctest fixture; GATEFS_TEST_S3_ENV names the env file that
 * tests/support/radosgw.sh writes).  Every operation, keys that need URI
 * and XML escaping, ListObjectsV2 continuation (list_page=7), DeleteObjects
 * over more than one batch, a 16 MiB object, wrong credentials, an endpoint
 * with nothing listening, an endpoint that accepts and never answers, 8
 * threads at once, virtual-host addressing, and (with a scripted HTTP server
 * on loopback) retries on 5xx/429 that recover or run out of budget.
 * Without the env file every test fails: S3 tests never skip.
 */
#include "object.h"
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
	CHECK_EQ(st->ops->del_many(st, keys, 3), 0);
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
	CHECK_EQ(st->ops->del_many(st, keys, 30), 0);
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
	CHECK_EQ(st->ops->del_many(st, keys, N + 1), 0);
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

TEST(connections_shared_across_threads)
{
	/* Handles are per thread but the connection cache is the store's:
	 * connections outlive the threads that opened them, and a new thread
	 * reuses them instead of connecting again. */
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
	fprintf(stderr, "  connections kept after the threads exited: %d\n", after_threads);
	CHECK(after_threads >= 1);
	CHECK(after_threads <= 4);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(st->ops->put(st, "main", "m", 1), 0);
	CHECK_EQ(st->ops->del(st, "main"), 0);
	int after_main = my_connections_to(port) - before;
	CHECK(after_main >= 1 && after_main <= after_threads); /* reused, not a new one */
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
	CHECK_EQ(st->ops->del_many(st, keys, 1), 0);
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

/* A tiny HTTP server on loopback that answers each request (one per
 * connection) with the next status of its script, repeating the last one:
 * it drives the retry path with real sockets and real HTTP. */
struct scripted_server {
	int fd, port;
	const int *statuses;
	int nstatuses;
	volatile int stop;
	volatile int requests;
	pthread_t thread;
};

static int read_request(int c)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;
	while (!end && len < sizeof(buf) - 1) {
		ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return -1;
	size_t body = 0;
	const char *cl = strcasestr(buf, "\r\ncontent-length:");
	if (cl)
		body = strtoul(cl + 17, NULL, 10);
	size_t have = len - (size_t)(end + 4 - buf);
	while (have < body) {
		ssize_t r = read(c, buf, sizeof(buf));
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return 0;
}

static void *scripted_main(void *arg)
{
	struct scripted_server *s = arg;
	while (!s->stop) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (read_request(c) == 0) {
			int i = s->requests < s->nstatuses ? s->requests : s->nstatuses - 1;
			int status = s->statuses[i];
			s->requests++;
			const char *body = status == 503 ? "<Error><Code>SlowDown</Code></Error>" : "";
			char resp[512];
			int n = snprintf(resp, sizeof(resp),
					 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
					 strlen(body), body);
			if (write(c, resp, (size_t)n) < 0)
				s->requests += 0;
		}
		close(c);
	}
	return NULL;
}

static int scripted_start(struct scripted_server *s, const int *statuses, int n)
{
	memset(s, 0, sizeof(*s));
	s->statuses = statuses;
	s->nstatuses = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->fd, 16) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &slen))
		return -1;
	s->port = ntohs(sa.sin_port);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return pthread_create(&s->thread, NULL, scripted_main, s);
}

static void scripted_stop(struct scripted_server *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	close(s->fd);
}

TEST(retries_5xx_then_succeeds)
{
	REQUIRE(load_env());
	static const int script[] = {503, 500, 429, 200};
	struct scripted_server s;
	REQUIRE(scripted_start(&s, script, 4) == 0);
	char url[256], err[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?retry_ms=10000", s.port);
	struct object_store *st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK_EQ(st->ops->put(st, "k", "v", 1), 0);
		CHECK_EQ(s.requests, 4);
		object_store_close(st);
	}
	scripted_stop(&s);
}

TEST(retries_5xx_until_budget)
{
	REQUIRE(load_env());
	static const int script[] = {503};
	struct scripted_server s;
	REQUIRE(scripted_start(&s, script, 1) == 0);
	char url[256], err[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?retry_ms=1500", s.port);
	struct object_store *st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	if (st) {
		uint64_t t0 = ms_now();
		CHECK_EQ(st->ops->put(st, "k", "v", 1), -EIO);
		uint64_t took = ms_now() - t0;
		CHECK(took >= 1400 && took < 5000);
		CHECK(s.requests >= 3);
		CHECK_EQ(object_store_probe(st, err, sizeof(err)), -EIO);
		fprintf(stderr, "  probe said: %s\n", err);
		CHECK(strstr(err, "HTTP 503 (SlowDown)") != NULL);
		object_store_close(st);
	}
	scripted_stop(&s);
}

TEST(client_error_is_not_retried)
{
	REQUIRE(load_env());
	static const int script[] = {400};
	struct scripted_server s;
	REQUIRE(scripted_start(&s, script, 1) == 0);
	char url[256], err[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?retry_ms=5000", s.port);
	struct object_store *st = NULL;
	CHECK_EQ(object_store_open(url, NULL, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK_EQ(st->ops->put(st, "k", "v", 1), -EIO);
		CHECK_EQ(s.requests, 1);
		object_store_close(st);
	}
	scripted_stop(&s);
}

TEST_MAIN()
