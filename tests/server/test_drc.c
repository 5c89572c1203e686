/*
 * test_drc.c - the duplicate request cache: replay, in-progress drop,
 * distinct keys, abandon, and the entry and byte bounds.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "drc.h"
#include "testlib.h"

static struct drc_key key_for(uint32_t xid, const char *ip)
{
	struct drc_key k;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(800)};

	memset(&k, 0, sizeof(k));
	inet_pton(AF_INET, ip, &sin.sin_addr);
	drc_key_set_addr(&k, (struct sockaddr *)&sin);
	k.xid = xid;
	k.prog = 100003;
	k.vers = 3;
	k.proc = 9;
	k.args_hash = drc_hash("args", 4);
	return k;
}

TEST(drc_replays_first_reply)
{
	struct drc *d = drc_create(16, 1 << 20);
	struct drc_key k = key_for(1, "10.0.0.1");
	void *reply = NULL;
	size_t len = 0;

	REQUIRE(d);
	CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
	CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_IN_PROGRESS);
	drc_finish(d, &k, "REPLYBYT", 8);
	REQUIRE_EQ(drc_begin(d, &k, &reply, &len), DRC_REPLAY);
	CHECK_EQ(len, 8);
	CHECK(memcmp(reply, "REPLYBYT", 8) == 0);
	free(reply);
	drc_destroy(d);
}

TEST(drc_keys_differ_by_client_xid_and_args)
{
	struct drc *d = drc_create(16, 1 << 20);
	struct drc_key a = key_for(1, "10.0.0.1"), b = key_for(1, "10.0.0.2"), c = key_for(2, "10.0.0.1");
	struct drc_key e = a;
	void *reply;
	size_t len;

	e.args_hash ^= 1;
	CHECK_EQ(drc_begin(d, &a, &reply, &len), DRC_NEW);
	drc_finish(d, &a, "AAAA", 4);
	CHECK_EQ(drc_begin(d, &b, &reply, &len), DRC_NEW);
	CHECK_EQ(drc_begin(d, &c, &reply, &len), DRC_NEW);
	CHECK_EQ(drc_begin(d, &e, &reply, &len), DRC_NEW);
	drc_destroy(d);
}

TEST(drc_abandon_forgets)
{
	struct drc *d = drc_create(16, 1 << 20);
	struct drc_key k = key_for(5, "10.0.0.1");
	void *reply;
	size_t len;

	CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
	drc_abandon(d, &k);
	CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
	drc_destroy(d);
}

TEST(drc_bounded_by_entries_lru)
{
	struct drc *d = drc_create(4, 1 << 20);
	void *reply;
	size_t len;
	struct drc_stats st;

	for (uint32_t xid = 1; xid <= 10; xid++) {
		struct drc_key k = key_for(xid, "10.0.0.1");
		CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
		drc_finish(d, &k, "RRRR", 4);
	}
	drc_get_stats(d, &st);
	CHECK_EQ(st.entries, 4);
	struct drc_key newest = key_for(10, "10.0.0.1"), oldest = key_for(1, "10.0.0.1");
	CHECK_EQ(drc_begin(d, &newest, &reply, &len), DRC_REPLAY);
	free(reply);
	CHECK_EQ(drc_begin(d, &oldest, &reply, &len), DRC_NEW);
	drc_destroy(d);
}

TEST(drc_bounded_by_bytes)
{
	struct drc *d = drc_create(1000, 4096);
	char big[2048] = {0}, small[512] = {0};
	void *reply;
	size_t len;
	struct drc_stats st;

	/* Larger than a quarter of the budget: not kept at all. */
	struct drc_key k = key_for(1, "10.0.0.1");
	CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
	drc_finish(d, &k, big, sizeof(big));
	CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
	drc_abandon(d, &k);
	for (uint32_t xid = 2; xid < 40; xid++) {
		struct drc_key kk = key_for(xid, "10.0.0.1");
		CHECK_EQ(drc_begin(d, &kk, &reply, &len), DRC_NEW);
		drc_finish(d, &kk, small, sizeof(small));
	}
	drc_get_stats(d, &st);
	CHECK(st.bytes <= 4096);
	CHECK(st.entries <= 8);
	drc_destroy(d);
}

TEST_MAIN()
