/*
 * nfs4_proto_test.c - NFSv4.1 against the real gateway (nfs4 = on), with
 * the project's own client (v4client.c): the program and its minor
 * versions, COMPOUND rules, sessions and the slot reply cache, the pseudo
 * filesystem, file operations, stateids, share reservations and export
 * rules as unprivileged and squashed users.  Malformed compounds and the
 * decoder fuzz are in nfs4_fuzz_test.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nfs4_test.h"

static struct gateway gw;
static int gw_state; /* 0 not tried, 1 up, -1 failed */

static void stop_gateway(void)
{
	if (gw_state == 1 && gw_log_count(&gw, "Sanitizer") + gw_log_count(&gw, "runtime error") > 0)
		gw_print_log(&gw);
	if (gw_state == 1 && gw_stop(&gw) != 0) {
		fprintf(stderr, "FAIL gateway did not stop cleanly\n");
		_exit(1);
	}
}

static struct v4_pair *pairs_up;

static void stop_pairs(void)
{
	for (struct v4_pair *p = pairs_up; p; p = p->next_up)
		if (p->state == 1) {
			gw_stop(&p->g2);
			gw_stop(&p->g1);
			p->state = 0;
		}
}

bool v4_pair_up(struct v4_pair *p)
{
	if (p->state == 0) {
		char conf[1024];
		snprintf(conf, sizeof(conf), "%s%s", p->conf, GW_TEST_EXPORTS);
		p->state = -1;
		if (gw_start(&p->g1, conf) == 0) {
			if (gw_start_peer(&p->g2, &p->g1, p->conf) == 0) {
				p->state = 1;
				if (!pairs_up)
					atexit(stop_pairs);
				p->next_up = pairs_up;
				pairs_up = p;
			} else
				gw_stop(&p->g1);
		}
	}
	return p->state == 1;
}

double v4_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct gateway *v4_gateway(void)
{
	if (gw_state == 0) {
		gw_state = gw_start(&gw, "nfs4 = on\n"
					 "/hf 127.0.0.1(rw,insecure,no_root_squash)\n"
					 "/sq 127.0.0.1(rw,insecure,root_squash,anonuid=4242,anongid=4243)\n"
					 "/ro 127.0.0.1(ro,insecure)\n"
					 "/only2 127.0.0.2(rw,insecure)\n"
					 "/sec 127.0.0.1(rw,secure)\n") == 0
			       ? 1
			       : -1;
		if (gw_state == 1)
			atexit(stop_gateway);
	}
	return gw_state == 1 ? &gw : NULL;
}

int v4_root_session(struct v4 *s, const char *owner)
{
	struct gateway *g = v4_gateway();
	return g ? v4_open_session(s, g->nfs_port, 0, 0, owner) : -1;
}

/* GETFH result of op i. */
static const nfs_fh4 *fh_of(const struct v4 *s, u_int i)
{
	return &s->res.resarray.resarray_val[i].nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object;
}

int v4_export_fh(struct v4 *s, const char *export, nfs_fh4 *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_add(s, OP_PUTROOTFH);
	v4_lookup(s, export);
	v4_add(s, OP_GETFH);
	if (v4_send(s) != RPC_SUCCESS || v4_status(s, 3) != NFS4_OK)
		return -1;
	v4_fh_copy(out, fh_of(s, 3));
	return 0;
}

void v4_open_args(struct v4 *s, const char *owner, const char *name, uint32_t access, uint32_t deny, bool create,
		  fattr4 *attrs)
{
	OPEN4args *o = &v4_add(s, OP_OPEN)->nfs_argop4_u.opopen;
	o->share_access = access;
	o->share_deny = deny;
	o->owner.clientid = s->clientid;
	o->owner.owner.owner_val = (char *)owner;
	o->owner.owner.owner_len = (u_int)strlen(owner);
	o->openhow.opentype = create ? OPEN4_CREATE : OPEN4_NOCREATE;
	if (create) {
		o->openhow.openflag4_u.how.mode = UNCHECKED4;
		o->openhow.openflag4_u.how.createhow4_u.createattrs = *attrs;
	}
	o->claim.claim = CLAIM_NULL;
	o->claim.open_claim4_u.file.utf8string_val = (char *)name;
	o->claim.open_claim4_u.file.utf8string_len = (u_int)strlen(name);
}

int v4_open(struct v4 *s, const nfs_fh4 *dir, const char *owner, const char *name, uint32_t access, uint32_t deny,
	    bool create, stateid4 *sid, nfs_fh4 *fh)
{
	uint8_t buf[16];
	fattr4 attrs;
	v4_sattr_mode(&attrs, buf, 0666, false, 0);
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, dir);
	v4_open_args(s, owner, name, access, deny, create, &attrs);
	v4_add(s, OP_GETFH);
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st != NFS4_OK)
		return st;
	*sid = s->res.resarray.resarray_val[2].nfs_resop4_u.opopen.OPEN4res_u.resok4.stateid;
	if (fh)
		v4_fh_copy(fh, fh_of(s, 3));
	return 0;
}

int v4_io(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, bool write, uint64_t off, void *data, u_int len)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	if (write) {
		WRITE4args *w = &v4_add(s, OP_WRITE)->nfs_argop4_u.opwrite;
		w->stateid = *sid;
		w->offset = off;
		w->stable = FILE_SYNC4;
		w->data.data_val = data;
		w->data.data_len = len;
	} else {
		READ4args *r = &v4_add(s, OP_READ)->nfs_argop4_u.opread;
		r->stateid = *sid;
		r->offset = off;
		r->count = len;
	}
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK && !write) {
		READ4resok *ok = &s->res.resarray.resarray_val[2].nfs_resop4_u.opread.READ4res_u.resok4;
		if (ok->data.data_len != len)
			return -2;
		if (len)
			memcpy(data, ok->data.data_val, len);
	}
	return st;
}

int v4_reclaim_open(struct v4 *s, const nfs_fh4 *fh, const char *owner, uint32_t access, uint32_t deny, stateid4 *sid)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	OPEN4args *o = &v4_add(s, OP_OPEN)->nfs_argop4_u.opopen;
	o->share_access = access;
	o->share_deny = deny;
	o->owner.clientid = s->clientid;
	o->owner.owner.owner_val = (char *)owner;
	o->owner.owner.owner_len = (u_int)strlen(owner);
	o->openhow.opentype = OPEN4_NOCREATE;
	o->claim.claim = CLAIM_PREVIOUS;
	o->claim.open_claim4_u.delegate_type = OPEN_DELEGATE_NONE;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK && sid)
		*sid = s->res.resarray.resarray_val[2].nfs_resop4_u.opopen.OPEN4res_u.resok4.stateid;
	return st;
}

int v4_close_file(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	CLOSE4args *c = &v4_add(s, OP_CLOSE)->nfs_argop4_u.opclose;
	c->open_stateid = *sid;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	return v4_status(s, 2);
}

int v4_attrs_of(struct v4 *s, const nfs_fh4 *fh, struct v4_attrs *a)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	v4_getattr(s);
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	if (v4_status(s, 2) != NFS4_OK)
		return v4_status(s, 2);
	return v4_decode_attrs(
	    &s->res.resarray.resarray_val[2].nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes, a);
}

TEST(null_and_minor_versions)
{
	struct gateway *g = v4_gateway();
	REQUIRE(g);
	struct v4 s = {0};
	s.cl = v4_connect(g->nfs_port, 1000, 1000, false);
	REQUIRE(s.cl);
	struct timeval tv = {10, 0};
	CHECK_EQ(clnt_call(s.cl, NFSPROC4_NULL, (xdrproc_t)xdr_void, NULL, (xdrproc_t)xdr_void, NULL, tv), RPC_SUCCESS);

	v4_begin(&s);
	v4_add(&s, OP_PUTROOTFH);
	REQUIRE_EQ(v4_send_minor(&s, 0), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_MINOR_VERS_MISMATCH);
	CHECK_EQ(s.res.resarray.resarray_len, 0);
	REQUIRE_EQ(v4_send_minor(&s, 3), RPC_SUCCESS);
	CHECK_EQ(s.res.status, NFS4ERR_MINOR_VERS_MISMATCH);
	/* 4.1 and 4.2 are served, but only inside a session */
	for (uint32_t minor = 1; minor <= 2; minor++) {
		REQUIRE_EQ(v4_send_minor(&s, minor), RPC_SUCCESS);
		CHECK_EQ(s.res.status, NFS4ERR_OP_NOT_IN_SESSION);
		CHECK_EQ(v4_status(&s, 0), NFS4ERR_OP_NOT_IN_SESSION);
	}
	v4_close(&s);
}

/* NFSv4 is served unless nfs4 = off; then a v4 call is PROG_MISMATCH
 * (3..3), so that clients fall back to v3. */
TEST(on_by_default_off_when_set)
{
	const char *const conf[2] = {"/hf 127.0.0.1(rw,insecure)\n", "nfs4 = off\n/hf 127.0.0.1(rw,insecure)\n"};
	for (int off = 0; off < 2; off++) {
		struct gateway plain;
		REQUIRE(gw_start(&plain, conf[off]) == 0);
		CLIENT *cl = v4_connect(plain.nfs_port, 0, 0, false);
		CHECK(cl != NULL);
		if (cl) {
			struct timeval tv = {10, 0};
			enum clnt_stat st =
			    clnt_call(cl, NFSPROC4_NULL, (xdrproc_t)xdr_void, NULL, (xdrproc_t)xdr_void, NULL, tv);
			if (off) {
				struct rpc_err err;
				clnt_geterr(cl, &err);
				CHECK_EQ(st, RPC_PROGVERSMISMATCH);
				CHECK_EQ(err.re_vers.low, 3);
				CHECK_EQ(err.re_vers.high, 3);
			} else {
				CHECK_EQ(st, RPC_SUCCESS);
			}
			auth_destroy(cl->cl_auth);
			cl->cl_auth = NULL;
			clnt_destroy(cl);
		}
		CHECK_EQ(gw_stop(&plain), 0);
	}
}

TEST(session_rules)
{
	struct v4 s;
	REQUIRE(v4_root_session(&s, "rules") == 0);

	/* CREATE_SESSION: the same sequence again is a replay of the first */
	sessionid4 first;
	memcpy(first, s.sessionid, sizeof(first));
	v4_begin(&s);
	CREATE_SESSION4args *cs = &v4_add(&s, OP_CREATE_SESSION)->nfs_argop4_u.opcreate_session;
	cs->csa_clientid = s.clientid;
	cs->csa_sequence = s.cs_seq;
	cs->csa_fore_chan_attrs = (channel_attrs4){0, 1 << 20, 1 << 20, 8192, 16, 8, {0, NULL}};
	cs->csa_back_chan_attrs = (channel_attrs4){0, 4096, 4096, 0, 2, 1, {0, NULL}};
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 0), NFS4_OK);
	CHECK(memcmp(s.res.resarray.resarray_val[0]
			 .nfs_resop4_u.opcreate_session.CREATE_SESSION4res_u.csr_resok4.csr_sessionid,
		     first, sizeof(first)) == 0);
	cs->csa_sequence = s.cs_seq + 5;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_SEQ_MISORDERED);
	cs->csa_clientid = s.clientid + 999;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_STALE_CLIENTID);

	/* a session op must be alone; SEQUENCE must come first */
	v4_begin(&s);
	v4_add(&s, OP_DESTROY_CLIENTID)->nfs_argop4_u.opdestroy_clientid.dca_clientid = s.clientid;
	v4_add(&s, OP_PUTROOTFH);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_NOT_ONLY_OP);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_seq(&s, 1);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	CHECK_EQ(v4_status(&s, 1), NFS4ERR_SEQUENCE_POS);
	CHECK_EQ(s.res.resarray.resarray_len, 2);

	/* bad session, bad slot */
	v4_begin(&s);
	v4_seq(&s, 0);
	s.ops[0].nfs_argop4_u.opsequence.sa_sessionid[3] ^= 1;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_BADSESSION);
	s.slot_seq[0]--;
	v4_begin(&s);
	v4_seq(&s, 0);
	s.ops[0].nfs_argop4_u.opsequence.sa_slotid = 1000;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_BADSLOT);
	s.slot_seq[0]--;

	/* DESTROY_CLIENTID while a session lives; then in order */
	v4_begin(&s);
	v4_add(&s, OP_DESTROY_CLIENTID)->nfs_argop4_u.opdestroy_clientid.dca_clientid = s.clientid;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_CLIENTID_BUSY);
	v4_begin(&s);
	memcpy(v4_add(&s, OP_DESTROY_SESSION)->nfs_argop4_u.opdestroy_session.dsa_sessionid, s.sessionid,
	       sizeof(s.sessionid));
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	v4_begin(&s);
	v4_seq(&s, 0);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_BADSESSION);
	v4_begin(&s);
	v4_add(&s, OP_DESTROY_CLIENTID)->nfs_argop4_u.opdestroy_clientid.dca_clientid = s.clientid;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	v4_close(&s);
}

/* A retransmission on a slot gets the first reply from the slot's cache;
 * the operation does not run twice. */
TEST(slot_replay_is_cached)
{
	struct v4 s;
	nfs_fh4 hf;
	REQUIRE(v4_root_session(&s, "replay") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);

	v4_begin(&s);
	v4_seq(&s, 2);
	v4_putfh(&s, &hf);
	CREATE4args *c = &v4_add(&s, OP_CREATE)->nfs_argop4_u.opcreate;
	c->objtype.type = NF4DIR;
	c->objname.utf8string_val = "once";
	c->objname.utf8string_len = 4;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
	changeid4 after = s.res.resarray.resarray_val[2].nfs_resop4_u.opcreate.CREATE4res_u.resok4.cinfo.after;

	/* the same request again, same slot and sequence id */
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4_OK);
	REQUIRE_EQ(v4_status(&s, 2), NFS4_OK); /* a second mkdir would be EXIST */
	CHECK_EQ(s.res.resarray.resarray_val[2].nfs_resop4_u.opcreate.CREATE4res_u.resok4.cinfo.after, after);

	/* the next sequence id runs it again: now it exists */
	s.ops[0].nfs_argop4_u.opsequence.sa_sequenceid = ++s.slot_seq[2];
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4ERR_EXIST);

	/* skipping ahead or going back is misordered */
	s.ops[0].nfs_argop4_u.opsequence.sa_sequenceid = s.slot_seq[2] + 2;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_SEQ_MISORDERED);
	CHECK_EQ(s.res.resarray.resarray_len, 1);
	s.ops[0].nfs_argop4_u.opsequence.sa_sequenceid = s.slot_seq[2] - 1;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 0), NFS4ERR_SEQ_MISORDERED);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

TEST(pseudo_fs)
{
	struct v4 s;
	REQUIRE(v4_root_session(&s, "pseudo") == 0);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_PUTROOTFH);
	v4_getattr(&s);
	v4_lookup(&s, "hf");
	v4_getattr(&s);
	v4_add(&s, OP_LOOKUPP);
	v4_add(&s, OP_GETFH);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(s.res.status, NFS4_OK);
	struct v4_attrs root, hf;
	REQUIRE(
	    v4_decode_attrs(&s.res.resarray.resarray_val[2].nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes,
			    &root) == 0);
	REQUIRE(
	    v4_decode_attrs(&s.res.resarray.resarray_val[4].nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes,
			    &hf) == 0);
	CHECK_EQ(root.type, NF4DIR);
	CHECK_EQ(hf.type, NF4DIR);
	/* an export is a file system of its own, mounted on a pseudo dir */
	CHECK(root.fsid.major != hf.fsid.major || root.fsid.minor != hf.fsid.minor);
	CHECK(hf.mounted_on_fileid != hf.fileid);
	CHECK_EQ(fh_of(&s, 6)->nfs_fh4_len, 16); /* LOOKUPP came back to the pseudo root */

	/* the listing shows the exports this client may use */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_PUTROOTFH);
	READDIR4args *rd = &v4_add(&s, OP_READDIR)->nfs_argop4_u.opreaddir;
	rd->maxcount = 8192;
	rd->dircount = 8192;
	rd->attr_request.bitmap4_val = (uint32_t *)v4_attr_request;
	rd->attr_request.bitmap4_len = 2;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
	int seen_hf = 0, seen_only2 = 0, n = 0;
	for (entry4 *e = s.res.resarray.resarray_val[2].nfs_resop4_u.opreaddir.READDIR4res_u.resok4.reply.entries; e;
	     e = e->nextentry, n++) {
		struct v4_attrs a;
		CHECK(v4_decode_attrs(&e->attrs, &a) == 0);
		if (e->name.utf8string_len == 2 && !memcmp(e->name.utf8string_val, "hf", 2)) {
			seen_hf = 1;
			CHECK_EQ(a.fileid, hf.fileid);
			CHECK_EQ(a.mounted_on_fileid, hf.mounted_on_fileid);
		}
		if (e->name.utf8string_len == 5 && !memcmp(e->name.utf8string_val, "only2", 5))
			seen_only2 = 1;
	}
	CHECK(seen_hf);
	CHECK(!seen_only2);
	CHECK_EQ(n, 4); /* hf sq ro sec */

	/* the pseudo fs is read-only; an export for another client is absent */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_PUTROOTFH);
	v4_lookup(&s, "only2");
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4ERR_NOENT);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_PUTROOTFH);
	REMOVE4args *rm = &v4_add(&s, OP_REMOVE)->nfs_argop4_u.opremove;
	rm->target.utf8string_val = "hf";
	rm->target.utf8string_len = 2;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4ERR_ROFS);
	v4_close(&s);
}

TEST(file_round_trip)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE(v4_root_session(&s, "files") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "rt", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	static uint8_t data[100000], back[100000];
	tl_fill_random(data, sizeof(data), 7);
	CHECK_EQ(v4_io(&s, &f, &sid, true, 0, data, sizeof(data)), NFS4_OK);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &f);
	v4_add(&s, OP_COMMIT);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4_OK);
	CHECK_EQ(v4_io(&s, &f, &sid, false, 0, back, sizeof(back)), NFS4_OK);
	CHECK(memcmp(data, back, sizeof(data)) == 0);
	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);

	struct v4_attrs a;
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_EQ(a.size, sizeof(data));
	CHECK_EQ(a.type, NF4REG);
	CHECK_STR(a.owner, "0");
	CHECK_EQ(a.mode, 0666);

	/* SETATTR mode, then VERIFY / NVERIFY of it */
	uint8_t buf[16];
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &f);
	SETATTR4args *sa = &v4_add(&s, OP_SETATTR)->nfs_argop4_u.opsetattr;
	v4_sattr_mode(&sa->obj_attributes, buf, 0600, false, 0);
	v4_add(&s, OP_VERIFY)->nfs_argop4_u.opverify.obj_attributes = sa->obj_attributes;
	v4_add(&s, OP_NVERIFY)->nfs_argop4_u.opnverify.obj_attributes = sa->obj_attributes;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4_OK);
	CHECK_EQ(v4_status(&s, 3), NFS4_OK);
	CHECK_EQ(v4_status(&s, 4), NFS4ERR_SAME);

	/* RENAME rt -> rt2, LINK rt2 -> rt3 (two links), REMOVE rt3 */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &hf);
	v4_add(&s, OP_SAVEFH);
	RENAME4args *rn = &v4_add(&s, OP_RENAME)->nfs_argop4_u.oprename;
	rn->oldname.utf8string_val = "rt";
	rn->oldname.utf8string_len = 2;
	rn->newname.utf8string_val = "rt2";
	rn->newname.utf8string_len = 3;
	v4_putfh(&s, &f);
	v4_add(&s, OP_SAVEFH);
	v4_putfh(&s, &hf);
	LINK4args *ln = &v4_add(&s, OP_LINK)->nfs_argop4_u.oplink;
	ln->newname.utf8string_val = "rt3";
	ln->newname.utf8string_len = 3;
	v4_add(&s, OP_RESTOREFH);
	v4_getattr(&s);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(s.res.status, NFS4_OK);
	struct v4_attrs linked;
	REQUIRE(
	    v4_decode_attrs(&s.res.resarray.resarray_val[9].nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes,
			    &linked) == 0);
	CHECK_EQ(linked.numlinks, 2);
	RENAME4resok *rok = &s.res.resarray.resarray_val[3].nfs_resop4_u.oprename.RENAME4res_u.resok4;
	CHECK(rok->source_cinfo.after != rok->source_cinfo.before);

	/* symlink and READLINK; names the protocol refuses */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &hf);
	CREATE4args *cr = &v4_add(&s, OP_CREATE)->nfs_argop4_u.opcreate;
	cr->objtype.type = NF4LNK;
	cr->objtype.createtype4_u.linkdata.linktext4_val = "rt2";
	cr->objtype.createtype4_u.linkdata.linktext4_len = 3;
	cr->objname.utf8string_val = "sl";
	cr->objname.utf8string_len = 2;
	v4_add(&s, OP_READLINK);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 3), NFS4_OK);
	READLINK4resok *rl = &s.res.resarray.resarray_val[3].nfs_resop4_u.opreadlink.READLINK4res_u.resok4;
	CHECK(rl->link.linktext4_len == 3 && memcmp(rl->link.linktext4_val, "rt2", 3) == 0);
	const char *bad[] = {".", "..", "a/b", ""};
	const int want[] = {NFS4ERR_BADNAME, NFS4ERR_BADNAME, NFS4ERR_BADNAME, NFS4ERR_INVAL};
	for (int i = 0; i < 4; i++) {
		v4_begin(&s);
		v4_seq(&s, 0);
		v4_putfh(&s, &hf);
		v4_lookup(&s, bad[i]);
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		CHECK_EQ(v4_status(&s, 2), want[i]);
	}
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &hf);
	REMOVE4args *rm = &v4_add(&s, OP_REMOVE)->nfs_argop4_u.opremove;
	rm->target.utf8string_val = "rt3";
	rm->target.utf8string_len = 3;
	v4_add(&s, OP_REMOVE)->nfs_argop4_u.opremove = *rm;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4_OK);
	CHECK_EQ(v4_status(&s, 3), NFS4ERR_NOENT);
	CHECK_EQ(s.res.resarray.resarray_len, 4); /* stopped at the failure */
	/* no current filehandle */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_add(&s, OP_GETFH);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 1), NFS4ERR_NOFILEHANDLE);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

TEST(exclusive_create)
{
	struct v4 s;
	nfs_fh4 hf;
	REQUIRE(v4_root_session(&s, "excl") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	uint64_t fileid = 0;
	const char *verfs[] = {"verf0001", "verf0001", "verf0002"};
	for (int i = 0; i < 3; i++) {
		uint8_t buf[16];
		fattr4 attrs;
		v4_sattr_mode(&attrs, buf, 0640, false, 0);
		v4_begin(&s);
		v4_seq(&s, 0);
		v4_putfh(&s, &hf);
		v4_open_args(&s, "ex", "excl", OPEN4_SHARE_ACCESS_WRITE, 0, true, &attrs);
		createhow4 *how = &s.ops[2].nfs_argop4_u.opopen.openhow.openflag4_u.how;
		how->mode = EXCLUSIVE4_1;
		memcpy(how->createhow4_u.ch_createboth.cva_verf, verfs[i], 8);
		how->createhow4_u.ch_createboth.cva_attrs = attrs;
		v4_getattr(&s);
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		if (i < 2) {
			REQUIRE_EQ(v4_status(&s, 3), NFS4_OK);
			struct v4_attrs a;
			REQUIRE(v4_decode_attrs(&s.res.resarray.resarray_val[3]
						     .nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes,
						&a) == 0);
			CHECK_EQ(a.mode, 0640);
			if (i == 0)
				fileid = a.fileid;
			CHECK_EQ(a.fileid, fileid); /* a retry with the same verifier */
		} else
			CHECK_EQ(v4_status(&s, 2), NFS4ERR_EXIST);
	}
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

TEST(stateids)
{
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 sid, sid2;
	uint8_t byte = 'x';
	REQUIRE(v4_root_session(&a, "stateid-a") == 0);
	REQUIRE(v4_root_session(&b, "stateid-b") == 0);
	REQUIRE(v4_export_fh(&a, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&a, &hf, "o", "st", OPEN4_SHARE_ACCESS_READ, 0, true, &sid, &f), 0);
	CHECK_EQ(v4_io(&a, &f, &sid, false, 0, &byte, 0), NFS4_OK);
	/* a read-only open does not allow WRITE */
	CHECK_EQ(v4_io(&a, &f, &sid, true, 0, &byte, 1), NFS4ERR_OPENMODE);

	stateid4 forged = sid;
	forged.other[7] ^= 0x40;
	CHECK_EQ(v4_io(&a, &f, &forged, false, 0, &byte, 0), NFS4ERR_BAD_STATEID);
	/* another client's stateid is not valid for this one */
	CHECK_EQ(v4_io(&b, &f, &sid, false, 0, &byte, 0), NFS4ERR_BAD_STATEID);

	/* the same owner opening again upgrades: the old seqid is old */
	REQUIRE_EQ(v4_open(&a, &hf, "o", "st", OPEN4_SHARE_ACCESS_BOTH, 0, false, &sid2, NULL), 0);
	CHECK(memcmp(sid2.other, sid.other, sizeof(sid.other)) == 0);
	CHECK_EQ(sid2.seqid, sid.seqid + 1);
	CHECK_EQ(v4_io(&a, &f, &sid, false, 0, &byte, 0), NFS4ERR_OLD_STATEID);
	CHECK_EQ(v4_io(&a, &f, &sid2, true, 0, &byte, 1), NFS4_OK);

	v4_begin(&a);
	v4_seq(&a, 0);
	TEST_STATEID4args *t = &v4_add(&a, OP_TEST_STATEID)->nfs_argop4_u.optest_stateid;
	stateid4 list[2] = {sid2, forged};
	t->ts_stateids.ts_stateids_val = list;
	t->ts_stateids.ts_stateids_len = 2;
	v4_add(&a, OP_FREE_STATEID)->nfs_argop4_u.opfree_stateid.fsa_stateid = sid2;
	REQUIRE_EQ(v4_send(&a), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&a, 1), NFS4_OK);
	TEST_STATEID4resok *tr =
	    &a.res.resarray.resarray_val[1].nfs_resop4_u.optest_stateid.TEST_STATEID4res_u.tsr_resok4;
	REQUIRE_EQ(tr->tsr_status_codes.tsr_status_codes_len, 2);
	CHECK_EQ(tr->tsr_status_codes.tsr_status_codes_val[0], NFS4_OK);
	CHECK_EQ(tr->tsr_status_codes.tsr_status_codes_val[1], NFS4ERR_BAD_STATEID);
	CHECK_EQ(v4_status(&a, 2), NFS4ERR_LOCKS_HELD);

	CHECK_EQ(v4_close_file(&a, &f, &sid2), NFS4_OK);
	CHECK_EQ(v4_io(&a, &f, &sid2, false, 0, &byte, 0), NFS4ERR_BAD_STATEID);
	CHECK_EQ(v4_close_file(&a, &f, &sid2), NFS4ERR_BAD_STATEID);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

TEST(share_reservations)
{
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 sa, sb;
	REQUIRE(v4_root_session(&a, "share-a") == 0);
	REQUIRE(v4_root_session(&b, "share-b") == 0);
	REQUIRE(v4_export_fh(&a, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "shared", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_WRITE, true, &sa, &f), 0);
	CHECK_EQ(v4_open(&b, &hf, "ob", "shared", OPEN4_SHARE_ACCESS_WRITE, 0, false, &sb, NULL), NFS4ERR_SHARE_DENIED);
	CHECK_EQ(v4_open(&b, &hf, "ob", "shared", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_READ, false, &sb, NULL),
		 NFS4ERR_SHARE_DENIED);
	REQUIRE_EQ(v4_open(&b, &hf, "ob", "shared", OPEN4_SHARE_ACCESS_READ, 0, false, &sb, NULL), 0);
	CHECK_EQ(v4_close_file(&a, &f, &sa), NFS4_OK);
	stateid4 sb2;
	CHECK_EQ(v4_open(&b, &hf, "ob", "shared", OPEN4_SHARE_ACCESS_WRITE, 0, false, &sb2, NULL), 0);
	/* OPEN_DOWNGRADE to read-only, then WRITE is refused */
	v4_begin(&b);
	v4_seq(&b, 0);
	v4_putfh(&b, &f);
	OPEN_DOWNGRADE4args *d = &v4_add(&b, OP_OPEN_DOWNGRADE)->nfs_argop4_u.opopen_downgrade;
	d->open_stateid = sb2;
	d->share_access = OPEN4_SHARE_ACCESS_READ;
	REQUIRE_EQ(v4_send(&b), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&b, 2), NFS4_OK);
	stateid4 sb3 =
	    b.res.resarray.resarray_val[2].nfs_resop4_u.opopen_downgrade.OPEN_DOWNGRADE4res_u.resok4.open_stateid;
	uint8_t byte = 'y';
	CHECK_EQ(v4_io(&b, &f, &sb3, true, 0, &byte, 1), NFS4ERR_OPENMODE);
	CHECK_EQ(v4_close_file(&b, &f, &sb3), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

/* The export rules of NFSv3 hold for v4: squashing, read-only, secure
 * port, and the permissions of an unprivileged user. */
TEST(export_rules)
{
	struct gateway *g = v4_gateway();
	struct v4 root, user;
	nfs_fh4 sq, ro, hf, f;
	stateid4 sid;
	REQUIRE(g);
	REQUIRE(v4_root_session(&root, "rules-root") == 0);
	REQUIRE(v4_open_session(&user, g->nfs_port, 1000, 1000, "rules-user") == 0);

	/* root on a root_squash export creates files as anonuid */
	REQUIRE(v4_export_fh(&root, "sq", &sq) == 0);
	REQUIRE_EQ(v4_open(&root, &sq, "o", "squashed", OPEN4_SHARE_ACCESS_WRITE, 0, true, &sid, &f), 0);
	struct v4_attrs a;
	REQUIRE_EQ(v4_attrs_of(&root, &f, &a), 0);
	CHECK_STR(a.owner, "4242");
	CHECK_STR(a.group, "4243");
	free(f.nfs_fh4_val);

	/* read-only export */
	REQUIRE(v4_export_fh(&root, "ro", &ro) == 0);
	CHECK_EQ(v4_open(&root, &ro, "o", "nope", OPEN4_SHARE_ACCESS_WRITE, 0, true, &sid, NULL), NFS4ERR_ROFS);

	/* uid 1000 in a directory of root's, mode 0755 */
	REQUIRE(v4_export_fh(&root, "hf", &hf) == 0);
	v4_begin(&root);
	v4_seq(&root, 0);
	v4_putfh(&root, &hf);
	CREATE4args *c = &v4_add(&root, OP_CREATE)->nfs_argop4_u.opcreate;
	uint8_t buf[16];
	c->objtype.type = NF4DIR;
	c->objname.utf8string_val = "rootonly";
	c->objname.utf8string_len = 8;
	v4_sattr_mode(&c->createattrs, buf, 0755, false, 0);
	v4_add(&root, OP_GETFH);
	REQUIRE_EQ(v4_send(&root), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&root, 3), NFS4_OK);
	nfs_fh4 dir;
	v4_fh_copy(&dir, fh_of(&root, 3));
	CHECK_EQ(v4_open(&user, &dir, "u", "mine", OPEN4_SHARE_ACCESS_WRITE, 0, true, &sid, NULL), NFS4ERR_ACCESS);
	v4_begin(&user);
	v4_seq(&user, 0);
	v4_putfh(&user, &dir);
	v4_add(&user, OP_ACCESS)->nfs_argop4_u.opaccess.access = ACCESS4_READ | ACCESS4_MODIFY | ACCESS4_LOOKUP;
	REQUIRE_EQ(v4_send(&user), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&user, 2), NFS4_OK);
	ACCESS4resok *ar = &user.res.resarray.resarray_val[2].nfs_resop4_u.opaccess.ACCESS4res_u.resok4;
	CHECK_EQ(ar->access, ACCESS4_READ | ACCESS4_LOOKUP);

	/* secure export from an unprivileged port */
	v4_begin(&user);
	v4_seq(&user, 0);
	v4_add(&user, OP_PUTROOTFH);
	v4_lookup(&user, "sec");
	REQUIRE_EQ(v4_send(&user), RPC_SUCCESS);
	CHECK_EQ(v4_status(&user, 2), NFS4ERR_ACCESS);
	free(dir.nfs_fh4_val);
	free(sq.nfs_fh4_val);
	free(ro.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&root);
	v4_close(&user);
}

TEST(readdir_pages)
{
	struct v4 s;
	nfs_fh4 hf, dir;
	REQUIRE(v4_root_session(&s, "readdir") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &hf);
	CREATE4args *c = &v4_add(&s, OP_CREATE)->nfs_argop4_u.opcreate;
	c->objtype.type = NF4DIR;
	c->objname.utf8string_val = "many";
	c->objname.utf8string_len = 4;
	v4_add(&s, OP_GETFH);
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	REQUIRE_EQ(v4_status(&s, 3), NFS4_OK);
	v4_fh_copy(&dir, fh_of(&s, 3));
	char names[60][8];
	for (int i = 0; i < 60; i++) {
		snprintf(names[i], sizeof(names[i]), "e%02d", i);
		v4_begin(&s);
		v4_seq(&s, 0);
		v4_putfh(&s, &dir);
		CREATE4args *e = &v4_add(&s, OP_CREATE)->nfs_argop4_u.opcreate;
		e->objtype.type = NF4DIR;
		e->objname.utf8string_val = names[i];
		e->objname.utf8string_len = 3;
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
	}
	/* small pages: every name exactly once, cookies resume */
	int seen[60] = {0}, total = 0, pages = 0;
	nfs_cookie4 cookie = 0;
	verifier4 verf = {0};
	bool_t eof = FALSE;
	while (!eof && pages < 100) {
		v4_begin(&s);
		v4_seq(&s, 0);
		v4_putfh(&s, &dir);
		READDIR4args *rd = &v4_add(&s, OP_READDIR)->nfs_argop4_u.opreaddir;
		rd->cookie = cookie;
		memcpy(rd->cookieverf, verf, sizeof(verf));
		rd->maxcount = 1024;
		rd->dircount = 1024;
		rd->attr_request.bitmap4_val = (uint32_t *)v4_attr_request;
		rd->attr_request.bitmap4_len = 2;
		REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
		REQUIRE_EQ(v4_status(&s, 2), NFS4_OK);
		READDIR4resok *ok = &s.res.resarray.resarray_val[2].nfs_resop4_u.opreaddir.READDIR4res_u.resok4;
		memcpy(verf, ok->cookieverf, sizeof(verf));
		for (entry4 *e = ok->reply.entries; e; e = e->nextentry) {
			char name[8] = "";
			if (e->name.utf8string_len < sizeof(name))
				memcpy(name, e->name.utf8string_val, e->name.utf8string_len);
			int i = name[0] == 'e' ? atoi(name + 1) : -1;
			CHECK(i >= 0 && i < 60);
			if (i >= 0 && i < 60)
				seen[i]++;
			cookie = e->cookie;
			total++;
		}
		eof = ok->reply.eof;
		pages++;
	}
	CHECK_EQ(total, 60);
	CHECK(pages > 2);
	for (int i = 0; i < 60; i++)
		CHECK_EQ(seen[i], 1);
	/* too small for one entry */
	v4_begin(&s);
	v4_seq(&s, 0);
	v4_putfh(&s, &dir);
	READDIR4args *rd = &v4_add(&s, OP_READDIR)->nfs_argop4_u.opreaddir;
	rd->maxcount = 30;
	rd->attr_request.bitmap4_val = (uint32_t *)v4_attr_request;
	rd->attr_request.bitmap4_len = 2;
	REQUIRE_EQ(v4_send(&s), RPC_SUCCESS);
	CHECK_EQ(v4_status(&s, 2), NFS4ERR_TOOSMALL);
	free(dir.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}

static int reclaim_complete(struct v4 *s)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_add(s, OP_RECLAIM_COMPLETE)->nfs_argop4_u.opreclaim_complete.rca_one_fs = false;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	return v4_status(s, 1);
}

/* In the grace period (the first lease after a start; 30 s here) a client
 * may reclaim until its own RECLAIM_COMPLETE, and not after it (RFC 8881
 * section 18.51.3), while another client still may. */
TEST(reclaim_ends_with_reclaim_complete)
{
	struct gateway fresh;
	REQUIRE(gw_start(&fresh, "nfs4 = on\nnfs4_lease_time = 30\n/hf 127.0.0.1(rw,insecure,no_root_squash)\n") == 0);
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 sid;
	int ok = v4_open_session(&a, fresh.nfs_port, 0, 0, "grace-a") == 0 &&
		 v4_open_session(&b, fresh.nfs_port, 0, 0, "grace-b") == 0 && v4_export_fh(&a, "hf", &hf) == 0 &&
		 v4_open(&a, &hf, "oa", "graced", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f) == 0;
	CHECK(ok);
	if (ok) {
		CHECK_EQ(v4_reclaim_open(&a, &f, "oa", OPEN4_SHARE_ACCESS_READ, 0, NULL), NFS4_OK);
		CHECK_EQ(reclaim_complete(&a), NFS4_OK);
		CHECK_EQ(v4_reclaim_open(&a, &f, "oa", OPEN4_SHARE_ACCESS_READ, 0, NULL), NFS4ERR_NO_GRACE);
		CHECK_EQ(reclaim_complete(&a), NFS4ERR_COMPLETE_ALREADY);
		CHECK_EQ(v4_reclaim_open(&b, &f, "ob", OPEN4_SHARE_ACCESS_READ, 0, NULL),
			 NFS4_OK); /* b has not completed */
		free(f.nfs_fh4_val);
		free(hf.nfs_fh4_val);
	}
	v4_close(&a);
	v4_close(&b);
	CHECK_EQ(gw_stop(&fresh), 0);
}

/* A client silent for two leases loses its opens to a client that needs
 * the file, and then its session (nfs4_lease_time = 1). */
TEST(expired_lease_yields)
{
	struct gateway short_lease;
	REQUIRE(gw_start(&short_lease, "nfs4 = on\nnfs4_lease_time = 1\n/hf 127.0.0.1(rw,insecure,no_root_squash)\n") ==
		0);
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 sa, sb;
	int ok = v4_open_session(&a, short_lease.nfs_port, 0, 0, "lease-a") == 0 &&
		 v4_open_session(&b, short_lease.nfs_port, 0, 0, "lease-b") == 0 && v4_export_fh(&a, "hf", &hf) == 0;
	CHECK(ok);
	if (ok) {
		REQUIRE_EQ(
		    v4_open(&a, &hf, "oa", "leased", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_WRITE, true, &sa, &f),
		    0);
		CHECK_EQ(v4_open(&b, &hf, "ob", "leased", OPEN4_SHARE_ACCESS_WRITE, 0, false, &sb, NULL),
			 NFS4ERR_SHARE_DENIED);
		/* b keeps renewing; a stays silent past two leases */
		for (int i = 0; i < 5; i++) {
			usleep(600 * 1000);
			v4_begin(&b);
			v4_seq(&b, 0);
			CHECK_EQ(v4_send(&b), RPC_SUCCESS);
			CHECK_EQ(v4_status(&b, 0), NFS4_OK);
		}
		CHECK_EQ(v4_open(&b, &hf, "ob", "leased", OPEN4_SHARE_ACCESS_WRITE, 0, false, &sb, NULL), 0);
		v4_begin(&a);
		v4_seq(&a, 0);
		CHECK_EQ(v4_send(&a), RPC_SUCCESS);
		CHECK_EQ(v4_status(&a, 0), NFS4ERR_BADSESSION);
		free(f.nfs_fh4_val);
		free(hf.nfs_fh4_val);
	}
	v4_close(&a);
	v4_close(&b);
	CHECK_EQ(gw_stop(&short_lease), 0);
}

TEST(gateway_stops_cleanly)
{
	if (gw_state != 1)
		return;
	gw_state = 0;
	int sanitizer = gw_log_count(&gw, "Sanitizer") + gw_log_count(&gw, "runtime error");
	if (sanitizer)
		gw_print_log(&gw);
	CHECK_EQ(sanitizer, 0);
	CHECK_EQ(gw_stop(&gw), 0);
}

TEST_MAIN()
