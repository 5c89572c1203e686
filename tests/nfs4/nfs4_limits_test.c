/*
 * nfs4_limits_test.c - a session's reply size limit (RFC 8881 section
 * 2.10.6.4): a COMPOUND whose reply would exceed the ca_maxresponsesize
 * the session was granted ends at the op that overflows, answered
 * NFS4ERR_REP_TOO_BIG, with the results before it intact.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_test.h"

/* A second session of s's client with a small ca_maxresponsesize; it
 * becomes s's session.  0 or -1. */
static int small_session(struct v4 *s, uint32_t max_response)
{
	v4_begin(s);
	CREATE_SESSION4args *cs = &v4_add(s, OP_CREATE_SESSION)->nfs_argop4_u.opcreate_session;
	cs->csa_clientid = s->clientid;
	cs->csa_sequence = s->cs_seq + 1;
	cs->csa_fore_chan_attrs = (channel_attrs4){0, 1 << 20, max_response, 1024, 16, 8, {0, NULL}};
	cs->csa_back_chan_attrs = (channel_attrs4){0, 4096, 4096, 0, 2, 1, {0, NULL}};
	if (v4_send(s) != RPC_SUCCESS || v4_status(s, 0) != NFS4_OK)
		return -1;
	CREATE_SESSION4resok *ok =
	    &s->res.resarray.resarray_val[0].nfs_resop4_u.opcreate_session.CREATE_SESSION4res_u.csr_resok4;
	if (ok->csr_fore_chan_attrs.ca_maxresponsesize != max_response)
		return -1;
	memcpy(s->sessionid, ok->csr_sessionid, sizeof(s->sessionid));
	memset(s->slot_seq, 0, sizeof(s->slot_seq));
	return 0;
}

TEST(reply_larger_than_the_session_allows_is_rep_too_big)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE(v4_root_session(&s, "limits") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "limits", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	static uint8_t data[10000], back[10000];
	tl_fill_random(data, sizeof(data), 3);
	REQUIRE_EQ(v4_io(&s, &f, &sid, true, 0, data, sizeof(data)), NFS4_OK);

	REQUIRE_EQ(small_session(&s, 2048), 0);
	CHECK_EQ(v4_io(&s, &f, &sid, false, 0, back, 1500), NFS4_OK); /* fits */
	CHECK(memcmp(data, back, 1500) == 0);
	/* READ of 4000 bytes, then GETATTR: the READ overflows */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &f);
	READ4args *r = &v4_add(&s, OP_READ)->nfs_argop4_u.opread;
	r->stateid = sid;
	r->offset = 0;
	r->count = 4000;
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_REP_TOO_BIG);
	CHECK_EQ(s.res.resarray.resarray_len, 3);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	CHECK_EQ(v4_status(&s, 1), NFS4_OK);
	CHECK_EQ(v4_status(&s, 2), NFS4ERR_REP_TOO_BIG);
	/* the same with sa_cachethis false, where the READ data would have
	 * gone out by reference: it counts all the same */
	v4_begin(&s);
	v4_seq(&s, 0);
	s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
	v4_putfh(&s, &f);
	r = &v4_add(&s, OP_READ)->nfs_argop4_u.opread;
	r->stateid = sid;
	r->offset = 0;
	r->count = 4000;
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_REP_TOO_BIG);
	CHECK_EQ(s.res.resarray.resarray_len, 3);
	CHECK_EQ(v4_status(&s, 2), NFS4ERR_REP_TOO_BIG);
	/* ... and one that fits is whole */
	v4_begin(&s);
	v4_seq(&s, 0);
	s.ops[0].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
	v4_putfh(&s, &f);
	r = &v4_add(&s, OP_READ)->nfs_argop4_u.opread;
	r->stateid = sid;
	r->offset = 1;
	r->count = 1501;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
	const READ4resok *ok = &s.res.resarray.resarray_val[2].nfs_resop4_u.opread.READ4res_u.resok4;
	CHECK(ok->data.data_len == 1501 && memcmp(ok->data.data_val, data + 1, 1501) == 0);
	/* the slot moved on: the next request on it works */
	CHECK_EQ(v4_io(&s, &f, &sid, false, 0, back, 1000), NFS4_OK);
	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}
