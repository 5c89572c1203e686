/*
 * nfs4_lock_test.c - NFSv4.1 byte-range locks (LOCK, LOCKT, LOCKU) against
 * real gateways with a short lease (nfs4_lease_time = 2), two of them on
 * one volume: conflicts between clients and across gateways, LOCKT
 * reporting the holder, lock stateids (forged, another client's, old),
 * LOCKS_HELD on CLOSE and FREE_STATEID, bad ranges, an expired lease
 * freeing a lock, a rebooted or destroyed client's locks freed at once,
 * reclaim after a gateway restart, throttled lease renewals, and share
 * reservations (OPEN's deny) enforced across the two gateways.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nfs4_test.h"

#define LEASE_CONF "nfs4 = on\nnfs4_lease_time = 2\n"
#define EOF64 UINT64_MAX

static struct v4_pair pair = {.conf = LEASE_CONF};
static struct gateway *const g1 = &pair.g1, *const g2 = &pair.g2;

static bool up(void)
{
	return v4_pair_up(&pair);
}

static int session(struct v4 *s, struct gateway *g, const char *owner)
{
	return v4_open_session(s, g->nfs_port, 0, 0, owner);
}

struct lk {
	stateid4 sid;	  /* the lock stateid after a grant */
	LOCK4denied held; /* after DENIED; owner bytes copied into owner */
	char owner[64];
};

static void keep_denied(struct lk *out, const LOCK4denied *d)
{
	out->held = *d;
	size_t n =
	    d->owner.owner.owner_len < sizeof(out->owner) - 1 ? d->owner.owner.owner_len : sizeof(out->owner) - 1;
	memcpy(out->owner, d->owner.owner.owner_val, n);
	out->owner[n] = 0;
	out->held.owner.owner.owner_val = NULL;
}

/* LOCK: with open_sid and a new lock owner when owner is set, else with
 * the lock stateid in *sid.  Returns the op's status; out gets the new
 * stateid or the holder. */
static int lock(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, const char *owner, nfs_lock_type4 type,
		uint64_t off, uint64_t len, bool reclaim, struct lk *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	LOCK4args *a = &v4_add(s, OP_LOCK)->nfs_argop4_u.oplock;
	a->locktype = type;
	a->reclaim = reclaim;
	a->offset = off;
	a->length = len;
	a->locker.new_lock_owner = owner != NULL;
	if (owner) {
		open_to_lock_owner4 *o = &a->locker.locker4_u.open_owner;
		o->open_stateid = *sid;
		o->lock_owner.clientid = s->clientid;
		o->lock_owner.owner.owner_val = (char *)owner;
		o->lock_owner.owner.owner_len = (u_int)strlen(owner);
	} else
		a->locker.locker4_u.lock_owner.lock_stateid = *sid;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	LOCK4res *r = &s->res.resarray.resarray_val[2].nfs_resop4_u.oplock;
	if (st == NFS4_OK)
		out->sid = r->LOCK4res_u.resok4.lock_stateid;
	else if (st == NFS4ERR_DENIED)
		keep_denied(out, &r->LOCK4res_u.denied);
	return st;
}

static int lockt(struct v4 *s, const nfs_fh4 *fh, const char *owner, nfs_lock_type4 type, uint64_t off, uint64_t len,
		 struct lk *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	LOCKT4args *a = &v4_add(s, OP_LOCKT)->nfs_argop4_u.oplockt;
	a->locktype = type;
	a->offset = off;
	a->length = len;
	a->owner.clientid = s->clientid;
	a->owner.owner.owner_val = (char *)owner;
	a->owner.owner.owner_len = (u_int)strlen(owner);
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4ERR_DENIED)
		keep_denied(out, &s->res.resarray.resarray_val[2].nfs_resop4_u.oplockt.LOCKT4res_u.denied);
	return st;
}

static int locku(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, uint64_t off, uint64_t len, stateid4 *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	LOCKU4args *a = &v4_add(s, OP_LOCKU)->nfs_argop4_u.oplocku;
	a->locktype = WRITE_LT;
	a->lock_stateid = *sid;
	a->offset = off;
	a->length = len;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK && out)
		*out = s->res.resarray.resarray_val[2].nfs_resop4_u.oplocku.LOCKU4res_u.lock_stateid;
	return st;
}

static int free_stateid(struct v4 *s, const stateid4 *sid)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_add(s, OP_FREE_STATEID)->nfs_argop4_u.opfree_stateid.fsa_stateid = *sid;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	return v4_status(s, 1);
}

static int renew(struct v4 *s)
{
	v4_begin(s);
	v4_seq(s, 0);
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	return v4_status(s, 0);
}

TEST(lock_conflicts_between_clients)
{
	REQUIRE(up());
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 oa, ob;
	struct lk la = {0}, lb = {0}, t = {0};
	REQUIRE_EQ(session(&a, g1, "lock-a"), 0);
	REQUIRE_EQ(session(&b, g1, "lock-b"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "lk1", OPEN4_SHARE_ACCESS_BOTH, 0, true, &oa, &f), 0);
	REQUIRE_EQ(v4_open(&b, &hf, "ob", "lk1", OPEN4_SHARE_ACCESS_BOTH, 0, false, &ob, NULL), 0);

	/* write/write */
	REQUIRE_EQ(lock(&a, &f, &oa, "la", WRITE_LT, 0, 100, false, &la), NFS4_OK);
	CHECK_EQ(la.sid.seqid, 1);
	CHECK_EQ(lock(&b, &f, &ob, "lb", WRITEW_LT, 50, 10, false, &lb), NFS4ERR_DENIED);
	CHECK_EQ(lb.held.offset, 0);
	CHECK_EQ(lb.held.length, 100);
	CHECK_EQ(lb.held.locktype, WRITE_LT);
	CHECK_EQ(lb.held.owner.clientid, a.clientid);
	CHECK_STR(lb.owner, "la");
	/* read/write */
	CHECK_EQ(lock(&b, &f, &ob, "lb", READ_LT, 99, 1, false, &lb), NFS4ERR_DENIED);
	/* read/read shares; to EOF */
	REQUIRE_EQ(lock(&b, &f, &ob, "lb", READ_LT, 200, EOF64, false, &lb), NFS4_OK);
	CHECK_EQ(lock(&a, &f, &la.sid, NULL, READ_LT, 300, 10, false, &la), NFS4_OK);
	CHECK_EQ(la.sid.seqid, 2);
	CHECK_EQ(lock(&a, &f, &la.sid, NULL, WRITE_LT, 300, 10, false, &t), NFS4ERR_DENIED); /* upgrade blocked */
	CHECK_EQ(t.held.offset, 200);
	CHECK_EQ(t.held.length, EOF64);
	CHECK_EQ(t.held.locktype, READ_LT);
	CHECK_STR(t.owner, "lb");

	/* LOCKT reports the holder and grants nothing */
	CHECK_EQ(lockt(&b, &f, "lb", WRITE_LT, 0, 1, &t), NFS4ERR_DENIED);
	CHECK_EQ(t.held.owner.clientid, a.clientid);
	CHECK_STR(t.owner, "la");
	CHECK_EQ(t.held.length, 100);
	CHECK_EQ(lockt(&b, &f, "lb", READ_LT, 250, 10, &t), NFS4_OK);
	CHECK_EQ(lockt(&b, &f, "lb", WRITE_LT, 100, 100, &t), NFS4_OK);

	/* I/O with the lock stateid (what the Linux client sends under a lock) */
	uint8_t byte = 'L';
	CHECK_EQ(v4_io(&a, &f, &la.sid, true, 0, &byte, 1), NFS4_OK);

	/* LOCKU lets the other in; the seqid moves on */
	stateid4 after;
	REQUIRE_EQ(locku(&a, &f, &la.sid, 0, 100, &after), NFS4_OK);
	CHECK_EQ(after.seqid, la.sid.seqid + 1);
	CHECK_EQ(lock(&b, &f, &lb.sid, NULL, WRITE_LT, 50, 10, false, &lb), NFS4_OK);
	CHECK_EQ(lock(&a, &f, &after, NULL, WRITE_LT, 55, 1, false, &t), NFS4ERR_DENIED);
	CHECK_EQ(t.held.offset, 50);
	CHECK_EQ(t.held.length, 10);

	/* stateids: forged, another client's, old */
	stateid4 forged = after;
	forged.other[9] ^= 1;
	CHECK_EQ(lock(&a, &f, &forged, NULL, READ_LT, 0, 1, false, &t), NFS4ERR_BAD_STATEID);
	CHECK_EQ(locku(&a, &f, &forged, 0, 1, NULL), NFS4ERR_BAD_STATEID);
	CHECK_EQ(lock(&b, &f, &after, NULL, READ_LT, 0, 1, false, &t), NFS4ERR_BAD_STATEID);
	CHECK_EQ(locku(&b, &f, &after, 300, 10, NULL), NFS4ERR_BAD_STATEID);
	CHECK_EQ(lock(&a, &f, &la.sid, NULL, READ_LT, 0, 1, false, &t), NFS4ERR_OLD_STATEID);
	CHECK_EQ(locku(&a, &f, &la.sid, 0, 1, NULL), NFS4ERR_OLD_STATEID);
	/* an open stateid is not a lock stateid */
	CHECK_EQ(lock(&a, &f, &oa, NULL, READ_LT, 0, 1, false, &t), NFS4ERR_BAD_STATEID);

	/* bad ranges (RFC 8881 section 18.10.4) */
	CHECK_EQ(lock(&a, &f, &after, NULL, READ_LT, 0, 0, false, &t), NFS4ERR_INVAL);
	CHECK_EQ(lock(&a, &f, &after, NULL, READ_LT, 2, UINT64_MAX - 1, false, &t), NFS4ERR_INVAL);
	CHECK_EQ(lockt(&a, &f, "la", READ_LT, UINT64_MAX, 2, &t), NFS4ERR_INVAL);
	CHECK_EQ(lockt(&a, &f, "la", READ_LT, 5, 0, &t), NFS4ERR_INVAL);
	CHECK_EQ(locku(&a, &f, &after, 10, UINT64_MAX - 5, NULL), NFS4ERR_INVAL);
	CHECK_EQ(lock(&a, &f, &after, NULL, (nfs_lock_type4)7, 0, 1, false, &t), NFS4ERR_INVAL);
	/* the largest range that fits: offset + length = 2^64 - 1 */
	CHECK_EQ(lockt(&a, &f, "la", WRITE_LT, 1, UINT64_MAX - 1, &t), NFS4ERR_DENIED);

	/* CLOSE and FREE_STATEID while locks are held */
	CHECK_EQ(v4_close_file(&a, &f, &oa), NFS4ERR_LOCKS_HELD);
	CHECK_EQ(free_stateid(&a, &after), NFS4ERR_LOCKS_HELD);
	stateid4 cur;
	REQUIRE_EQ(locku(&a, &f, &after, 0, EOF64, &cur), NFS4_OK);
	CHECK_EQ(free_stateid(&a, &cur), NFS4_OK);
	CHECK_EQ(locku(&a, &f, &cur, 0, 1, NULL), NFS4ERR_BAD_STATEID);
	CHECK_EQ(v4_close_file(&a, &f, &oa), NFS4_OK);
	/* b's locks go with CLOSE only after LOCKU */
	CHECK_EQ(v4_close_file(&b, &f, &ob), NFS4ERR_LOCKS_HELD);
	REQUIRE_EQ(locku(&b, &f, &lb.sid, 0, EOF64, &cur), NFS4_OK);
	CHECK_EQ(v4_close_file(&b, &f, &ob), NFS4_OK);

	/* a write lock needs an open for writing */
	stateid4 ro;
	REQUIRE_EQ(v4_open(&a, &hf, "oa2", "lk1", OPEN4_SHARE_ACCESS_READ, 0, false, &ro, NULL), 0);
	CHECK_EQ(lock(&a, &f, &ro, "la2", WRITE_LT, 0, 1, false, &t), NFS4ERR_OPENMODE);
	CHECK_EQ(lock(&a, &f, &ro, "la2", READ_LT, 0, 1, false, &t), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

TEST(locks_across_gateways)
{
	REQUIRE(up());
	struct v4 a, c;
	nfs_fh4 hf, f, hf2;
	stateid4 oa, oc;
	struct lk la = {0}, lc = {0}, t = {0};
	REQUIRE_EQ(session(&a, g1, "cross-a"), 0);
	REQUIRE_EQ(session(&c, g2, "cross-c"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(v4_export_fh(&c, "hf", &hf2), 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "lk2", OPEN4_SHARE_ACCESS_BOTH, 0, true, &oa, &f), 0);
	REQUIRE_EQ(v4_open(&c, &hf2, "oc", "lk2", OPEN4_SHARE_ACCESS_BOTH, 0, false, &oc, NULL), 0);
	REQUIRE_EQ(lock(&a, &f, &oa, "la", WRITE_LT, 0, EOF64, false, &la), NFS4_OK);
	CHECK_EQ(lock(&c, &f, &oc, "lc", WRITE_LT, 10, 1, false, &lc), NFS4ERR_DENIED);
	CHECK_STR(lc.owner, "la");
	CHECK_EQ(lc.held.owner.clientid, 0); /* a is not a client of this gateway */
	CHECK_EQ(lockt(&c, &f, "lc", READ_LT, 0, 1, &t), NFS4ERR_DENIED);
	REQUIRE_EQ(locku(&a, &f, &la.sid, 0, EOF64, &la.sid), NFS4_OK);
	REQUIRE_EQ(lock(&c, &f, &oc, "lc", WRITE_LT, 10, 1, false, &lc), NFS4_OK);
	CHECK_EQ(lock(&a, &f, &la.sid, NULL, READ_LT, 0, 20, false, &t), NFS4ERR_DENIED);
	CHECK_STR(t.owner, "lc");
	CHECK_EQ(t.held.offset, 10);

	/* c goes silent: its lease (2 s; 3 s in Redis) runs out and a, polling
	 * as a client does for a blocking lock, gets the range */
	double start = v4_now_s(), granted = 0;
	while (v4_now_s() - start < 10) {
		int st = lock(&a, &f, &la.sid, NULL, WRITEW_LT, 0, 20, false, &t);
		if (st == NFS4_OK) {
			la.sid = t.sid;
			granted = v4_now_s() - start;
			break;
		}
		CHECK_EQ(st, NFS4ERR_DENIED);
		usleep(250 * 1000);
	}
	fprintf(stderr, "expired holder's lock granted to the poller after %.2f s\n", granted);
	CHECK(granted > 1.5 && granted < 5);
	/* a kept its own lease alive by asking */
	CHECK_EQ(renew(&a), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	free(hf2.nfs_fh4_val);
	v4_close(&a);
	v4_close(&c);
}

/* A lock survives a gateway restart in Redis; the client reclaims it in the
 * grace period (the first lease after the start) and keeps it. */
TEST(reclaim_after_gateway_restart)
{
	REQUIRE(up());
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 oa, ob;
	struct lk la = {0}, lb = {0};
	REQUIRE_EQ(session(&a, g1, "reclaim-a"), 0);
	REQUIRE_EQ(session(&b, g2, "reclaim-b"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "lk3", OPEN4_SHARE_ACCESS_BOTH, 0, true, &oa, &f), 0);
	REQUIRE_EQ(lock(&a, &f, &oa, "la", WRITE_LT, 0, 10, false, &la), NFS4_OK);
	/* outside the grace period (the first lease after the start) a reclaim
	 * is NO_GRACE */
	sleep(2);
	CHECK_EQ(lock(&a, &f, &la.sid, NULL, WRITE_LT, 0, 10, true, &lb), NFS4ERR_NO_GRACE);

	gw_kill(g1);
	/* the lock is in Redis while its gateway is down */
	REQUIRE_EQ(v4_open(&b, &hf, "ob", "lk3", OPEN4_SHARE_ACCESS_BOTH, 0, false, &ob, NULL), 0);
	CHECK_EQ(lockt(&b, &f, "lb", READ_LT, 0, 1, &lb), NFS4ERR_DENIED);
	CHECK_STR(lb.owner, "la");
	REQUIRE_EQ(gw_spawn(g1), 0);
	v4_close(&a);
	REQUIRE_EQ(session(&a, g1, "reclaim-a"), 0);
	REQUIRE_EQ(v4_reclaim_open(&a, &f, "oa", OPEN4_SHARE_ACCESS_BOTH, 0, &oa), NFS4_OK);
	CHECK_EQ(lock(&a, &f, &oa, "la", WRITE_LT, 0, 10, true, &la), NFS4_OK);
	/* the lock was never free: the other gateway's client is refused */
	CHECK_EQ(lock(&b, &f, &ob, "lb", READ_LT, 5, 1, false, &lb), NFS4ERR_DENIED);
	CHECK_STR(lb.owner, "la");
	/* after the grace period, reclaims are refused again */
	sleep(2);
	CHECK_EQ(lock(&a, &f, &la.sid, NULL, WRITE_LT, 0, 10, true, &lb), NFS4ERR_NO_GRACE);
	CHECK_EQ(locku(&a, &f, &la.sid, 0, 10, NULL), NFS4_OK);
	CHECK_EQ(lock(&b, &f, &ob, "lb", READ_LT, 5, 1, false, &lb), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

static int downgrade(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, uint32_t access, uint32_t deny,
		     stateid4 *out)
{
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	OPEN_DOWNGRADE4args *d = &v4_add(s, OP_OPEN_DOWNGRADE)->nfs_argop4_u.opopen_downgrade;
	d->open_stateid = *sid;
	d->share_access = access;
	d->share_deny = deny;
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	int st = v4_status(s, 2);
	if (st == NFS4_OK)
		*out = s->res.resarray.resarray_val[2]
			   .nfs_resop4_u.opopen_downgrade.OPEN_DOWNGRADE4res_u.resok4.open_stateid;
	return st;
}

/* OPEN of an existing file by owner with access and deny: the status. */
static int open_share(struct v4 *s, const nfs_fh4 *dir, const char *owner, const char *name, uint32_t access,
		      uint32_t deny, stateid4 *sid)
{
	return v4_open(s, dir, owner, name, access, deny, false, sid, NULL);
}

/* Share reservations are in Redis: an OPEN's deny holds against the
 * clients of the other gateway of the volume, a downgrade and a CLOSE
 * lift it there, it outlives its gateway's SIGKILL (the client reclaims
 * its own reservation after the restart while the other gateway's client
 * is still refused), and it yields once its client's lease ran out. */
TEST(share_reservations_across_gateways)
{
	REQUIRE(up());
	struct v4 a, b;
	nfs_fh4 hf, f;
	stateid4 sa, sb, sb2, sx;
	REQUIRE_EQ(session(&a, g1, "share-a"), 0);
	REQUIRE_EQ(session(&b, g2, "share-b"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "sh1", OPEN4_SHARE_ACCESS_BOTH, OPEN4_SHARE_DENY_WRITE, true, &sa, &f), 0);
	/* b on the other gateway: writing is denied, reading is not, and a
	 * deny of reading meets a's read access */
	CHECK_EQ(open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_WRITE, 0, &sx), NFS4ERR_SHARE_DENIED);
	CHECK_EQ(open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_READ, &sx),
		 NFS4ERR_SHARE_DENIED);
	REQUIRE_EQ(open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_READ, 0, &sb), 0);
	/* a now asking to deny reading meets b's read access on g2 */
	CHECK_EQ(open_share(&a, &hf, "oa", "sh1", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_READ, &sx),
		 NFS4ERR_SHARE_DENIED);
	/* a downgrade to read, deny none, lets b write */
	REQUIRE_EQ(downgrade(&a, &f, &sa, OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_NONE, &sa), NFS4_OK);
	REQUIRE_EQ(open_share(&b, &hf, "ob2", "sh1", OPEN4_SHARE_ACCESS_WRITE, 0, &sb2), 0);
	CHECK_EQ(v4_close_file(&b, &f, &sb2), NFS4_OK);
	CHECK_EQ(v4_close_file(&b, &f, &sb), NFS4_OK);
	/* b closed everything: a may deny both, and then b is refused */
	REQUIRE_EQ(open_share(&a, &hf, "oa", "sh1", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_BOTH, &sa), 0);
	CHECK_EQ(open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_READ, 0, &sx), NFS4ERR_SHARE_DENIED);

	/* g1 dies: the reservation stays in Redis, b is still refused */
	gw_kill(g1);
	CHECK_EQ(open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_READ, 0, &sx), NFS4ERR_SHARE_DENIED);
	REQUIRE_EQ(gw_spawn(g1), 0);
	v4_close(&a);
	REQUIRE_EQ(session(&a, g1, "share-a"), 0);
	/* a reclaims its open in the grace period: its own reservation in
	 * Redis does not stand in its way */
	CHECK_EQ(v4_reclaim_open(&a, &f, "oa", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_BOTH, NULL), NFS4_OK);
	CHECK_EQ(open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_READ, 0, &sx), NFS4ERR_SHARE_DENIED);

	/* a goes silent: once its Redis lease (1.5 leases, 3 s) ran out, its
	 * reservation yields to b, who keeps its own lease alive */
	double t0 = v4_now_s(), granted = -1;
	while (v4_now_s() - t0 < 10) {
		if (open_share(&b, &hf, "ob", "sh1", OPEN4_SHARE_ACCESS_READ, OPEN4_SHARE_DENY_WRITE, &sb) == NFS4_OK) {
			granted = v4_now_s() - t0;
			break;
		}
		usleep(250 * 1000);
	}
	fprintf(stderr, "silent client's share reservation yielded after %.1f s\n", granted);
	CHECK(granted >= 2.0);
	CHECK(granted >= 0 && granted < 8);
	CHECK_EQ(v4_close_file(&b, &f, &sb), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
}

/* EXCHANGE_ID for owner with a new verifier (the client rebooted), on a
 * connection of its own: the status. */
static int exchange_rebooted(struct gateway *g, const char *owner)
{
	struct v4 r;
	memset(&r, 0, sizeof(r));
	r.cl = v4_connect(g->nfs_port, 0, 0, false);
	if (!r.cl)
		return -1;
	v4_begin(&r);
	EXCHANGE_ID4args *e = &v4_add(&r, OP_EXCHANGE_ID)->nfs_argop4_u.opexchange_id;
	memcpy(e->eia_clientowner.co_verifier, "rebooted", 8);
	e->eia_clientowner.co_ownerid.co_ownerid_val = (char *)owner;
	e->eia_clientowner.co_ownerid.co_ownerid_len = (u_int)strlen(owner);
	e->eia_state_protect.spa_how = SP4_NONE;
	int st = v4_send(&r) == RPC_SUCCESS ? v4_status(&r, 0) : -1;
	v4_close(&r);
	return st;
}

/* A client that reboots (new verifier) or is destroyed loses its locks at
 * once, not a lease later. */
TEST(reboot_and_destroy_release_locks)
{
	REQUIRE(up());
	struct v4 a, b, c;
	nfs_fh4 hf, f;
	stateid4 oa, ob, oc;
	struct lk la = {0}, lb = {0}, lc = {0};
	REQUIRE_EQ(session(&a, g1, "reboot-a"), 0);
	REQUIRE_EQ(session(&b, g1, "reboot-b"), 0);
	REQUIRE_EQ(session(&c, g2, "reboot-c"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "lk5", OPEN4_SHARE_ACCESS_BOTH, 0, true, &oa, &f), 0);
	REQUIRE_EQ(v4_open(&b, &hf, "ob", "lk5", OPEN4_SHARE_ACCESS_BOTH, 0, false, &ob, NULL), 0);
	REQUIRE_EQ(v4_open(&c, &hf, "oc", "lk5", OPEN4_SHARE_ACCESS_BOTH, 0, false, &oc, NULL), 0);
	REQUIRE_EQ(lock(&a, &f, &oa, "la", WRITE_LT, 0, EOF64, false, &la), NFS4_OK);
	CHECK_EQ(lock(&b, &f, &ob, "lb", WRITE_LT, 0, 1, false, &lb), NFS4ERR_DENIED);
	CHECK_EQ(exchange_rebooted(g1, "reboot-a"), NFS4_OK);
	CHECK_EQ(lock(&b, &f, &ob, "lb", WRITE_LT, 0, 1, false, &lb), NFS4_OK);

	/* DESTROY_CLIENTID (after DESTROY_SESSION) frees b's lock for c, a
	 * client of the other gateway */
	CHECK_EQ(lock(&c, &f, &oc, "lc", WRITE_LT, 0, 1, false, &lc), NFS4ERR_DENIED);
	v4_begin(&b);
	memcpy(v4_add(&b, OP_DESTROY_SESSION)->nfs_argop4_u.opdestroy_session.dsa_sessionid, b.sessionid,
	       sizeof(b.sessionid));
	REQUIRE_EQ(v4_send(&b), RPC_SUCCESS);
	CHECK_EQ(v4_status(&b, 0), NFS4_OK);
	v4_begin(&b);
	v4_add(&b, OP_DESTROY_CLIENTID)->nfs_argop4_u.opdestroy_clientid.dca_clientid = b.clientid;
	REQUIRE_EQ(v4_send(&b), RPC_SUCCESS);
	CHECK_EQ(v4_status(&b, 0), NFS4_OK);
	CHECK_EQ(lock(&c, &f, &oc, "lc", WRITE_LT, 0, 1, false, &lc), NFS4_OK);

	/* One client instance (same owner and verifier: same key in Redis)
	 * through both gateways, which are two servers to it: destroying its
	 * client on one gateway leaves the locks it holds through the other. */
	struct v4 m1, m2;
	stateid4 om;
	struct lk lm = {0};
	REQUIRE_EQ(session(&m1, g1, "reboot-multi"), 0);
	REQUIRE_EQ(session(&m2, g2, "reboot-multi"), 0);
	REQUIRE_EQ(v4_open(&m2, &hf, "om", "lk5", OPEN4_SHARE_ACCESS_BOTH, 0, false, &om, NULL), 0);
	REQUIRE_EQ(lock(&m2, &f, &om, "lm", WRITE_LT, 100, 1, false, &lm), NFS4_OK);
	v4_begin(&m1);
	memcpy(v4_add(&m1, OP_DESTROY_SESSION)->nfs_argop4_u.opdestroy_session.dsa_sessionid, m1.sessionid,
	       sizeof(m1.sessionid));
	REQUIRE_EQ(v4_send(&m1), RPC_SUCCESS);
	CHECK_EQ(v4_status(&m1, 0), NFS4_OK);
	v4_begin(&m1);
	v4_add(&m1, OP_DESTROY_CLIENTID)->nfs_argop4_u.opdestroy_clientid.dca_clientid = m1.clientid;
	REQUIRE_EQ(v4_send(&m1), RPC_SUCCESS);
	CHECK_EQ(v4_status(&m1, 0), NFS4_OK);
	CHECK_EQ(lock(&c, &f, &lc.sid, NULL, WRITE_LT, 100, 1, false, &lm), NFS4ERR_DENIED);
	CHECK_STR(lm.owner, "lm");
	v4_close(&m1);
	v4_close(&m2);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
	v4_close(&b);
	v4_close(&c);
}

/* How many keys of the volume match pattern (after the prefix). */
static long long redis_keys(const struct tl_redis *r, const char *pattern)
{
	char cmd[256], line[512];
	snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d --scan --pattern 'gatefs{*}:%s'", r->port, pattern);
	FILE *f = popen(cmd, "r");
	long long n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	pclose(f);
	return n;
}

/* A client that vanishes with an open and a lock on a file nobody asks for
 * again: once the gateway drops it (silent for two leases) and its Redis
 * lease ran out, its lock and share reservation are released, not kept in
 * Redis forever. */
TEST(vanished_client_locks_are_released)
{
	REQUIRE(up());
	struct v4 x, y;
	nfs_fh4 hf, f;
	stateid4 ox;
	struct lk lx = {0};
	REQUIRE_EQ(session(&x, g1, "vanish-x"), 0);
	REQUIRE_EQ(v4_export_fh(&x, "hf", &hf), 0);
	long long before = redis_keys(&g1->redis, "lockinos:*");
	/* the open's share reservation and the lock: one index, x's */
	REQUIRE_EQ(v4_open(&x, &hf, "ox", "lk6", OPEN4_SHARE_ACCESS_BOTH, 0, true, &ox, &f), 0);
	REQUIRE_EQ(lock(&x, &f, &ox, "lx", WRITE_LT, 0, EOF64, false, &lx), NFS4_OK);
	CHECK_EQ(redis_keys(&g1->redis, "lockinos:*"), before + 1);
	v4_close(&x);
	sleep(5);				    /* > two leases (2 s) */
	REQUIRE_EQ(session(&y, g1, "vanish-y"), 0); /* EXCHANGE_ID reaps x */
	long long after = redis_keys(&g1->redis, "lockinos:*");
	fprintf(stderr, "lock index keys: %lld before x's lock, %lld after x was reaped\n", before, after);
	CHECK(after <= before);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&y);
}

static long long script_calls(void)
{
	return tl_redis_calls(&g1->redis, "fcall") + tl_redis_calls(&g1->redis, "evalsha");
}

/* SEQUENCE of a client holding locks writes its Redis lease at most every
 * third of a lease (2 s here), not once per call; and what LOCK + LOCKU
 * cost through one gateway. */
TEST(lease_renewal_is_throttled)
{
	REQUIRE(up());
	struct v4 a;
	nfs_fh4 hf, f;
	stateid4 oa;
	struct lk la = {0};
	REQUIRE_EQ(session(&a, g1, "renew-a"), 0);
	REQUIRE_EQ(v4_export_fh(&a, "hf", &hf), 0);
	REQUIRE_EQ(v4_open(&a, &hf, "oa", "lk4", OPEN4_SHARE_ACCESS_BOTH, 0, true, &oa, &f), 0);
	REQUIRE_EQ(lock(&a, &f, &oa, "la", WRITE_LT, 0, 1, false, &la), NFS4_OK);
	long long before = script_calls();
	double start = v4_now_s();
	int n = 0;
	while (v4_now_s() - start < 2.0) {
		CHECK_EQ(renew(&a), NFS4_OK);
		n++;
		usleep(20 * 1000);
	}
	long long writes = script_calls() - before;
	fprintf(stderr, "%d SEQUENCEs in 2 s cost %lld lease renewals in Redis\n", n, writes);
	CHECK(n > 40);
	CHECK(writes >= 2 && writes <= 4);

	/* LOCK + LOCKU round trips, one client, one gateway */
	int pairs = 300;
	start = v4_now_s();
	for (int i = 0; i < pairs; i++) {
		if (lock(&a, &f, &la.sid, NULL, WRITE_LT, 100, 10, false, &la) != NFS4_OK ||
		    locku(&a, &f, &la.sid, 100, 10, &la.sid) != NFS4_OK) {
			CHECK(!"lock/unlock failed");
			break;
		}
	}
	double took = v4_now_s() - start;
	fprintf(stderr, "%d LOCK+LOCKU pairs in %.2f s: %.0f us per operation\n", pairs, took,
		took / (2 * pairs) * 1e6);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&a);
}

TEST(lock_gateways_stop_cleanly)
{
	if (pair.state != 1)
		return;
	pair.state = 0;
	CHECK_EQ(gw_stop(g2), 0);
	CHECK_EQ(gw_stop(g1), 0);
}
