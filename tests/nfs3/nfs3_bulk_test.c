/*
 * nfs3_bulk_test.c - NFSv3 data path through libnfs's raw RPC API with
 * many calls in flight: a large file written UNSTABLE in 1 MiB WRITEs,
 * COMMITted and read back with its SHA-256 checked; and a crash test that
 * SIGKILLs the gateway before COMMIT and checks that the write verifier
 * changes while FILE_SYNC and committed data survive.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <openssl/evp.h>

#include "gateway.h"

/* 1 GiB; NFS3_BULK_MIB overrides it (e.g. for a quick run). */
static uint64_t bulk_bytes(void)
{
	const char *mib = getenv("NFS3_BULK_MIB");
	return mib && atoi(mib) > 0 ? (uint64_t)atoi(mib) << 20 : 1ULL << 30;
}
#define IO_SIZE (1u << 20)
#define IN_FLIGHT 16

struct pending {
	int done;
	int status; /* RPC_STATUS_* */
	int nfs_status;
	nfs_fh3 fh;   /* MNT, CREATE */
	char verf[8]; /* WRITE, COMMIT */
	stable_how committed;
	uint32_t count;
	int eof;
	char *dst; /* READ */
};

/* A gateway that stops answering fails the test instead of hanging it. */
#define IDLE_LIMIT_S 120

/* Services rpc once (up to 1 s); counts seconds without any event in *idle. */
static int service_once(struct rpc_context *rpc, int *idle)
{
	struct pollfd p = {rpc_get_fd(rpc), (short)rpc_which_events(rpc), 0};
	int n = poll(&p, 1, 1000);
	if (n < 0)
		return -1;
	*idle = n == 0 ? *idle + 1 : 0;
	if (*idle >= IDLE_LIMIT_S) {
		fprintf(stderr, "no reply from the gateway for %d s\n", IDLE_LIMIT_S);
		return -1;
	}
	if (rpc_service(rpc, p.revents) < 0) {
		fprintf(stderr, "rpc_service: %s\n", rpc_get_error(rpc));
		return -1;
	}
	return 0;
}

static int pump(struct rpc_context *rpc, int *done)
{
	int idle = 0;
	while (!*done)
		if (service_once(rpc, &idle) != 0)
			return -1;
	return 0;
}

static void copy_fh(nfs_fh3 *dst, const char *val, u_int len)
{
	dst->data.data_len = len;
	dst->data.data_val = malloc(len ? len : 1);
	memcpy(dst->data.data_val, val, len);
}

static void connect_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	(void)data;
	struct pending *p = priv;
	p->status = status;
	p->done = 1;
}

static struct rpc_context *connect_to(int port, int prog, int vers)
{
	struct rpc_context *rpc = rpc_init_context();
	struct pending p = {0};
	if (!rpc)
		return NULL;
	if (rpc_connect_port_async(rpc, "127.0.0.1", port, prog, vers, connect_cb, &p) != 0 ||
	    pump(rpc, &p.done) != 0 || p.status != RPC_STATUS_SUCCESS) {
		rpc_destroy_context(rpc);
		return NULL;
	}
	return rpc;
}

static void mnt_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->status = status;
	p->done = 1;
	if (status != RPC_STATUS_SUCCESS)
		return;
	mountres3 *r = data;
	p->nfs_status = r->fhs_status;
	if (r->fhs_status == MNT3_OK)
		copy_fh(&p->fh, r->mountres3_u.mountinfo.fhandle.fhandle3_val,
			r->mountres3_u.mountinfo.fhandle.fhandle3_len);
}

static int mount_root(struct gateway *gw, nfs_fh3 *root)
{
	struct rpc_context *m = connect_to(gw->mount_port, MOUNT_PROGRAM, MOUNT_V3);
	if (!m)
		return -1;
	struct pending p = {0};
	int rc = -1;
	if (rpc_mount3_mnt_async(m, mnt_cb, "/hf", &p) == 0 && pump(m, &p.done) == 0 &&
	    p.status == RPC_STATUS_SUCCESS && p.nfs_status == MNT3_OK) {
		*root = p.fh;
		rc = 0;
	}
	rpc_destroy_context(m);
	return rc;
}

static void create_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->status = status;
	p->done = 1;
	if (status != RPC_STATUS_SUCCESS)
		return;
	CREATE3res *r = data;
	p->nfs_status = r->status;
	if (r->status == NFS3_OK && r->CREATE3res_u.resok.obj.handle_follows)
		copy_fh(&p->fh, r->CREATE3res_u.resok.obj.post_op_fh3_u.handle.data.data_val,
			r->CREATE3res_u.resok.obj.post_op_fh3_u.handle.data.data_len);
	else if (r->status == NFS3_OK)
		p->nfs_status = -2;
}

static int create_file(struct rpc_context *rpc, nfs_fh3 *dir, const char *name, nfs_fh3 *out)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name = (char *)name;
	a.how.mode = GUARDED;
	a.how.createhow3_u.obj_attributes.mode.set_it = 1;
	a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	struct pending p = {0};
	if (rpc_nfs3_create_async(rpc, create_cb, &a, &p) != 0 || pump(rpc, &p.done) != 0 ||
	    p.status != RPC_STATUS_SUCCESS)
		return -1;
	if (p.nfs_status == NFS3_OK)
		*out = p.fh;
	return p.nfs_status;
}

/* Pipelined writes: one struct pending per slot, IN_FLIGHT slots. */
struct stream {
	struct rpc_context *rpc;
	int inflight;
	int failures;
	char verf[8];
	int have_verf;
	int verf_changed;
	stable_how min_committed;
};

struct write_slot {
	struct stream *s;
	char *buf;
	uint32_t len;
	int busy;
};

static void write_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct write_slot *w = priv;
	struct stream *s = w->s;
	w->busy = 0;
	s->inflight--;
	WRITE3res *r = data;
	if (status != RPC_STATUS_SUCCESS || r->status != NFS3_OK || r->WRITE3res_u.resok.count != w->len) {
		s->failures++;
		return;
	}
	if (!s->have_verf) {
		memcpy(s->verf, r->WRITE3res_u.resok.verf, 8);
		s->have_verf = 1;
	} else if (memcmp(s->verf, r->WRITE3res_u.resok.verf, 8) != 0) {
		s->verf_changed = 1;
	}
	if (r->WRITE3res_u.resok.committed < s->min_committed)
		s->min_committed = r->WRITE3res_u.resok.committed;
}

static int wait_one(struct stream *s, int limit)
{
	int idle = 0;
	while (s->inflight >= limit)
		if (service_once(s->rpc, &idle) != 0)
			return -1;
	return 0;
}

/* Writes bytes of the deterministic pattern (1 MiB blocks, seed = base +
 * block index) to fh, hashing it into digest. */
static int write_pattern(struct rpc_context *rpc, nfs_fh3 *fh, uint64_t bytes, uint64_t seed, stable_how how,
			 unsigned char digest[32], struct stream *s)
{
	/* static: a call still in flight after a failure may complete later */
	static struct write_slot slots[IN_FLIGHT];
	memset(s, 0, sizeof(*s));
	s->rpc = rpc;
	s->min_committed = FILE_SYNC;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (int i = 0; i < IN_FLIGHT; i++)
		slots[i] = (struct write_slot){s, malloc(IO_SIZE), 0, 0};
	int rc = 0;
	for (uint64_t off = 0, blk = 0; off < bytes && rc == 0; off += IO_SIZE, blk++) {
		if (wait_one(s, IN_FLIGHT) != 0) {
			rc = -1;
			break;
		}
		struct write_slot *w = NULL;
		for (int i = 0; i < IN_FLIGHT && !w; i++)
			if (!slots[i].busy)
				w = &slots[i];
		w->len = (uint32_t)(bytes - off < IO_SIZE ? bytes - off : IO_SIZE);
		tl_fill_random(w->buf, w->len, seed + blk);
		EVP_DigestUpdate(md, w->buf, w->len);
		WRITE3args a;
		memset(&a, 0, sizeof(a));
		a.file = *fh;
		a.offset = off;
		a.count = w->len;
		a.stable = how;
		a.data.data_len = w->len;
		a.data.data_val = w->buf;
		w->busy = 1;
		s->inflight++;
		if (rpc_nfs3_write_async(rpc, write_cb, &a, w) != 0) {
			s->inflight--;
			rc = -1;
		}
	}
	if (wait_one(s, 1) != 0)
		rc = -1;
	for (int i = 0; i < IN_FLIGHT && s->inflight == 0; i++)
		free(slots[i].buf);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	return rc == 0 && s->failures == 0 ? 0 : -1;
}

static void commit_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->status = status;
	p->done = 1;
	if (status != RPC_STATUS_SUCCESS)
		return;
	COMMIT3res *r = data;
	p->nfs_status = r->status;
	if (r->status == NFS3_OK)
		memcpy(p->verf, r->COMMIT3res_u.resok.verf, 8);
}

static int commit_file(struct rpc_context *rpc, nfs_fh3 *fh, char verf[8])
{
	COMMIT3args a = {*fh, 0, 0};
	struct pending p = {0};
	if (rpc_nfs3_commit_async(rpc, commit_cb, &a, &p) != 0 || pump(rpc, &p.done) != 0 ||
	    p.status != RPC_STATUS_SUCCESS)
		return -1;
	memcpy(verf, p.verf, 8);
	return p.nfs_status;
}

struct read_slot {
	int busy, done, failed;
	uint64_t off;
	uint32_t want, got;
	char *buf;
	int *inflight;
};

static void read_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct read_slot *r = priv;
	READ3res *res = data;
	(*r->inflight)--;
	r->done = 1;
	if (status != RPC_STATUS_SUCCESS || res->status != NFS3_OK ||
	    res->READ3res_u.resok.data.data_len != res->READ3res_u.resok.count ||
	    res->READ3res_u.resok.count > r->want) {
		r->failed = 1;
		return;
	}
	r->got = res->READ3res_u.resok.count;
	memcpy(r->buf, res->READ3res_u.resok.data.data_val, r->got);
}

/* Reads bytes from fh with IN_FLIGHT READs outstanding, hashing in order. */
static int read_hash(struct rpc_context *rpc, nfs_fh3 *fh, uint64_t bytes, unsigned char digest[32])
{
	/* static: a call still in flight after a failure may complete later */
	static struct read_slot slots[IN_FLIGHT];
	static int inflight;
	int rc = 0;
	inflight = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	memset(slots, 0, sizeof(slots));
	for (int i = 0; i < IN_FLIGHT; i++) {
		slots[i].buf = malloc(IO_SIZE);
		slots[i].inflight = &inflight;
	}
	uint64_t next_issue = 0, next_hash = 0;
	while (next_hash < bytes && rc == 0) {
		/* issue into free slots, in order (slot = block index % IN_FLIGHT) */
		while (next_issue < bytes && next_issue < next_hash + (uint64_t)IN_FLIGHT * IO_SIZE) {
			struct read_slot *r = &slots[(next_issue / IO_SIZE) % IN_FLIGHT];
			r->busy = 1;
			r->done = r->failed = 0;
			r->off = next_issue;
			r->want = (uint32_t)(bytes - next_issue < IO_SIZE ? bytes - next_issue : IO_SIZE);
			READ3args a = {*fh, next_issue, r->want};
			inflight++;
			if (rpc_nfs3_read_async(rpc, read_cb, &a, r) != 0) {
				rc = -1;
				break;
			}
			next_issue += r->want;
		}
		struct read_slot *head = &slots[(next_hash / IO_SIZE) % IN_FLIGHT];
		if (pump(rpc, &head->done) != 0 || head->failed || head->got != head->want) {
			rc = -1;
			break;
		}
		EVP_DigestUpdate(md, head->buf, head->got);
		head->busy = 0;
		head->done = 0;
		next_hash += head->got;
	}
	int idle = 0;
	while (inflight > 0 && rc == 0)
		if (service_once(rpc, &idle) != 0)
			break;
	for (int i = 0; i < IN_FLIGHT && inflight == 0; i++)
		free(slots[i].buf);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	return rc;
}

TEST(large_file_unstable_commit_sha256)
{
	struct gateway gw;
	REQUIRE(gw_start(&gw, NULL) == 0);
	nfs_fh3 root = {{0, NULL}}, fh = {{0, NULL}};
	struct rpc_context *rpc = NULL;
	if (mount_root(&gw, &root) != 0 || !(rpc = connect_to(gw.nfs_port, NFS_PROGRAM, NFS_V3))) {
		CHECK(!"mount/connect");
		gw_stop(&gw);
		return;
	}
	CHECK_EQ(create_file(rpc, &root, "big", &fh), NFS3_OK);
	unsigned char wrote[32], read[32];
	static struct stream s;
	CHECK_EQ(write_pattern(rpc, &fh, bulk_bytes(), 1000, UNSTABLE, wrote, &s), 0);
	CHECK(!s.verf_changed);
	char verf[8];
	CHECK_EQ(commit_file(rpc, &fh, verf), NFS3_OK);
	CHECK(memcmp(verf, s.verf, 8) == 0);
	CHECK_EQ(read_hash(rpc, &fh, bulk_bytes(), read), 0);
	CHECK(memcmp(wrote, read, 32) == 0);
	fprintf(stderr, "wrote, committed and read back %llu MiB\n", (unsigned long long)(bulk_bytes() >> 20));
	rpc_destroy_context(rpc);
	free(root.data.data_val);
	free(fh.data.data_val);
	CHECK_EQ(gw_stop(&gw), 0);
}

TEST(crash_before_commit_changes_verifier)
{
	struct gateway gw;
	REQUIRE(gw_start(&gw, NULL) == 0);
	nfs_fh3 root = {{0, NULL}}, a = {{0, NULL}}, b = {{0, NULL}}, c = {{0, NULL}};
	struct rpc_context *rpc = NULL;
	if (mount_root(&gw, &root) != 0 || !(rpc = connect_to(gw.nfs_port, NFS_PROGRAM, NFS_V3))) {
		CHECK(!"mount/connect");
		gw_stop(&gw);
		return;
	}
	unsigned char ha[32], hb[32], hc[32], back[32];
	static struct stream s;
	char v_before[8], v;
	REQUIRE_EQ(create_file(rpc, &root, "filesync", &a), NFS3_OK);
	REQUIRE_EQ(create_file(rpc, &root, "committed", &b), NFS3_OK);
	REQUIRE_EQ(create_file(rpc, &root, "unstable", &c), NFS3_OK);
	CHECK_EQ(write_pattern(rpc, &a, 6u << 20, 1, FILE_SYNC, ha, &s), 0);
	CHECK_EQ(s.min_committed, FILE_SYNC);
	memcpy(v_before, s.verf, 8);
	CHECK_EQ(write_pattern(rpc, &b, 5u << 20, 2, UNSTABLE, hb, &s), 0);
	char cv[8];
	CHECK_EQ(commit_file(rpc, &b, cv), NFS3_OK);
	CHECK(memcmp(cv, v_before, 8) == 0);
	CHECK_EQ(write_pattern(rpc, &c, 9u << 20, 3, UNSTABLE, hc, &s), 0);
	rpc_destroy_context(rpc);

	gw_kill(&gw);
	REQUIRE(gw_spawn(&gw) == 0);
	rpc = connect_to(gw.nfs_port, NFS_PROGRAM, NFS_V3);
	REQUIRE(rpc != NULL);
	/* handles survive the restart; the verifier does not */
	CHECK_EQ(commit_file(rpc, &c, cv), NFS3_OK);
	CHECK(memcmp(cv, v_before, 8) != 0);
	CHECK_EQ(read_hash(rpc, &a, 6u << 20, back), 0);
	CHECK(memcmp(back, ha, 32) == 0);
	CHECK_EQ(read_hash(rpc, &b, 5u << 20, back), 0);
	CHECK(memcmp(back, hb, 32) == 0);
	/* the client would now resend c's data: doing so works and reads back */
	CHECK_EQ(write_pattern(rpc, &c, 9u << 20, 3, UNSTABLE, hc, &s), 0);
	CHECK(memcmp(s.verf, cv, 8) == 0);
	CHECK_EQ(commit_file(rpc, &c, cv), NFS3_OK);
	CHECK_EQ(read_hash(rpc, &c, 9u << 20, back), 0);
	CHECK(memcmp(back, hc, 32) == 0);
	(void)v;
	rpc_destroy_context(rpc);
	free(root.data.data_val);
	free(a.data.data_val);
	free(b.data.data_val);
	free(c.data.data_val);
	CHECK_EQ(gw_stop(&gw), 0);
}

/* libnfs's own POSIX-like client (MOUNT, FSINFO, LOOKUP, ACCESS,
 * READDIRPLUS, ...) through its URL syntax, as an application would use it. */
TEST(libnfs_posix_api_round_trip)
{
	struct gateway gw;
	REQUIRE(gw_start(&gw, NULL) == 0);
	struct nfs_context *nfs = nfs_init_context();
	REQUIRE(nfs != NULL);
	char url[256];
	snprintf(url, sizeof(url), "nfs://127.0.0.1/hf?nfsport=%d&mountport=%d&version=3", gw.nfs_port, gw.mount_port);
	struct nfs_url *u = nfs_parse_url_dir(nfs, url);
	REQUIRE(u != NULL);
	int rc = nfs_mount(nfs, u->server, u->path);
	if (rc != 0)
		fprintf(stderr, "nfs_mount: %s\n", nfs_get_error(nfs));
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		CHECK_EQ(nfs_mkdir(nfs, "/d"), 0);
		struct nfsfh *fh = NULL;
		REQUIRE_EQ(nfs_creat(nfs, "/d/f", 0640, &fh), 0);
		char buf[10000], back[10000];
		tl_fill_random(buf, sizeof(buf), 42);
		CHECK_EQ(nfs_write(nfs, fh, sizeof(buf), buf), (int)sizeof(buf));
		CHECK_EQ(nfs_fsync(nfs, fh), 0);
		uint64_t pos = 0;
		CHECK_EQ(nfs_lseek(nfs, fh, 0, SEEK_SET, &pos), 0);
		CHECK_EQ(nfs_read(nfs, fh, sizeof(back), back), (int)sizeof(back));
		CHECK(memcmp(buf, back, sizeof(buf)) == 0);
		CHECK_EQ(nfs_close(nfs, fh), 0);

		struct nfs_stat_64 st;
		REQUIRE_EQ(nfs_stat64(nfs, "/d/f", &st), 0);
		CHECK_EQ(st.nfs_size, sizeof(buf));
		CHECK_EQ(st.nfs_mode & 07777, 0640);
		CHECK_EQ(nfs_symlink(nfs, "f", "/d/l"), 0);
		char target[64] = {0};
		CHECK_EQ(nfs_readlink(nfs, "/d/l", target, sizeof(target)), 0);
		CHECK_STR(target, "f");
		CHECK_EQ(nfs_link(nfs, "/d/f", "/d/hard"), 0);
		REQUIRE_EQ(nfs_stat64(nfs, "/d/hard", &st), 0);
		CHECK_EQ(st.nfs_nlink, 2);
		CHECK_EQ(nfs_rename(nfs, "/d/hard", "/d/renamed"), 0);
		CHECK_EQ(nfs_truncate(nfs, "/d/renamed", 5), 0);
		REQUIRE_EQ(nfs_stat64(nfs, "/d/f", &st), 0);
		CHECK_EQ(st.nfs_size, 5);
		CHECK_EQ(nfs_chmod(nfs, "/d/f", 0600), 0);

		struct nfsdir *dir = NULL;
		REQUIRE_EQ(nfs_opendir(nfs, "/d", &dir), 0);
		int n = 0, saw_link = 0;
		for (struct nfsdirent *e; (e = nfs_readdir(nfs, dir));) {
			n++;
			if (!strcmp(e->name, "l"))
				saw_link = e->type == NF3LNK;
		}
		nfs_closedir(nfs, dir);
		CHECK_EQ(n, 5); /* . .. f l renamed */
		CHECK(saw_link);
		CHECK_EQ(nfs_rmdir(nfs, "/d"), -ENOTEMPTY);
		CHECK_EQ(nfs_unlink(nfs, "/d/f"), 0);
		CHECK_EQ(nfs_unlink(nfs, "/d/l"), 0);
		CHECK_EQ(nfs_unlink(nfs, "/d/renamed"), 0);
		CHECK_EQ(nfs_rmdir(nfs, "/d"), 0);
		CHECK_EQ(nfs_stat64(nfs, "/d", &st), -ENOENT);
		struct nfs_statvfs_64 sv;
		CHECK_EQ(nfs_statvfs64(nfs, "/", &sv), 0);
		nfs_umount(nfs);
	}
	nfs_destroy_url(u);
	nfs_destroy_context(nfs);
	CHECK_EQ(gw_stop(&gw), 0);
}

static void getattr_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->status = status;
	p->done = 1;
	if (status == RPC_STATUS_SUCCESS)
		p->nfs_status = ((GETATTR3res *)data)->status;
}

/* With Redis gone, a call that needs metadata gets NFS3ERR_JUKEBOX (the
 * client retries later) rather than an error the application would see. */
TEST(redis_down_gives_jukebox)
{
	struct gateway gw;
	REQUIRE(gw_start(&gw, NULL) == 0);
	nfs_fh3 root = {{0, NULL}}, fh = {{0, NULL}};
	struct rpc_context *rpc = NULL;
	if (mount_root(&gw, &root) != 0 || !(rpc = connect_to(gw.nfs_port, NFS_PROGRAM, NFS_V3))) {
		CHECK(!"mount/connect");
		gw_stop(&gw);
		return;
	}
	REQUIRE_EQ(create_file(rpc, &root, "f", &fh), NFS3_OK);
	tl_redis_stop(&gw.redis);
	GETATTR3args a = {fh};
	struct pending p = {0};
	REQUIRE(rpc_nfs3_getattr_async(rpc, getattr_cb, &a, &p) == 0);
	REQUIRE(pump(rpc, &p.done) == 0);
	CHECK_EQ(p.status, RPC_STATUS_SUCCESS);
	CHECK_EQ(p.nfs_status, NFS3ERR_JUKEBOX);
	rpc_destroy_context(rpc);
	free(root.data.data_val);
	free(fh.data.data_val);
	gw_stop(&gw); /* it may not stop cleanly without its Redis; not the point here */
}

TEST_MAIN()
