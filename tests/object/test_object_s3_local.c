/*
 * test_object_s3_local.c - the s3 driver against the fault proxy
 * (tests/support/s3proxy.c) with no upstream: every request it does not
 * fault gets an empty 200.  So the retry and time-limit rules are tested
 * with real sockets and real HTTP, without the radosgw fixture: 5xx/429
 * then success, an endless 503 until the budget, a 400 not retried, a
 * stalled or trickling server cut even with a zero retry budget, a PUT
 * resent by curl itself after its keep-alive connection died, and URL
 * parsing (an endpoint with a path is refused).
 */
#include "credserver.h"
#include "object.h"
#include "s3proxy.h"
#include "testlib.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct object_store *open_at(struct s3proxy *p, const char *params)
{
	setenv("AWS_ACCESS_KEY_ID", "LOCALTESTKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "localtestsecret", 1);
	char url[256], err[512] = "";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?%s", s3proxy_port(p), params);
	struct object_store *st = NULL;
	if (object_store_open(url, NULL, &st, err, sizeof(err)) != 0)
		fprintf(stderr, "open %s: %s\n", url, err);
	return st;
}

TEST(retries_5xx_then_succeeds)
{
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	struct object_store *st = open_at(p, "retry_ms=10000");
	REQUIRE(st);
	static const struct {
		int status;
		const char *code;
	} faults[] = {{503, "SlowDown"}, {500, "InternalError"}, {429, "TooManyRequests"}, {503, "ServiceUnavailable"}};
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct s3proxy_stats before, after;
		s3proxy_get_stats(p, &before);
		s3proxy_set_fault(
		    p, &(struct s3proxy_fault){
			   .kind = S3F_STATUS, .status = faults[i].status, .code = faults[i].code, .count = 2});
		CHECK_EQ(st->ops->put(st, "k", "v", 1), 0);
		s3proxy_get_stats(p, &after);
		CHECK_EQ(after.requests - before.requests, 3);
		CHECK_EQ(after.faulted - before.faulted, 2);
	}
	object_store_close(st);
	s3proxy_stop(p);
}

TEST(retries_5xx_until_budget)
{
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	struct object_store *st = open_at(p, "retry_ms=1500");
	REQUIRE(st);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_STATUS, .status = 503, .code = "SlowDown"});
	uint64_t t0 = ms_now();
	CHECK_EQ(st->ops->put(st, "k", "v", 1), -EIO);
	uint64_t took = ms_now() - t0;
	CHECK(took >= 1400 && took < 5000);
	struct s3proxy_stats s;
	s3proxy_get_stats(p, &s);
	CHECK(s.requests >= 3);
	char err[512];
	CHECK_EQ(object_store_probe(st, err, sizeof(err)), -EIO);
	fprintf(stderr, "  probe said: %s\n", err);
	CHECK(strstr(err, "HTTP 503 (SlowDown)") != NULL);
	object_store_close(st);
	s3proxy_stop(p);
}

TEST(client_error_is_not_retried)
{
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	struct object_store *st = open_at(p, "retry_ms=5000");
	REQUIRE(st);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_STATUS, .status = 400, .code = "InvalidRequest"});
	CHECK_EQ(st->ops->put(st, "k", "v", 1), -EIO);
	struct s3proxy_stats s;
	s3proxy_get_stats(p, &s);
	CHECK_EQ(s.requests, 1);
	object_store_close(st);
	s3proxy_stop(p);
}

/* Runs one get on its own thread, so that a driver that hangs fails the
 * test (after the proxy lets it go) instead of hanging it. */
struct timed_get {
	struct object_store *st;
	int rc;
	uint64_t took_ms;
	volatile int done;
};

static void *timed_get_main(void *arg)
{
	struct timed_get *g = arg;
	char buf[64];
	size_t got;
	uint64_t t0 = ms_now();
	g->rc = g->st->ops->get(g->st, "k", 0, sizeof(buf), buf, &got);
	g->took_ms = ms_now() - t0;
	g->done = 1;
	return NULL;
}

static void get_with_deadline(struct s3proxy *p, struct object_store *st, int deadline_ms, struct timed_get *g)
{
	*g = (struct timed_get){.st = st, .rc = 1};
	pthread_t t;
	pthread_create(&t, NULL, timed_get_main, g);
	uint64_t t0 = ms_now();
	while (!g->done && ms_now() - t0 < (uint64_t)deadline_ms)
		usleep(20000);
	s3proxy_set_fault(p, NULL); /* lets a hung driver finish */
	pthread_join(t, NULL);
}

TEST(stall_is_cut_with_a_zero_retry_budget)
{
	/* retry_ms=0 once made the stall limit 0, which curl reads as "no
	 * limit": a server that accepted and said nothing hung the caller. */
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	struct object_store *st = open_at(p, "retry_ms=0");
	REQUIRE(st);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_STALL});
	struct timed_get g;
	get_with_deadline(p, st, 8000, &g);
	fprintf(stderr, "  stalled server: rc %d after %llu ms\n", g.rc, (unsigned long long)g.took_ms);
	CHECK_EQ(g.rc, -EIO);
	CHECK(g.took_ms < 5000);
	object_store_close(st);
	s3proxy_stop(p);
}

TEST(trickle_is_cut_by_the_attempt_limit)
{
	/* 1 byte per second passes a 1 byte/s low-speed limit forever. */
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	struct object_store *st = open_at(p, "retry_ms=0&stall_ms=30000&attempt_ms=1500");
	REQUIRE(st);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_TRICKLE});
	struct timed_get g;
	get_with_deadline(p, st, 8000, &g);
	fprintf(stderr, "  trickling server (attempt_ms=1500): rc %d after %llu ms\n", g.rc,
		(unsigned long long)g.took_ms);
	CHECK_EQ(g.rc, -EIO);
	CHECK(g.took_ms < 4000);
	object_store_close(st);

	/* Without attempt_ms the low-speed limit (1 KiB/s over stall_ms) cuts it. */
	st = open_at(p, "retry_ms=0&stall_ms=2000");
	REQUIRE(st);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_TRICKLE});
	get_with_deadline(p, st, 8000, &g);
	fprintf(stderr, "  trickling server (stall_ms=2000): rc %d after %llu ms\n", g.rc,
		(unsigned long long)g.took_ms);
	CHECK_EQ(g.rc, -EIO);
	CHECK(g.took_ms < 5000);
	object_store_close(st);
	s3proxy_stop(p);
}

TEST(put_is_resent_after_a_dead_keepalive_connection)
{
	/* The first PUT leaves a keep-alive connection; the proxy resets the
	 * next request on it before answering.  curl resends a request that got
	 * nothing back on a reused connection by itself, which needs the body
	 * rewound: without a seek callback that was CURLE_SEND_FAIL_REWIND, a
	 * hard error.  With retry_ms=0 our own retry loop cannot hide it. */
	struct s3proxy *p;
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	struct object_store *st = open_at(p, "retry_ms=0");
	REQUIRE(st);
	char body[20000];
	memset(body, 'x', sizeof(body));
	CHECK_EQ(st->ops->put(st, "k", body, sizeof(body)), 0);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_RESET_BEFORE, .method = "PUT", .count = 1});
	CHECK_EQ(st->ops->put(st, "k", body, sizeof(body)), 0);
	struct s3proxy_stats s;
	s3proxy_get_stats(p, &s);
	CHECK_EQ(s.faulted, 1);
	CHECK_EQ(s.requests, 3);
	object_store_close(st);
	s3proxy_stop(p);
}

TEST(endpoint_with_a_path_is_refused)
{
	setenv("AWS_ACCESS_KEY_ID", "LOCALTESTKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "localtestsecret", 1);
	static const char *const bad[] = {
	    "s3://b/p?endpoint=http://127.0.0.1:7480/some/path",
	    "s3://b/p?endpoint=http://127.0.0.1:7480/x/",
	    "s3://b/p?endpoint=http://127.0.0.1:7480%3Fq=1",
	    "s3://b/p?endpoint=http://user@127.0.0.1:7480",
	    "s3://b/p?endpoint=http://",
	    "http://127.0.0.1:1/b?attempt_ms=5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct object_store *st = NULL;
		char err[512] = "";
		CHECK_EQ(object_store_open(bad[i], NULL, &st, err, sizeof(err)), -EINVAL);
		CHECK(st == NULL);
		CHECK(strstr(err, "bad URL parameter") != NULL);
		object_store_close(st);
	}
	/* a trailing slash is not a path */
	struct object_store *st = NULL;
	char err[512] = "";
	CHECK_EQ(object_store_open("s3://b/p?endpoint=http://127.0.0.1:7480/", NULL, &st, err, sizeof(err)), 0);
	object_store_close(st);
}

/* Credentials only from the container endpoint of cs: no keys in the
 * environment, no shared credentials file. */
static void creds_from_endpoint(struct credserver *cs)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/gatefs-test-credentials", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", credserver_url(cs), 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static struct object_store *open_plain(struct s3proxy *p, const char *params)
{
	char url[256], err[512] = "";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket?%s", s3proxy_port(p), params);
	struct object_store *st = NULL;
	if (object_store_open(url, NULL, &st, err, sizeof(err)) != 0)
		fprintf(stderr, "open %s: %s\n", url, err);
	return st;
}

TEST(expired_token_fetches_new_credentials_and_retries)
{
	struct credserver *cs;
	struct s3proxy *p;
	REQUIRE_EQ(credserver_start(&cs), 0);
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	creds_from_endpoint(cs);
	credserver_set(cs, "TEMPKEY1", "tempsecret1", "token1", 3600);
	struct object_store *st = open_plain(p, "retry_ms=0");
	REQUIRE(st);
	CHECK_EQ(credserver_requests(cs), 1);
	CHECK_EQ(st->ops->put(st, "k", "v", 1), 0);
	CHECK_EQ(credserver_requests(cs), 1); /* valid for an hour: no refresh */
	credserver_set(cs, "TEMPKEY2", "tempsecret2", "token2", 3600);
	usleep(1100 * 1000); /* forced refreshes are at most one per second */
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_EXPIRED_TOKEN, .count = 1});
	CHECK_EQ(st->ops->put(st, "k", "v", 1), 0); /* with retry_ms=0: the refresh is not a retry */
	CHECK_EQ(credserver_requests(cs), 2);
	struct s3proxy_stats s;
	s3proxy_get_stats(p, &s);
	CHECK_EQ(s.requests, 3);
	/* A store that keeps refusing: one refresh per call, then -EACCES. */
	usleep(1100 * 1000);
	s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_EXPIRED_TOKEN});
	CHECK_EQ(st->ops->put(st, "k", "v", 1), -EACCES);
	CHECK_EQ(credserver_requests(cs), 3);
	s3proxy_set_fault(p, NULL);
	object_store_close(st);
	s3proxy_stop(p);
	credserver_stop(cs);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

TEST(credentials_are_refreshed_before_they_expire)
{
	struct credserver *cs;
	struct s3proxy *p;
	REQUIRE_EQ(credserver_start(&cs), 0);
	REQUIRE_EQ(s3proxy_start(0, &p), 0);
	creds_from_endpoint(cs);
	credserver_set(cs, "SHORTKEY", "shortsecret", "tok", 4); /* refreshed 2 s before expiry */
	struct object_store *st = open_plain(p, "retry_ms=1000");
	REQUIRE(st);
	CHECK_EQ(st->ops->put(st, "k", "v", 1), 0);
	CHECK_EQ(credserver_requests(cs), 1);
	usleep(2600 * 1000);
	CHECK_EQ(st->ops->put(st, "k", "v", 1), 0);
	CHECK_EQ(credserver_requests(cs), 2);
	struct s3proxy_stats s;
	s3proxy_get_stats(p, &s);
	CHECK_EQ(s.faulted, 0);
	object_store_close(st);
	s3proxy_stop(p);
	credserver_stop(cs);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

TEST(imds_v2_is_asked_for_a_token_then_the_role)
{
	/* The IMDS endpoint is overridable (AWS_EC2_METADATA_SERVICE_ENDPOINT);
	 * the fault proxy without upstream answers the token PUT and the role
	 * listing with an empty 200, which is no role: open fails and says so
	 * after asking exactly the token, then the role list. */
	struct s3proxy *imds;
	REQUIRE_EQ(s3proxy_start(0, &imds), 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/gatefs-test-credentials", 1);
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s3proxy_port(imds));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
	struct object_store *st = NULL;
	char err[512] = "";
	CHECK_EQ(object_store_open("http://127.0.0.1:1/bucket", NULL, &st, err, sizeof(err)), -EINVAL);
	fprintf(stderr, "  open said: %s\n", err);
	CHECK(strstr(err, "IMDSv2") != NULL);
	struct s3proxy_stats s;
	s3proxy_get_stats(imds, &s);
	CHECK_EQ(s.requests, 2);
	object_store_close(st);
	s3proxy_stop(imds);
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

TEST_MAIN()
