/*
 * nfs4_space_test.c - the NFSv4.2 space operations against the real
 * gateway with the project's v4 client: SEEK for data and holes (sparse
 * chunk ranges, punched ranges, the hole at the end, NXIO past it),
 * ALLOCATE growing a file, DEALLOCATE punching a hole that reads back as
 * zeros, and their errors (minor version 1, wrapping ranges, a directory,
 * a read-only open).
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
