/*
 * test_drc.c - the duplicate request cache: replay, in-progress drop,
 * distinct keys, abandon, the entry and byte bounds (the byte bound holds
 * for the real heap), running calls surviving eviction pressure, and
 * expiry after the retention time.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizer runtime (its header is not always installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
#include <malloc.h>
static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}
#endif

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
	struct drc *d = drc_create(16, 1 << 20, 120);
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
	struct drc *d = drc_create(16, 1 << 20, 120);
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
	struct drc *d = drc_create(16, 1 << 20, 120);
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
	struct drc *d = drc_create(4, 1 << 20, 120);
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
	struct drc *d = drc_create(1000, 4096, 120);
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

TEST(drc_running_call_survives_eviction_pressure)
{
	struct drc *d = drc_create(4, 1 << 20, 120);
	struct drc_key running = key_for(1, "10.0.0.1");
	void *reply;
	size_t len;

	CHECK_EQ(drc_begin(d, &running, &reply, &len), DRC_NEW);
	/* Many other calls come and go while the first is still running. */
	for (uint32_t xid = 2; xid < 200; xid++) {
		struct drc_key k = key_for(xid, "10.0.0.2");
		CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
		drc_finish(d, &k, "RRRR", 4);
	}
	/* Its retransmission is still dropped, not run a second time... */
	CHECK_EQ(drc_begin(d, &running, &reply, &len), DRC_IN_PROGRESS);
	/* ...and its reply, once there, is kept and replayed. */
	drc_finish(d, &running, "FIRST", 5);
	REQUIRE_EQ(drc_begin(d, &running, &reply, &len), DRC_REPLAY);
	CHECK_EQ(len, 5);
	CHECK(memcmp(reply, "FIRST", 5) == 0);
	free(reply);
	struct drc_stats st;
	drc_get_stats(d, &st);
	CHECK(st.entries <= 4);
	CHECK(st.evicted > 0);
	drc_destroy(d);
}

TEST(drc_byte_budget_bounds_the_real_heap)
{
	enum { BUDGET = 1 << 20, CREATE_REPLY = 264 };
	char reply_bytes[CREATE_REPLY];
	void *reply;
	size_t len;

	memset(reply_bytes, 7, sizeof(reply_bytes));
	struct drc *d = drc_create(1u << 20, BUDGET, 120);
	REQUIRE(d);
	size_t before = heap_in_use();
	for (uint32_t xid = 1; xid <= 20000; xid++) {
		struct drc_key k = key_for(xid, "10.0.0.1");
		CHECK_EQ(drc_begin(d, &k, &reply, &len), DRC_NEW);
		drc_finish(d, &k, reply_bytes, sizeof(reply_bytes));
	}
	size_t grown = heap_in_use() - before;
	struct drc_stats st;
	drc_get_stats(d, &st);
	/* Everything the entries hold is inside the budget, and the budget is
	 * used: as many entries as drc_footprint says fit. */
	CHECK(st.bytes <= BUDGET);
	CHECK(grown <= BUDGET);
	CHECK(st.entries >= BUDGET / drc_footprint(CREATE_REPLY) - 1);
	CHECK_EQ(drc_footprint(CREATE_REPLY), 336);
	drc_destroy(d);
}

TEST(drc_replies_expire_after_retention)
{
	struct drc *d = drc_create(16, 1 << 20, 1);
	struct drc_key old = key_for(1, "10.0.0.1"), fresh = key_for(2, "10.0.0.1");
	void *reply;
	size_t len;

	CHECK_EQ(drc_begin(d, &old, &reply, &len), DRC_NEW);
	drc_finish(d, &old, "OLD!", 4);
	usleep(2100 * 1000);
	CHECK_EQ(drc_begin(d, &fresh, &reply, &len), DRC_NEW);
	struct drc_stats st;
	drc_get_stats(d, &st);
	CHECK_EQ(st.entries, 1);
	CHECK_EQ(drc_begin(d, &old, &reply, &len), DRC_NEW);
	drc_destroy(d);
}

TEST_MAIN()
