/*
 * nfs4_metrics_test.c - the per-operation NFSv4 series of /metrics: a real
 * gateway (nfs4 = on, metrics_listen set) and the project's v4 client.
 * Every operation run inside a COMPOUND is counted under its own name,
 * the one that ends a COMPOUND with an error is counted as an error too,
 * operations after it are not counted at all, and the exposition still
 * passes `promtool check metrics`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "testlib.h"
#include "v4client.h"

static double op_value(const char *text, const char *family, const char *op)
{
	char key[160];
	snprintf(key, sizeof(key), "%s{operation=\"%s\"}", family, op);
	return gw_metrics_value(text, key);
}

static double op_delta(const char *before, const char *after, const char *family, const char *op)
{
	return op_value(after, family, op) - op_value(before, family, op);
}

TEST(operations_are_counted_by_name)
{
	struct gateway gw;
	int port = tl_free_port();
	char extra[256];
	snprintf(extra, sizeof(extra),
		 "nfs4 = on\nmetrics_listen = 127.0.0.1:%d\n/hf 127.0.0.1(rw,insecure,no_root_squash)\n", port);
	REQUIRE_EQ(gw_start(&gw, extra), 0);
	struct v4 s;
	REQUIRE_EQ(v4_open_session(&s, gw.nfs_port, 0, 0, "metrics"), 0);

	char *before = gw_metrics_scrape(port);
	REQUIRE(before != NULL);
	CHECK(op_value(before, "gatefs_nfs4_operations_total", "LOOKUP") >= 0); /* registered up front */
	for (int i = 0; i < 3; i++) {
		v4_begin(&s);
		v4_seq(&s, 0);
		v4_add(&s, OP_PUTROOTFH);
		v4_lookup(&s, "hf");
		v4_getattr(&s);
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		CHECK_EQ(s.res.status, NFS4_OK);
	}
	/* LOOKUP of a missing name ends the COMPOUND: GETATTR after it never runs. */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_PUTROOTFH);
	v4_lookup(&s, "hf");
	v4_lookup(&s, "no-such-name");
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_NOENT);
	char *after = gw_metrics_scrape(port);
	REQUIRE(after != NULL);

	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operations_total", "SEQUENCE"), 4);
	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operations_total", "PUTROOTFH"), 4);
	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operations_total", "LOOKUP"), 5);
	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operation_errors_total", "LOOKUP"), 1);
	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operations_total", "GETATTR"), 3);
	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operation_errors_total", "GETATTR"), 0);
	CHECK_EQ(op_delta(before, after, "gatefs_nfs4_operation_duration_seconds_count", "GETATTR"), 3);
	CHECK_EQ(gw_metrics_promtool(after), 0);
	free(before);
	free(after);
	v4_close(&s);
	CHECK_EQ(gw_stop(&gw), 0);
}

TEST_MAIN()
