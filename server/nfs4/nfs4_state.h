/*
 * nfs4_state.h - the NFSv4.1 state that outlives one COMPOUND: clients
 * (EXCHANGE_ID), sessions with their slot tables and reply caches, and
 * opens with their share reservations and stateids.
 *
 * This is the interface the Redis-backed state will sit behind (see
 * docs/architecture/nfs4.md for the planned keys): callers name clients,
 * sessions and stateids only by their wire identifiers, never hold a
 * pointer into the state across calls, and every call is one atomic step.
 * Today nfs4_state_mem.c keeps it in the memory of one gateway.
 *
 * Stateids are unforgeable and bound to their client: the "other" field is
 * {open id, MAC(key, client id, open id)}, so a stateid guessed, altered or
 * presented by another client is NFS4ERR_BAD_STATEID without any lookup.
 */
#ifndef GATEFS_NFS4_STATE_H
#define GATEFS_NFS4_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nfs4_prot.h"

struct nfs4_state;

struct nfs4_state_config {
	uint32_t lease_seconds;
	uint32_t max_slots; /* per session, the most the server grants */
};

struct nfs4_state *nfs4_state_create(const struct nfs4_state_config *cfg);
void nfs4_state_destroy(struct nfs4_state *st);
uint32_t nfs4_state_lease(const struct nfs4_state *st);

/* EXCHANGE_ID (RFC 8881 section 18.35), the cases without state
 * protection: a new owner gets a new unconfirmed client; the same owner
 * and verifier get the same client back; a new verifier (the client
 * rebooted) drops the old client's sessions and opens. */
struct nfs4_client_info {
	clientid4 clientid;
	sequenceid4 sequence; /* the csa_sequence CREATE_SESSION must send */
	bool confirmed;
};
nfsstat4 nfs4_client_exchange(struct nfs4_state *st, const void *owner, size_t owner_len, const uint8_t verifier[8],
			      struct nfs4_client_info *out);
/* DESTROY_CLIENTID: NFS4ERR_CLIENTID_BUSY while it has sessions. */
nfsstat4 nfs4_client_destroy(struct nfs4_state *st, clientid4 clientid);
/* RECLAIM_COMPLETE: NFS4ERR_COMPLETE_ALREADY the second time. */
nfsstat4 nfs4_client_reclaim_complete(struct nfs4_state *st, clientid4 clientid);

/* CREATE_SESSION (section 18.36).  in: what the client asked for; out:
 * what was granted.  A replay (csa_sequence one behind) gets the session
 * created the first time; any other sequence is NFS4ERR_SEQ_MISORDERED. */
struct nfs4_session_params {
	uint32_t slots;
	uint32_t max_request;
	uint32_t max_response;
	uint32_t max_response_cached;
	uint32_t max_ops;
};
nfsstat4 nfs4_session_create(struct nfs4_state *st, clientid4 clientid, sequenceid4 sequence,
			     const struct nfs4_session_params *in, uint8_t sessionid[NFS4_SESSIONID_SIZE],
			     struct nfs4_session_params *out);
nfsstat4 nfs4_session_destroy(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE]);
/* NFS4_OK if the session exists (BIND_CONN_TO_SESSION). */
nfsstat4 nfs4_session_check(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE]);

/* SEQUENCE (section 2.10.6.1): takes the slot for one request and renews
 * the client's lease.
 *   NFS4_OK, *replay NULL: a new request; the caller runs it and must call
 *     nfs4_slot_finish with the encoded reply.
 *   NFS4_OK, *replay set: a retransmission of the slot's last request;
 *     *replay (malloc'ed, the caller frees) is its reply, to send as is.
 *   NFS4ERR_BADSESSION, BADSLOT, SEQ_MISORDERED, DELAY (the first request
 *     still runs), RETRY_UNCACHED_REP (its reply was not kept). */
struct nfs4_slot_grant {
	clientid4 clientid;
	struct nfs4_session_params params;
	uint32_t highest_slot; /* the highest slot id the server grants */
	void *replay;
	size_t replay_len;
};
nfsstat4 nfs4_slot_begin(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE], slotid4 slot,
			 sequenceid4 seq, struct nfs4_slot_grant *out);
/* Ends the request on the slot; keeps a copy of reply when cache is set
 * and it fits the session's cached-reply size, else remembers that it was
 * not kept.  reply may be NULL (nothing to keep). */
void nfs4_slot_finish(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE], slotid4 slot,
		      const void *reply, size_t len, bool cache);

/* Opens (share reservations, RFC 8881 section 9.7).  ino names the file.
 * OPEN by an owner that already has the file open upgrades that open and
 * returns its stateid with the next seqid.  NFS4ERR_SHARE_DENIED when
 * access meets another open's deny or deny meets another open's access. */
nfsstat4 nfs4_open_acquire(struct nfs4_state *st, clientid4 clientid, const void *owner, size_t owner_len, uint64_t ino,
			   uint32_t access, uint32_t deny, stateid4 *out);
/* Checks a non-special stateid for I/O on ino by clientid: BAD_STATEID
 * (forged, another client's, closed, another file), OLD_STATEID (an
 * earlier seqid), OPENMODE (want is not covered by the open's access;
 * READ is allowed on a write-only open, as knfsd does, so that the client
 * can fill partial pages). want: OPEN4_SHARE_ACCESS_* or 0. */
nfsstat4 nfs4_open_check(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino, uint32_t want);
nfsstat4 nfs4_open_close(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino, stateid4 *out);
/* INVAL unless access and deny are subsets of the open's. */
nfsstat4 nfs4_open_downgrade(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino,
			     uint32_t access, uint32_t deny, stateid4 *out);
/* TEST_STATEID and FREE_STATEID (sections 18.48, 18.38): a live open
 * stateid tests NFS4_OK and cannot be freed (NFS4ERR_LOCKS_HELD). */
nfsstat4 nfs4_stateid_test(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid);
nfsstat4 nfs4_stateid_free(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid);

#endif
