/*
 * nfs4_session.c - the NFSv4.1 operations on clients, sessions and bare
 * stateids (RFC 8881 sections 2.10 and 18): EXCHANGE_ID, CREATE_SESSION,
 * DESTROY_SESSION, DESTROY_CLIENTID, BIND_CONN_TO_SESSION, SEQUENCE,
 * RECLAIM_COMPLETE, SECINFO, SECINFO_NO_NAME, TEST_STATEID, FREE_STATEID
 * and DELEGRETURN.  The state itself is behind nfs4_state.h.
 *
 * The backchannel is the fore connection (RFC 8881 section 2.10.3.1):
 * CREATE_SESSION with CONN_BACK_CHAN, BIND_CONN_TO_SESSION with BACK or
 * BOTH, and BACKCHANNEL_CTL hand the connection and the client's callback
 * program and security to nfs4_callback.c, which sends CB_NOTIFY_LOCK.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"
#include "server.h"

#define MAX_SLOTS 64
#define MAX_CACHED_REPLY (64u << 10)
#define MAX_COMPOUND_BYTES (NFS4_MAX_IO + (64u << 10))

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

NFS4_HANDLER(nfs4_op_exchange_id)
{
	EXCHANGE_ID4args *a = args;
	EXCHANGE_ID4res *r = res;
	EXCHANGE_ID4resok *ok = &r->EXCHANGE_ID4res_u.eir_resok4;
	struct nfs4_client_info info;
	const char *scope = c->call->server->vol->uuid;

	if (a->eia_state_protect.spa_how == SP4_SSV)
		return NFS4ERR_ENCR_ALG_UNSUPP;
	nfsstat4 st = nfs4_client_exchange(c->nfs4->state, a->eia_clientowner.co_ownerid.co_ownerid_val,
					   a->eia_clientowner.co_ownerid.co_ownerid_len,
					   (const uint8_t *)a->eia_clientowner.co_verifier, &info);
	if (st != NFS4_OK)
		return st;
	nfs4_release_client_locks(c, info.dropped_key);
	nfs4_release_expired(c);
	if ((a->eia_flags & EXCHGID4_FLAG_UPD_CONFIRMED_REC_A) && !info.confirmed)
		return NFS4ERR_NOENT;
	ok->eir_server_owner.so_major_id.so_major_id_val = malloc(sizeof(c->nfs4->server_id));
	ok->eir_server_scope.eir_server_scope_val = malloc(strlen(scope) + 1);
	if (!ok->eir_server_owner.so_major_id.so_major_id_val || !ok->eir_server_scope.eir_server_scope_val) {
		free(ok->eir_server_owner.so_major_id.so_major_id_val);
		free(ok->eir_server_scope.eir_server_scope_val);
		memset(ok, 0, sizeof(*ok));
		return NFS4ERR_DELAY;
	}
	ok->eir_clientid = info.clientid;
	ok->eir_sequenceid = info.sequence;
	ok->eir_flags = EXCHGID4_FLAG_USE_NON_PNFS | (info.confirmed ? EXCHGID4_FLAG_CONFIRMED_R : 0);
	ok->eir_state_protect.spr_how = SP4_NONE;
	ok->eir_server_owner.so_minor_id = 0;
	/* This gateway's own identity: its state is its own until the state
	 * moves into Redis (docs/architecture/nfs4.md). */
	memcpy(ok->eir_server_owner.so_major_id.so_major_id_val, c->nfs4->server_id, sizeof(c->nfs4->server_id));
	ok->eir_server_owner.so_major_id.so_major_id_len = sizeof(c->nfs4->server_id);
	/* Handles of one volume are valid on every gateway of it. */
	memcpy(ok->eir_server_scope.eir_server_scope_val, scope, strlen(scope));
	ok->eir_server_scope.eir_server_scope_len = (u_int)strlen(scope);
	return NFS4_OK;
}

static void grant_channel(const channel_attrs4 *in, channel_attrs4 *out, bool fore)
{
	memset(out, 0, sizeof(*out));
	out->ca_headerpadsize = 0;
	out->ca_maxrequestsize = min_u32(in->ca_maxrequestsize, MAX_COMPOUND_BYTES);
	out->ca_maxresponsesize = min_u32(in->ca_maxresponsesize, MAX_COMPOUND_BYTES);
	out->ca_maxresponsesize_cached = min_u32(in->ca_maxresponsesize_cached, MAX_CACHED_REPLY);
	out->ca_maxoperations = min_u32(in->ca_maxoperations, NFS4_MAX_OPS);
	out->ca_maxrequests = fore ? min_u32(in->ca_maxrequests, MAX_SLOTS) : min_u32(in->ca_maxrequests, 1);
	if (out->ca_maxrequests == 0)
		out->ca_maxrequests = 1;
}

NFS4_HANDLER(nfs4_op_create_session)
{
	CREATE_SESSION4args *a = args;
	CREATE_SESSION4res *r = res;
	CREATE_SESSION4resok *ok = &r->CREATE_SESSION4res_u.csr_resok4;
	channel_attrs4 fore;
	struct nfs4_session_params in, out;

	grant_channel(&a->csa_fore_chan_attrs, &fore, true);
	if (fore.ca_maxoperations < 2 || fore.ca_maxrequestsize < 256 || fore.ca_maxresponsesize < 256)
		return NFS4ERR_TOOSMALL;
	in = (struct nfs4_session_params){fore.ca_maxrequests, fore.ca_maxrequestsize, fore.ca_maxresponsesize,
					  fore.ca_maxresponsesize_cached, fore.ca_maxoperations};
	nfsstat4 st = nfs4_session_create(c->nfs4->state, a->csa_clientid, a->csa_sequence, &in,
					  (uint8_t *)ok->csr_sessionid, &out);
	if (st != NFS4_OK)
		return st;
	ok->csr_sequence = a->csa_sequence;
	ok->csr_flags = 0; /* no persistence, no RDMA */
	if (a->csa_flags & CREATE_SESSION4_FLAG_CONN_BACK_CHAN) {
		bool bound = false;
		/* A backchannel that cannot be made (only RPCSEC_GSS offered,
		 * no memory) is simply not granted: the client polls. */
		if (nfs4_cb_bind(c, (const uint8_t *)ok->csr_sessionid, a->csa_clientid, true, a->csa_cb_program,
				 a->csa_sec_parms.csa_sec_parms_val, a->csa_sec_parms.csa_sec_parms_len,
				 &bound) == NFS4_OK &&
		    bound)
			ok->csr_flags |= CREATE_SESSION4_FLAG_CONN_BACK_CHAN;
	}
	fore.ca_maxrequests = out.slots;
	fore.ca_maxrequestsize = out.max_request;
	fore.ca_maxresponsesize = out.max_response;
	fore.ca_maxresponsesize_cached = out.max_response_cached;
	fore.ca_maxoperations = out.max_ops;
	ok->csr_fore_chan_attrs = fore;
	grant_channel(&a->csa_back_chan_attrs, &ok->csr_back_chan_attrs, false);
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_destroy_session)
{
	DESTROY_SESSION4args *a = args;
	(void)res;
	nfsstat4 st = nfs4_session_destroy(c->nfs4->state, (const uint8_t *)a->dsa_sessionid);
	if (st == NFS4_OK)
		nfs4_cb_forget(c->nfs4, (const uint8_t *)a->dsa_sessionid);
	return st;
}

NFS4_HANDLER(nfs4_op_destroy_clientid)
{
	DESTROY_CLIENTID4args *a = args;
	struct nfs4_lock_info *owners;
	size_t n;
	(void)res;
	nfsstat4 st = nfs4_client_destroy(c->nfs4->state, a->dca_clientid, &owners, &n);
	if (st == NFS4_OK)
		nfs4_release_owner_locks(c, owners, n);
	free(owners);
	return st;
}

NFS4_HANDLER(nfs4_op_bind_conn_to_session)
{
	BIND_CONN_TO_SESSION4args *a = args;
	BIND_CONN_TO_SESSION4res *r = res;
	nfsstat4 st = nfs4_session_check(c->nfs4->state, (const uint8_t *)a->bctsa_sessid);

	if (st != NFS4_OK)
		return st;
	channel_dir_from_server4 dir = CDFS4_FORE;
	if (a->bctsa_dir == CDFC4_BACK || a->bctsa_dir == CDFC4_BACK_OR_BOTH || a->bctsa_dir == CDFC4_FORE_OR_BOTH) {
		bool bound = false;
		st = nfs4_cb_bind(c, (const uint8_t *)a->bctsa_sessid, 0, false, 0, NULL, 0, &bound);
		/* FORE_OR_BOTH and BACK_OR_BOTH leave the choice to the server:
		 * the fore channel alone when the session has no backchannel. */
		if (st != NFS4_OK && a->bctsa_dir == CDFC4_BACK)
			return st;
		if (bound)
			dir = a->bctsa_dir == CDFC4_BACK ? CDFS4_BACK : CDFS4_BOTH;
		else if (a->bctsa_dir == CDFC4_BACK)
			return NFS4ERR_INVAL;
	}
	memcpy(r->BIND_CONN_TO_SESSION4res_u.bctsr_resok4.bctsr_sessid, a->bctsa_sessid, NFS4_SESSIONID_SIZE);
	r->BIND_CONN_TO_SESSION4res_u.bctsr_resok4.bctsr_dir = dir;
	r->BIND_CONN_TO_SESSION4res_u.bctsr_resok4.bctsr_use_conn_in_rdma_mode = false;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_sequence)
{
	SEQUENCE4args *a = args;
	SEQUENCE4res *r = res;
	SEQUENCE4resok *ok = &r->SEQUENCE4res_u.sr_resok4;
	struct nfs4_slot_grant g;
	nfsstat4 st =
	    nfs4_slot_begin(c->nfs4->state, (const uint8_t *)a->sa_sessionid, a->sa_slotid, a->sa_sequenceid, &g);

	if (st != NFS4_OK)
		return st;
	if (g.replay) {
		c->replay = g.replay;
		c->replay_len = g.replay_len;
		return NFS4_OK;
	}
	/* From here the slot is ours: the compound's reply is kept in it. */
	c->in_session = true;
	memcpy(c->sessionid, a->sa_sessionid, NFS4_SESSIONID_SIZE);
	c->slot = a->sa_slotid;
	c->cachethis = a->sa_cachethis;
	c->clientid = g.clientid;
	c->grant = g;
	nfs4_renew_lease(c, &g);
	if (c->nops > g.params.max_ops)
		return NFS4ERR_TOO_MANY_OPS;
	if (c->request_bytes > g.params.max_request)
		return NFS4ERR_REQ_TOO_BIG;
	memcpy(ok->sr_sessionid, a->sa_sessionid, NFS4_SESSIONID_SIZE);
	ok->sr_sequenceid = a->sa_sequenceid;
	ok->sr_slotid = a->sa_slotid;
	ok->sr_highest_slotid = g.highest_slot;
	ok->sr_target_highest_slotid = g.highest_slot;
	ok->sr_status_flags = nfs4_cb_sequence_flags(c->nfs4, (const uint8_t *)a->sa_sessionid);
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_backchannel_ctl)
{
	BACKCHANNEL_CTL4args *a = args;
	(void)res;
	return nfs4_cb_set_sec(c, a->bca_cb_program, a->bca_sec_parms.bca_sec_parms_val,
			       a->bca_sec_parms.bca_sec_parms_len);
}

NFS4_HANDLER(nfs4_op_reclaim_complete)
{
	RECLAIM_COMPLETE4args *a = args;
	(void)res;
	if (a->rca_one_fs)
		return NFS4_OK; /* nothing to reclaim per file system */
	return nfs4_client_reclaim_complete(c->nfs4->state, c->clientid);
}

/* AUTH_SYS only; the current filehandle is consumed (section 2.6.3.1.1.8). */
static nfsstat4 answer_secinfo(struct nfs4_compound *c, SECINFO4res *r)
{
	secinfo4 *flavors = calloc(1, sizeof(*flavors));

	if (!flavors)
		return NFS4ERR_DELAY;
	flavors[0].flavor = 1; /* AUTH_SYS */
	r->SECINFO4res_u.resok4.SECINFO4resok_val = flavors;
	r->SECINFO4res_u.resok4.SECINFO4resok_len = 1;
	memset(&c->cur, 0, sizeof(c->cur));
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_secinfo)
{
	SECINFO4args *a = args;
	char name[GFS_NAME_MAX + 1];
	nfsstat4 st = nfs4_name(&a->name, name);

	if (st != NFS4_OK)
		return st;
	if (c->cur.kind == NFS4_FH_PSEUDO) {
		int child;
		if (nfs4_pseudo_child(c->nfs4, c->cur.pseudo, name, &child) < 0 || !nfs4_node_visible(c, child))
			return NFS4ERR_NOENT;
	} else {
		struct gfs_attr attr;
		int rc = gfs_lookup(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, name, &attr);
		if (rc < 0)
			return nfs4_status(rc);
	}
	return answer_secinfo(c, res);
}

NFS4_HANDLER(nfs4_op_secinfo_no_name)
{
	SECINFO_NO_NAME4args *a = args;
	if (a->style != SECINFO_STYLE4_CURRENT_FH && a->style != SECINFO_STYLE4_PARENT)
		return NFS4ERR_INVAL;
	return answer_secinfo(c, res);
}

NFS4_HANDLER(nfs4_op_test_stateid)
{
	TEST_STATEID4args *a = args;
	TEST_STATEID4res *r = res;
	u_int n = a->ts_stateids.ts_stateids_len;
	nfsstat4 *codes = calloc(n ? n : 1, sizeof(*codes));

	if (!codes)
		return NFS4ERR_DELAY;
	for (u_int i = 0; i < n; i++) {
		const stateid4 *sid = &a->ts_stateids.ts_stateids_val[i];
		codes[i] = nfs4_stateid_special(sid) ? NFS4ERR_BAD_STATEID
						     : nfs4_stateid_test(c->nfs4->state, c->clientid, sid);
	}
	r->TEST_STATEID4res_u.tsr_resok4.tsr_status_codes.tsr_status_codes_val = codes;
	r->TEST_STATEID4res_u.tsr_resok4.tsr_status_codes.tsr_status_codes_len = n;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_free_stateid)
{
	FREE_STATEID4args *a = args;
	(void)res;
	if (nfs4_stateid_special(&a->fsa_stateid))
		return NFS4ERR_BAD_STATEID;
	bool was_lock;
	nfsstat4 st = nfs4_free_lock_stateid(c, &a->fsa_stateid, &was_lock);
	if (was_lock)
		return st;
	return nfs4_stateid_free(c->nfs4->state, c->clientid, &a->fsa_stateid);
}

NFS4_HANDLER(nfs4_op_delegreturn)
{
	(void)c;
	(void)args;
	(void)res;
	return NFS4ERR_BAD_STATEID; /* no delegation is ever granted yet */
}
