/*
 * nfs4_lock.c - byte-range locks (RFC 8881 sections 18.10-18.12): LOCK,
 * LOCKT and LOCKU.  The locks live in Redis behind vfs.h gfs_lock_*, so
 * every gateway of the volume enforces the same ones; lock stateids live
 * in nfs4_state.h.  A lock's owner in Redis is the client's key (a hash of
 * its EXCHANGE_ID owner and verifier, the same on every gateway) and the
 * lock_owner4 bytes.  A blocking lock (READW_LT, WRITEW_LT) that is
 * DENIED leaves a waiter that nfs4_callback.c notifies (CB_NOTIFY_LOCK)
 * when the range can be granted; a release here wakes that check at once.
 * RELEASE_LOCKOWNER has no row: the operations table of RFC 8881 section
 * 17 marks it MNI (MUST NOT be implemented) in v4.1, so it is
 * NFS4ERR_NOTSUPP; a v4.1 client frees lock stateids with FREE_STATEID.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nfs4_impl.h"

/* The Redis lease outlasts the NFSv4 lease by half, because a gateway
 * renews it only every third of a lease (nfs4_slot_begin). */
uint32_t nfs4_redis_lease_ms(const struct nfs4_compound *c)
{
	return nfs4_state_lease(c->nfs4->state) * 1500u;
}

/* Section 18.10.4: length 0, or offset + length past 2^64 - 1 unless the
 * length is all ones ("to EOF"), is NFS4ERR_INVAL. */
static nfsstat4 check_range(offset4 offset, length4 length)
{
	if (length == 0)
		return NFS4ERR_INVAL;
	if (length != UINT64_MAX && offset > UINT64_MAX - length)
		return NFS4ERR_INVAL;
	return NFS4_OK;
}

static nfsstat4 lock_type(nfs_lock_type4 t, enum gfs_lock_type *out)
{
	switch (t) {
	case READ_LT:
	case READW_LT:
		*out = GFS_LOCK_READ;
		return NFS4_OK;
	case WRITE_LT:
	case WRITEW_LT:
		*out = GFS_LOCK_WRITE;
		return NFS4_OK;
	default:
		return NFS4ERR_INVAL;
	}
}

/* LOCK4denied from a conflict: the holder's clientid as this gateway knows
 * it (0 if the holder is another gateway's client) and its owner bytes. */
static void fill_denied(struct nfs4_compound *c, const struct gfs_lock_conflict *cf, LOCK4denied *d)
{
	d->offset = cf->start;
	d->length = cf->len == GFS_LOCK_EOF ? UINT64_MAX : cf->len;
	d->locktype = cf->type == GFS_LOCK_WRITE ? WRITE_LT : READ_LT;
	d->owner.clientid = nfs4_client_by_key(c->nfs4->state, cf->client);
	d->owner.owner.owner_val = malloc(cf->owner_len ? cf->owner_len : 1);
	if (d->owner.owner.owner_val) {
		memcpy(d->owner.owner.owner_val, cf->owner, cf->owner_len);
		d->owner.owner.owner_len = (u_int)cf->owner_len;
	}
}

/* The current fh names a regular file: ISDIR, INVAL otherwise. */
static nfsstat4 need_file(struct nfs4_compound *c)
{
	struct gfs_attr attr;
	nfsstat4 st = nfs4_need_export(c, false);
	if (st != NFS4_OK)
		return st == NFS4ERR_ACCESS ? NFS4ERR_INVAL : st;
	int rc = gfs_getattr(c->call->vfs, c->cur.acc.ref, &attr);
	if (rc < 0)
		return nfs4_status(rc);
	return attr.type == GFS_REG ? NFS4_OK : attr.type == GFS_DIR ? NFS4ERR_ISDIR : NFS4ERR_INVAL;
}

NFS4_HANDLER(nfs4_op_lock)
{
	LOCK4args *a = args;
	LOCK4res *r = res;
	enum gfs_lock_type type = GFS_LOCK_READ;
	struct nfs4_lock_info li;
	struct gfs_lock_conflict cf;
	nfsstat4 st = nfs4_need_export(c, false);

	if (st == NFS4_OK)
		st = check_range(a->offset, a->length);
	if (st == NFS4_OK)
		st = lock_type(a->locktype, &type);
	if (st != NFS4_OK)
		return st;
	/* Locks outlive a gateway restart in Redis, so a reclaim is an
	 * ordinary grant to the same owner; it is only refused once the
	 * first lease after the start is over, as the client expects. */
	if (a->reclaim && !nfs4_client_may_reclaim(c->nfs4->state, c->clientid))
		return NFS4ERR_NO_GRACE;
	if (a->locker.new_lock_owner) {
		/* v4.1: the session names the client; lock_owner.clientid and
		 * the seqids are not used (RFC 8881 section 18.10.3). */
		const open_to_lock_owner4 *o = &a->locker.locker4_u.open_owner;
		st = nfs4_lock_from_open(c->nfs4->state, c->clientid, nfs4_resolve_stateid(c, &o->open_stateid),
					 c->cur.acc.ref.ino, o->lock_owner.owner.owner_val,
					 o->lock_owner.owner.owner_len, &li);
	} else {
		st = nfs4_lock_find(c->nfs4->state, c->clientid,
				    nfs4_resolve_stateid(c, &a->locker.locker4_u.lock_owner.lock_stateid),
				    c->cur.acc.ref.ino, &li);
	}
	if (st != NFS4_OK)
		return st;
	uint32_t need = type == GFS_LOCK_WRITE ? OPEN4_SHARE_ACCESS_WRITE : OPEN4_SHARE_ACCESS_READ;
	if (!(li.access & need))
		return NFS4ERR_OPENMODE;
	int rc = gfs_lock_set(c->call->vfs, li.ino, li.key, li.owner, li.owner_len, type, a->offset, a->length,
			      nfs4_redis_lease_ms(c), &cf);
	if (rc == -EAGAIN) {
		fill_denied(c, &cf, &r->LOCK4res_u.denied);
		if (a->locktype == READW_LT || a->locktype == WRITEW_LT)
			nfs4_cb_wait(c, li.ino, li.key, li.owner, li.owner_len, type, a->offset, a->length);
		return NFS4ERR_DENIED;
	}
	if (rc < 0)
		return nfs4_status(rc);
	nfs4_cb_granted(c->nfs4, li.ino, c->clientid, li.owner, li.owner_len);
	stateid4 *out = &r->LOCK4res_u.resok4.lock_stateid;
	st = nfs4_lock_advance(c->nfs4->state, c->clientid, &li.stateid, out);
	if (st == NFS4_OK)
		nfs4_set_cur_stateid(c, out);
	return st;
}

NFS4_HANDLER(nfs4_op_lockt)
{
	LOCKT4args *a = args;
	LOCKT4res *r = res;
	enum gfs_lock_type type = GFS_LOCK_READ;
	char key[NFS4_CLIENT_KEY_LEN + 1];
	struct gfs_lock_conflict cf;
	nfsstat4 st = need_file(c);

	if (st == NFS4_OK)
		st = check_range(a->offset, a->length);
	if (st == NFS4_OK)
		st = lock_type(a->locktype, &type);
	if (st == NFS4_OK)
		st = nfs4_client_key(c->nfs4->state, c->clientid, key);
	if (st != NFS4_OK)
		return st;
	if (a->owner.owner.owner_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	int rc = gfs_lock_test(c->call->vfs, c->cur.acc.ref.ino, key, a->owner.owner.owner_val,
			       a->owner.owner.owner_len, type, a->offset, a->length, &cf);
	if (rc == -EAGAIN) {
		fill_denied(c, &cf, &r->LOCKT4res_u.denied);
		return NFS4ERR_DENIED;
	}
	return rc < 0 ? nfs4_status(rc) : NFS4_OK;
}

NFS4_HANDLER(nfs4_op_locku)
{
	LOCKU4args *a = args;
	LOCKU4res *r = res;
	enum gfs_lock_type type;
	struct nfs4_lock_info li;
	nfsstat4 st = nfs4_need_export(c, false);

	if (st == NFS4_OK)
		st = check_range(a->offset, a->length);
	if (st == NFS4_OK)
		st = lock_type(a->locktype, &type);
	if (st == NFS4_OK)
		st = nfs4_lock_find(c->nfs4->state, c->clientid, nfs4_resolve_stateid(c, &a->lock_stateid),
				    c->cur.acc.ref.ino, &li);
	if (st != NFS4_OK)
		return st;
	int rc = gfs_lock_unlock(c->call->vfs, li.ino, li.key, li.owner, li.owner_len, a->offset, a->length);
	if (rc < 0)
		return nfs4_status(rc);
	nfs4_cb_released(c->nfs4, li.ino);
	st = nfs4_lock_advance(c->nfs4->state, c->clientid, &li.stateid, &r->LOCKU4res_u.lock_stateid);
	if (st == NFS4_OK)
		nfs4_set_cur_stateid(c, &r->LOCKU4res_u.lock_stateid);
	return st;
}

nfsstat4 nfs4_locks_held_by_open(struct nfs4_compound *c, const stateid4 *open_sid)
{
	struct nfs4_lock_info *owners;
	size_t n;
	nfsstat4 st = nfs4_open_lock_owners(c->nfs4->state, c->clientid, open_sid, c->cur.acc.ref.ino, &owners, &n);
	for (size_t i = 0; st == NFS4_OK && i < n; i++) {
		uint32_t held = 0;
		int rc = gfs_lock_count(c->call->vfs, owners[i].ino, owners[i].key, owners[i].owner,
					owners[i].owner_len, &held);
		st = rc < 0 ? nfs4_status(rc) : held ? NFS4ERR_LOCKS_HELD : NFS4_OK;
	}
	free(owners);
	return st;
}

nfsstat4 nfs4_free_lock_stateid(struct nfs4_compound *c, const stateid4 *sid, bool *was_lock)
{
	struct nfs4_lock_info li;
	nfsstat4 st = nfs4_lock_find(c->nfs4->state, c->clientid, sid, 0, &li);
	*was_lock = st == NFS4_OK;
	if (st != NFS4_OK)
		return st;
	uint32_t held = 0;
	int rc = gfs_lock_count(c->call->vfs, li.ino, li.key, li.owner, li.owner_len, &held);
	if (rc < 0)
		return nfs4_status(rc);
	if (held)
		return NFS4ERR_LOCKS_HELD;
	return nfs4_lock_free(c->nfs4->state, c->clientid, sid);
}

void nfs4_release_client_locks(struct nfs4_compound *c, const char *key)
{
	if (!key[0])
		return;
	int rc = gfs_lock_release_client(c->call->vfs, key);
	if (rc < 0) /* not fatal: they go when the client's Redis lease runs out */
		log_warn("nfs4: releasing the locks of client %s: %s; they are freed when its lease expires", key,
			 gfs_strerror(rc));
	else
		nfs4_cb_released(c->nfs4, 0); /* which files is not known here */
}

void nfs4_release_expired(struct nfs4_compound *c)
{
	char keys[16][NFS4_CLIENT_KEY_LEN + 1];
	size_t n = nfs4_state_expired_keys(c->nfs4->state, keys, 16);
	for (size_t i = 0; i < n; i++) {
		int released = 0;
		int rc = gfs_lock_release_expired(c->call->vfs, keys[i], &released);
		if (rc < 0) /* not fatal: the next locker of each file drops them */
			log_warn("nfs4: releasing the locks of expired client %s: %s", keys[i], gfs_strerror(rc));
		else if (released)
			nfs4_cb_released(c->nfs4, 0);
	}
}

void nfs4_release_owner_locks(struct nfs4_compound *c, const struct nfs4_lock_info *owners, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = gfs_lock_release_owner(c->call->vfs, owners[i].key, owners[i].owner, owners[i].owner_len);
		if (rc < 0) /* not fatal: they go when the client's Redis lease runs out */
			log_warn("nfs4: releasing the locks of an owner of client %s: %s; they are freed when its "
				 "lease expires",
				 owners[i].key, gfs_strerror(rc));
		else
			nfs4_cb_released(c->nfs4, owners[i].ino);
	}
}

void nfs4_renew_lease(struct nfs4_compound *c, const struct nfs4_slot_grant *g)
{
	if (!g->renew_lease)
		return;
	int rc = gfs_lease_renew(c->call->vfs, g->key, nfs4_redis_lease_ms(c));
	if (rc < 0) {
		nfs4_client_lease_retry(c->nfs4->state, g->clientid);
		log_warn("nfs4: renewing the lease of client %s in Redis: %s; retried at the next SEQUENCE", g->key,
			 gfs_strerror(rc));
	}
}
