/*
 * nfs4_fuzz_test.c - COMPOUNDs a client library would never send: too
 * many operations, unknown and unimplemented operation numbers, truncated
 * arguments, WRITE payload lengths beyond the record, and a fuzz of the decoders (the v4.2 SEEK, DEALLOCATE, CLONE
 * and COPY among them) with mutated valid compounds.  The
 * gateway must answer each with the RFC status (or GARBAGE_ARGS), never
 * crash, and keep serving.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_test.h"

struct raw {
	const uint8_t *data;
	size_t len;
};

static bool_t xdr_raw(XDR *x, struct raw *r)
{
	return r->len == 0 || XDR_PUTBYTES(x, (char *)r->data, (u_int)r->len);
}

static enum clnt_stat send_raw(struct v4 *s, const void *data, size_t len)
{
	struct raw r = {data, len};
	struct timeval tv = {30, 0};
	xdr_free((xdrproc_t)xdr_COMPOUND4res, (char *)&s->res);
	memset(&s->res, 0, sizeof(s->res));
	return clnt_call(s->cl, NFSPROC4_COMPOUND, (xdrproc_t)xdr_raw, (char *)&r, (xdrproc_t)xdr_COMPOUND4res,
			 (char *)&s->res, tv);
}

/* Encodes the header (empty tag, minor 1, count) and a SEQUENCE op. */
static size_t header_and_sequence(struct v4 *s, uint8_t *buf, size_t cap, uint32_t count)
{
	XDR x;
	utf8str_cs tag = {0, NULL};
	uint32_t minor = 1;
	v4_begin(s);
	v4_seq(s, 0);
	xdrmem_create(&x, (char *)buf, (u_int)cap, XDR_ENCODE);
	if (!xdr_utf8str_cs(&x, &tag) || !xdr_uint32_t(&x, &minor) || !xdr_uint32_t(&x, &count) ||
	    !xdr_nfs_argop4(&x, &s->ops[0]))
		return 0;
	size_t n = xdr_getpos(&x);
	xdr_destroy(&x);
	return n;
}

static size_t put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return 4;
}

TEST(too_many_ops)
{
	struct v4 s;
	uint8_t buf[64];
	REQUIRE(v4_root_session(&s, "fuzz-many") == 0);
	size_t n = header_and_sequence(&s, buf, sizeof(buf), 100000);
	REQUIRE(n > 0);
	s.slot_seq[0]--; /* the SEQUENCE is never run */
	REQUIRE_EQ(send_raw(&s, buf, n), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_TOO_MANY_OPS);
	/* over the session's ca_maxoperations (16) but under the hard cap */
	v4_begin(&s);
	v4_seq(&s, 0);
	for (int i = 0; i < 15; i++)
		v4_add(&s, OP_PUTROOTFH);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	n = header_and_sequence(&s, buf, sizeof(buf), 17);
	uint8_t big[4096];
	memcpy(big, buf, n);
	for (int i = 0; i < 16; i++)
		n += put32(big + n, OP_PUTROOTFH);
	REQUIRE_EQ(send_raw(&s, big, n), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_TOO_MANY_OPS);
	CHECK_EQ(s.res.resarray.resarray_len, 1);
	v4_close(&s);
}

TEST(unknown_and_unsupported_ops)
{
	struct v4 s;
	uint8_t buf[256];
	REQUIRE(v4_root_session(&s, "fuzz-ops") == 0);

	size_t n = header_and_sequence(&s, buf, sizeof(buf), 3);
	n += put32(buf + n, 99999);
	n += put32(buf + n, OP_PUTROOTFH);
	REQUIRE_EQ(send_raw(&s, buf, n), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_OP_ILLEGAL);
	REQUIRE_EQ(s.res.resarray.resarray_len, 2);
	CHECK_EQ(s.res.resarray.resarray_val[1].resop, OP_ILLEGAL);
	CHECK_EQ(v4_status(&s, 1), NFS4ERR_OP_ILLEGAL);

	/* real operations gatefs does not implement (WRITE_SAME; RELEASE_LOCKOWNER,
	 * which RFC 8881 section 17 marks MUST NOT implement in v4.1) */
	uint32_t unsupported[] = {OP_WRITE_SAME, OP_RELEASE_LOCKOWNER};
	for (int i = 0; i < 2; i++) {
		n = header_and_sequence(&s, buf, sizeof(buf), 3);
		n += put32(buf + n, unsupported[i]);
		n += put32(buf + n, OP_PUTROOTFH);
		REQUIRE_EQ(send_raw(&s, buf, n), RPC_SUCCESS);
		CHECK_EQ(s.res.status, NFS4ERR_NOTSUPP);
		REQUIRE_EQ(s.res.resarray.resarray_len, 2);
		CHECK_EQ(s.res.resarray.resarray_val[1].resop, unsupported[i]);
	}

	/* LOOKUP whose name says 100 bytes and has 4 */
	n = header_and_sequence(&s, buf, sizeof(buf), 3);
	n += put32(buf + n, OP_PUTROOTFH);
	n += put32(buf + n, OP_LOOKUP);
	n += put32(buf + n, 100);
	n += put32(buf + n, 0x61616161);
	REQUIRE_EQ(send_raw(&s, buf, n), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_BADXDR);
	CHECK_EQ(s.res.resarray.resarray_len, 3);
	CHECK_EQ(v4_status(&s, 1), NFS4_OK);
	v4_close(&s);
}

/* WRITE arguments whose payload length lies (the payload is decoded where
 * it lies in the record): past the end of the record, over NFS4_MAXIO,
 * all ones.  Each is BADXDR at the WRITE, with the ops before it run, and
 * the session goes on. */
TEST(write_length_beyond_the_record)
{
	struct v4 s;
	static uint8_t buf[4096];
	REQUIRE(v4_root_session(&s, "fuzz-write") == 0);
	static const uint32_t lengths[] = {1u << 20, 1001, (1u << 20) + 1, 0x7fffffffu, 0xffffffffu};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		size_t n = header_and_sequence(&s, buf, sizeof(buf), 3);
		REQUIRE(n > 0);
		n += put32(buf + n, OP_PUTROOTFH);
		n += put32(buf + n, OP_WRITE);
		memset(buf + n, 0, 16 + 8 + 4); /* stateid, offset, stable */
		n += 16 + 8 + 4;
		n += put32(buf + n, lengths[i]);
		memset(buf + n, 0x5a, 1000); /* less than any length says */
		n += 1000;
		REQUIRE_EQ(send_raw(&s, buf, n), RPC_SUCCESS);
		CHECK_EQ(s.res.status, NFS4ERR_BADXDR);
		CHECK_EQ(s.res.resarray.resarray_len, 3);
		CHECK_EQ(v4_status(&s, 1), NFS4_OK);
		CHECK_EQ(v4_status(&s, 2), NFS4ERR_BADXDR);
	}
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_PUTROOTFH);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 1), NFS4_OK);
	v4_close(&s);
}

/* Mutations of one valid compound: byte flips, truncations and length
 * fields set to extremes.  Each gets an answer; the gateway survives. */
TEST(decoder_fuzz)
{
	struct gateway *g = v4_gateway();
	struct v4 s;
	nfs_fh4 hf;
	REQUIRE(g);
	REQUIRE(v4_root_session(&s, "fuzz") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);

	uint8_t attrbuf[16];
	fattr4 attrs;
	v4_sattr_mode(&attrs, attrbuf, 0644, true, 0);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &hf);
	v4_open_args(&s, "fz", "fuzzed", OPEN4_SHARE_ACCESS_BOTH, 0, true, &attrs);
	v4_getattr(&s);
	v4_add(&s, OP_SAVEFH);
	SETATTR4args *sa = &v4_add(&s, OP_SETATTR)->nfs_argop4_u.opsetattr;
	sa->obj_attributes = attrs;
	/* the v4.2 operations, on the file just opened (its current stateid) */
	const stateid4 current = {1, {0}};
	SEEK4args *sk = &v4_add(&s, OP_SEEK)->nfs_argop4_u.opseek;
	*sk = (SEEK4args){current, 0, NFS4_CONTENT_HOLE};
	DEALLOCATE4args *da = &v4_add(&s, OP_DEALLOCATE)->nfs_argop4_u.opdeallocate;
	*da = (DEALLOCATE4args){current, 4096, 8192};
	CLONE4args *cl = &v4_add(&s, OP_CLONE)->nfs_argop4_u.opclone;
	*cl = (CLONE4args){current, current, 0, 65536, 0};
	COPY4args *cp = &v4_add(&s, OP_COPY)->nfs_argop4_u.opcopy;
	*cp = (COPY4args){current, current, 0, 1 << 20, 0, true, true, {0, NULL}};
	READDIR4args *rd = &v4_add(&s, OP_READDIR)->nfs_argop4_u.opreaddir;
	rd->maxcount = 4096;
	rd->attr_request = s.ops[3].nfs_argop4_u.opgetattr.attr_request;
	COMPOUND4args args = {{0, NULL}, 2, {s.nops, s.ops}};
	uint8_t valid[2048], buf[2048];
	XDR x;
	xdrmem_create(&x, (char *)valid, sizeof(valid), XDR_ENCODE);
	REQUIRE(xdr_COMPOUND4args(&x, &args));
	size_t len = xdr_getpos(&x);
	xdr_destroy(&x);

	uint64_t rng = 42;
	int answered = 0, garbage = 0, reconnects = 0;
	for (int i = 0; i < 400; i++) {
		memcpy(buf, valid, len);
		size_t n = len;
		switch (tl_rand(&rng) % 4) {
		case 0: /* flip bytes */
			for (int k = 0; k < 4; k++)
				buf[tl_rand(&rng) % len] ^= (uint8_t)(1 + tl_rand(&rng) % 255);
			break;
		case 1: /* truncate */
			n = tl_rand(&rng) % len;
			break;
		case 2: /* a word set to an extreme length */
			put32(buf + 4 * (tl_rand(&rng) % (len / 4)), (tl_rand(&rng) & 1) ? 0xffffffffu : 0x7ffffff0u);
			break;
		case 3: /* a word set to a small number (opcodes, enums) */
			put32(buf + 4 * (tl_rand(&rng) % (len / 4)), (uint32_t)(tl_rand(&rng) % 80));
			break;
		}
		/* the SEQUENCE id of the valid compound is spent after the
		 * first run: most mutations get a misordered slot, so point the
		 * slot at a fresh sequence id in half of them */
		if (i % 2 == 0 && n >= 40)
			put32(buf + 32, ++s.slot_seq[0]);
		enum clnt_stat st = send_raw(&s, buf, n);
		if (st == RPC_SUCCESS)
			answered++;
		else if (st == RPC_CANTDECODEARGS)
			garbage++;
		else {
			/* the server may close a connection it cannot parse */
			v4_close(&s);
			struct v4 fresh;
			REQUIRE(v4_root_session(&fresh, "fuzz-again") == 0);
			s = fresh;
			reconnects++;
		}
	}
	fprintf(stderr, "  fuzz: %d answered, %d garbage, %d reconnects\n", answered, garbage, reconnects);
	CHECK(answered > 100);
	/* still serving (a fresh session: mutations of the sequence id left
	 * this one's slot out of step) */
	v4_close(&s);
	REQUIRE(v4_root_session(&s, "fuzz-after") == 0);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &hf);
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4_OK);
	CHECK_EQ(gw_log_count(g, "Sanitizer"), 0);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}
