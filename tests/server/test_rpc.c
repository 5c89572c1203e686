/*
 * test_rpc.c - the RPC transport of a real gateway, driven by hand-built
 * messages: the exact accept_stat for unknown programs, versions and
 * procedures and for bad arguments; authentication errors; malformed and
 * oversized records (the connection is dropped, nothing is pinned, other
 * clients keep being served); many concurrent connections; and the
 * duplicate request cache replaying a retransmitted MKDIR.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway.h"
#include "rawrpc.h"
#include "testlib.h"

#define NFS_PROG 100003
#define MOUNT_PROG 100005

static struct gateway gw;
static int gw_state; /* 0 not started, 1 running, -1 failed */
static uint32_t next_xid = 0x1000;

static int gateway(void)
{
	if (gw_state == 0)
		gw_state = gw_start(&gw, "log_level = debug\n/hf -dir=/ 127.0.0.1(rw,insecure,no_root_squash)\n") == 0
			       ? 1
			       : -1;
	return gw_state == 1;
}

static struct rr_call call(uint32_t prog, uint32_t vers, uint32_t proc)
{
	struct rr_call c = {.xid = next_xid++, .prog = prog, .vers = vers, .proc = proc, .auth_sys = true};
	return c;
}

/* A NULL call on a fresh connection: the server is still serving. */
static bool server_answers(int port)
{
	struct rr_reply r;
	struct rr_call c = call(MOUNT_PROG, 3, 0);
	int fd = rr_tcp_connect(port);
	bool ok = fd >= 0 && rr_call_tcp(fd, &c, NULL, 0, &r) == 0 && r.reply_stat == RR_MSG_ACCEPTED &&
		  r.accept_stat == RR_SUCCESS;
	if (fd >= 0)
		close(fd);
	return ok;
}

static long server_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)gw.pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

TEST(rpc_null_on_every_program)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;
	struct rr_call c = call(NFS_PROG, 3, 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.reply_stat, RR_MSG_ACCEPTED);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	c = call(MOUNT_PROG, 3, 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	c = call(MOUNT_PROG, 3, 0);
	c.auth_sys = false; /* AUTH_NONE is fine for NULL */
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	close(fd);
}

TEST(rpc_unknown_program_version_procedure)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;

	struct rr_call c = call(200999, 1, 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.reply_stat, RR_MSG_ACCEPTED);
	CHECK_EQ(r.accept_stat, RR_PROG_UNAVAIL);

	c = call(NFS_PROG, 2, 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_PROG_MISMATCH);
	CHECK_EQ(r.low, 3);
	CHECK_EQ(r.high, 4); /* v3 and, by default, v4 */

	c = call(MOUNT_PROG, 1, 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_PROG_MISMATCH);
	CHECK_EQ(r.low, 3);
	CHECK_EQ(r.high, 3);

	c = call(MOUNT_PROG, 3, 6);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_PROC_UNAVAIL);
	c = call(NFS_PROG, 3, 22);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_PROC_UNAVAIL);
	c = call(MOUNT_PROG, 3, 0xffffffffu);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_PROC_UNAVAIL);

	/* The connection is still good after all of that. */
	c = call(MOUNT_PROG, 3, 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	close(fd);
}

TEST(rpc_garbage_arguments)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.mount_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;
	struct xb args = {.len = 0};

	/* MNT: a string that claims 100 bytes and carries 4. */
	xb_u32(&args, 100);
	xb_u32(&args, 0x2f686600);
	struct rr_call c = call(MOUNT_PROG, 3, 1);
	REQUIRE_EQ(rr_call_tcp(fd, &c, args.data, args.len, &r), 0);
	CHECK_EQ(r.reply_stat, RR_MSG_ACCEPTED);
	CHECK_EQ(r.accept_stat, RR_GARBAGE_ARGS);

	/* MNT: a path longer than MNTPATHLEN (1024). */
	static char longpath[2000];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	args.len = 0;
	xb_string(&args, longpath);
	c = call(MOUNT_PROG, 3, 1);
	REQUIRE_EQ(rr_call_tcp(fd, &c, args.data, args.len, &r), 0);
	CHECK_EQ(r.accept_stat, RR_GARBAGE_ARGS);

	/* NFS GETATTR with no arguments at all. */
	c = call(NFS_PROG, 3, 1);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_GARBAGE_ARGS);
	close(fd);
	CHECK(server_answers(gw.nfs_port));
}

TEST(rpc_auth_errors)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;
	struct xb msg = {.len = 0};

	/* AUTH_SYS with 17 groups: the RFC allows 16. */
	struct xb cred = {.len = 0};
	xb_u32(&cred, 1);
	xb_string(&cred, "h");
	xb_u32(&cred, 1000);
	xb_u32(&cred, 1000);
	xb_u32(&cred, 17);
	for (int i = 0; i < 17; i++)
		xb_u32(&cred, 100 + (uint32_t)i);
	uint32_t xid = next_xid++;
	xb_u32(&msg, xid);
	xb_u32(&msg, 0);
	xb_u32(&msg, 2);
	xb_u32(&msg, MOUNT_PROG);
	xb_u32(&msg, 3);
	xb_u32(&msg, 5);
	xb_u32(&msg, 1);
	xb_opaque(&msg, cred.data, cred.len);
	xb_u32(&msg, 0);
	xb_u32(&msg, 0);
	REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
	REQUIRE_EQ(rr_recv_record(fd, r.raw, sizeof(r.raw), &r.raw_len, 5000), 0);
	REQUIRE_EQ(rr_parse_reply(r.raw, r.raw_len, &r), 0);
	CHECK_EQ(r.xid, xid);
	CHECK_EQ(r.reply_stat, RR_MSG_DENIED);
	CHECK_EQ(r.reject_stat, 1); /* AUTH_ERROR */
	CHECK_EQ(r.auth_stat, 1);   /* AUTH_BADCRED */

	/* An unknown flavor. */
	msg.len = 0;
	xid = next_xid++;
	xb_u32(&msg, xid);
	xb_u32(&msg, 0);
	xb_u32(&msg, 2);
	xb_u32(&msg, MOUNT_PROG);
	xb_u32(&msg, 3);
	xb_u32(&msg, 5);
	xb_u32(&msg, 77);
	xb_u32(&msg, 0);
	xb_u32(&msg, 0);
	xb_u32(&msg, 0);
	REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
	if (rr_recv_record(fd, r.raw, sizeof(r.raw), &r.raw_len, 5000) == 0) {
		REQUIRE_EQ(rr_parse_reply(r.raw, r.raw_len, &r), 0);
		CHECK_EQ(r.reply_stat, RR_MSG_DENIED);
		CHECK_EQ(r.reject_stat, 1);
	} else {
		tl_fail(__FILE__, __LINE__, "no reply to an unknown auth flavor");
	}

	/* AUTH_NONE on an NFS procedure: too weak unless auth_none = yes. */
	struct rr_call c = call(NFS_PROG, 3, 19); /* FSINFO */
	c.auth_sys = false;
	struct xb args = {.len = 0};
	xb_opaque(&args, "0123456789abcdef0123456789abcdef0123456789ab", 44);
	fd = (close(fd), rr_tcp_connect(gw.nfs_port));
	REQUIRE(fd >= 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, args.data, args.len, &r), 0);
	CHECK_EQ(r.reply_stat, RR_MSG_DENIED);
	CHECK_EQ(r.reject_stat, 1);
	CHECK_EQ(r.auth_stat, 5); /* AUTH_TOOWEAK */
	close(fd);
}

TEST(rpc_rpc_version_mismatch)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	struct xb msg = {.len = 0};
	struct rr_reply r;

	xb_u32(&msg, 77);
	xb_u32(&msg, 0);
	xb_u32(&msg, 3); /* RPC version 3 does not exist */
	xb_u32(&msg, NFS_PROG);
	xb_u32(&msg, 3);
	xb_u32(&msg, 0);
	for (int i = 0; i < 4; i++)
		xb_u32(&msg, 0);
	REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
	if (rr_recv_record(fd, r.raw, sizeof(r.raw), &r.raw_len, 3000) == 0) {
		REQUIRE_EQ(rr_parse_reply(r.raw, r.raw_len, &r), 0);
		CHECK_EQ(r.reply_stat, RR_MSG_DENIED);
		CHECK_EQ(r.reject_stat, 0); /* RPC_MISMATCH */
		CHECK_EQ(r.low, 2);
		CHECK_EQ(r.high, 2);
	}
	/* Dropping the connection instead would also be acceptable; what
	 * matters is that the server goes on. */
	close(fd);
	CHECK(server_answers(gw.nfs_port));
}

TEST(rpc_malformed_records_do_not_hurt_others)
{
	REQUIRE(gateway());
	int idle = rr_tcp_connect(gw.nfs_port);
	REQUIRE(idle >= 0);
	/* A record that announces 100 bytes and stops after 20: the server
	 * waits for the rest, but only on that connection. */
	uint32_t mark = htonl(0x80000000u | 100);
	char junk[20] = {0};
	REQUIRE(send(idle, &mark, 4, 0) == 4 && send(idle, junk, sizeof(junk), 0) == 20);
	CHECK(server_answers(gw.nfs_port));

	/* A complete record whose call header is cut short (xid and CALL only):
	 * the stream cannot be resynchronised, so the connection is closed. */
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	struct xb msg = {.len = 0};
	xb_u32(&msg, 5);
	xb_u32(&msg, 0);
	REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
	CHECK(rr_closed_by_peer(fd, 5000));
	close(fd);

	/* A REPLY where a CALL belongs, and random garbage. */
	fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	msg.len = 0;
	xb_u32(&msg, 6);
	xb_u32(&msg, 1);
	xb_u32(&msg, 0);
	REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
	uint8_t garbage[512];
	tl_fill_random(garbage, sizeof(garbage), 42);
	rr_send_record(fd, garbage, sizeof(garbage));
	rr_closed_by_peer(fd, 2000);
	close(fd);

	/* A zero-length last fragment. */
	fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	mark = htonl(0x80000000u);
	send(fd, &mark, 4, MSG_NOSIGNAL);
	CHECK(rr_closed_by_peer(fd, 5000));
	close(fd);

	CHECK(server_answers(gw.nfs_port));
	CHECK(server_answers(gw.mount_port));
	close(idle);
	CHECK(gw_alive(&gw));
}

TEST(rpc_huge_record_mark_is_dropped_without_pinning_memory)
{
	REQUIRE(gateway());
	long rss_before = server_rss_kib();
	int fds[8];

	/* Eight clients each announce a 2 GiB record. */
	for (int i = 0; i < 8; i++) {
		fds[i] = rr_tcp_connect(gw.nfs_port);
		REQUIRE(fds[i] >= 0);
		uint32_t mark = htonl(0xffffffffu);
		REQUIRE(send(fds[i], &mark, 4, 0) == 4);
		char some[4096];
		memset(some, 0x41, sizeof(some));
		send(fds[i], some, sizeof(some), MSG_NOSIGNAL);
	}
	for (int i = 0; i < 8; i++) {
		CHECK(rr_closed_by_peer(fds[i], 5000));
		close(fds[i]);
	}
	/* Fragments that are each small but add up past the bound. */
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	static char mib[1 << 20];
	bool sent_all = true;
	for (int i = 0; i < 4 && sent_all; i++) {
		uint32_t mark = htonl(sizeof(mib)); /* not the last fragment */
		sent_all = send(fd, &mark, 4, MSG_NOSIGNAL) == 4 &&
			   send(fd, mib, sizeof(mib), MSG_NOSIGNAL) == (ssize_t)sizeof(mib);
	}
	CHECK(rr_closed_by_peer(fd, 5000));
	close(fd);

	long rss_after = server_rss_kib();
	if (rss_before > 0 && rss_after > 0)
		CHECK(rss_after - rss_before < 64 * 1024); /* far less than 8 x 2 GiB */
	CHECK(gw_log_count(&gw, "announced a record of") >= 9);
	CHECK(server_answers(gw.nfs_port));
}

/* Sends a record whose 4-byte mark arrives in pieces (cuts: the byte
 * counts of the first pieces), pausing between them as a slow or
 * fragmenting network would. */
static bool send_mark_in_pieces(int fd, uint32_t mark_host, const int *cuts, int ncuts, const void *body, size_t len)
{
	uint32_t mark = htonl(mark_host);
	const uint8_t *m = (const uint8_t *)&mark;
	int at = 0;

	for (int i = 0; i < ncuts; i++) {
		if (send(fd, m + at, (size_t)cuts[i], MSG_NOSIGNAL) != cuts[i])
			return false;
		at += cuts[i];
		usleep(150 * 1000);
	}
	if (send(fd, m + at, (size_t)(4 - at), MSG_NOSIGNAL) != 4 - at)
		return false;
	return len == 0 || send(fd, body, len, MSG_NOSIGNAL) == (ssize_t)len;
}

TEST(rpc_split_record_mark_is_reassembled)
{
	REQUIRE(gateway());
	static const int splits[][3] = {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {1, 1, 1}, {1, 2, 0}};
	static const int nsplits[] = {1, 1, 1, 3, 2};
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);

	/* Every way of cutting the mark, on one connection: each call is
	 * answered and the stream stays in step for the next one. */
	for (size_t i = 0; i < sizeof(nsplits) / sizeof(nsplits[0]); i++) {
		struct rr_call c = call(NFS_PROG, 3, 0);
		struct xb msg;
		struct rr_reply r;
		rr_build_call(&msg, &c, NULL, 0);
		REQUIRE(
		    send_mark_in_pieces(fd, 0x80000000u | (uint32_t)msg.len, splits[i], nsplits[i], msg.data, msg.len));
		REQUIRE_EQ(rr_recv_record(fd, r.raw, sizeof(r.raw), &r.raw_len, 5000), 0);
		REQUIRE_EQ(rr_parse_reply(r.raw, r.raw_len, &r), 0);
		CHECK_EQ(r.xid, c.xid);
		CHECK_EQ(r.accept_stat, RR_SUCCESS);
	}
	close(fd);

	/* A huge mark cut in pieces is still refused before any allocation. */
	fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	int before = gw_log_count(&gw, "announced a record of");
	static const int one_then_two[] = {1, 2};
	REQUIRE(send_mark_in_pieces(fd, 0xffffffffu, one_then_two, 2, "AAAA", 4));
	CHECK(rr_closed_by_peer(fd, 5000));
	close(fd);
	CHECK(gw_log_count(&gw, "announced a record of") > before);
	CHECK(server_answers(gw.nfs_port));
}

TEST(rpc_stalled_record_marks_do_not_hold_threads)
{
	REQUIRE(gateway());
	/* More clients than the gateway has threads (4) each send one byte
	 * of a record mark and stop.  A receive that waited for the other
	 * three would pin a thread per client; the others must still be
	 * served at once. */
	enum { N = 12 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = rr_tcp_connect(gw.nfs_port);
		REQUIRE(fds[i] >= 0);
		REQUIRE(send(fds[i], "\x80", 1, MSG_NOSIGNAL) == 1);
	}
	usleep(200 * 1000);
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	struct rr_call c = call(NFS_PROG, 3, 0);
	struct xb msg;
	struct rr_reply r;
	rr_build_call(&msg, &c, NULL, 0);
	REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
	CHECK_EQ(rr_recv_record(fd, r.raw, sizeof(r.raw), &r.raw_len, 3000), 0);
	close(fd);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	CHECK(server_answers(gw.nfs_port));
}

TEST(rpc_many_concurrent_connections)
{
	REQUIRE(gateway());
	enum { N = 64 };
	int fds[N];
	struct rr_call calls[N];
	struct xb msg;

	for (int i = 0; i < N; i++) {
		fds[i] = rr_tcp_connect(i % 2 ? gw.nfs_port : gw.mount_port);
		REQUIRE(fds[i] >= 0);
	}
	/* Send everything first, then read: the calls are in flight together. */
	for (int i = 0; i < N; i++) {
		calls[i] = call(i % 2 ? NFS_PROG : MOUNT_PROG, 3, 0);
		rr_build_call(&msg, &calls[i], NULL, 0);
		REQUIRE_EQ(rr_send_record(fds[i], msg.data, msg.len), 0);
		/* Pipelined: a second call on the same connection. */
		struct rr_call again = calls[i];
		again.xid += 100000;
		rr_build_call(&msg, &again, NULL, 0);
		REQUIRE_EQ(rr_send_record(fds[i], msg.data, msg.len), 0);
	}
	int answered = 0;
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < 2; k++) {
			struct rr_reply r;
			if (rr_recv_record(fds[i], r.raw, sizeof(r.raw), &r.raw_len, 10000) == 0 &&
			    rr_parse_reply(r.raw, r.raw_len, &r) == 0 && r.accept_stat == RR_SUCCESS &&
			    (r.xid == calls[i].xid || r.xid == calls[i].xid + 100000))
				answered++;
		}
		close(fds[i]);
	}
	CHECK_EQ(answered, 2 * N);
}

/* MNT /hf, returning the root handle. */
static size_t mount_root(uint8_t fh[64])
{
	int fd = rr_tcp_connect(gw.mount_port);
	struct xb args = {.len = 0};
	struct rr_reply r;
	size_t len = 0;

	if (fd < 0)
		return 0;
	xb_string(&args, "/hf");
	struct rr_call c = call(MOUNT_PROG, 3, 1);
	if (rr_call_tcp(fd, &c, args.data, args.len, &r) == 0 && r.accept_stat == RR_SUCCESS && xr_u32(&r.body) == 0)
		len = xr_opaque(&r.body, fh, 64);
	close(fd);
	return len;
}

TEST(rpc_drc_replays_retransmitted_mkdir)
{
	REQUIRE(gateway());
	uint8_t root[64];
	size_t root_len = mount_root(root);
	REQUIRE(root_len > 0);

	struct xb args = {.len = 0};
	xb_opaque(&args, root, root_len);
	xb_string(&args, "drc-dir");
	xb_u32(&args, 1); /* set mode */
	xb_u32(&args, 0755);
	for (int i = 0; i < 5; i++)
		xb_u32(&args, 0); /* uid, gid, size, atime, mtime unchanged */

	struct rr_call c = call(NFS_PROG, 3, 9); /* MKDIR */
	struct rr_reply first, second, fresh;
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, args.data, args.len, &first), 0);
	REQUIRE_EQ(first.accept_stat, RR_SUCCESS);
	CHECK_EQ(xr_u32(&first.body), 0); /* NFS3_OK */
	close(fd);

	/* The client lost the reply and retransmits on a new connection with
	 * the same xid: it must get the same answer, not EEXIST. */
	fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	REQUIRE_EQ(rr_call_tcp(fd, &c, args.data, args.len, &second), 0);
	REQUIRE_EQ(second.accept_stat, RR_SUCCESS);
	CHECK_EQ(second.raw_len, first.raw_len);
	CHECK(memcmp(second.raw, first.raw, first.raw_len) == 0);

	/* A new call (new xid) with the same arguments really runs again. */
	struct rr_call c2 = call(NFS_PROG, 3, 9);
	REQUIRE_EQ(rr_call_tcp(fd, &c2, args.data, args.len, &fresh), 0);
	REQUIRE_EQ(fresh.accept_stat, RR_SUCCESS);
	CHECK_EQ(xr_u32(&fresh.body), 17); /* NFS3ERR_EXIST */
	close(fd);
	CHECK(gw_log_count(&gw, "replaying the first reply") >= 1);
}

TEST(rpc_drc_replays_after_thousands_of_other_mutations)
{
	REQUIRE(gateway());
	uint8_t root[64];
	size_t root_len = mount_root(root);
	REQUIRE(root_len > 0);

	struct xb args = {.len = 0};
	xb_opaque(&args, root, root_len);
	xb_string(&args, "drc-pressure");
	xb_u32(&args, 1);
	xb_u32(&args, 0755);
	for (int i = 0; i < 5; i++)
		xb_u32(&args, 0);
	struct rr_call mkdir_call = call(NFS_PROG, 3, 9);
	struct rr_reply first, again;
	int fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	REQUIRE_EQ(rr_call_tcp(fd, &mkdir_call, args.data, args.len, &first), 0);
	CHECK_EQ(xr_u32(&first.body), 0);

	/* A busy client population: 4400 other non-idempotent calls (REMOVE
	 * of names that do not exist), pipelined 32 at a time.  A 60 s
	 * retransmission at 10k calls a second comes after 600k of them;
	 * this is the same test at a scale a unit run can afford, and more
	 * than the whole cache of the old default (4096 entries). */
	enum { OTHERS = 4400, WINDOW = 32 };
	for (int sent = 0; sent < OTHERS; sent += WINDOW) {
		for (int k = 0; k < WINDOW; k++) {
			struct xb rm = {.len = 0}, msg;
			char name[32];
			snprintf(name, sizeof(name), "absent-%d", sent + k);
			xb_opaque(&rm, root, root_len);
			xb_string(&rm, name);
			struct rr_call c = call(NFS_PROG, 3, 12); /* REMOVE */
			rr_build_call(&msg, &c, rm.data, rm.len);
			REQUIRE_EQ(rr_send_record(fd, msg.data, msg.len), 0);
		}
		for (int k = 0; k < WINDOW; k++) {
			struct rr_reply r;
			REQUIRE_EQ(rr_recv_record(fd, r.raw, sizeof(r.raw), &r.raw_len, 10000), 0);
		}
	}
	close(fd);

	/* The MKDIR's reply was lost; the retransmission gets it again. */
	fd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(fd >= 0);
	REQUIRE_EQ(rr_call_tcp(fd, &mkdir_call, args.data, args.len, &again), 0);
	CHECK_EQ(again.raw_len, first.raw_len);
	CHECK(memcmp(again.raw, first.raw, first.raw_len) == 0);
	close(fd);
}

TEST(rpc_clean_shutdown)
{
	REQUIRE(gateway());
	/* Connections still open, one in the middle of a record, must not
	 * hold up the stop. */
	int idle = rr_tcp_connect(gw.nfs_port), partial = rr_tcp_connect(gw.mount_port);
	REQUIRE(idle >= 0 && partial >= 0);
	uint32_t mark = htonl(0x80000000u | 64);
	CHECK(send(partial, &mark, 4, 0) == 4);
	CHECK(server_answers(gw.nfs_port));
	CHECK_EQ(gw_stop(&gw), 0);
	close(idle);
	close(partial);
	gw_state = 0;
}

TEST_MAIN()
