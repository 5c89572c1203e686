/*
 * nfs4_space_test.c - the NFSv4.2 space operations against the real
 * gateway with the project's v4 client: SEEK for data and holes (sparse
 * chunk ranges, punched ranges, the hole at the end, NXIO past it),
 * ALLOCATE growing a file, DEALLOCATE punching a hole that reads back as
 * zeros, CLONE and COPY sharing a file's data (whole, in part, past the
 * end, then overwritten), and their errors (minor version 1, wrapping or
 * overlapping ranges, a directory, a read-only open or export).
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_test.h"

#define MiB (1024u * 1024u)

/* SEQUENCE, PUTFH fh, then the op that v4_add returns: for the caller to
 * fill and send with minor version 2. */
static nfs_argop4 *begin_op(struct v4 *s, const nfs_fh4 *fh, nfs_opnum4 op)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	return v4_add(s, op);
}

/* SEEK: the op's status; *where and *eof on NFS4_OK. */
static int seek(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, uint64_t off, data_content4 what, uint64_t *where,
		bool *eof)
{
	SEEK4args *a = &begin_op(s, fh, OP_SEEK)->nfs_argop4_u.opseek;
	a->sa_stateid = *sid;
	a->sa_offset = off;
	a->sa_what = what;
	if (v4_send_minor(s, 2) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK) {
		seek_res4 *r = &s->res.resarray.resarray_val[2].nfs_resop4_u.opseek.SEEK4res_u.resok4;
		*where = r->sr_offset;
		*eof = r->sr_eof;
	}
	return st;
}

/* ALLOCATE (allocate) or DEALLOCATE: the op's status. */
static int space(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, bool allocate, uint64_t off, uint64_t len,
		 uint32_t minor)
{
	if (allocate) {
		ALLOCATE4args *a = &begin_op(s, fh, OP_ALLOCATE)->nfs_argop4_u.opallocate;
		a->aa_stateid = *sid;
		a->aa_offset = off;
		a->aa_length = len;
	} else {
		DEALLOCATE4args *a = &begin_op(s, fh, OP_DEALLOCATE)->nfs_argop4_u.opdeallocate;
		a->da_stateid = *sid;
		a->da_offset = off;
		a->da_length = len;
	}
	if (v4_send_minor(s, minor) != RPC_SUCCESS)
		return -1;
	return v4_status(s, 2);
}

TEST(seek_allocate_and_deallocate)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid, rsid;
	REQUIRE(v4_root_session(&s, "space") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "space", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	enum { LEN = 300000 };
	static uint8_t data[LEN], back[LEN];
	tl_fill_random(data, sizeof(data), 11);
	REQUIRE_EQ(v4_io(&s, &f, &sid, true, 0, data, LEN), NFS4_OK);

	uint64_t where = 0;
	bool eof = false;
	CHECK_EQ(seek(&s, &f, &sid, 0, NFS4_CONTENT_DATA, &where, &eof), NFS4_OK);
	CHECK(where == 0 && !eof);
	CHECK_EQ(seek(&s, &f, &sid, 10, NFS4_CONTENT_HOLE, &where, &eof), NFS4_OK);
	CHECK(where == LEN && eof); /* the hole at the end */
	CHECK_EQ(seek(&s, &f, &sid, LEN, NFS4_CONTENT_DATA, &where, &eof), NFS4ERR_NXIO);

	/* ALLOCATE grows the file; the new range is a hole */
	CHECK_EQ(space(&s, &f, &sid, true, 70 * MiB, MiB, 2), NFS4_OK);
	struct v4_attrs a;
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_EQ(a.size, 71 * MiB);
	CHECK_EQ(seek(&s, &f, &sid, 100, NFS4_CONTENT_HOLE, &where, &eof), NFS4_OK);
	CHECK(where == LEN && !eof);
	CHECK_EQ(seek(&s, &f, &sid, LEN, NFS4_CONTENT_DATA, &where, &eof), NFS4ERR_NXIO);

	/* DEALLOCATE punches a hole: zeros, and SEEK sees it */
	CHECK_EQ(space(&s, &f, &sid, false, 4096, 8192, 2), NFS4_OK);
	memset(data + 4096, 0, 8192);
	CHECK_EQ(v4_io(&s, &f, &sid, false, 0, back, LEN), NFS4_OK);
	CHECK(memcmp(data, back, LEN) == 0);
	CHECK_EQ(seek(&s, &f, &sid, 0, NFS4_CONTENT_HOLE, &where, &eof), NFS4_OK);
	CHECK_EQ(where, 4096);
	CHECK_EQ(seek(&s, &f, &sid, 4096, NFS4_CONTENT_DATA, &where, &eof), NFS4_OK);
	CHECK_EQ(where, 12288);
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_EQ(a.size, 71 * MiB);

	/* errors */
	CHECK_EQ(space(&s, &f, &sid, false, 4096, 8192, 1), NFS4ERR_NOTSUPP); /* not in 4.1 */
	CHECK_EQ(space(&s, &f, &sid, false, 2, UINT64_MAX, 2), NFS4ERR_INVAL);
	CHECK_EQ(space(&s, &f, &sid, true, 2, UINT64_MAX, 2), NFS4ERR_INVAL);
	stateid4 anon = {0};
	CHECK_EQ(seek(&s, &hf, &anon, 0, NFS4_CONTENT_DATA, &where, &eof), NFS4ERR_ISDIR);
	REQUIRE_EQ(v4_open(&s, &hf, "o2", "space", OPEN4_SHARE_ACCESS_READ, 0, false, &rsid, NULL), 0);
	CHECK_EQ(space(&s, &f, &rsid, false, 0, 10, 2), NFS4ERR_OPENMODE);
	CHECK_EQ(seek(&s, &f, &rsid, 0, NFS4_CONTENT_DATA, &where, &eof), NFS4_OK); /* reading is fine */
	CHECK_EQ(v4_close_file(&s, &f, &rsid), NFS4_OK);
	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

/* SEQUENCE, PUTFH src, SAVEFH, PUTFH dst, then CLONE or COPY of
 * [src_off, +count) to dst_off: the op's status; *copied from COPY. */
static int clone_or_copy(struct v4 *s, const nfs_fh4 *src, const stateid4 *ssid, const nfs_fh4 *dst,
			 const stateid4 *dsid, bool copy, uint64_t src_off, uint64_t dst_off, uint64_t count,
			 uint32_t minor, uint64_t *copied)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, src);
	v4_add(s, OP_SAVEFH);
	v4_putfh(s, dst);
	if (copy) {
		COPY4args *a = &v4_add(s, OP_COPY)->nfs_argop4_u.opcopy;
		a->ca_src_stateid = *ssid;
		a->ca_dst_stateid = *dsid;
		a->ca_src_offset = src_off;
		a->ca_dst_offset = dst_off;
		a->ca_count = count;
		a->ca_consecutive = true;
		a->ca_synchronous = true;
	} else {
		CLONE4args *a = &v4_add(s, OP_CLONE)->nfs_argop4_u.opclone;
		a->cl_src_stateid = *ssid;
		a->cl_dst_stateid = *dsid;
		a->cl_src_offset = src_off;
		a->cl_dst_offset = dst_off;
		a->cl_count = count;
	}
	if (v4_send_minor(s, minor) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 4);
	if (st == NFS4_OK && copy && copied) {
		COPY4resok *ok = &s->res.resarray.resarray_val[4].nfs_resop4_u.opcopy.COPY4res_u.cr_resok4;
		*copied = ok->cr_response.wr_count;
		if (ok->cr_response.wr_committed != FILE_SYNC4 || !ok->cr_requirements.cr_synchronous)
			return -3;
	}
	return st;
}

TEST(clone_and_copy_share_data)
{
	struct v4 s;
	nfs_fh4 hf, src, dst;
	stateid4 ssid, dsid;
	REQUIRE(v4_root_session(&s, "clone") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "clone-src", OPEN4_SHARE_ACCESS_BOTH, 0, true, &ssid, &src), 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "clone-dst", OPEN4_SHARE_ACCESS_BOTH, 0, true, &dsid, &dst), 0);
	enum { LEN = 500000 };
	static uint8_t data[LEN], back[LEN];
	tl_fill_random(data, sizeof(data), 21);
	REQUIRE_EQ(v4_io(&s, &src, &ssid, true, 0, data, LEN), NFS4_OK);

	/* CLONE the whole file, then COPY a part of it further on */
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &dst, &dsid, false, 0, 0, LEN, 2, NULL), NFS4_OK);
	CHECK_EQ(v4_io(&s, &dst, &dsid, false, 0, back, LEN), NFS4_OK);
	CHECK(memcmp(data, back, LEN) == 0);
	uint64_t copied = 0;
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &dst, &dsid, true, 1000, LEN + 10, 0, 2, &copied), NFS4_OK);
	CHECK_EQ(copied, LEN - 1000); /* count 0: to the end of the source */
	CHECK_EQ(v4_io(&s, &dst, &dsid, false, LEN + 10, back, LEN - 1000), NFS4_OK);
	CHECK(memcmp(data + 1000, back, LEN - 1000) == 0);
	struct v4_attrs a;
	REQUIRE_EQ(v4_attrs_of(&s, &dst, &a), 0);
	CHECK_EQ(a.size, 2 * LEN + 10 - 1000);
	/* a COPY past the source's end is short, not an error */
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &dst, &dsid, true, LEN - 10, 0, 100, 2, &copied), NFS4_OK);
	CHECK_EQ(copied, 10);

	/* overwriting the source leaves the clone alone */
	uint8_t over[4096];
	tl_fill_random(over, sizeof(over), 22);
	REQUIRE_EQ(v4_io(&s, &src, &ssid, true, 20000, over, sizeof(over)), NFS4_OK);
	CHECK_EQ(v4_io(&s, &dst, &dsid, false, 20000, back, sizeof(over)), NFS4_OK);
	CHECK(memcmp(data + 20000, back, sizeof(over)) == 0);

	/* errors */
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &dst, &dsid, false, 0, 0, LEN, 1, NULL), NFS4ERR_NOTSUPP);
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &dst, &dsid, false, 10, 0, LEN, 2, NULL), NFS4ERR_INVAL);
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &src, &ssid, false, 0, 100, 1000, 2, NULL), NFS4ERR_INVAL);
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &hf, &dsid, false, 0, 0, 10, 2, NULL), NFS4ERR_BAD_STATEID);
	stateid4 anon = {0};
	CHECK_EQ(clone_or_copy(&s, &src, &anon, &hf, &anon, false, 0, 0, 10, 2, NULL), NFS4ERR_ISDIR);
	stateid4 rsid;
	REQUIRE_EQ(v4_open(&s, &hf, "o2", "clone-dst", OPEN4_SHARE_ACCESS_READ, 0, false, &rsid, NULL), 0);
	CHECK_EQ(clone_or_copy(&s, &src, &ssid, &dst, &rsid, false, 0, 0, 10, 2, NULL), NFS4ERR_OPENMODE);
	CHECK_EQ(v4_close_file(&s, &dst, &rsid), NFS4_OK);
	/* into the read-only export */
	nfs_fh4 ro;
	REQUIRE(v4_export_fh(&s, "ro", &ro) == 0);
	CHECK_EQ(clone_or_copy(&s, &src, &anon, &ro, &anon, true, 0, 0, 10, 2, NULL), NFS4ERR_ROFS);
	free(ro.nfs_fh4_val);

	CHECK_EQ(v4_close_file(&s, &src, &ssid), NFS4_OK);
	CHECK_EQ(v4_close_file(&s, &dst, &dsid), NFS4_OK);
	free(src.nfs_fh4_val);
	free(dst.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

/* As uid 1000, on a file of root's (0644): reading it with SEEK is fine,
 * changing it is NFS4ERR_ACCESS, whatever the v4.2 operation. */
TEST(space_and_clone_as_an_unprivileged_user)
{
	struct v4 root, user;
	nfs_fh4 hf, f, mine;
	stateid4 sid, msid;
	REQUIRE(v4_root_session(&root, "space-root") == 0);
	REQUIRE(v4_export_fh(&root, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&root, &hf, "o1", "roots-file", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	uint8_t data[8192];
	tl_fill_random(data, sizeof(data), 31);
	REQUIRE_EQ(v4_io(&root, &f, &sid, true, 0, data, sizeof(data)), NFS4_OK);
	CHECK_EQ(v4_close_file(&root, &f, &sid), NFS4_OK);
	uint8_t mode_buf[16];
	v4_begin(&root);
	v4_seq(&root, 0);
	v4_putfh(&root, &f);
	v4_sattr_mode(&v4_add(&root, OP_SETATTR)->nfs_argop4_u.opsetattr.obj_attributes, mode_buf, 0644, false, 0);
	REQUIRE_EQ(v4_send(&root), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&root, 2), NFS4_OK); /* v4_open made it 0666 */

	REQUIRE_EQ(v4_open_session(&user, v4_gateway()->nfs_port, 1000, 1000, "space-user"), 0);
	REQUIRE_EQ(v4_open(&user, &hf, "u1", "users-file", OPEN4_SHARE_ACCESS_BOTH, 0, true, &msid, &mine), 0);
	stateid4 anon = {0};
	uint64_t where = 0;
	bool eof = false;
	CHECK_EQ(seek(&user, &f, &anon, 0, NFS4_CONTENT_DATA, &where, &eof), NFS4_OK);
	CHECK_EQ(space(&user, &f, &anon, false, 0, 4096, 2), NFS4ERR_ACCESS);
	CHECK_EQ(space(&user, &f, &anon, true, 0, 1 << 20, 2), NFS4ERR_ACCESS);
	CHECK_EQ(clone_or_copy(&user, &mine, &msid, &f, &anon, false, 0, 0, 0, 2, NULL), NFS4ERR_ACCESS);
	/* reading root's file into one's own is allowed (it is 0644) */
	uint64_t copied = 0;
	CHECK_EQ(clone_or_copy(&user, &f, &anon, &mine, &msid, true, 0, 0, 0, 2, &copied), NFS4_OK);
	CHECK_EQ(copied, sizeof(data));
	uint8_t back[8192];
	CHECK_EQ(v4_io(&root, &f, &anon, false, 0, back, sizeof(back)), NFS4_OK);
	CHECK(memcmp(data, back, sizeof(data)) == 0); /* root's file unchanged */
	CHECK_EQ(v4_close_file(&user, &mine, &msid), NFS4_OK);
	free(mine.nfs_fh4_val);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&user);
	v4_close(&root);
}
