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
 * {state id, MAC(key, client id, state id)}, so a stateid guessed, altered
 * or presented by another client is NFS4ERR_BAD_STATEID without any
 * lookup.  Opens and lock states draw their ids from one counter.
 *
 * Byte-range locks themselves are not here: they live in Redis (vfs.h
 * gfs_lock_*), shared by every gateway, under the client's key
 * (nfs4_client_key).  This file keeps the lock stateids that name them.
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
#define NFS4_CLIENT_KEY_LEN 32
struct nfs4_client_info {
	clientid4 clientid;
	sequenceid4 sequence; /* the csa_sequence CREATE_SESSION must send */
	bool confirmed;
	/* The key of a client instance this exchange replaced (a new
	 * verifier: the client rebooted), whose locks the caller releases;
	 * empty if none. */
	char dropped_key[NFS4_CLIENT_KEY_LEN + 1];
};
nfsstat4 nfs4_client_exchange(struct nfs4_state *st, const void *owner, size_t owner_len, const uint8_t verifier[8],
			      struct nfs4_client_info *out);
struct nfs4_lock_info;
/* DESTROY_CLIENTID: NFS4ERR_CLIENTID_BUSY while it has sessions.  On
 * NFS4_OK, *owners (malloc'ed, the caller frees) are the lock and open
 * owners the client made through this gateway, whose locks and share
 * reservations the caller releases: not everything of its key, because
 * the same client instance (same key) may hold state through another
 * gateway, which is another server to it. */
nfsstat4 nfs4_client_destroy(struct nfs4_state *st, clientid4 clientid, struct nfs4_lock_info **owners, size_t *n);
/* The client's key in the shared lock table: hex of SHA-256 over its
 * EXCHANGE_ID owner and verifier (truncated), so every gateway, and this
 * one after a restart, names one client instance alike.  STALE_CLIENTID if
 * the client is unknown. */
nfsstat4 nfs4_client_key(struct nfs4_state *st, clientid4 clientid, char key[NFS4_CLIENT_KEY_LEN + 1]);
/* The clientid this gateway gave the client with key, or 0. */
clientid4 nfs4_client_by_key(struct nfs4_state *st, const char *key);
/* Whether the client may reclaim (OPEN CLAIM_PREVIOUS, LOCK reclaim): in
 * the first lease after this gateway started, and before the client's own
 * RECLAIM_COMPLETE (RFC 8881 section 18.51.3: later reclaims are
 * NFS4ERR_NO_GRACE). */
bool nfs4_client_may_reclaim(struct nfs4_state *st, clientid4 clientid);
/* Keys of clients with lock state that reap dropped (silent for two
 * leases): up to max are moved to out.  Their locks in Redis are released
 * by the caller if their Redis lease ran out too (no other gateway serves
 * them), so that locks nobody asks for do not stay forever. */
size_t nfs4_state_expired_keys(struct nfs4_state *st, char (*out)[NFS4_CLIENT_KEY_LEN + 1], size_t max);
/* A failed renewal of the client's lease in Redis: the next SEQUENCE
 * tries again. */
void nfs4_client_lease_retry(struct nfs4_state *st, clientid4 clientid);
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
	/* Set when the client holds lock state and its lease key in Redis was
	 * last renewed a third of a lease ago or more: the caller renews it
	 * (so SEQUENCE costs a Redis write at most every lease / 3). */
	bool renew_lease;
	char key[NFS4_CLIENT_KEY_LEN + 1];
};
nfsstat4 nfs4_slot_begin(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE], slotid4 slot,
			 sequenceid4 seq, struct nfs4_slot_grant *out);
/* Ends the request on the slot; keeps a copy of reply when cache is set
 * (the client's sa_cachethis) and it fits the session's cached-reply
 * size, else remembers that it was not kept, so that a replay is
 * RETRY_UNCACHED_REP.  reply may be NULL (nothing to keep).  The caller
 * passes cache only for a reply within the session's cached-reply size:
 * the copy is made before the state's lock is taken. */
void nfs4_slot_finish(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE], slotid4 slot,
		      const void *reply, size_t len, bool cache);

/* Opens (share reservations, RFC 8881 section 9.7).  ino names the file.
 * OPEN by an owner that already has the file open upgrades that open and
 * returns its stateid with the next seqid.  NFS4ERR_SHARE_DENIED when
 * access meets another open's deny or deny meets another open's access.
 * This checks the opens of this gateway only; the caller checks and
 * records the reservation in Redis (vfs.h gfs_share_*) for every gateway
 * first.  An open makes the client's Redis lease kept (renew_lease). */
nfsstat4 nfs4_open_acquire(struct nfs4_state *st, clientid4 clientid, const void *owner, size_t owner_len, uint64_t ino,
			   uint32_t access, uint32_t deny, stateid4 *out);
/* The access and deny the owner's open of ino holds (0 and 0: none), to
 * put Redis back in step when nfs4_open_acquire fails after the shared
 * reservation was taken. */
void nfs4_open_reservation(struct nfs4_state *st, clientid4 clientid, const void *owner, size_t owner_len, uint64_t ino,
			   uint32_t *access, uint32_t *deny);
/* The owner of an open and its reservation after CLOSE (0, 0) or
 * OPEN_DOWNGRADE, for the caller to write to Redis. */
struct nfs4_open_owner {
	char key[NFS4_CLIENT_KEY_LEN + 1];
	uint32_t access, deny;
	size_t owner_len;
	uint8_t owner[NFS4_OPAQUE_LIMIT];
};
/* Checks a non-special stateid (an open's, or a lock stateid standing for
 * its open) for I/O on ino by clientid: BAD_STATEID
 * (forged, another client's, closed, another file), OLD_STATEID (an
 * earlier seqid), OPENMODE (want is not covered by the open's access;
 * READ is allowed on a write-only open, as knfsd does, so that the client
 * can fill partial pages). want: OPEN4_SHARE_ACCESS_* or 0. */
nfsstat4 nfs4_open_check(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino, uint32_t want);
nfsstat4 nfs4_open_close(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino, stateid4 *out,
			 struct nfs4_open_owner *who);
/* INVAL unless access and deny are subsets of the open's. */
nfsstat4 nfs4_open_downgrade(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino,
			     uint32_t access, uint32_t deny, stateid4 *out, struct nfs4_open_owner *who);
/*
 * Lock stateids (RFC 8881 section 8.2.1): one per lock owner and file,
 * made from an open of the same client; its seqid goes up by one with
 * every granted LOCK and every LOCKU.
 */
struct nfs4_lock_info {
	stateid4 stateid; /* the current one */
	uint64_t ino;
	uint32_t access; /* the open's OPEN4_SHARE_ACCESS_* */
	char key[NFS4_CLIENT_KEY_LEN + 1];
	size_t owner_len;
	uint8_t owner[NFS4_OPAQUE_LIMIT];
};
/* LOCK with open_to_lock_owner4: the lock state of owner on the file of
 * open_sid, made if there is none (its seqid is then 0 until the first
 * grant).  BAD_STATEID / OLD_STATEID for the open stateid as in
 * nfs4_open_check. */
nfsstat4 nfs4_lock_from_open(struct nfs4_state *st, clientid4 clientid, const stateid4 *open_sid, uint64_t ino,
			     const void *owner, size_t owner_len, struct nfs4_lock_info *out);
/* LOCK with exist_lock_owner4, LOCKU, FREE_STATEID: the lock state sid
 * names.  BAD_STATEID (forged, another client's or file's, not a lock
 * stateid), OLD_STATEID (an earlier seqid). ino 0: any file. */
nfsstat4 nfs4_lock_find(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino,
			struct nfs4_lock_info *out);
/* After a granted LOCK or a LOCKU: seqid + 1; *out is the new stateid. */
nfsstat4 nfs4_lock_advance(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, stateid4 *out);
/* FREE_STATEID of a lock stateid whose owner holds no lock. */
nfsstat4 nfs4_lock_free(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid);
/* The lock owners made from the open sid names (for CLOSE, which is
 * LOCKS_HELD while one holds a lock): *out malloc'ed, the caller frees. */
nfsstat4 nfs4_open_lock_owners(struct nfs4_state *st, clientid4 clientid, const stateid4 *open_sid, uint64_t ino,
			       struct nfs4_lock_info **out, size_t *n);

/* TEST_STATEID and FREE_STATEID (sections 18.48, 18.38): a live open or
 * lock stateid tests NFS4_OK; an open stateid cannot be freed
 * (NFS4ERR_LOCKS_HELD); a lock stateid is freed with nfs4_lock_free. */
nfsstat4 nfs4_stateid_test(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid);
nfsstat4 nfs4_stateid_free(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid);

#endif
