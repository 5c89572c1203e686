/*
 * nfs4_data_test.c - the READ and WRITE data paths.  A compound whose
 * SEQUENCE says sa_cachethis false (what the Linux client sends for READ
 * and WRITE) is not kept by its slot, so its READ data goes out by
 * reference from the vfs (a cached block or a buffer spanning blocks) as a
 * separate part of the reply: it must be byte-exact however the range
 * falls, and a replay of it is RETRY_UNCACHED_REP (RFC 8881 section
 * 2.10.6.1.3).  A cachethis compound keeps the copying path and its
 * replay answers the first reply.  WRITE data is used where it lies in the
 * received record: several WRITEs in one compound, with odd lengths, land
 * exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_test.h"

#define MIB (1u << 20)
/* Past the 4 MiB block of a default volume, and not a multiple of 4. */
#define FILE_SIZE (5 * MIB + 12345)

static uint8_t model[FILE_SIZE];

/* The READ of result i: status, and its data and eof when NFS4_OK. */
static int read_result(const struct v4 *s, u_int i, const uint8_t **data, uint32_t *len, bool *eof)
{
	int st = v4_status(s, i);
	if (st != NFS4_OK)
		return st;
	const READ4resok *ok = &s->res.resarray.resarray_val[i].nfs_resop4_u.opread.READ4res_u.resok4;
	*data = (const uint8_t *)ok->data.data_val;
	*len = ok->data.data_len;
	*eof = ok->eof;
	return NFS4_OK;
}

static void add_read(struct v4 *s, const stateid4 *sid, uint64_t off, uint32_t count)
{
	READ4args *r = &v4_add(s, OP_READ)->nfs_argop4_u.opread;
	r->stateid = *sid;
	r->offset = off;
	r->count = count;
}

static void add_write(struct v4 *s, const stateid4 *sid, uint64_t off, const uint8_t *data, uint32_t len,
		      stable_how4 stable)
{
	WRITE4args *w = &v4_add(s, OP_WRITE)->nfs_argop4_u.opwrite;
	w->stateid = *sid;
	w->offset = off;
	w->stable = stable;
	w->data.data_val = (char *)data;
	w->data.data_len = len;
}

/* SEQUENCE on slot (cachethis as given), PUTFH, READ. */
static void begin_read(struct v4 *s, uint32_t slot, bool cachethis, const nfs_fh4 *fh, const stateid4 *sid,
		       uint64_t off, uint32_t count)
{
	v4_begin(s);
	v4_seq(s, slot);
	s->ops[0].nfs_argop4_u.opsequence.sa_cachethis = cachethis;
	v4_putfh(s, fh);
	add_read(s, sid, off, count);
}

/* One READ compared with the model: what it returns is what the file
 * holds from off, up to count bytes or the end, and eof says whether the
 * end was reached. */
static void check_read(struct v4 *s, bool cachethis, const nfs_fh4 *fh, const stateid4 *sid, uint64_t off,
		       uint32_t count)
{
	begin_read(s, 0, cachethis, fh, sid, off, count);
	REQUIRE_EQ(v4_send(s), RPC_SUCCESS);
	const uint8_t *data;
	uint32_t len;
	bool eof;
	REQUIRE_EQ(read_result(s, 2, &data, &len, &eof), NFS4_OK);
	uint64_t want = off >= FILE_SIZE ? 0 : FILE_SIZE - off < count ? FILE_SIZE - off : count;
	CHECK_EQ(len, want);
	CHECK_EQ(eof, off + want >= FILE_SIZE);
	if (len == want && want)
		CHECK(memcmp(data, model + off, want) == 0);
}

/* A file of FILE_SIZE random bytes in the export hf, open for both. */
static void make_file(struct v4 *s, const nfs_fh4 *hf, const char *name, stateid4 *sid, nfs_fh4 *f)
{
	REQUIRE_EQ(v4_open(s, hf, "o1", name, OPEN4_SHARE_ACCESS_BOTH, 0, true, sid, f), 0);
	tl_fill_random(model, sizeof(model), 41);
	for (uint32_t off = 0; off < FILE_SIZE; off += MIB) {
		uint32_t n = FILE_SIZE - off < MIB ? FILE_SIZE - off : MIB;
		REQUIRE_EQ(v4_io(s, f, sid, true, off, model + off, n), NFS4_OK);
	}
}

TEST(uncached_read_is_exact_across_blocks_and_at_eof)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE(v4_root_session(&s, "data-read") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	make_file(&s, &hf, "lend", &sid, &f);

	static const struct {
		uint64_t off;
		uint32_t count;
	} reads[] = {
	    {0, MIB},			      /* within the first block */
	    {4 * MIB - 1000, MIB},	      /* across the block boundary */
	    {1, 7},			      /* unaligned, padded */
	    {4 * MIB - 3, 6},		      /* a few bytes across */
	    {3 * MIB + 5, 3},		      /* within, padded */
	    {FILE_SIZE - 5, 100},	      /* short at the end: eof */
	    {FILE_SIZE - MIB + 1, MIB},	      /* the last MiB, short by one */
	    {FILE_SIZE, 10},		      /* at the end: nothing, eof */
	    {(uint64_t)FILE_SIZE + 4096, 10}, /* past it */
	};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		check_read(&s, false, &f, &sid, reads[i].off, reads[i].count);
		check_read(&s, true, &f, &sid, reads[i].off, reads[i].count);
	}

	/* data still in the write buffer (UNSTABLE, not committed) */
	static uint8_t patch[3001];
	tl_fill_random(patch, sizeof(patch), 42);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &f);
	add_write(&s, &sid, 4 * MIB - 1500, patch, sizeof(patch), UNSTABLE4);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
	memcpy(model + 4 * MIB - 1500, patch, sizeof(patch));
	check_read(&s, false, &f, &sid, 4 * MIB - 4000, 9000);
	check_read(&s, false, &f, &sid, 4 * MIB - 1499, 1);

	/* six READs and a GETATTR in one compound: the first four lent, the
	 * rest copied, and what follows them in place */
	v4_begin(&s);
	v4_seq(&s, 0);
	s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
	v4_putfh(&s, &f);
	for (uint32_t i = 0; i < 6; i++)
		add_read(&s, &sid, i * 700001u + i, 65537 + i);
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(s.res.resarray.resarray_len, 9);
	for (uint32_t i = 0; i < 6; i++) {
		const uint8_t *data;
		uint32_t len;
		bool eof;
		REQUIRE_EQ(read_result(&s, 2 + i, &data, &len, &eof), NFS4_OK);
		CHECK_EQ(len, 65537 + i);
		CHECK(!eof);
		CHECK(len == 65537 + i && memcmp(data, model + i * 700001u + i, len) == 0);
	}
	REQUIRE_EQ(v4_status(&s, 8), NFS4_OK);
	struct v4_attrs a;
	REQUIRE_EQ(v4_decode_attrs(
		       &s.res.resarray.resarray_val[8].nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes, &a),
		   0);
	CHECK_EQ(a.size, FILE_SIZE);
	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

/* sa_cachethis false: the slot keeps no reply, so a retransmission on it
 * is answered RETRY_UNCACHED_REP and not run again; cachethis true: the
 * first reply, even after the file changed. */
TEST(read_replay_follows_cachethis)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE(v4_root_session(&s, "data-replay") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	static uint8_t a[4000], b[4000];
	tl_fill_random(a, sizeof(a), 43);
	tl_fill_random(b, sizeof(b), 44);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "replay-read", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	REQUIRE_EQ(v4_io(&s, &f, &sid, true, 0, a, sizeof(a)), NFS4_OK);

	const uint8_t *data;
	uint32_t len;
	bool eof;
	begin_read(&s, 1, false, &f, &sid, 0, sizeof(a));
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(read_result(&s, 2, &data, &len, &eof), NFS4_OK);
	CHECK(len == sizeof(a) && memcmp(data, a, len) == 0);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS); /* same slot, same sequence id */
	CHECK_EQ(s.res.status, NFS4ERR_RETRY_UNCACHED_REP);
	CHECK_EQ(s.res.resarray.resarray_len, 1);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_RETRY_UNCACHED_REP);
	/* the slot goes on with the next sequence id */
	begin_read(&s, 1, false, &f, &sid, 0, sizeof(a));
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4_OK);

	/* a GETATTR compound is not kept either */
	v4_begin(&s);
	v4_seq(&s, 1);
	s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
	v4_putfh(&s, &f);
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4_OK);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_RETRY_UNCACHED_REP);

	/* a lone SEQUENCE is kept all the same, as knfsd keeps it */
	v4_begin(&s);
	v4_seq(&s, 1);
	s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);

	/* cachethis: the replay is the first reply, not a new read */
	begin_read(&s, 2, true, &f, &sid, 0, sizeof(a));
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(read_result(&s, 2, &data, &len, &eof), NFS4_OK);
	CHECK(len == sizeof(a) && memcmp(data, a, len) == 0);
	REQUIRE_EQ(v4_io(&s, &f, &sid, true, 0, b, sizeof(b)), NFS4_OK);
	s.slot_seq[2]--; /* the same request again on slot 2 */
	begin_read(&s, 2, true, &f, &sid, 0, sizeof(a));
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(read_result(&s, 2, &data, &len, &eof), NFS4_OK);
	CHECK(len == sizeof(a) && memcmp(data, a, len) == 0);
	begin_read(&s, 2, true, &f, &sid, 0, sizeof(b));
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(read_result(&s, 2, &data, &len, &eof), NFS4_OK);
	CHECK(len == sizeof(b) && memcmp(data, b, len) == 0);

	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

/* WRITE payloads are used where they lie in the received record: a 1 MiB
 * UNSTABLE write, and three WRITEs of odd lengths in one compound (each
 * payload padded), read back exactly after COMMIT; sent as one fragment
 * (the Linux client's records: in place), then as libtirpc's 64 KiB
 * fragments (the payload spans receive buffers: copied). */
TEST(write_decoded_in_place_reads_back)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE(v4_root_session(&s, "data-write") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "in-place", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	static uint8_t data[MIB + 333345], back[MIB];

	for (int fragmented = 0; fragmented < 2; fragmented++) {
		s.one_fragment = !fragmented;
		tl_fill_random(data, sizeof(data), 45 + (uint64_t)fragmented);
		v4_begin(&s);
		v4_seq(&s, 0);
		s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
		v4_putfh(&s, &f);
		add_write(&s, &sid, 0, data, MIB, UNSTABLE4);
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
		CHECK_EQ(s.res.resarray.resarray_val[2].nfs_resop4_u.opwrite.WRITE4res_u.resok4.count, MIB);

		v4_begin(&s);
		v4_seq(&s, 0);
		s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
		v4_putfh(&s, &f);
		add_write(&s, &sid, MIB, data + MIB, 5, UNSTABLE4);
		add_write(&s, &sid, MIB + 5, data + MIB + 5, 333333, UNSTABLE4);
		add_write(&s, &sid, MIB + 333338, data + MIB + 333338, 7, UNSTABLE4);
		v4_add(&s, OP_COMMIT);
		v4_getattr(&s);
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		REQUIRE_EQ(s.res.resarray.resarray_len, 7);
		for (u_int i = 2; i < 7; i++)
			CHECK_EQ(v4_status(&s, i), NFS4_OK);
		struct v4_attrs a;
		REQUIRE_EQ(
		    v4_decode_attrs(
			&s.res.resarray.resarray_val[6].nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes, &a),
		    0);
		CHECK_EQ(a.size, sizeof(data));

		for (uint32_t off = 0; off < sizeof(data); off += MIB) {
			uint32_t n = sizeof(data) - off < MIB ? sizeof(data) - off : MIB;
			CHECK_EQ(v4_io(&s, &f, &sid, false, off, back, n), NFS4_OK);
			CHECK(memcmp(back, data + off, n) == 0);
		}
	}
	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}
