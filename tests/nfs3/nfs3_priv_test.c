/*
 * nfs3_priv_test.c - the permission model as unprivileged and squashed
 * callers see it through the real gateway (part of nfs3_proto_test): device
 * nodes, setuid/setgid bits on write, truncate, chown and create in a setgid
 * directory, chown/chgrp that change nothing, and knfsd's owner override and
 * read-if-exec.  Every expectation is what Linux knfsd answers.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define FIXTURE()                                                                                                      \
	struct fixture *f = fx();                                                                                      \
	REQUIRE(f != NULL);                                                                                            \
	CLIENT *c = f->root

static CLIENT *as_user(const struct fixture *f, uint32_t uid, uint32_t gid)
{
	struct client_opts o = {.uid = uid, .gid = gid};
	return client_connect(f->gw.nfs_port, 100003, 3, &o);
}

/* SETATTR of the fields given (-1 = leave); returns the status. */
static int setattr_do(CLIENT *c, const nfs_fh3 *fh, long mode, long uid, long gid, long long size)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = *fh;
	if (mode >= 0) {
		a.new_attributes.mode.set_it = TRUE;
		a.new_attributes.mode.set_mode3_u.mode = (uint32_t)mode;
	}
	if (uid >= 0) {
		a.new_attributes.uid.set_it = TRUE;
		a.new_attributes.uid.set_uid3_u.uid = (uint32_t)uid;
	}
	if (gid >= 0) {
		a.new_attributes.gid.set_it = TRUE;
		a.new_attributes.gid.set_gid3_u.gid = (uint32_t)gid;
	}
	if (size >= 0) {
		a.new_attributes.size.set_it = TRUE;
		a.new_attributes.size.set_size3_u.size = (uint64_t)size;
	}
	SETATTR3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, SETATTR, SETATTR3args, a, SETATTR3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	FREE_RES(c, SETATTR3res, r);
	return st;
}

static int mode_of(CLIENT *c, const nfs_fh3 *fh)
{
	fattr3 a;
	if (nfs_getattr(c, fh, &a) != NFS3_OK)
		return -1;
	return (int)(a.mode & 07777);
}

static int mknod_dev(CLIENT *c, const nfs_fh3 *dir, const char *name, ftype3 type)
{
	MKNOD3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name = wname(name);
	a.what.type = type;
	sattr3 *sa = &a.what.mknoddata3_u.pipe_attributes;
	if (type == NF3CHR || type == NF3BLK) {
		a.what.mknoddata3_u.device.spec.specdata1 = 8;
		a.what.mknoddata3_u.device.spec.specdata2 = 0;
		sa = &a.what.mknoddata3_u.device.dev_attributes;
	}
	sa->mode.set_it = TRUE;
	sa->mode.set_mode3_u.mode = 0666;
	MKNOD3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, MKNOD, MKNOD3args, a, MKNOD3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	FREE_RES(c, MKNOD3res, r);
	return st;
}

static int access_of(CLIENT *c, const nfs_fh3 *fh, uint32_t want, uint32_t *granted)
{
	ACCESS3args a = {*fh, want};
	ACCESS3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, ACCESS, ACCESS3args, a, ACCESS3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK)
		*granted = r.ACCESS3res_u.resok.access;
	FREE_RES(c, ACCESS3res, r);
	return st;
}

/* A file made by root in dir with the given mode, owner and contents. */
static int root_file(CLIENT *c, const nfs_fh3 *dir, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
		     nfs_fh3 *out)
{
	int st = nfs_create(c, dir, name, GUARDED, 0644, NULL, out, NULL);
	if (st == NFS3_OK)
		st = nfs_write(c, out, 0, "#!/bin/sh\n", 10, FILE_SYNC, NULL, NULL);
	if (st == NFS3_OK)
		st = setattr_do(c, out, -1, uid, gid, -1);
	if (st == NFS3_OK) /* after the chown, which drops the bits */
		st = setattr_do(c, out, mode, -1, -1, -1);
	return st;
}

/* knfsd refuses block and character devices to anyone without CAP_MKNOD,
 * a squashed root included; FIFOs and sockets are anyone's. */
TEST(mknod_devices_only_for_uid_0)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, sq = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("priv_mknod", &d), NFS3_OK);
	REQUIRE_EQ(setattr_do(c, &d, 01777, -1, -1, -1), NFS3_OK);
	CLIENT *u = as_user(f, 1000, 1000);
	REQUIRE(u != NULL);
	CHECK_EQ(mknod_dev(u, &d, "blk", NF3BLK), NFS3ERR_PERM);
	CHECK_EQ(mknod_dev(u, &d, "chr", NF3CHR), NFS3ERR_PERM);
	CHECK_EQ(nfs_lookup(u, &d, "blk", NULL, NULL), NFS3ERR_NOENT);
	CHECK_EQ(mknod_dev(u, &d, "fifo", NF3FIFO), NFS3_OK);
	CHECK_EQ(mknod_dev(u, &d, "sock", NF3SOCK), NFS3_OK);
	CHECK_EQ(mknod_dev(u, &d, "fifo", NF3CHR), NFS3ERR_EXIST); /* the name answers first */
	client_destroy(u);

	/* root squashed on /sq: uid 4242 */
	REQUIRE_EQ(nfs_lookup(c, &f->sq, "priv_mknod", &sq, NULL), NFS3_OK);
	CHECK_EQ(mknod_dev(c, &sq, "sq-blk", NF3BLK), NFS3ERR_PERM);
	CHECK_EQ(mknod_dev(c, &sq, "sq-fifo", NF3FIFO), NFS3_OK);
	/* unsquashed root may */
	CHECK_EQ(mknod_dev(c, &d, "root-blk", NF3BLK), NFS3_OK);
	fh_free(&sq);
	fh_free(&d);
}

/* should_remove_suid: a WRITE (even UNSTABLE, acknowledged before its data
 * commits) or a truncate by anyone but root drops S_ISUID, and S_ISGID
 * when group-exec is set; root keeps them. */
TEST(write_and_truncate_by_user_drop_setuid)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, s = {{0, NULL}}, g = {{0, NULL}}, l = {{0, NULL}}, t = {{0, NULL}}, r = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("priv_suid", &d), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "suid", 04777, 0, 0, &s), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "sgid", 02777, 0, 0, &g), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "sgid-nox", 02767, 0, 0, &l), NFS3_OK); /* a locking mark, not a privilege */
	REQUIRE_EQ(root_file(c, &d, "trunc", 06777, 0, 0, &t), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "rootw", 06777, 0, 0, &r), NFS3_OK);
	REQUIRE_EQ(mode_of(c, &s), 04777);
	CLIENT *u = as_user(f, 1000, 1000);
	REQUIRE(u != NULL);
	CHECK_EQ(nfs_write(u, &s, 0, "x", 1, UNSTABLE, NULL, NULL), NFS3_OK);
	CHECK_EQ(mode_of(c, &s), 0777); /* before any COMMIT */
	CHECK_EQ(nfs_write(u, &g, 0, "x", 1, UNSTABLE, NULL, NULL), NFS3_OK);
	CHECK_EQ(mode_of(c, &g), 0777);
	CHECK_EQ(nfs_write(u, &l, 0, "x", 1, FILE_SYNC, NULL, NULL), NFS3_OK);
	CHECK_EQ(mode_of(c, &l), 02767);
	CHECK_EQ(setattr_do(u, &t, -1, -1, -1, 0), NFS3_OK);
	CHECK_EQ(mode_of(c, &t), 0777);
	CHECK_EQ(nfs_write(c, &r, 0, "x", 1, UNSTABLE, NULL, NULL), NFS3_OK);
	CHECK_EQ(setattr_do(c, &r, -1, -1, -1, 0), NFS3_OK);
	CHECK_EQ(mode_of(c, &r), 06777);
	client_destroy(u);
	/* squashed root is not root */
	nfs_fh3 sqd = {{0, NULL}}, sqf = {{0, NULL}};
	REQUIRE_EQ(nfs_lookup(c, &f->sq, "priv_suid", &sqd, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_lookup(c, &sqd, "rootw", &sqf, NULL), NFS3_OK);
	CHECK_EQ(nfs_write(c, &sqf, 0, "y", 1, UNSTABLE, NULL, NULL), NFS3_OK);
	CHECK_EQ(mode_of(c, &r), 0777);
	fh_free(&sqf);
	fh_free(&sqd);
	fh_free(&r);
	fh_free(&t);
	fh_free(&l);
	fh_free(&g);
	fh_free(&s);
	fh_free(&d);
}

/* chown drops S_ISUID (and S_ISGID with group-exec), root's chown too. */
TEST(chown_drops_setuid)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, s = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("priv_chown", &d), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "suid", 06755, 1000, 1000, &s), NFS3_OK);
	REQUIRE_EQ(mode_of(c, &s), 06755);
	CHECK_EQ(setattr_do(c, &s, -1, 1001, -1, -1), NFS3_OK);
	CHECK_EQ(mode_of(c, &s), 0755);
	fh_free(&s);
	fh_free(&d);
}

/* inode_init_owner (CVE-2018-13405): a file created in a setgid directory
 * takes the directory's group, and keeps a requested S_ISGID|S_IXGRP only if
 * its creator is in that group. */
TEST(create_in_setgid_dir_keeps_sgid_only_for_members)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, h = {{0, NULL}};
	fattr3 a;
	REQUIRE_EQ(fx_testdir("priv_sgid_dir", &d), NFS3_OK);
	REQUIRE_EQ(setattr_do(c, &d, -1, -1, 50, -1), NFS3_OK);
	REQUIRE_EQ(setattr_do(c, &d, 02777, -1, -1, -1), NFS3_OK);
	CLIENT *out = as_user(f, 1000, 1000), *in = as_user(f, 1001, 50);
	REQUIRE(out != NULL && in != NULL);
	REQUIRE_EQ(nfs_create(out, &d, "outsider", GUARDED, 02755, NULL, &h, &a), NFS3_OK);
	CHECK_EQ(a.gid, 50);
	CHECK_EQ(mode_of(c, &h), 0755);
	fh_free(&h);
	REQUIRE_EQ(nfs_create(in, &d, "member", GUARDED, 02755, NULL, &h, &a), NFS3_OK);
	CHECK_EQ(mode_of(c, &h), 02755);
	fh_free(&h);
	/* without group-exec S_ISGID is no privilege and stays */
	REQUIRE_EQ(nfs_create(out, &d, "nox", GUARDED, 02745, NULL, &h, &a), NFS3_OK);
	CHECK_EQ(mode_of(c, &h), 02745);
	fh_free(&h);
	client_destroy(in);
	client_destroy(out);
	fh_free(&d);
}

/* chown_ok / chgrp_ok: only the owner (keeping its uid, or to a group of
 * its own) or root, even when nothing would change; a symlink (SETATTR never
 * follows: lchown) is no different. */
TEST(chown_and_chgrp_noop_by_non_owner_is_eperm)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, h = {{0, NULL}}, l = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("priv_noop", &d), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "rootfile", 0666, 0, 0, &h), NFS3_OK);
	SYMLINK3args sa;
	memset(&sa, 0, sizeof(sa));
	sa.where.dir = d;
	sa.where.name = wname("link");
	sa.symlink.symlink_data.nfspath3_len = 8;
	sa.symlink.symlink_data.nfspath3_val = (char *)"rootfile";
	SYMLINK3res sr;
	memset(&sr, 0, sizeof(sr));
	REQUIRE(CALL(c, SYMLINK, SYMLINK3args, sa, SYMLINK3res, sr) == RPC_SUCCESS);
	REQUIRE_EQ(sr.status, NFS3_OK);
	FREE_RES(c, SYMLINK3res, sr);
	REQUIRE_EQ(nfs_lookup(c, &d, "link", &l, NULL), NFS3_OK);
	CLIENT *u = as_user(f, 1000, 0); /* even a member of the file's group */
	REQUIRE(u != NULL);
	CHECK_EQ(setattr_do(u, &h, -1, 0, -1, -1), NFS3ERR_PERM);
	CHECK_EQ(setattr_do(u, &h, -1, -1, 0, -1), NFS3ERR_PERM);
	CHECK_EQ(setattr_do(u, &l, -1, 0, -1, -1), NFS3ERR_PERM);
	CHECK_EQ(setattr_do(u, &l, -1, -1, 0, -1), NFS3ERR_PERM);
	/* the owner may keep its uid and pick a group of its own */
	REQUIRE_EQ(setattr_do(c, &h, -1, 1000, -1, -1), NFS3_OK);
	CHECK_EQ(setattr_do(u, &h, -1, 1000, -1, -1), NFS3_OK);
	CHECK_EQ(setattr_do(u, &h, -1, -1, 0, -1), NFS3_OK);
	CHECK_EQ(setattr_do(u, &h, -1, -1, 7, -1), NFS3ERR_PERM);
	client_destroy(u);
	fh_free(&l);
	fh_free(&h);
	fh_free(&d);
}

/* knfsd: the owner passes READ, WRITE and truncate whatever the mode says
 * (NFSD_MAY_OWNER_OVERRIDE); others may READ a file they may execute. */
TEST(owner_override_and_read_if_exec)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, x = {{0, NULL}}, o = {{0, NULL}}, p = {{0, NULL}};
	char buf[16];
	uint32_t got = 0;
	bool eof;
	REQUIRE_EQ(fx_testdir("priv_override", &d), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "exec-only", 0711, 0, 0, &x), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "private", 0700, 0, 0, &p), NFS3_OK);
	REQUIRE_EQ(root_file(c, &d, "mine", 0000, 1000, 1000, &o), NFS3_OK);
	CLIENT *u = as_user(f, 1000, 1000);
	REQUIRE(u != NULL);
	CHECK_EQ(nfs_read(u, &x, 0, sizeof(buf), buf, &got, &eof), NFS3_OK);
	CHECK_EQ(got, 10);
	CHECK_EQ(nfs_read(u, &p, 0, sizeof(buf), buf, &got, &eof), NFS3ERR_ACCES);
	CHECK_EQ(nfs_write(u, &x, 0, "x", 1, FILE_SYNC, NULL, NULL), NFS3ERR_ACCES);
	CHECK_EQ(nfs_read(u, &o, 0, sizeof(buf), buf, &got, &eof), NFS3_OK);
	CHECK_EQ(nfs_write(u, &o, 0, "x", 1, FILE_SYNC, NULL, NULL), NFS3_OK);
	CHECK_EQ(setattr_do(u, &o, -1, -1, -1, 0), NFS3_OK);
	CHECK_EQ(setattr_do(u, &p, -1, -1, -1, 0), NFS3ERR_ACCES);
	/* ACCESS has no override: the client asks it before open */
	uint32_t g = 0;
	REQUIRE_EQ(access_of(u, &o, ACCESS3_READ | ACCESS3_MODIFY, &g), NFS3_OK);
	CHECK_EQ(g, 0);
	client_destroy(u);
	fh_free(&p);
	fh_free(&o);
	fh_free(&x);
	fh_free(&d);
}

/* knfsd's ACCESS of a directory: MODIFY and EXTEND need search too. */
TEST(access_modify_of_directory_needs_search)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, w = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("priv_access", &d), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "write-only", 0722, &w), NFS3_OK);
	REQUIRE_EQ(setattr_do(c, &w, 0722, -1, -1, -1), NFS3_OK);
	CLIENT *u = as_user(f, 1000, 1000);
	REQUIRE(u != NULL);
	uint32_t g = 0;
	REQUIRE_EQ(access_of(u, &w, ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE | ACCESS3_LOOKUP, &g), NFS3_OK);
	CHECK_EQ(g, 0);
	client_destroy(u);
	fh_free(&w);
	fh_free(&d);
}

/* Forged and malformed handles on every procedure that answers wcc data:
 * refused with no attributes of any inode (the reply once read the inode
 * of a handle that never decoded).  Under ASan/UBSan the gateway must stay
 * clean, which gateway_stops_cleanly checks at the end of the run. */
static int bad_handle_call(CLIENT *c, uint32_t proc, const nfs_fh3 *bad, const nfs_fh3 *good, int *attrs)
{
	union {
		SETATTR3args setattr;
		WRITE3args write;
		CREATE3args create;
		MKDIR3args mkdir;
		SYMLINK3args symlink;
		MKNOD3args mknod;
		diropargs3 remove;
		RENAME3args rename;
		LINK3args link;
		COMMIT3args commit;
	} a;
	union {
		SETATTR3res setattr;
		WRITE3res write;
		CREATE3res create;
		MKDIR3res mkdir;
		SYMLINK3res symlink;
		MKNOD3res mknod;
		REMOVE3res remove;
		RENAME3res rename;
		LINK3res link;
		COMMIT3res commit;
	} r;
	xdrproc_t xa, xr;
	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	switch (proc) {
	case NFSPROC3_SETATTR:
		a.setattr.object = *bad;
		xa = (xdrproc_t)xdr_SETATTR3args, xr = (xdrproc_t)xdr_SETATTR3res;
		break;
	case NFSPROC3_WRITE:
		a.write.file = *bad;
		a.write.count = 1;
		a.write.data.data_len = 1;
		a.write.data.data_val = (char *)"x";
		xa = (xdrproc_t)xdr_WRITE3args, xr = (xdrproc_t)xdr_WRITE3res;
		break;
	case NFSPROC3_CREATE:
		a.create.where = (diropargs3){*bad, wname("x")};
		xa = (xdrproc_t)xdr_CREATE3args, xr = (xdrproc_t)xdr_CREATE3res;
		break;
	case NFSPROC3_MKDIR:
		a.mkdir.where = (diropargs3){*bad, wname("x")};
		xa = (xdrproc_t)xdr_MKDIR3args, xr = (xdrproc_t)xdr_MKDIR3res;
		break;
	case NFSPROC3_SYMLINK:
		a.symlink.where = (diropargs3){*bad, wname("x")};
		a.symlink.symlink.symlink_data.nfspath3_len = 1;
		a.symlink.symlink.symlink_data.nfspath3_val = (char *)"y";
		xa = (xdrproc_t)xdr_SYMLINK3args, xr = (xdrproc_t)xdr_SYMLINK3res;
		break;
	case NFSPROC3_MKNOD:
		a.mknod.where = (diropargs3){*bad, wname("x")};
		a.mknod.what.type = NF3FIFO;
		xa = (xdrproc_t)xdr_MKNOD3args, xr = (xdrproc_t)xdr_MKNOD3res;
		break;
	case NFSPROC3_REMOVE:
	case NFSPROC3_RMDIR:
		a.remove = (diropargs3){*bad, wname("x")};
		xa = (xdrproc_t)xdr_diropargs3, xr = (xdrproc_t)xdr_REMOVE3res; /* RMDIR3res: the same shape */
		break;
	case NFSPROC3_RENAME:
		a.rename.from = (diropargs3){*bad, wname("x")};
		a.rename.to = (diropargs3){*good, wname("y")};
		xa = (xdrproc_t)xdr_RENAME3args, xr = (xdrproc_t)xdr_RENAME3res;
		break;
	case NFSPROC3_LINK:
		a.link.file = *good;
		a.link.link = (diropargs3){*bad, wname("x")};
		xa = (xdrproc_t)xdr_LINK3args, xr = (xdrproc_t)xdr_LINK3res;
		break;
	default:
		a.commit.file = *bad;
		xa = (xdrproc_t)xdr_COMMIT3args, xr = (xdrproc_t)xdr_COMMIT3res;
		break;
	}
	if (client_call(c, proc, xa, &a, xr, &r) != RPC_SUCCESS)
		return -1;
	/* the wcc of the bad handle's side */
	const wcc_data *w;
	switch (proc) {
	case NFSPROC3_SETATTR:
		w = &r.setattr.SETATTR3res_u.resfail.obj_wcc;
		break;
	case NFSPROC3_WRITE:
		w = &r.write.WRITE3res_u.resfail.file_wcc;
		break;
	case NFSPROC3_CREATE:
		w = &r.create.CREATE3res_u.resfail.dir_wcc;
		break;
	case NFSPROC3_MKDIR:
		w = &r.mkdir.MKDIR3res_u.resfail.dir_wcc;
		break;
	case NFSPROC3_SYMLINK:
		w = &r.symlink.SYMLINK3res_u.resfail.dir_wcc;
		break;
	case NFSPROC3_MKNOD:
		w = &r.mknod.MKNOD3res_u.resfail.dir_wcc;
		break;
	case NFSPROC3_REMOVE:
	case NFSPROC3_RMDIR:
		w = &r.remove.REMOVE3res_u.resfail.dir_wcc;
		break;
	case NFSPROC3_RENAME:
		w = &r.rename.RENAME3res_u.resfail.fromdir_wcc;
		break;
	case NFSPROC3_LINK:
		w = &r.link.LINK3res_u.resfail.linkdir_wcc;
		break;
	default:
		w = &r.commit.COMMIT3res_u.resfail.file_wcc;
		break;
	}
	*attrs = w->before.attributes_follow || w->after.attributes_follow;
	int st = (int)r.setattr.status;
	clnt_freeres(c, xr, (char *)&r);
	return st;
}

TEST(bad_handles_on_every_mutating_procedure)
{
	FIXTURE();
	nfs_fh3 d = {{0, NULL}}, forged = {{0, NULL}}, cut = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("priv_badfh", &d), NFS3_OK);
	fh_copy(&forged, &d);
	forged.data.data_val[forged.data.data_len - 1] ^= 0x55; /* the MAC */
	fh_copy(&cut, &d);
	cut.data.data_len -= 5;
	static const uint32_t procs[] = {NFSPROC3_SETATTR, NFSPROC3_WRITE, NFSPROC3_CREATE, NFSPROC3_MKDIR,
					 NFSPROC3_SYMLINK, NFSPROC3_MKNOD, NFSPROC3_REMOVE, NFSPROC3_RMDIR,
					 NFSPROC3_RENAME,  NFSPROC3_LINK,  NFSPROC3_COMMIT};
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		int attrs = -1;
		int st = bad_handle_call(c, procs[i], &forged, &d, &attrs);
		if (st != NFS3ERR_STALE || attrs != 0)
			tl_fail(__FILE__, __LINE__, "proc %u, forged MAC: status %d, attributes %d", procs[i], st,
				attrs);
		st = bad_handle_call(c, procs[i], &cut, &d, &attrs);
		if (st != NFS3ERR_BADHANDLE || attrs != 0)
			tl_fail(__FILE__, __LINE__, "proc %u, short handle: status %d, attributes %d", procs[i], st,
				attrs);
	}
	fattr3 a;
	CHECK_EQ(nfs_getattr(c, &d, &a), NFS3_OK);
	fh_free(&cut);
	fh_free(&forged);
	fh_free(&d);
}

static int rename_do(CLIENT *c, const nfs_fh3 *from_dir, const char *from, const nfs_fh3 *to_dir, const char *to)
{
	RENAME3args a = {{*from_dir, wname(from)}, {*to_dir, wname(to)}};
	RENAME3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, RENAME, RENAME3args, a, RENAME3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	FREE_RES(c, RENAME3res, r);
	return st;
}

/* The fileid READDIR shows for "..", or 0. */
static uint64_t readdir_dotdot(CLIENT *c, const nfs_fh3 *dir)
{
	READDIR3args a;
	memset(&a, 0, sizeof(a));
	a.dir = *dir;
	a.count = 8192;
	READDIR3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, READDIR, READDIR3args, a, READDIR3res, r) != RPC_SUCCESS)
		return 0;
	uint64_t id = 0;
	if (r.status == NFS3_OK)
		for (entry3 *e = r.READDIR3res_u.resok.reply.entries; e; e = e->nextentry)
			if (e->name.filename3_len == 2 && memcmp(e->name.filename3_val, "..", 2) == 0)
				id = e->fileid;
	FREE_RES(c, READDIR3res, r);
	return id;
}

/* An export of a subdirectory: its directory is renamed away and made again
 * while gateways run.  A gateway started before serves the old tree, one
 * started after the new; a handle of the old tree taken to the new gateway
 * (a client failing over) must not walk ".." up into the volume. */
TEST(dotdot_never_leaves_a_renamed_or_recreated_export)
{
	FIXTURE();
	static const char box[] = "/box -dir=/box 127.0.0.1(rw,insecure,no_root_squash)";
	struct gateway old_gw, new_gw;
	struct client_opts root = {0};
	nfs_fh3 old_root = {{0, NULL}}, sub = {{0, NULL}}, up = {{0, NULL}}, up2 = {{0, NULL}};
	nfs_fh3 new_root = {{0, NULL}}, sub2 = {{0, NULL}};
	fattr3 a, sub_attr, oldroot_attr;
	REQUIRE_EQ(gw_start_peer(&old_gw, &f->gw, box), 0);
	REQUIRE_EQ(client_mount(old_gw.mount_port, "/box", &root, &old_root), MNT3_OK);
	CLIENT *oc = client_connect(old_gw.nfs_port, 100003, 3, &root);
	REQUIRE(oc != NULL);
	REQUIRE_EQ(nfs_getattr(oc, &old_root, &oldroot_attr), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(oc, &old_root, "sub", 0755, &sub), NFS3_OK);
	REQUIRE_EQ(nfs_getattr(oc, &sub, &sub_attr), NFS3_OK);

	/* through the volume-wide /hf: /box becomes /box-old, and the new
	 * gateway makes a fresh /box when it starts */
	REQUIRE_EQ(rename_do(c, &f->hf, "box", &f->hf, "box-old"), NFS3_OK);
	REQUIRE_EQ(gw_start_peer(&new_gw, &f->gw, box), 0);
	REQUIRE_EQ(client_mount(new_gw.mount_port, "/box", &root, &new_root), MNT3_OK);
	CLIENT *nc = client_connect(new_gw.nfs_port, 100003, 3, &root);
	REQUIRE(nc != NULL);

	/* the old gateway still serves its tree, confined to it */
	REQUIRE_EQ(nfs_lookup(oc, &sub, "..", &up, &a), NFS3_OK);
	CHECK_EQ(a.fileid, oldroot_attr.fileid);
	CHECK_EQ(nfs_lookup(oc, &up, "..", &up2, &a), NFS3_OK);
	CHECK_EQ(a.fileid, oldroot_attr.fileid);
	fh_free(&up2);
	fh_free(&up);

	/* the old tree's handle at the new gateway: no ".." at all */
	CHECK_EQ(nfs_lookup(nc, &sub, "..", &up, &a), NFS3ERR_STALE);
	CHECK_EQ(readdir_dotdot(nc, &sub), sub_attr.fileid);
	fh_free(&up);
	/* and the new tree works as ever */
	REQUIRE_EQ(nfs_mkdir(nc, &new_root, "sub2", 0755, &sub2), NFS3_OK);
	REQUIRE_EQ(nfs_getattr(nc, &new_root, &a), NFS3_OK);
	uint64_t new_root_id = a.fileid;
	CHECK(new_root_id != oldroot_attr.fileid);
	REQUIRE_EQ(nfs_lookup(nc, &sub2, "..", &up, &a), NFS3_OK);
	CHECK_EQ(a.fileid, new_root_id);
	CHECK_EQ(nfs_lookup(nc, &new_root, "..", &up2, &a), NFS3_OK);
	CHECK_EQ(a.fileid, new_root_id);
	CHECK_EQ(readdir_dotdot(nc, &sub2), new_root_id);
	CHECK_EQ(readdir_dotdot(nc, &new_root), new_root_id);

	fh_free(&up2);
	fh_free(&up);
	fh_free(&sub2);
	fh_free(&new_root);
	fh_free(&sub);
	fh_free(&old_root);
	client_destroy(nc);
	client_destroy(oc);
	CHECK_EQ(gw_stop(&new_gw), 0);
	CHECK_EQ(gw_stop(&old_gw), 0);
}
