/*
 * nfs3_proto_test.c - NFSv3 procedures against the real gateway: the
 * fixture, and tests of every procedure's success and error paths, wcc
 * data, exports (ACL, root squash, read-only, secure port), forged
 * handles and the duplicate request cache.  Name checks and readdir are in
 * nfs3_names_test.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

static struct fixture the_fixture;
static const struct timeval short_timeout = {10, 0};

int fx_stop(void)
{
	struct fixture *f = &the_fixture;
	if (f->root)
		client_destroy(f->root);
	f->root = NULL;
	nfs_fh3 *roots[] = {&f->hf, &f->sq, &f->ro, &f->sec};
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		fh_free(roots[i]);
	f->ok = 0;
	return gw_stop(&f->gw);
}

/* When a single test was run, gateway_stops_cleanly did not: a gateway
 * that fails to stop cleanly still fails the run. */
static void fixture_stop(void)
{
	if (the_fixture.gw.pid > 0 && fx_stop() != 0) {
		fprintf(stderr, "FAIL gateway did not stop cleanly\n");
		_exit(1);
	}
}

struct fixture *fx(void)
{
	static int tried;
	struct fixture *f = &the_fixture;
	if (tried)
		return f->ok ? f : NULL;
	tried = 1;
	if (gw_start(&f->gw, NULL) != 0)
		return NULL;
	atexit(fixture_stop);
	struct client_opts root = {0};
	struct client_opts priv = {.privileged_port = true};
	if (client_mount(f->gw.mount_port, "/hf", &root, &f->hf) != 0 ||
	    client_mount(f->gw.mount_port, "/sq", &root, &f->sq) != 0 ||
	    client_mount(f->gw.mount_port, "/ro", &root, &f->ro) != 0 ||
	    client_mount(f->gw.mount_port, "/sec", &priv, &f->sec) != 0) {
		fprintf(stderr, "mount failed\n");
		return NULL;
	}
	f->root = client_connect(f->gw.nfs_port, 100003, 3, &root);
	f->ok = f->root != NULL;
	return f->ok ? f : NULL;
}

int fx_testdir(const char *name, nfs_fh3 *out)
{
	struct fixture *f = fx();
	if (!f)
		return -1;
	int st = nfs_mkdir(f->root, &f->hf, name, 0777, out);
	if (st != NFS3_OK)
		return st;
	/* mkdir honours the umask-free mode; make sure anyway */
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = *out;
	a.new_attributes.mode.set_it = TRUE;
	a.new_attributes.mode.set_mode3_u.mode = 0777;
	SETATTR3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(f->root, SETATTR, SETATTR3args, a, SETATTR3res, r) != RPC_SUCCESS)
		return -1;
	return r.status;
}

#define FIXTURE()                                                                                                      \
	struct fixture *f = fx();                                                                                      \
	REQUIRE(f != NULL);                                                                                            \
	CLIENT *c = f->root

TEST(null_and_getattr_root)
{
	FIXTURE();
	REQUIRE(clnt_call(c, NFSPROC3_NULL, XDR_VOID, NULL, XDR_VOID, NULL, short_timeout) == RPC_SUCCESS);
	fattr3 a;
	REQUIRE_EQ(nfs_getattr(c, &f->hf, &a), NFS3_OK);
	CHECK_EQ(a.type, NF3DIR);
	CHECK(a.nlink >= 2);
	CHECK(a.fileid != 0);
	fattr3 b;
	REQUIRE_EQ(nfs_getattr(c, &f->ro, &b), NFS3_OK);
	CHECK_EQ(a.fsid, b.fsid); /* same volume */
	CHECK_EQ(a.fileid, b.fileid);
}

TEST(lookup_dot_and_dotdot_at_export_root)
{
	FIXTURE();
	nfs_fh3 h = {{0, NULL}};
	fattr3 root, a;
	REQUIRE_EQ(nfs_getattr(c, &f->hf, &root), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &f->hf, "..", &h, &a), NFS3_OK);
	CHECK_EQ(a.fileid, root.fileid);
	CHECK(fh_equal(&h, &f->hf));
	fh_free(&h);
	REQUIRE_EQ(nfs_lookup(c, &f->hf, ".", &h, &a), NFS3_OK);
	CHECK_EQ(a.fileid, root.fileid);
	fh_free(&h);

	nfs_fh3 d = {{0, NULL}}, up = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("dotdot", &d), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &d, "..", &up, &a), NFS3_OK);
	CHECK_EQ(a.fileid, root.fileid);
	CHECK_EQ(nfs_lookup(c, &d, "missing", NULL, NULL), NFS3ERR_NOENT);
	fh_free(&d);
	fh_free(&up);
}

TEST(lookup_errors_return_dir_attributes)
{
	FIXTURE();
	LOOKUP3args a = {{f->hf, wname("no-such-name")}};
	LOOKUP3res r;
	memset(&r, 0, sizeof(r));
	REQUIRE(CALL(c, LOOKUP, LOOKUP3args, a, LOOKUP3res, r) == RPC_SUCCESS);
	CHECK_EQ(r.status, NFS3ERR_NOENT);
	CHECK(r.LOOKUP3res_u.resfail.dir_attributes.attributes_follow);
	FREE_RES(c, LOOKUP3res, r);

	nfs_fh3 file = {{0, NULL}};
	nfs_fh3 d = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("lookup_notdir", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "plain", GUARDED, 0644, NULL, &file, NULL), NFS3_OK);
	CHECK_EQ(nfs_lookup(c, &file, "x", NULL, NULL), NFS3ERR_NOTDIR);
	fh_free(&file);
	fh_free(&d);
}

TEST(create_unchecked_guarded_exclusive)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, h1 = {{0, NULL}}, h2 = {{0, NULL}};
	fattr3 a1, a2;
	REQUIRE_EQ(fx_testdir("create", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "g", GUARDED, 0640, NULL, &h1, &a1), NFS3_OK);
	CHECK_EQ(a1.type, NF3REG);
	CHECK_EQ(a1.mode & 07777, 0640);
	CHECK_EQ(a1.size, 0);
	CHECK_EQ(nfs_create(c, &d, "g", GUARDED, 0640, NULL, NULL, NULL), NFS3ERR_EXIST);
	/* UNCHECKED on an existing file opens it. */
	REQUIRE_EQ(nfs_create(c, &d, "g", UNCHECKED, 0600, NULL, &h2, &a2), NFS3_OK);
	CHECK_EQ(a2.fileid, a1.fileid);
	fh_free(&h1);
	fh_free(&h2);

	/* EXCLUSIVE: a replay with the same verifier finds the same file; another
	 * verifier is EXIST; the client then sets the attributes. */
	const char v1[8] = "verifie1", v2[8] = "verifie2";
	REQUIRE_EQ(nfs_create(c, &d, "x", EXCLUSIVE, 0, v1, &h1, &a1), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "x", EXCLUSIVE, 0, v1, &h2, &a2), NFS3_OK);
	CHECK_EQ(a1.fileid, a2.fileid);
	CHECK(fh_equal(&h1, &h2));
	CHECK_EQ(nfs_create(c, &d, "x", EXCLUSIVE, 0, v2, NULL, NULL), NFS3ERR_EXIST);

	SETATTR3args sa;
	memset(&sa, 0, sizeof(sa));
	sa.object = h1;
	sa.new_attributes.mode.set_it = TRUE;
	sa.new_attributes.mode.set_mode3_u.mode = 0604;
	sa.new_attributes.atime.set_it = SET_TO_SERVER_TIME;
	sa.new_attributes.mtime.set_it = SET_TO_CLIENT_TIME;
	sa.new_attributes.mtime.set_mtime_u.mtime.seconds = 1000000000;
	sa.new_attributes.mtime.set_mtime_u.mtime.nseconds = 5;
	SETATTR3res sr;
	memset(&sr, 0, sizeof(sr));
	REQUIRE(CALL(c, SETATTR, SETATTR3args, sa, SETATTR3res, sr) == RPC_SUCCESS);
	CHECK_EQ(sr.status, NFS3_OK);
	CHECK(sr.SETATTR3res_u.resok.obj_wcc.after.attributes_follow);
	fattr3 after;
	REQUIRE_EQ(nfs_getattr(c, &h1, &after), NFS3_OK);
	CHECK_EQ(after.mode & 07777, 0604);
	CHECK_EQ(after.mtime.seconds, 1000000000);
	CHECK_EQ(after.mtime.nseconds, 5);
	fh_free(&h1);
	fh_free(&h2);
	fh_free(&d);
}

/* A non-root client: O_CREAT|O_EXCL|O_TRUNC as the Linux client does it,
 * EXCLUSIVE create then SETATTR of mode, size and times by the owner. */
TEST(exclusive_create_then_setattr_as_user)
{
	FIXTURE();
	(void)c; /* everything here runs as users 1000 and 1001 */
	nfs_fh3 d = {{0, NULL}}, h = {{0, NULL}};
	fattr3 a;
	REQUIRE_EQ(fx_testdir("excl_user", &d), NFS3_OK);
	struct client_opts user = {.uid = 1000, .gid = 1000};
	CLIENT *u = client_connect(f->gw.nfs_port, 100003, 3, &user);
	REQUIRE(u != NULL);
	const char v[8] = "userverf";
	REQUIRE_EQ(nfs_create(u, &d, "x", EXCLUSIVE, 0, v, &h, &a), NFS3_OK);
	CHECK_EQ(a.uid, 1000);
	SETATTR3args sa;
	memset(&sa, 0, sizeof(sa));
	sa.object = h;
	sa.new_attributes.mode.set_it = TRUE;
	sa.new_attributes.mode.set_mode3_u.mode = 0640;
	sa.new_attributes.size.set_it = TRUE;
	sa.new_attributes.size.set_size3_u.size = 0;
	sa.new_attributes.atime.set_it = SET_TO_SERVER_TIME;
	sa.new_attributes.mtime.set_it = SET_TO_SERVER_TIME;
	SETATTR3res sr;
	memset(&sr, 0, sizeof(sr));
	REQUIRE(CALL(u, SETATTR, SETATTR3args, sa, SETATTR3res, sr) == RPC_SUCCESS);
	CHECK_EQ(sr.status, NFS3_OK);
	REQUIRE_EQ(nfs_getattr(u, &h, &a), NFS3_OK);
	CHECK_EQ(a.mode & 07777, 0640);
	CHECK_EQ(nfs_write(u, &h, 0, "abc", 3, FILE_SYNC, NULL, NULL), NFS3_OK);
	/* another user cannot write it */
	struct client_opts other = {.uid = 1001, .gid = 1001};
	CLIENT *o = client_connect(f->gw.nfs_port, 100003, 3, &other);
	REQUIRE(o != NULL);
	CHECK_EQ(nfs_write(o, &h, 0, "x", 1, FILE_SYNC, NULL, NULL), NFS3ERR_ACCES);
	client_destroy(o);
	client_destroy(u);
	fh_free(&h);
	fh_free(&d);
}

TEST(create_reply_carries_dir_wcc)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("wcc", &d), NFS3_OK);
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = d;
	a.where.name = wname("f");
	a.how.mode = GUARDED;
	CREATE3res r;
	memset(&r, 0, sizeof(r));
	REQUIRE(CALL(c, CREATE, CREATE3args, a, CREATE3res, r) == RPC_SUCCESS);
	REQUIRE_EQ(r.status, NFS3_OK);
	wcc_data *w = &r.CREATE3res_u.resok.dir_wcc;
	CHECK(w->before.attributes_follow);
	CHECK(w->after.attributes_follow);
	CHECK(r.CREATE3res_u.resok.obj.handle_follows);
	CHECK(r.CREATE3res_u.resok.obj_attributes.attributes_follow);
	FREE_RES(c, CREATE3res, r);
	/* the same again: EXIST, with wcc data for the directory */
	memset(&r, 0, sizeof(r));
	REQUIRE(CALL(c, CREATE, CREATE3args, a, CREATE3res, r) == RPC_SUCCESS);
	CHECK_EQ(r.status, NFS3ERR_EXIST);
	CHECK(r.CREATE3res_u.resfail.dir_wcc.after.attributes_follow);
	FREE_RES(c, CREATE3res, r);
	fh_free(&d);
}

TEST(write_read_commit_and_verifier)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, h = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("rw", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "data", GUARDED, 0644, NULL, &h, NULL), NFS3_OK);
	size_t n = 300000;
	char *buf = malloc(n), *back = malloc(1 << 20);
	tl_fill_random(buf, n, 7);
	stable_how committed;
	char v1[8], v2[8];
	REQUIRE_EQ(nfs_write(c, &h, 0, buf, 100000, FILE_SYNC, &committed, v1), NFS3_OK);
	CHECK_EQ(committed, FILE_SYNC);
	REQUIRE_EQ(nfs_write(c, &h, 100000, buf + 100000, 100000, DATA_SYNC, &committed, v2), NFS3_OK);
	CHECK(committed >= DATA_SYNC);
	CHECK(memcmp(v1, v2, 8) == 0);
	REQUIRE_EQ(nfs_write(c, &h, 200000, buf + 200000, 100000, UNSTABLE, &committed, v2), NFS3_OK);
	CHECK(memcmp(v1, v2, 8) == 0);

	COMMIT3args ca = {h, 0, 0};
	COMMIT3res cr;
	memset(&cr, 0, sizeof(cr));
	REQUIRE(CALL(c, COMMIT, COMMIT3args, ca, COMMIT3res, cr) == RPC_SUCCESS);
	REQUIRE_EQ(cr.status, NFS3_OK);
	CHECK(memcmp(cr.COMMIT3res_u.resok.verf, v1, 8) == 0);
	CHECK(cr.COMMIT3res_u.resok.file_wcc.after.attributes_follow);
	CHECK_EQ(cr.COMMIT3res_u.resok.file_wcc.after.post_op_attr_u.attributes.size, n);

	uint32_t got;
	bool eof;
	REQUIRE_EQ(nfs_read(c, &h, 0, 1 << 20, back, &got, &eof), NFS3_OK);
	CHECK_EQ(got, n);
	CHECK(eof);
	CHECK(memcmp(back, buf, n) == 0);
	REQUIRE_EQ(nfs_read(c, &h, 1000, 10, back, &got, &eof), NFS3_OK);
	CHECK_EQ(got, 10);
	CHECK(!eof);
	CHECK(memcmp(back, buf + 1000, 10) == 0);
	REQUIRE_EQ(nfs_read(c, &h, n + 5, 10, back, &got, &eof), NFS3_OK);
	CHECK_EQ(got, 0);
	CHECK(eof);

	/* A READ larger than rtmax is cut to 1 MiB, never refused. */
	char *big = malloc(3 << 20);
	tl_fill_random(big, 3 << 20, 9);
	for (int i = 0; i < 3; i++)
		REQUIRE_EQ(nfs_write(c, &h, (uint64_t)i << 20, big + ((size_t)i << 20), 1 << 20, UNSTABLE, NULL, NULL),
			   NFS3_OK);
	READ3args ra = {h, 0, 3u << 20};
	READ3res rr;
	memset(&rr, 0, sizeof(rr));
	REQUIRE(CALL(c, READ, READ3args, ra, READ3res, rr) == RPC_SUCCESS);
	REQUIRE_EQ(rr.status, NFS3_OK);
	CHECK_EQ(rr.READ3res_u.resok.count, 1 << 20);
	CHECK(!rr.READ3res_u.resok.eof);
	CHECK(memcmp(rr.READ3res_u.resok.data.data_val, big, 1 << 20) == 0);
	CHECK(rr.READ3res_u.resok.file_attributes.attributes_follow);
	FREE_RES(c, READ3res, rr);

	/* WRITE with count larger than the data is INVAL; READ of a directory is ISDIR. */
	WRITE3args wa;
	memset(&wa, 0, sizeof(wa));
	wa.file = h;
	wa.count = 10;
	wa.stable = UNSTABLE;
	wa.data.data_len = 5;
	wa.data.data_val = buf;
	WRITE3res wr;
	memset(&wr, 0, sizeof(wr));
	REQUIRE(CALL(c, WRITE, WRITE3args, wa, WRITE3res, wr) == RPC_SUCCESS);
	CHECK_EQ(wr.status, NFS3ERR_INVAL);
	CHECK_EQ(nfs_read(c, &d, 0, 10, back, &got, &eof), NFS3ERR_ISDIR);
	CHECK_EQ(nfs_write(c, &d, 0, buf, 10, UNSTABLE, NULL, NULL), NFS3ERR_ISDIR);
	free(big);
	free(buf);
	free(back);
	fh_free(&h);
	fh_free(&d);
}

static int setattr_size(CLIENT *c, const nfs_fh3 *h, uint64_t size, const nfstime3 *guard)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = *h;
	a.new_attributes.size.set_it = TRUE;
	a.new_attributes.size.set_size3_u.size = size;
	if (guard) {
		a.guard.check = TRUE;
		a.guard.sattrguard3_u.obj_ctime = *guard;
	}
	SETATTR3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, SETATTR, SETATTR3args, a, SETATTR3res, r) != RPC_SUCCESS)
		return -1;
	return r.status;
}

TEST(setattr_truncate_extend_guard_owner)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, h = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("setattr", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "f", GUARDED, 0644, NULL, &h, NULL), NFS3_OK);
	char buf[100], back[300];
	memset(buf, 'a', sizeof(buf));
	REQUIRE_EQ(nfs_write(c, &h, 0, buf, 100, FILE_SYNC, NULL, NULL), NFS3_OK);
	REQUIRE_EQ(setattr_size(c, &h, 10, NULL), NFS3_OK);
	REQUIRE_EQ(setattr_size(c, &h, 200, NULL), NFS3_OK);
	uint32_t got;
	bool eof;
	REQUIRE_EQ(nfs_read(c, &h, 0, 300, back, &got, &eof), NFS3_OK);
	CHECK_EQ(got, 200);
	CHECK(eof);
	CHECK(memcmp(back, buf, 10) == 0);
	int zeros = 1;
	for (int i = 10; i < 200; i++)
		zeros &= back[i] == 0;
	CHECK(zeros);

	fattr3 a;
	REQUIRE_EQ(nfs_getattr(c, &h, &a), NFS3_OK);
	nfstime3 wrong = a.ctime;
	wrong.seconds -= 100;
	CHECK_EQ(setattr_size(c, &h, 0, &wrong), NFS3ERR_NOT_SYNC);
	REQUIRE_EQ(nfs_getattr(c, &h, &a), NFS3_OK);
	CHECK_EQ(a.size, 200);
	CHECK_EQ(setattr_size(c, &h, 0, &a.ctime), NFS3_OK);
	REQUIRE_EQ(nfs_getattr(c, &h, &a), NFS3_OK);
	CHECK_EQ(a.size, 0);

	/* root may give the file away */
	SETATTR3args sa;
	memset(&sa, 0, sizeof(sa));
	sa.object = h;
	sa.new_attributes.uid.set_it = TRUE;
	sa.new_attributes.uid.set_uid3_u.uid = 1234;
	sa.new_attributes.gid.set_it = TRUE;
	sa.new_attributes.gid.set_gid3_u.gid = 5678;
	SETATTR3res sr;
	memset(&sr, 0, sizeof(sr));
	REQUIRE(CALL(c, SETATTR, SETATTR3args, sa, SETATTR3res, sr) == RPC_SUCCESS);
	CHECK_EQ(sr.status, NFS3_OK);
	REQUIRE_EQ(nfs_getattr(c, &h, &a), NFS3_OK);
	CHECK_EQ(a.uid, 1234);
	CHECK_EQ(a.gid, 5678);
	/* size on a directory is refused */
	int st = setattr_size(c, &d, 0, NULL);
	CHECK(st == NFS3ERR_ISDIR || st == NFS3ERR_INVAL);
	fh_free(&h);
	fh_free(&d);
}

static int dirop(CLIENT *c, int proc, const nfs_fh3 *dir, const char *name)
{
	REMOVE3args a = {{*dir, wname(name)}};
	REMOVE3res r; /* RMDIR3res has the same shape */
	memset(&r, 0, sizeof(r));
	if (client_call(c, proc, (xdrproc_t)xdr_REMOVE3args, &a, (xdrproc_t)xdr_REMOVE3res, &r) != RPC_SUCCESS)
		return -1;
	if (!r.REMOVE3res_u.resok.dir_wcc.after.attributes_follow)
		return -4; /* every reply carries the directory's attributes */
	return r.status;
}

TEST(mkdir_rmdir_remove)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, sub = {{0, NULL}}, h = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("mkdir", &d), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "sub", 0755, &sub), NFS3_OK);
	CHECK_EQ(nfs_mkdir(c, &d, "sub", 0755, NULL), NFS3ERR_EXIST);
	REQUIRE_EQ(nfs_create(c, &sub, "f", GUARDED, 0644, NULL, &h, NULL), NFS3_OK);
	fattr3 a;
	REQUIRE_EQ(nfs_getattr(c, &d, &a), NFS3_OK);
	CHECK_EQ(a.nlink, 3);
	CHECK_EQ(dirop(c, NFSPROC3_RMDIR, &d, "sub"), NFS3ERR_NOTEMPTY);
	CHECK_EQ(dirop(c, NFSPROC3_RMDIR, &sub, "f"), NFS3ERR_NOTDIR);
	int st = dirop(c, NFSPROC3_REMOVE, &d, "sub");
	CHECK(st == NFS3ERR_ISDIR || st == NFS3ERR_PERM || st == NFS3ERR_ACCES);
	CHECK_EQ(dirop(c, NFSPROC3_REMOVE, &sub, "f"), NFS3_OK);
	CHECK_EQ(dirop(c, NFSPROC3_REMOVE, &sub, "f"), NFS3ERR_NOENT);
	/* a handle of a removed file is stale */
	CHECK_EQ(nfs_getattr(c, &h, &a), NFS3ERR_STALE);
	CHECK_EQ(dirop(c, NFSPROC3_RMDIR, &d, "sub"), NFS3_OK);
	CHECK_EQ(dirop(c, NFSPROC3_RMDIR, &d, "sub"), NFS3ERR_NOENT);
	CHECK_EQ(nfs_getattr(c, &sub, &a), NFS3ERR_STALE);
	REQUIRE_EQ(nfs_getattr(c, &d, &a), NFS3_OK);
	CHECK_EQ(a.nlink, 2);
	fh_free(&h);
	fh_free(&sub);
	fh_free(&d);
}

static int symlink_make(CLIENT *c, const nfs_fh3 *dir, const char *name, const char *target, nfs_fh3 *out)
{
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name = wname(name);
	a.symlink.symlink_data.nfspath3_len = (u_int)strlen(target);
	a.symlink.symlink_data.nfspath3_val = (char *)target;
	SYMLINK3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, SYMLINK, SYMLINK3args, a, SYMLINK3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK && out)
		fh_copy(out, &r.SYMLINK3res_u.resok.obj.post_op_fh3_u.handle);
	FREE_RES(c, SYMLINK3res, r);
	return st;
}

static int readlink_get(CLIENT *c, const nfs_fh3 *h, char *out, size_t outlen)
{
	READLINK3args a = {*h};
	READLINK3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, READLINK, READLINK3args, a, READLINK3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK) {
		size_t n = r.READLINK3res_u.resok.data.nfspath3_len;
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, r.READLINK3res_u.resok.data.nfspath3_val, n);
		out[n] = 0;
	}
	FREE_RES(c, READLINK3res, r);
	return st;
}

TEST(symlink_readlink)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, l = {{0, NULL}}, h = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("symlink", &d), NFS3_OK);
	REQUIRE_EQ(symlink_make(c, &d, "link", "../some/where", &l), NFS3_OK);
	char buf[256];
	REQUIRE_EQ(readlink_get(c, &l, buf, sizeof(buf)), NFS3_OK);
	CHECK_STR(buf, "../some/where");
	fattr3 a;
	REQUIRE_EQ(nfs_getattr(c, &l, &a), NFS3_OK);
	CHECK_EQ(a.type, NF3LNK);
	CHECK_EQ(a.size, strlen("../some/where"));
	CHECK_EQ(symlink_make(c, &d, "link", "x", NULL), NFS3ERR_EXIST);
	CHECK_EQ(symlink_make(c, &d, "empty", "", NULL), NFS3ERR_INVAL);
	REQUIRE_EQ(nfs_create(c, &d, "file", GUARDED, 0644, NULL, &h, NULL), NFS3_OK);
	CHECK_EQ(readlink_get(c, &h, buf, sizeof(buf)), NFS3ERR_INVAL);
	/* a 4000-byte target round-trips */
	char *longt = malloc(4001);
	memset(longt, 'p', 4000);
	longt[4000] = 0;
	nfs_fh3 l2 = {{0, NULL}};
	REQUIRE_EQ(symlink_make(c, &d, "long", longt, &l2), NFS3_OK);
	char *back = malloc(5000);
	REQUIRE_EQ(readlink_get(c, &l2, back, 5000), NFS3_OK);
	CHECK(strcmp(back, longt) == 0);
	free(back);
	free(longt);
	fh_free(&l2);
	fh_free(&h);
	fh_free(&l);
	fh_free(&d);
}

static int link_make(CLIENT *c, const nfs_fh3 *file, const nfs_fh3 *dir, const char *name, uint32_t *nlink)
{
	LINK3args a = {*file, {*dir, wname(name)}};
	LINK3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, LINK, LINK3args, a, LINK3res, r) != RPC_SUCCESS)
		return -1;
	if (r.status == NFS3_OK && nlink)
		*nlink = r.LINK3res_u.resok.file_attributes.post_op_attr_u.attributes.nlink;
	if (!r.LINK3res_u.resok.linkdir_wcc.after.attributes_follow)
		return -4;
	return r.status;
}

TEST(link_counts)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, h = {{0, NULL}}, sub = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("link", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "a", GUARDED, 0644, NULL, &h, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "sub", 0755, &sub), NFS3_OK);
	uint32_t nlink = 0;
	REQUIRE_EQ(link_make(c, &h, &d, "b", &nlink), NFS3_OK);
	CHECK_EQ(nlink, 2);
	REQUIRE_EQ(link_make(c, &h, &sub, "c", &nlink), NFS3_OK);
	CHECK_EQ(nlink, 3);
	CHECK_EQ(link_make(c, &h, &d, "b", NULL), NFS3ERR_EXIST);
	int st = link_make(c, &sub, &d, "dirlink", NULL);
	CHECK(st == NFS3ERR_ISDIR || st == NFS3ERR_PERM || st == NFS3ERR_INVAL);
	CHECK_EQ(nfs_remove(c, &d, "a"), NFS3_OK);
	fattr3 a;
	REQUIRE_EQ(nfs_getattr(c, &h, &a), NFS3_OK);
	CHECK_EQ(a.nlink, 2);
	fh_free(&h);
	fh_free(&sub);
	fh_free(&d);
}

static int rename_do(CLIENT *c, const nfs_fh3 *fd, const char *fn, const nfs_fh3 *td, const char *tn)
{
	RENAME3args a = {{*fd, wname(fn)}, {*td, wname(tn)}};
	RENAME3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, RENAME, RENAME3args, a, RENAME3res, r) != RPC_SUCCESS)
		return -1;
	if (!r.RENAME3res_u.resok.fromdir_wcc.after.attributes_follow ||
	    !r.RENAME3res_u.resok.todir_wcc.after.attributes_follow)
		return -4;
	if (r.status == NFS3_OK && !r.RENAME3res_u.resok.fromdir_wcc.before.attributes_follow)
		return -5;
	return r.status;
}

TEST(rename_cases)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, a = {{0, NULL}}, b = {{0, NULL}}, s1 = {{0, NULL}}, s2 = {{0, NULL}};
	fattr3 fa, fb, got;
	REQUIRE_EQ(fx_testdir("rename", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "a", GUARDED, 0644, NULL, &a, &fa), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "b", GUARDED, 0644, NULL, &b, &fb), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "s1", 0755, &s1), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "s2", 0755, &s2), NFS3_OK);
	CHECK_EQ(rename_do(c, &d, "a", &d, "a2"), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &d, "a2", NULL, &got), NFS3_OK);
	CHECK_EQ(got.fileid, fa.fileid);
	CHECK_EQ(nfs_lookup(c, &d, "a", NULL, NULL), NFS3ERR_NOENT);
	/* onto an existing file: replaces it */
	CHECK_EQ(rename_do(c, &d, "a2", &d, "b"), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &d, "b", NULL, &got), NFS3_OK);
	CHECK_EQ(got.fileid, fa.fileid);
	CHECK_EQ(nfs_getattr(c, &b, &got), NFS3ERR_STALE);
	/* across directories */
	CHECK_EQ(rename_do(c, &d, "b", &s1, "moved"), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &s1, "moved", NULL, &got), NFS3_OK);
	CHECK_EQ(got.fileid, fa.fileid);
	/* missing source, file onto dir, dir onto non-empty dir, dir into itself */
	CHECK_EQ(rename_do(c, &d, "nothing", &d, "x"), NFS3ERR_NOENT);
	REQUIRE_EQ(nfs_create(c, &d, "f", GUARDED, 0644, NULL, NULL, NULL), NFS3_OK);
	CHECK_EQ(rename_do(c, &d, "f", &d, "s2"), NFS3ERR_ISDIR);
	CHECK_EQ(rename_do(c, &d, "s2", &d, "f"), NFS3ERR_NOTDIR);
	int st = rename_do(c, &d, "s2", &d, "s1");
	CHECK(st == NFS3ERR_NOTEMPTY || st == NFS3ERR_EXIST);
	CHECK_EQ(rename_do(c, &d, "s1", &s1, "inside"), NFS3ERR_INVAL);
	/* dir onto empty dir is fine */
	CHECK_EQ(rename_do(c, &d, "s1", &s2, "s1"), NFS3_OK);
	/* across exports (same volume, different export): XDEV */
	nfs_fh3 sqd = {{0, NULL}};
	REQUIRE_EQ(nfs_lookup(c, &f->sq, "rename", &sqd, NULL), NFS3_OK);
	CHECK_EQ(rename_do(c, &d, "f", &sqd, "f-x"), NFS3ERR_XDEV);
	nfs_fh3 fx_h = {{0, NULL}};
	REQUIRE_EQ(nfs_lookup(c, &d, "f", &fx_h, NULL), NFS3_OK);
	CHECK_EQ(link_make(c, &fx_h, &sqd, "l-x", NULL), NFS3ERR_XDEV);
	fh_free(&fx_h);
	fh_free(&sqd);
	/* rename to itself is a no-op */
	CHECK_EQ(rename_do(c, &d, "f", &d, "f"), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &d, "f", NULL, NULL), NFS3_OK);
	fh_free(&a);
	fh_free(&b);
	fh_free(&s1);
	fh_free(&s2);
	fh_free(&d);
}

static int mknod_do(CLIENT *c, const nfs_fh3 *dir, const char *name, ftype3 type, uint32_t major, uint32_t minor,
		    fattr3 *attr)
{
	MKNOD3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name = wname(name);
	a.what.type = type;
	if (type == NF3CHR || type == NF3BLK) {
		a.what.mknoddata3_u.device.spec.specdata1 = major;
		a.what.mknoddata3_u.device.spec.specdata2 = minor;
		a.what.mknoddata3_u.device.dev_attributes.mode.set_it = TRUE;
		a.what.mknoddata3_u.device.dev_attributes.mode.set_mode3_u.mode = 0600;
	} else if (type == NF3SOCK || type == NF3FIFO) {
		a.what.mknoddata3_u.pipe_attributes.mode.set_it = TRUE;
		a.what.mknoddata3_u.pipe_attributes.mode.set_mode3_u.mode = 0600;
	}
	MKNOD3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, MKNOD, MKNOD3args, a, MKNOD3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK && attr)
		*attr = r.MKNOD3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	FREE_RES(c, MKNOD3res, r);
	return st;
}

TEST(mknod_types)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}};
	fattr3 a;
	REQUIRE_EQ(fx_testdir("mknod", &d), NFS3_OK);
	REQUIRE_EQ(mknod_do(c, &d, "fifo", NF3FIFO, 0, 0, &a), NFS3_OK);
	CHECK_EQ(a.type, NF3FIFO);
	CHECK_EQ(a.mode & 07777, 0600);
	REQUIRE_EQ(mknod_do(c, &d, "sock", NF3SOCK, 0, 0, &a), NFS3_OK);
	CHECK_EQ(a.type, NF3SOCK);
	REQUIRE_EQ(mknod_do(c, &d, "chr", NF3CHR, 1, 3, &a), NFS3_OK);
	CHECK_EQ(a.type, NF3CHR);
	CHECK_EQ(a.rdev.specdata1, 1);
	CHECK_EQ(a.rdev.specdata2, 3);
	REQUIRE_EQ(mknod_do(c, &d, "blk", NF3BLK, 8, 1, &a), NFS3_OK);
	CHECK_EQ(a.type, NF3BLK);
	CHECK_EQ(a.rdev.specdata1, 8);
	CHECK_EQ(mknod_do(c, &d, "reg", NF3REG, 0, 0, NULL), NFS3ERR_BADTYPE);
	CHECK_EQ(mknod_do(c, &d, "dir", NF3DIR, 0, 0, NULL), NFS3ERR_BADTYPE);
	CHECK_EQ(mknod_do(c, &d, "lnk", NF3LNK, 0, 0, NULL), NFS3ERR_BADTYPE);
	CHECK_EQ(mknod_do(c, &d, "fifo", NF3FIFO, 0, 0, NULL), NFS3ERR_EXIST);
	fh_free(&d);
}

TEST(fsinfo_fsstat_pathconf)
{
	FIXTURE();
	FSINFO3args ia = {f->hf};
	FSINFO3res ir;
	memset(&ir, 0, sizeof(ir));
	REQUIRE(CALL(c, FSINFO, FSINFO3args, ia, FSINFO3res, ir) == RPC_SUCCESS);
	REQUIRE_EQ(ir.status, NFS3_OK);
	FSINFO3resok *i = &ir.FSINFO3res_u.resok;
	CHECK_EQ(i->rtmax, 1 << 20);
	CHECK_EQ(i->wtmax, 1 << 20);
	CHECK_EQ(i->rtpref, 1 << 20);
	CHECK_EQ(i->dtpref, 65536);
	CHECK_EQ(i->time_delta.seconds, 0);
	CHECK_EQ(i->time_delta.nseconds, 1);
	CHECK_EQ(i->properties, FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME);
	CHECK_EQ(i->maxfilesize, 1ULL << 52); /* what the engine can commit, not more */
	CHECK(i->obj_attributes.attributes_follow);

	FSSTAT3args sa = {f->hf};
	FSSTAT3res sr;
	memset(&sr, 0, sizeof(sr));
	REQUIRE(CALL(c, FSSTAT, FSSTAT3args, sa, FSSTAT3res, sr) == RPC_SUCCESS);
	REQUIRE_EQ(sr.status, NFS3_OK);
	CHECK(sr.FSSTAT3res_u.resok.tbytes >= sr.FSSTAT3res_u.resok.fbytes);
	CHECK(sr.FSSTAT3res_u.resok.fbytes >= sr.FSSTAT3res_u.resok.abytes);
	CHECK(sr.FSSTAT3res_u.resok.tfiles >= sr.FSSTAT3res_u.resok.ffiles);

	PATHCONF3args pa = {f->hf};
	PATHCONF3res pr;
	memset(&pr, 0, sizeof(pr));
	REQUIRE(CALL(c, PATHCONF, PATHCONF3args, pa, PATHCONF3res, pr) == RPC_SUCCESS);
	REQUIRE_EQ(pr.status, NFS3_OK);
	CHECK_EQ(pr.PATHCONF3res_u.resok.name_max, 255);
	CHECK(pr.PATHCONF3res_u.resok.no_trunc);
	CHECK(pr.PATHCONF3res_u.resok.chown_restricted);
	CHECK(!pr.PATHCONF3res_u.resok.case_insensitive);
	CHECK(pr.PATHCONF3res_u.resok.case_preserving);
	CHECK(pr.PATHCONF3res_u.resok.linkmax >= 1000);
}

static int access_get(CLIENT *c, const nfs_fh3 *h, uint32_t want, uint32_t *granted)
{
	ACCESS3args a = {*h, want};
	ACCESS3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, ACCESS, ACCESS3args, a, ACCESS3res, r) != RPC_SUCCESS)
		return -1;
	if (r.status == NFS3_OK) {
		*granted = r.ACCESS3res_u.resok.access;
		if (!r.ACCESS3res_u.resok.obj_attributes.attributes_follow)
			return -4;
	}
	return r.status;
}

#define ALL_ACCESS (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE | ACCESS3_EXECUTE)

TEST(access_root_user_and_readonly)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, priv = {{0, NULL}}, h = {{0, NULL}};
	uint32_t g = 0;
	REQUIRE_EQ(fx_testdir("access", &d), NFS3_OK);
	REQUIRE_EQ(access_get(c, &d, ALL_ACCESS, &g), NFS3_OK);
	CHECK(g & ACCESS3_LOOKUP);
	CHECK(g & ACCESS3_MODIFY);
	REQUIRE_EQ(nfs_mkdir(c, &d, "private", 0700, &priv), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "ro-file", GUARDED, 0444, NULL, &h, NULL), NFS3_OK);

	struct client_opts user = {.uid = 1000, .gid = 1000};
	CLIENT *u = client_connect(f->gw.nfs_port, 100003, 3, &user);
	REQUIRE(u != NULL);
	REQUIRE_EQ(access_get(u, &priv, ALL_ACCESS, &g), NFS3_OK);
	CHECK_EQ(g & (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY), 0);
	CHECK_EQ(nfs_lookup(u, &priv, "x", NULL, NULL), NFS3ERR_ACCES);
	CHECK_EQ(nfs_create(u, &priv, "x", GUARDED, 0644, NULL, NULL, NULL), NFS3ERR_ACCES);
	REQUIRE_EQ(access_get(u, &h, ACCESS3_READ | ACCESS3_MODIFY, &g), NFS3_OK);
	CHECK_EQ(g, ACCESS3_READ);
	/* the user may not chown */
	SETATTR3args sa;
	memset(&sa, 0, sizeof(sa));
	sa.object = h;
	sa.new_attributes.uid.set_it = TRUE;
	sa.new_attributes.uid.set_uid3_u.uid = 1000;
	SETATTR3res sr;
	memset(&sr, 0, sizeof(sr));
	REQUIRE(CALL(u, SETATTR, SETATTR3args, sa, SETATTR3res, sr) == RPC_SUCCESS);
	CHECK(sr.status == NFS3ERR_PERM || sr.status == NFS3ERR_ACCES);
	client_destroy(u);

	/* the read-only export grants no modification */
	nfs_fh3 rod = {{0, NULL}};
	REQUIRE_EQ(nfs_lookup(c, &f->ro, "access", &rod, NULL), NFS3_OK);
	REQUIRE_EQ(access_get(c, &rod, ALL_ACCESS, &g), NFS3_OK);
	CHECK(g & ACCESS3_LOOKUP);
	CHECK_EQ(g & (ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE), 0);
	fh_free(&rod);
	fh_free(&h);
	fh_free(&priv);
	fh_free(&d);
}

TEST(readonly_export_refuses_every_mutation)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, rd = {{0, NULL}}, rf = {{0, NULL}}, h = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("rofs", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "file", GUARDED, 0644, NULL, &h, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_write(c, &h, 0, "hello", 5, FILE_SYNC, NULL, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "sub", 0755, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &f->ro, "rofs", &rd, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &rd, "file", &rf, NULL), NFS3_OK);

	char buf[16];
	uint32_t got;
	bool eof;
	REQUIRE_EQ(nfs_read(c, &rf, 0, 16, buf, &got, &eof), NFS3_OK);
	CHECK_EQ(got, 5);
	CHECK_EQ(nfs_write(c, &rf, 0, "x", 1, FILE_SYNC, NULL, NULL), NFS3ERR_ROFS);
	CHECK_EQ(nfs_create(c, &rd, "new", GUARDED, 0644, NULL, NULL, NULL), NFS3ERR_ROFS);
	CHECK_EQ(nfs_mkdir(c, &rd, "new", 0755, NULL), NFS3ERR_ROFS);
	CHECK_EQ(symlink_make(c, &rd, "new", "t", NULL), NFS3ERR_ROFS);
	CHECK_EQ(mknod_do(c, &rd, "new", NF3FIFO, 0, 0, NULL), NFS3ERR_ROFS);
	CHECK_EQ(dirop(c, NFSPROC3_REMOVE, &rd, "file"), NFS3ERR_ROFS);
	CHECK_EQ(dirop(c, NFSPROC3_RMDIR, &rd, "sub"), NFS3ERR_ROFS);
	CHECK_EQ(rename_do(c, &rd, "file", &rd, "file2"), NFS3ERR_ROFS);
	CHECK_EQ(link_make(c, &rf, &rd, "l", NULL), NFS3ERR_ROFS);
	CHECK_EQ(setattr_size(c, &rf, 0, NULL), NFS3ERR_ROFS);
	/* nothing changed */
	CHECK_EQ(nfs_lookup(c, &d, "file", NULL, NULL), NFS3_OK);
	CHECK_EQ(nfs_lookup(c, &d, "sub", NULL, NULL), NFS3_OK);
	CHECK_EQ(nfs_lookup(c, &d, "new", NULL, NULL), NFS3ERR_NOENT);
	fattr3 a;
	REQUIRE_EQ(nfs_getattr(c, &h, &a), NFS3_OK);
	CHECK_EQ(a.size, 5);
	fh_free(&rd);
	fh_free(&rf);
	fh_free(&h);
	fh_free(&d);
}

TEST(root_squash_creates_as_anonuid)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, sd = {{0, NULL}};
	fattr3 a;
	REQUIRE_EQ(fx_testdir("squash", &d), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &f->sq, "squash", &sd, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &sd, "mine", GUARDED, 0644, NULL, NULL, &a), NFS3_OK);
	CHECK_EQ(a.uid, GW_ANONUID);
	CHECK_EQ(a.gid, GW_ANONGID);
	/* no_root_squash on /hf: owner is root */
	REQUIRE_EQ(nfs_create(c, &d, "rootfile", GUARDED, 0600, NULL, NULL, &a), NFS3_OK);
	CHECK_EQ(a.uid, 0);
	/* squashed root cannot read root's 0600 file */
	nfs_fh3 rf = {{0, NULL}};
	REQUIRE_EQ(nfs_lookup(c, &sd, "rootfile", &rf, NULL), NFS3_OK);
	char buf[4];
	uint32_t got;
	bool eof;
	CHECK_EQ(nfs_read(c, &rf, 0, 4, buf, &got, &eof), NFS3ERR_ACCES);
	fh_free(&rf);
	fh_free(&sd);
	fh_free(&d);
}

TEST(export_acl_denies_other_client)
{
	FIXTURE();
	struct client_opts from2 = {.src_addr = "127.0.0.2"};
	nfs_fh3 only2 = {{0, NULL}};
	REQUIRE_EQ(client_mount(f->gw.mount_port, "/only2", &from2, &only2), 0);
	CLIENT *c2 = client_connect(f->gw.nfs_port, 100003, 3, &from2);
	REQUIRE(c2 != NULL);
	fattr3 a;
	CHECK_EQ(nfs_getattr(c2, &only2, &a), NFS3_OK);
	/* the same handle from 127.0.0.1 is refused */
	CHECK_EQ(nfs_getattr(c, &only2, &a), NFS3ERR_ACCES);
	CHECK_EQ(nfs_create(c, &only2, "nope", GUARDED, 0644, NULL, NULL, NULL), NFS3ERR_ACCES);
	/* and 127.0.0.2 gets nothing from /hf, which is 127.0.0.1 only */
	CHECK_EQ(nfs_getattr(c2, &f->hf, &a), NFS3ERR_ACCES);
	client_destroy(c2);
	fh_free(&only2);
}

TEST(secure_export_needs_privileged_port)
{
	FIXTURE();
	fattr3 a;
	CHECK_EQ(nfs_getattr(c, &f->sec, &a), NFS3ERR_ACCES); /* c uses a port >= 1024 */
	struct client_opts priv = {.privileged_port = true};
	CLIENT *p = client_connect(f->gw.nfs_port, 100003, 3, &priv);
	REQUIRE(p != NULL);
	CHECK_EQ(nfs_getattr(p, &f->sec, &a), NFS3_OK);
	client_destroy(p);
}

TEST(forged_handles)
{
	FIXTURE();
	fattr3 a;
	nfs_fh3 h;
	fh_copy(&h, &f->hf);
	h.data.data_val[h.data.data_len - 1] ^= 0x55; /* MAC */
	CHECK_EQ(nfs_getattr(c, &h, &a), NFS3ERR_STALE);
	h.data.data_val[h.data.data_len - 1] ^= 0x55;
	h.data.data_len -= 3; /* truncated */
	CHECK_EQ(nfs_getattr(c, &h, &a), NFS3ERR_BADHANDLE);
	h.data.data_len = 0;
	CHECK_EQ(nfs_getattr(c, &h, &a), NFS3ERR_BADHANDLE);
	CHECK_EQ(nfs_create(c, &h, "x", GUARDED, 0644, NULL, NULL, NULL), NFS3ERR_BADHANDLE);
	CHECK_EQ(nfs_lookup(c, &h, "x", NULL, NULL), NFS3ERR_BADHANDLE);
	fh_free(&h);
	/* garbage arguments: GETATTR with no handle at all */
	GETATTR3res r;
	memset(&r, 0, sizeof(r));
	CHECK_EQ(clnt_call(c, NFSPROC3_GETATTR, XDR_VOID, NULL, (xdrproc_t)xdr_GETATTR3res, (char *)&r, short_timeout),
		 RPC_CANTDECODEARGS);
	/* the connection still works */
	CHECK_EQ(nfs_getattr(c, &f->hf, &a), NFS3_OK);
}

/* The DRC: a retransmitted CREATE (same xid, same connection) gets the first
 * reply again instead of a second execution, which would be EXIST. */
TEST(drc_replays_retransmitted_create)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("drc", &d), NFS3_OK);
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = d;
	a.where.name = wname("once");
	a.how.mode = GUARDED;
	CREATE3res r1, r2;
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	uint32_t xid = 0x5eed0000u + (uint32_t)getpid();
	REQUIRE(clnt_control(c, CLSET_XID, (char *)&xid));
	REQUIRE(CALL(c, CREATE, CREATE3args, a, CREATE3res, r1) == RPC_SUCCESS);
	REQUIRE(clnt_control(c, CLSET_XID, (char *)&xid));
	REQUIRE(CALL(c, CREATE, CREATE3args, a, CREATE3res, r2) == RPC_SUCCESS);
	CHECK_EQ(r1.status, NFS3_OK);
	CHECK_EQ(r2.status, NFS3_OK);
	if (r1.status == NFS3_OK && r2.status == NFS3_OK) {
		CHECK(fh_equal(&r1.CREATE3res_u.resok.obj.post_op_fh3_u.handle,
			       &r2.CREATE3res_u.resok.obj.post_op_fh3_u.handle));
		fattr3 *x = &r1.CREATE3res_u.resok.obj_attributes.post_op_attr_u.attributes;
		fattr3 *y = &r2.CREATE3res_u.resok.obj_attributes.post_op_attr_u.attributes;
		CHECK_EQ(x->fileid, y->fileid);
		CHECK_EQ(x->ctime.seconds, y->ctime.seconds);
		CHECK_EQ(x->ctime.nseconds, y->ctime.nseconds);
	}
	FREE_RES(c, CREATE3res, r1);
	FREE_RES(c, CREATE3res, r2);
	/* a new xid executes again: EXIST */
	CHECK_EQ(nfs_create(c, &d, "once", GUARDED, 0644, NULL, NULL, NULL), NFS3ERR_EXIST);
	fh_free(&d);
}

TEST_MAIN()
