/*
 * test_mount.c - MOUNT v3 on a real gateway over TCP and UDP: EXPORT,
 * MNT allowed and refused (client list, secure port, missing path, paths
 * below an export, no escape with ".."), DUMP, UMNT and UMNTALL.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "rawrpc.h"
#include "testlib.h"

#define NFS_PROG 100003
#define MOUNT_PROG 100005
enum { MNT_NULL, MNT_MNT, MNT_DUMP, MNT_UMNT, MNT_UMNTALL, MNT_EXPORT };

static struct gateway gw;
static int gw_state;
static uint32_t next_xid = 0x5000;

static int gateway(void)
{
	if (gw_state == 0)
		gw_state = gw_start(&gw, "log_level = debug\n"
					 "/hf -dir=/ 127.0.0.1(rw,insecure,no_root_squash)\n"
					 "/deny -dir=/ 10.9.9.9(rw,insecure)\n"
					 "/sub 127.0.0.1(rw,insecure) *(ro)\n"
					 "/sec -dir=/ 127.0.0.1(rw)\n") == 0
			       ? 1
			       : -1;
	return gw_state == 1;
}

static struct rr_call call(uint32_t proc)
{
	struct rr_call c = {.xid = next_xid++, .prog = MOUNT_PROG, .vers = 3, .proc = proc, .auth_sys = true};
	return c;
}

/* MNT path on fd (TCP or UDP); returns the mount status, fills fh. */
static int mnt(int fd, bool udp, const char *path, uint8_t fh[64], size_t *fh_len, uint32_t *flavors,
	       uint32_t *nflavors)
{
	struct xb args = {.len = 0};
	struct rr_reply r;
	struct rr_call c = call(MNT_MNT);

	xb_string(&args, path);
	int rc = udp ? rr_call_udp(fd, &c, args.data, args.len, &r) : rr_call_tcp(fd, &c, args.data, args.len, &r);
	if (rc < 0 || r.reply_stat != RR_MSG_ACCEPTED || r.accept_stat != RR_SUCCESS)
		return -1;
	uint32_t status = xr_u32(&r.body);
	if (status == 0) {
		size_t n = xr_opaque(&r.body, fh, 64);
		if (fh_len)
			*fh_len = n;
		uint32_t count = xr_u32(&r.body);
		for (uint32_t i = 0; i < count && i < 8; i++) {
			uint32_t f = xr_u32(&r.body);
			if (flavors)
				flavors[i] = f;
		}
		if (nflavors)
			*nflavors = count;
		if (!r.body.ok)
			return -1;
	}
	return (int)status;
}

TEST(mount_export_lists_exports_and_clients)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.mount_port);
	REQUIRE(fd >= 0);
	struct rr_reply r;
	struct rr_call c = call(MNT_EXPORT);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	REQUIRE_EQ(r.accept_stat, RR_SUCCESS);

	const char *want_dirs[] = {"/hf", "/deny", "/sub", "/sec"};
	int n = 0;
	char groups[4][128];
	memset(groups, 0, sizeof(groups));
	while (xr_u32(&r.body) == 1 && r.body.ok) {
		char dir[1100], name[300];
		xr_opaque(&r.body, dir, sizeof(dir) - 1);
		if (n < 4)
			CHECK_STR(dir, want_dirs[n]);
		while (xr_u32(&r.body) == 1 && r.body.ok) {
			xr_opaque(&r.body, name, sizeof(name) - 1);
			if (n < 4) {
				size_t used = strlen(groups[n]);
				snprintf(groups[n] + used, sizeof(groups[n]) - used, "%s ", name);
			}
		}
		n++;
	}
	CHECK(r.body.ok);
	CHECK_EQ(n, 4);
	CHECK_STR(groups[0], "127.0.0.1 ");
	CHECK_STR(groups[1], "10.9.9.9 ");
	CHECK_STR(groups[2], "127.0.0.1 * ");
	close(fd);
}

TEST(mount_mnt_allowed_and_refused)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.mount_port);
	REQUIRE(fd >= 0);
	uint8_t fh[64], fh2[64];
	size_t len = 0, len2 = 0;
	uint32_t flavors[8], nflavors = 0;

	REQUIRE_EQ(mnt(fd, false, "/hf", fh, &len, flavors, &nflavors), 0);
	CHECK(len > 0 && len <= 64);
	CHECK_EQ(nflavors, 1);
	CHECK_EQ(flavors[0], 1); /* AUTH_SYS */

	/* Another export of the same directory gives a different handle: the
	 * handle names the export it came through. */
	REQUIRE_EQ(mnt(fd, false, "/sub", fh2, &len2, NULL, NULL), 0);
	CHECK(len2 == len && memcmp(fh, fh2, len) != 0);

	CHECK_EQ(mnt(fd, false, "/deny", fh2, NULL, NULL, NULL), 13);	    /* MNT3ERR_ACCES */
	CHECK_EQ(mnt(fd, false, "/nope", fh2, NULL, NULL, NULL), 2);	    /* MNT3ERR_NOENT */
	CHECK_EQ(mnt(fd, false, "/hfx", fh2, NULL, NULL, NULL), 2);	    /* not /hf + "x" */
	CHECK_EQ(mnt(fd, false, "/hf/../deny", fh2, NULL, NULL, NULL), 22); /* MNT3ERR_INVAL */
	CHECK_EQ(mnt(fd, false, "/hf/missing", fh2, NULL, NULL, NULL), 2);
	/* "secure": our source port is not privileged. */
	CHECK_EQ(mnt(fd, false, "/sec", fh2, NULL, NULL, NULL), 13);
	close(fd);

	if (geteuid() == 0) {
		/* From a privileged port it is admitted. */
		for (int port = 700; port < 720; port++) {
			int pfd = rr_tcp_connect_from(gw.mount_port, port);
			if (pfd < 0)
				continue;
			CHECK_EQ(mnt(pfd, false, "/sec", fh2, NULL, NULL, NULL), 0);
			close(pfd);
			break;
		}
	}
}

TEST(mount_mnt_below_an_export)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.mount_port);
	REQUIRE(fd >= 0);
	uint8_t root[64], sub[64];
	size_t root_len = 0, sub_len = 0;
	REQUIRE_EQ(mnt(fd, false, "/hf", root, &root_len, NULL, NULL), 0);

	/* mkdir /hf/a/b over NFS, then mount /hf/a/b directly. */
	int nfd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(nfd >= 0);
	uint8_t dir[64];
	size_t dir_len = root_len;
	memcpy(dir, root, root_len);
	const char *names[] = {"a", "b"};
	for (int i = 0; i < 2; i++) {
		struct xb args = {.len = 0};
		struct rr_reply r;
		xb_opaque(&args, dir, dir_len);
		xb_string(&args, names[i]);
		xb_u32(&args, 1);
		xb_u32(&args, 0755);
		for (int k = 0; k < 5; k++)
			xb_u32(&args, 0);
		struct rr_call c = {.xid = next_xid++, .prog = NFS_PROG, .vers = 3, .proc = 9, .auth_sys = true};
		REQUIRE_EQ(rr_call_tcp(nfd, &c, args.data, args.len, &r), 0);
		REQUIRE_EQ(r.accept_stat, RR_SUCCESS);
		REQUIRE_EQ(xr_u32(&r.body), 0);
		REQUIRE_EQ(xr_u32(&r.body), 1); /* handle follows */
		dir_len = xr_opaque(&r.body, dir, 64);
		REQUIRE(r.body.ok);
	}
	close(nfd);

	REQUIRE_EQ(mnt(fd, false, "/hf/a/b", sub, &sub_len, NULL, NULL), 0);
	CHECK_EQ(sub_len, dir_len);
	CHECK(memcmp(sub, dir, dir_len) == 0); /* the same handle NFS gave */
	CHECK_EQ(mnt(fd, false, "/hf/a/./b/", sub, &sub_len, NULL, NULL), 0);
	close(fd);
}

/* DUMP: returns how many entries match host and dir (dir NULL: any). */
static int dump_count(int fd, const char *dir)
{
	struct rr_reply r;
	struct rr_call c = call(MNT_DUMP);
	int n = 0;

	if (rr_call_tcp(fd, &c, NULL, 0, &r) < 0 || r.accept_stat != RR_SUCCESS)
		return -1;
	while (xr_u32(&r.body) == 1 && r.body.ok) {
		char host[300], path[1100];
		xr_opaque(&r.body, host, sizeof(host) - 1);
		xr_opaque(&r.body, path, sizeof(path) - 1);
		if (!strcmp(host, "127.0.0.1") && (!dir || !strcmp(path, dir)))
			n++;
	}
	return r.body.ok ? n : -1;
}

TEST(mount_dump_umnt_umntall)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.mount_port);
	REQUIRE(fd >= 0);
	uint8_t fh[64];
	struct rr_reply r;

	REQUIRE_EQ(mnt(fd, false, "/hf", fh, NULL, NULL, NULL), 0);
	REQUIRE_EQ(mnt(fd, false, "/sub", fh, NULL, NULL, NULL), 0);
	CHECK_EQ(dump_count(fd, "/hf"), 1);
	CHECK_EQ(dump_count(fd, "/sub"), 1);
	CHECK_EQ(dump_count(fd, "/deny"), 0); /* refused mounts are not listed */

	struct xb args = {.len = 0};
	xb_string(&args, "/hf");
	struct rr_call c = call(MNT_UMNT);
	REQUIRE_EQ(rr_call_tcp(fd, &c, args.data, args.len, &r), 0);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	CHECK_EQ(dump_count(fd, "/hf"), 0);
	CHECK_EQ(dump_count(fd, "/sub"), 1);

	c = call(MNT_UMNTALL);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	CHECK_EQ(dump_count(fd, NULL), 0);
	close(fd);
}

/* DUMP's list is bounded: spellings of one path are one entry (the path as
 * normalised), and one host keeps at most 64 entries however many distinct
 * directories it mounts. */
TEST(mount_list_is_normalised_and_bounded)
{
	REQUIRE(gateway());
	int fd = rr_tcp_connect(gw.mount_port);
	REQUIRE(fd >= 0);
	uint8_t fh[64], root[64];
	size_t root_len = 0;
	struct rr_reply r;
	struct rr_call c = call(MNT_UMNTALL);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);

	/* many calls on one connection: no Nagle delay per call */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	char path[600];
	for (int i = 0; i < 100; i++) { /* /hf, /hf/., /hf/./., ... and with "//": distinct strings */
		size_t n = (size_t)snprintf(path, sizeof(path), "/hf");
		for (int k = 0; k < i / 2; k++)
			n += (size_t)snprintf(path + n, sizeof(path) - n, "/.");
		snprintf(path + n, sizeof(path) - n, "%s", i % 2 ? "//" : "");
		REQUIRE_EQ(mnt(fd, false, path, i == 0 ? root : fh, i == 0 ? &root_len : NULL, NULL, NULL), 0);
	}
	CHECK_EQ(dump_count(fd, NULL), 1);
	CHECK_EQ(dump_count(fd, "/hf"), 1);

	/* 80 distinct directories: made over NFS, each mounted */
	int nfd = rr_tcp_connect(gw.nfs_port);
	REQUIRE(nfd >= 0);
	setsockopt(nfd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	for (int i = 0; i < 80; i++) {
		char name[32];
		snprintf(name, sizeof(name), "many%d", i);
		struct xb args = {.len = 0};
		xb_opaque(&args, root, root_len);
		xb_string(&args, name);
		xb_u32(&args, 1);
		xb_u32(&args, 0755);
		for (int k = 0; k < 5; k++)
			xb_u32(&args, 0);
		struct rr_call mk = {.xid = next_xid++, .prog = NFS_PROG, .vers = 3, .proc = 9, .auth_sys = true};
		REQUIRE_EQ(rr_call_tcp(nfd, &mk, args.data, args.len, &r), 0);
		REQUIRE_EQ(r.accept_stat, RR_SUCCESS);
		snprintf(path, sizeof(path), "/hf/%s", name);
		REQUIRE_EQ(mnt(fd, false, path, fh, NULL, NULL, NULL), 0);
	}
	close(nfd);
	CHECK_EQ(dump_count(fd, NULL), 64);
	CHECK_EQ(dump_count(fd, "/hf/many79"), 1); /* the newest stay */
	CHECK_EQ(dump_count(fd, "/hf"), 0);
	c = call(MNT_UMNTALL);
	REQUIRE_EQ(rr_call_tcp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(dump_count(fd, NULL), 0);
	close(fd);
}

TEST(mount_over_udp)
{
	REQUIRE(gateway());
	int fd = rr_udp_socket(gw.mount_port);
	REQUIRE(fd >= 0);
	uint8_t fh[64], tcp_fh[64];
	size_t len = 0, tcp_len = 0;

	REQUIRE_EQ(mnt(fd, true, "/hf", fh, &len, NULL, NULL), 0);
	CHECK_EQ(mnt(fd, true, "/deny", fh, NULL, NULL, NULL), 13);
	struct rr_reply r;
	struct rr_call c = call(MNT_EXPORT);
	REQUIRE_EQ(rr_call_udp(fd, &c, NULL, 0, &r), 0);
	CHECK_EQ(r.accept_stat, RR_SUCCESS);
	CHECK_EQ(xr_u32(&r.body), 1);
	close(fd);

	int tfd = rr_tcp_connect(gw.mount_port);
	REQUIRE(tfd >= 0);
	REQUIRE_EQ(mnt(tfd, false, "/hf", tcp_fh, &tcp_len, NULL, NULL), 0);
	CHECK(tcp_len == len && memcmp(fh, tcp_fh, len) == 0);
	close(tfd);
}

TEST(mount_clean_shutdown)
{
	REQUIRE(gateway());
	CHECK_EQ(gw_stop(&gw), 0);
	gw_state = 0;
}

TEST_MAIN()
