/*
 * test_pmap.c - the builtin portmapper of a real gateway: PMAP v2 GETPORT
 * and DUMP, RPCBIND v3/v4 GETADDR and DUMP, over TCP and UDP; and rpcinfo
 * (from rpcbind, if installed) talking to it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "pmap.h"
#include "rawrpc.h"
#include "testlib.h"

#define PMAP_PROG 100000
#define NFS_PROG 100003
#define MOUNT_PROG 100005

static struct gateway gw;
static int gw_state;
static uint32_t next_xid = 0x9000;

static int gateway(void)
{
	if (gw_state == 0)
		gw_state = gw_start(&gw, NULL) == 0 ? 1 : -1;
	return gw_state == 1;
}

static int call_any(int fd, bool udp, uint32_t vers, uint32_t proc, const struct xb *args, struct rr_reply *r)
{
	struct rr_call c = {.xid = next_xid++, .prog = PMAP_PROG, .vers = vers, .proc = proc};
	const void *data = args ? args->data : NULL;
	size_t len = args ? args->len : 0;
	int rc = udp ? rr_call_udp(fd, &c, data, len, r) : rr_call_tcp(fd, &c, data, len, r);
	return rc == 0 && r->reply_stat == RR_MSG_ACCEPTED && r->accept_stat == RR_SUCCESS ? 0 : -1;
}

static int getport(int fd, bool udp, uint32_t prog, uint32_t vers, uint32_t proto)
{
	struct xb args = {.len = 0};
	struct rr_reply r;

	xb_u32(&args, prog);
	xb_u32(&args, vers);
	xb_u32(&args, proto);
	xb_u32(&args, 0);
	if (call_any(fd, udp, 2, 3, &args, &r) < 0)
		return -1;
	uint32_t port = xr_u32(&r.body);
	return r.body.ok ? (int)port : -1;
}

static void check_getport(bool udp)
{
	int fd = udp ? rr_udp_socket(gw.pmap_port) : rr_tcp_connect(gw.pmap_port);
	REQUIRE(fd >= 0);
	CHECK_EQ(getport(fd, udp, NFS_PROG, 3, 6), gw.nfs_port);
	CHECK_EQ(getport(fd, udp, MOUNT_PROG, 3, 6), gw.mount_port);
	CHECK_EQ(getport(fd, udp, MOUNT_PROG, 3, 17), gw.mount_port);
	CHECK_EQ(getport(fd, udp, PMAP_PROG, 2, 17), gw.pmap_port);
	CHECK_EQ(getport(fd, udp, NFS_PROG, 4, 6), gw.nfs_port); /* served by default */
	CHECK_EQ(getport(fd, udp, NFS_PROG, 3, 17), 0);		 /* no NFS over UDP */
	CHECK_EQ(getport(fd, udp, 100021, 4, 6), 0);
	close(fd);
}

TEST(pmap_getport_tcp)
{
	REQUIRE(gateway());
	check_getport(false);
}

TEST(pmap_getport_udp)
{
	REQUIRE(gateway());
	check_getport(true);
}

TEST(pmap_dump_and_refused_set)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.pmap_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;
	REQUIRE_EQ(call_any(fd, false, 2, 4, NULL, &r), 0);
	int n = 0, saw_nfs = 0, saw_mount_udp = 0;
	while (xr_u32(&r.body) == 1 && r.body.ok) {
		uint32_t prog = xr_u32(&r.body), vers = xr_u32(&r.body), proto = xr_u32(&r.body),
			 port = xr_u32(&r.body);
		n++;
		saw_nfs |= prog == NFS_PROG && vers == 3 && proto == 6 && (int)port == gw.nfs_port;
		saw_mount_udp |= prog == MOUNT_PROG && vers == 3 && proto == 17 && (int)port == gw.mount_port;
	}
	CHECK(r.body.ok);
	CHECK(n >= 3);
	CHECK(saw_nfs);
	CHECK(saw_mount_udp);

	/* SET is refused: this is not a general rpcbind. */
	struct xb args = {.len = 0};
	xb_u32(&args, 300000);
	xb_u32(&args, 1);
	xb_u32(&args, 6);
	xb_u32(&args, 999);
	REQUIRE_EQ(call_any(fd, false, 2, 1, &args, &r), 0);
	CHECK_EQ(xr_u32(&r.body), 0);
	CHECK_EQ(getport(fd, false, 300000, 1, 6), 0);
	close(fd);
}

static int getaddr(int fd, bool udp, uint32_t vers, uint32_t proc, uint32_t prog, uint32_t pvers, const char *netid,
		   char *out, size_t outlen)
{
	struct xb args = {.len = 0};
	struct rr_reply r;

	xb_u32(&args, prog);
	xb_u32(&args, pvers);
	xb_string(&args, netid);
	xb_string(&args, "");
	xb_string(&args, "");
	if (call_any(fd, udp, vers, proc, &args, &r) < 0)
		return -1;
	xr_opaque(&r.body, out, outlen - 1);
	return r.body.ok ? 0 : -1;
}

TEST(rpcbind_getaddr_v3_v4)
{
	REQUIRE(gateway());
	char want_nfs[64], want_mount[64], got[128];
	snprintf(want_nfs, sizeof(want_nfs), "127.0.0.1.%d.%d", gw.nfs_port >> 8, gw.nfs_port & 255);
	snprintf(want_mount, sizeof(want_mount), "127.0.0.1.%d.%d", gw.mount_port >> 8, gw.mount_port & 255);

	for (int udp = 0; udp <= 1; udp++) {
		int fd = udp ? rr_udp_socket(gw.pmap_port) : rr_tcp_connect(gw.pmap_port);
		REQUIRE(fd >= 0);
		for (uint32_t vers = 3; vers <= 4; vers++) {
			REQUIRE_EQ(getaddr(fd, udp, vers, 3, NFS_PROG, 3, "tcp", got, sizeof(got)), 0);
			CHECK_STR(got, want_nfs);
			REQUIRE_EQ(getaddr(fd, udp, vers, 3, MOUNT_PROG, 3, "udp", got, sizeof(got)), 0);
			CHECK_STR(got, want_mount);
			REQUIRE_EQ(getaddr(fd, udp, vers, 3, NFS_PROG, 3, "udp", got, sizeof(got)), 0);
			CHECK_STR(got, ""); /* no NFS over UDP */
			REQUIRE_EQ(getaddr(fd, udp, vers, 3, NFS_PROG, 4, "tcp", got, sizeof(got)), 0);
			CHECK_STR(got, want_nfs);
			REQUIRE_EQ(getaddr(fd, udp, vers, 3, NFS_PROG, 5, "tcp", got, sizeof(got)), 0);
			CHECK_STR(got, ""); /* not a version anyone serves */
		}
		/* v4 GETVERSADDR falls back to a version we serve. */
		REQUIRE_EQ(getaddr(fd, udp, 4, 9, NFS_PROG, 4, "tcp", got, sizeof(got)), 0);
		CHECK_STR(got, want_nfs);
		close(fd);
	}
}

TEST(rpcbind_dump_v4)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.pmap_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;
	char want_nfs[64];
	snprintf(want_nfs, sizeof(want_nfs), "127.0.0.1.%d.%d", gw.nfs_port >> 8, gw.nfs_port & 255);
	REQUIRE_EQ(call_any(fd, false, 4, 4, NULL, &r), 0);
	int saw_nfs = 0, n = 0;
	while (xr_u32(&r.body) == 1 && r.body.ok) {
		char netid[64], addr[128], owner[128];
		uint32_t prog = xr_u32(&r.body), vers = xr_u32(&r.body);
		xr_opaque(&r.body, netid, sizeof(netid) - 1);
		xr_opaque(&r.body, addr, sizeof(addr) - 1);
		xr_opaque(&r.body, owner, sizeof(owner) - 1);
		n++;
		saw_nfs |= prog == NFS_PROG && vers == 3 && !strcmp(netid, "tcp") && !strcmp(addr, want_nfs);
	}
	CHECK(r.body.ok);
	CHECK(n >= 3);
	CHECK(saw_nfs);
	close(fd);
}

/* rpcinfo from Debian's rpcbind package, by universal address (it would
 * otherwise ask port 111 first). */
static int rpcinfo(const char *transport, int port, int prog, int vers)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rpcinfo -a 127.0.0.1.%d.%d -T %s %d %d >/dev/null 2>&1", port >> 8, port & 255,
		 transport, prog, vers);
	return system(cmd);
}

TEST(rpcinfo_reaches_every_program)
{
	REQUIRE(gateway());
	if (system("command -v rpcinfo >/dev/null 2>&1") != 0) {
		printf("  (rpcinfo not installed: skipped)\n");
		return;
	}
	CHECK_EQ(rpcinfo("tcp", gw.nfs_port, NFS_PROG, 3), 0);
	CHECK_EQ(rpcinfo("tcp", gw.mount_port, MOUNT_PROG, 3), 0);
	CHECK_EQ(rpcinfo("udp", gw.mount_port, MOUNT_PROG, 3), 0);
	CHECK_EQ(rpcinfo("tcp", gw.pmap_port, PMAP_PROG, 2), 0);
	CHECK_EQ(rpcinfo("udp", gw.pmap_port, PMAP_PROG, 4), 0);
	CHECK_EQ(rpcinfo("tcp", gw.nfs_port, NFS_PROG, 4), 0);
	CHECK(rpcinfo("tcp", gw.nfs_port, NFS_PROG, 5) != 0);
}

/* The rpcbind registration client (pmap_client.c), against the builtin
 * portmapper: it must find it, and see its SET refused. */
TEST(pmap_client_talks_to_a_portmapper)
{
	REQUIRE(gateway());
	CHECK(pmap_rpcbind_running(gw.pmap_port));
	struct pmap_mapping m = {300001, 1, PMAP_PROTO_TCP, 4242};
	CHECK_EQ(pmap_rpcbind_register(gw.pmap_port, &m, 1, true), 0);
	CHECK_EQ(pmap_rpcbind_register(gw.pmap_port, &m, 1, false), 0);
	int unused = tl_free_port();
	CHECK(!pmap_rpcbind_running(unused));
	CHECK(pmap_rpcbind_register(unused, &m, 1, true) < 0);
}

TEST(pmap_clean_shutdown)
{
	REQUIRE(gateway());
	CHECK_EQ(gw_stop(&gw), 0);
	gw_state = 0;
}

TEST_MAIN()
