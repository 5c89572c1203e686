/*
 * nfs4_state_mem.c - nfs4_state.h kept in the memory of one gateway: lists
 * of clients, each with its sessions and opens, under one mutex that is
 * never held across a call into the vfs.  Lease expiry is lazy: a client
 * whose lease ran out is dropped, with its sessions and opens, the next
 * time EXCHANGE_ID or a share conflict walks the list.  The Redis layer
 * replaces this file, not its callers (docs/architecture/nfs4.md).  Lock
 * stateids are here too; the locks they name are in Redis.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "nfs4_state.h"

#define MAC_LEN 8

struct slot {
	sequenceid4 seq;
	bool busy;
	bool cached; /* reply holds the reply to seq */
	void *reply;
	size_t reply_len;
};

struct session {
	struct session *next;
	uint8_t id[NFS4_SESSIONID_SIZE];
	struct nfs4_session_params params;
	struct slot *slots;
};

struct open {
	struct open *next;
	uint32_t id;
	uint32_t seqid;
	uint64_t ino;
	uint32_t access, deny;
	size_t owner_len;
	uint8_t owner[NFS4_OPAQUE_LIMIT];
};

/* A lock owner's state on one file, made from the open open_id. */
struct lockst {
	struct lockst *next;
	uint32_t id;
	uint32_t seqid;
	uint32_t open_id;
	uint64_t ino;
	size_t owner_len;
	uint8_t owner[NFS4_OPAQUE_LIMIT];
};

struct client {
	struct client *next;
	char key[NFS4_CLIENT_KEY_LEN + 1]; /* in the shared lock table */
	bool has_locks;			   /* locks or opens made: its Redis lease is kept */
	uint64_t lease_renewed_ms;	   /* when SEQUENCE last asked for a Redis renewal */
	clientid4 id;
	uint8_t verifier[8];
	size_t owner_len;
	uint8_t owner[NFS4_OPAQUE_LIMIT];
	sequenceid4 sequence; /* next expected csa_sequence */
	bool confirmed;
	bool reclaim_complete;
	time_t renewed;
	/* The last CREATE_SESSION, for its replay. */
	bool have_last_session;
	uint8_t last_session[NFS4_SESSIONID_SIZE];
	struct nfs4_session_params last_params;
	struct session *sessions;
	struct open *opens;
	struct lockst *locks;
};

struct nfs4_state {
	pthread_mutex_t lock;
	struct nfs4_state_config cfg;
	uint8_t key[32]; /* stateid MAC key; new at every start */
	uint32_t boot;
	uint32_t next_client;
	uint32_t next_open; /* opens and lock states */
	time_t started;
	struct client *clients;
	/* Keys of reaped clients that had lock state (nfs4_state_expired_keys);
	 * when full, more are not kept: their locks still expire lazily. */
	char expired[64][NFS4_CLIENT_KEY_LEN + 1];
	size_t nexpired;
};

static time_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct nfs4_state *nfs4_state_create(const struct nfs4_state_config *cfg)
{
	struct nfs4_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	if (RAND_bytes(st->key, sizeof(st->key)) != 1) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	st->cfg = *cfg;
	st->boot = (uint32_t)time(NULL);
	st->next_client = 1;
	st->next_open = 1;
	st->started = now();
	return st;
}

static void free_session(struct session *s)
{
	for (uint32_t i = 0; s->slots && i < s->params.slots; i++)
		free(s->slots[i].reply);
	free(s->slots);
	free(s);
}

static void free_client(struct client *c)
{
	while (c->sessions) {
		struct session *s = c->sessions;
		c->sessions = s->next;
		free_session(s);
	}
	while (c->opens) {
		struct open *o = c->opens;
		c->opens = o->next;
		free(o);
	}
	while (c->locks) {
		struct lockst *l = c->locks;
		c->locks = l->next;
		free(l);
	}
	free(c);
}

void nfs4_state_destroy(struct nfs4_state *st)
{
	if (!st)
		return;
	while (st->clients) {
		struct client *c = st->clients;
		st->clients = c->next;
		free_client(c);
	}
	pthread_mutex_destroy(&st->lock);
	free(st);
}

uint32_t nfs4_state_lease(const struct nfs4_state *st)
{
	return st->cfg.lease_seconds;
}

/* Drops every client whose lease ran out (lazy expiry, see the top). */
static void reap_expired(struct nfs4_state *st)
{
	time_t t = now();
	for (struct client **p = &st->clients; *p;) {
		struct client *c = *p;
		if (t - c->renewed > (time_t)st->cfg.lease_seconds * 2) {
			if (c->has_locks && st->nexpired < sizeof(st->expired) / sizeof(st->expired[0]))
				memcpy(st->expired[st->nexpired++], c->key, sizeof(c->key));
			*p = c->next;
			free_client(c);
		} else
			p = &c->next;
	}
}

static struct client *find_client(struct nfs4_state *st, clientid4 id)
{
	for (struct client *c = st->clients; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* A session id starts with its client's id (nfs4_session_create): only
 * that client's sessions are compared. */
static struct session *find_session(struct nfs4_state *st, const uint8_t *id, struct client **owner)
{
	clientid4 cid = 0;
	for (int i = 0; i < 8; i++)
		cid = cid << 8 | id[i];
	for (struct client *c = st->clients; c; c = c->next) {
		if (c->id != cid)
			continue;
		for (struct session *s = c->sessions; s; s = s->next)
			if (memcmp(s->id, id, NFS4_SESSIONID_SIZE) == 0) {
				if (owner)
					*owner = c;
				return s;
			}
	}
	return NULL;
}

/* SHA-256 over {owner length (4 bytes), owner, verifier}, first 16 bytes
 * in hex: the same on every gateway for one client instance. */
static int client_key(const void *owner, size_t owner_len, const uint8_t verifier[8], char key[NFS4_CLIENT_KEY_LEN + 1])
{
	uint8_t len[4] = {(uint8_t)(owner_len >> 24), (uint8_t)(owner_len >> 16), (uint8_t)(owner_len >> 8),
			  (uint8_t)owner_len};
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	int ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(x, len, 4) == 1 &&
		 EVP_DigestUpdate(x, owner, owner_len) == 1 && EVP_DigestUpdate(x, verifier, 8) == 1 &&
		 EVP_DigestFinal_ex(x, md, &md_len) == 1 && md_len >= NFS4_CLIENT_KEY_LEN / 2;
	EVP_MD_CTX_free(x);
	if (!ok)
		return -EIO;
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < NFS4_CLIENT_KEY_LEN / 2; i++) {
		key[2 * i] = hex[md[i] >> 4];
		key[2 * i + 1] = hex[md[i] & 15];
	}
	key[NFS4_CLIENT_KEY_LEN] = 0;
	return 0;
}

nfsstat4 nfs4_client_exchange(struct nfs4_state *st, const void *owner, size_t owner_len, const uint8_t verifier[8],
			      struct nfs4_client_info *out)
{
	if (owner_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	char key[NFS4_CLIENT_KEY_LEN + 1];
	if (client_key(owner, owner_len, verifier, key) < 0)
		return NFS4ERR_SERVERFAULT;
	out->dropped_key[0] = 0;
	pthread_mutex_lock(&st->lock);
	reap_expired(st);
	struct client **p = &st->clients, *c = NULL;
	for (; *p; p = &(*p)->next)
		if ((*p)->owner_len == owner_len && memcmp((*p)->owner, owner, owner_len) == 0) {
			c = *p;
			break;
		}
	if (c && memcmp(c->verifier, verifier, 8) != 0) {
		/* The client rebooted: its old state is gone, its locks too. */
		memcpy(out->dropped_key, c->key, sizeof(c->key));
		*p = c->next;
		free_client(c);
		c = NULL;
	}
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c) {
			pthread_mutex_unlock(&st->lock);
			return NFS4ERR_SERVERFAULT;
		}
		c->id = (clientid4)st->boot << 32 | st->next_client++;
		memcpy(c->key, key, sizeof(key));
		memcpy(c->verifier, verifier, 8);
		memcpy(c->owner, owner, owner_len);
		c->owner_len = owner_len;
		c->sequence = 1;
		c->next = st->clients;
		st->clients = c;
	}
	c->renewed = now();
	out->clientid = c->id;
	out->sequence = c->sequence;
	out->confirmed = c->confirmed;
	pthread_mutex_unlock(&st->lock);
	return NFS4_OK;
}

static void lock_info(const struct nfs4_state *st, clientid4 clientid, const struct client *c, const struct open *o,
		      const struct lockst *l, struct nfs4_lock_info *out);

nfsstat4 nfs4_client_destroy(struct nfs4_state *st, clientid4 clientid, struct nfs4_lock_info **owners, size_t *n)
{
	nfsstat4 status = NFS4ERR_STALE_CLIENTID;

	*owners = NULL;
	*n = 0;

	pthread_mutex_lock(&st->lock);
	for (struct client **p = &st->clients; *p; p = &(*p)->next) {
		struct client *c = *p;
		if (c->id != clientid)
			continue;
		if (c->sessions) {
			status = NFS4ERR_CLIENTID_BUSY;
			break;
		}
		size_t count = 0;
		for (struct lockst *l = c->locks; l; l = l->next)
			count++;
		for (struct open *o = c->opens; o; o = o->next)
			count++;
		if (count && !(*owners = calloc(count, sizeof(**owners)))) {
			status = NFS4ERR_DELAY; /* nothing is destroyed: the client asks again */
			break;
		}
		for (struct lockst *l = c->locks; l; l = l->next) {
			/* one entry per owner, however many files it locked */
			bool seen = false;
			for (size_t i = 0; i < *n && !seen; i++)
				seen = (*owners)[i].owner_len == l->owner_len &&
				       memcmp((*owners)[i].owner, l->owner, l->owner_len) == 0;
			if (!seen)
				lock_info(st, clientid, c, NULL, l, &(*owners)[(*n)++]);
		}
		for (struct open *o = c->opens; o; o = o->next) {
			bool seen = false;
			for (size_t i = 0; i < *n && !seen; i++)
				seen = (*owners)[i].owner_len == o->owner_len &&
				       memcmp((*owners)[i].owner, o->owner, o->owner_len) == 0;
			if (!seen) {
				struct nfs4_lock_info *li = &(*owners)[(*n)++];
				li->ino = o->ino;
				memcpy(li->key, c->key, sizeof(c->key));
				li->owner_len = o->owner_len;
				memcpy(li->owner, o->owner, o->owner_len);
			}
		}
		*p = c->next;
		free_client(c);
		status = NFS4_OK;
		break;
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_client_key(struct nfs4_state *st, clientid4 clientid, char key[NFS4_CLIENT_KEY_LEN + 1])
{
	pthread_mutex_lock(&st->lock);
	struct client *c = find_client(st, clientid);
	if (c)
		memcpy(key, c->key, sizeof(c->key));
	pthread_mutex_unlock(&st->lock);
	return c ? NFS4_OK : NFS4ERR_STALE_CLIENTID;
}

clientid4 nfs4_client_by_key(struct nfs4_state *st, const char *key)
{
	clientid4 id = 0;
	pthread_mutex_lock(&st->lock);
	for (struct client *c = st->clients; c && !id; c = c->next)
		if (strcmp(c->key, key) == 0)
			id = c->id;
	pthread_mutex_unlock(&st->lock);
	return id;
}

size_t nfs4_state_expired_keys(struct nfs4_state *st, char (*out)[NFS4_CLIENT_KEY_LEN + 1], size_t max)
{
	pthread_mutex_lock(&st->lock);
	size_t n = st->nexpired < max ? st->nexpired : max;
	if (n) {
		memcpy(out, st->expired[st->nexpired - n], n * sizeof(out[0]));
		st->nexpired -= n;
	}
	pthread_mutex_unlock(&st->lock);
	return n;
}

bool nfs4_client_may_reclaim(struct nfs4_state *st, clientid4 clientid)
{
	if (now() - st->started >= (time_t)st->cfg.lease_seconds)
		return false;
	pthread_mutex_lock(&st->lock);
	struct client *c = find_client(st, clientid);
	bool may = c && !c->reclaim_complete;
	pthread_mutex_unlock(&st->lock);
	return may;
}

void nfs4_client_lease_retry(struct nfs4_state *st, clientid4 clientid)
{
	pthread_mutex_lock(&st->lock);
	struct client *c = find_client(st, clientid);
	if (c)
		c->lease_renewed_ms = 0;
	pthread_mutex_unlock(&st->lock);
}

nfsstat4 nfs4_client_reclaim_complete(struct nfs4_state *st, clientid4 clientid)
{
	nfsstat4 status = NFS4ERR_STALE_CLIENTID;

	pthread_mutex_lock(&st->lock);
	struct client *c = find_client(st, clientid);
	if (c) {
		status = c->reclaim_complete ? NFS4ERR_COMPLETE_ALREADY : NFS4_OK;
		c->reclaim_complete = true;
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_session_create(struct nfs4_state *st, clientid4 clientid, sequenceid4 sequence,
			     const struct nfs4_session_params *in, uint8_t sessionid[NFS4_SESSIONID_SIZE],
			     struct nfs4_session_params *out)
{
	nfsstat4 status = NFS4_OK;

	pthread_mutex_lock(&st->lock);
	struct client *c = find_client(st, clientid);
	if (!c) {
		status = NFS4ERR_STALE_CLIENTID;
		goto out;
	}
	if (sequence == c->sequence - 1 && c->have_last_session) {
		memcpy(sessionid, c->last_session, NFS4_SESSIONID_SIZE);
		*out = c->last_params;
		goto out;
	}
	if (sequence != c->sequence) {
		status = NFS4ERR_SEQ_MISORDERED;
		goto out;
	}
	struct session *s = calloc(1, sizeof(*s));
	*out = *in;
	if (out->slots == 0)
		out->slots = 1;
	if (out->slots > st->cfg.max_slots)
		out->slots = st->cfg.max_slots;
	if (s)
		s->slots = calloc(out->slots, sizeof(*s->slots));
	if (!s || !s->slots || RAND_bytes(s->id + 8, 8) != 1) {
		if (s)
			free(s->slots);
		free(s);
		status = NFS4ERR_SERVERFAULT;
		goto out;
	}
	for (int i = 0; i < 8; i++)
		s->id[i] = (uint8_t)(clientid >> (56 - 8 * i));
	s->params = *out;
	s->next = c->sessions;
	c->sessions = s;
	c->confirmed = true;
	c->renewed = now();
	c->sequence++;
	c->have_last_session = true;
	memcpy(c->last_session, s->id, NFS4_SESSIONID_SIZE);
	c->last_params = *out;
	memcpy(sessionid, s->id, NFS4_SESSIONID_SIZE);
out:
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_session_destroy(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE])
{
	nfsstat4 status = NFS4ERR_BADSESSION;

	pthread_mutex_lock(&st->lock);
	for (struct client *c = st->clients; c && status != NFS4_OK; c = c->next)
		for (struct session **p = &c->sessions; *p; p = &(*p)->next)
			if (memcmp((*p)->id, sessionid, NFS4_SESSIONID_SIZE) == 0) {
				struct session *s = *p;
				*p = s->next;
				free_session(s);
				status = NFS4_OK;
				break;
			}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_session_check(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE])
{
	pthread_mutex_lock(&st->lock);
	nfsstat4 status = find_session(st, sessionid, NULL) ? NFS4_OK : NFS4ERR_BADSESSION;
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_slot_begin(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE], slotid4 slotid,
			 sequenceid4 seq, struct nfs4_slot_grant *out)
{
	nfsstat4 status = NFS4_OK;
	struct client *c;
	void *old_reply = NULL; /* freed once the lock is dropped */
	time_t t = now();
	uint64_t t_ms = now_ms();

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->lock);
	struct session *s = find_session(st, sessionid, &c);
	if (!s) {
		status = NFS4ERR_BADSESSION;
		goto out;
	}
	if (slotid >= s->params.slots) {
		status = NFS4ERR_BADSLOT;
		goto out;
	}
	struct slot *sl = &s->slots[slotid];
	if (seq == sl->seq && seq != 0) {
		if (sl->busy)
			status = NFS4ERR_DELAY;
		else if (!sl->cached)
			status = NFS4ERR_RETRY_UNCACHED_REP;
		else {
			out->replay = malloc(sl->reply_len);
			if (!out->replay)
				status = NFS4ERR_DELAY;
			else {
				memcpy(out->replay, sl->reply, sl->reply_len);
				out->replay_len = sl->reply_len;
			}
		}
		goto out;
	}
	if (seq != sl->seq + 1 || sl->busy) {
		status = NFS4ERR_SEQ_MISORDERED;
		goto out;
	}
	sl->seq = seq;
	sl->busy = true;
	sl->cached = false;
	old_reply = sl->reply;
	sl->reply = NULL;
	sl->reply_len = 0;
	c->renewed = t;
	if (c->has_locks) {
		if (c->lease_renewed_ms == 0 || t_ms - c->lease_renewed_ms >= st->cfg.lease_seconds * 1000ull / 3) {
			c->lease_renewed_ms = t_ms;
			out->renew_lease = true;
			memcpy(out->key, c->key, sizeof(c->key));
		}
	}
	out->clientid = c->id;
	out->params = s->params;
	out->highest_slot = s->params.slots - 1;
out:
	pthread_mutex_unlock(&st->lock);
	free(old_reply);
	return status;
}

void nfs4_slot_finish(struct nfs4_state *st, const uint8_t sessionid[NFS4_SESSIONID_SIZE], slotid4 slotid,
		      const void *reply, size_t len, bool cache)
{
	/* The copy is made before the lock is taken: every SEQUENCE of every
	 * session waits for that lock. */
	void *copy = NULL;
	if (cache && reply && (copy = malloc(len ? len : 1)) != NULL)
		memcpy(copy, reply, len);
	pthread_mutex_lock(&st->lock);
	struct session *s = find_session(st, sessionid, NULL);
	if (s && slotid < s->params.slots) {
		struct slot *sl = &s->slots[slotid];
		sl->busy = false;
		if (copy && len <= s->params.max_response_cached) {
			sl->reply = copy;
			sl->reply_len = len;
			sl->cached = true;
			copy = NULL;
		}
	}
	pthread_mutex_unlock(&st->lock);
	free(copy);
}

/* other = {open id (4 bytes), MAC (8 bytes)}; the MAC binds it to the
 * client and to this server's start. */
static int stateid_mac(const struct nfs4_state *st, clientid4 clientid, uint32_t id, uint8_t out[MAC_LEN])
{
	uint8_t msg[12], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(clientid >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		msg[8 + i] = (uint8_t)(id >> (24 - 8 * i));
	if (!HMAC(EVP_sha256(), st->key, sizeof(st->key), msg, sizeof(msg), md, &md_len) || md_len < MAC_LEN)
		return -EIO;
	memcpy(out, md, MAC_LEN);
	return 0;
}

static void make_sid(const struct nfs4_state *st, clientid4 clientid, uint32_t id, uint32_t seqid, stateid4 *out)
{
	out->seqid = seqid;
	for (int i = 0; i < 4; i++)
		out->other[i] = (char)(id >> (24 - 8 * i));
	if (stateid_mac(st, clientid, id, (uint8_t *)out->other + 4) < 0)
		memset(out->other + 4, 0, MAC_LEN); /* will never verify */
}

static void make_stateid(const struct nfs4_state *st, clientid4 clientid, const struct open *o, stateid4 *out)
{
	make_sid(st, clientid, o->id, o->seqid, out);
}

/* The client sid was made for, with the state id it carries; NULL if the
 * stateid is forged or another client's, or the client is gone. */
static struct client *verify_sid(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint32_t *id)
{
	uint8_t mac[MAC_LEN];

	*id = 0;
	for (int i = 0; i < 4; i++)
		*id = *id << 8 | (uint8_t)sid->other[i];
	if (stateid_mac(st, clientid, *id, mac) < 0 || CRYPTO_memcmp(mac, sid->other + 4, MAC_LEN) != 0)
		return NULL;
	return find_client(st, clientid);
}

static struct open *open_by_id(struct client *c, uint32_t id)
{
	for (struct open *o = c->opens; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

/* The open that sid names for clientid, or NULL if it is forged, another
 * client's or gone. */
static struct open *find_open(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, struct client **owner)
{
	uint32_t id;
	struct client *c = verify_sid(st, clientid, sid, &id);
	if (!c)
		return NULL;
	if (owner)
		*owner = c;
	return open_by_id(c, id);
}

/* The lock state that sid names for clientid, or NULL. */
static struct lockst *find_lockst(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, struct client **owner)
{
	uint32_t id;
	struct client *c = verify_sid(st, clientid, sid, &id);
	if (!c)
		return NULL;
	if (owner)
		*owner = c;
	for (struct lockst *l = c->locks; l; l = l->next)
		if (l->id == id)
			return l;
	return NULL;
}

/* seqid 0 means "the current one" in v4.1 (RFC 8881 section 8.2.2). */
static nfsstat4 check_seq(uint32_t current, const stateid4 *sid)
{
	if (sid->seqid == 0 || sid->seqid == current)
		return NFS4_OK;
	return sid->seqid < current ? NFS4ERR_OLD_STATEID : NFS4ERR_BAD_STATEID;
}

static nfsstat4 check_seqid(const struct open *o, const stateid4 *sid)
{
	return check_seq(o->seqid, sid);
}

nfsstat4 nfs4_open_acquire(struct nfs4_state *st, clientid4 clientid, const void *owner, size_t owner_len, uint64_t ino,
			   uint32_t access, uint32_t deny, stateid4 *out)
{
	nfsstat4 status = NFS4_OK;

	if (owner_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	pthread_mutex_lock(&st->lock);
	struct client *me = find_client(st, clientid);
	if (!me) {
		status = NFS4ERR_EXPIRED;
		goto out;
	}
	struct open *mine = NULL;
	for (int pass = 0; pass < 2; pass++) {
		bool conflict = false;
		for (struct client *c = st->clients; c; c = c->next)
			for (struct open *o = c->opens; o; o = o->next) {
				if (o->ino != ino)
					continue;
				bool same_owner =
				    c == me && o->owner_len == owner_len && memcmp(o->owner, owner, owner_len) == 0;
				if (same_owner) {
					mine = o;
					continue;
				}
				if ((o->deny & access) || (o->access & deny))
					conflict = true;
			}
		if (!conflict)
			break;
		if (pass == 1) {
			status = NFS4ERR_SHARE_DENIED;
			goto out;
		}
		reap_expired(st); /* an expired holder yields; then look again */
		mine = NULL;
		if (!find_client(st, clientid)) {
			status = NFS4ERR_EXPIRED;
			goto out;
		}
	}
	if (!mine) {
		mine = calloc(1, sizeof(*mine));
		if (!mine) {
			status = NFS4ERR_SERVERFAULT;
			goto out;
		}
		mine->id = st->next_open++;
		mine->ino = ino;
		memcpy(mine->owner, owner, owner_len);
		mine->owner_len = owner_len;
		mine->next = me->opens;
		me->opens = mine;
	}
	mine->access |= access;
	mine->deny |= deny;
	mine->seqid++;
	make_stateid(st, clientid, mine, out);
	if (!me->has_locks) {
		me->has_locks = true;
		me->lease_renewed_ms = now_ms(); /* the shared reservation renewed it */
	}
out:
	pthread_mutex_unlock(&st->lock);
	return status;
}

void nfs4_open_reservation(struct nfs4_state *st, clientid4 clientid, const void *owner, size_t owner_len, uint64_t ino,
			   uint32_t *access, uint32_t *deny)
{
	*access = *deny = 0;
	pthread_mutex_lock(&st->lock);
	struct client *c = find_client(st, clientid);
	for (struct open *o = c ? c->opens : NULL; o; o = o->next)
		if (o->ino == ino && o->owner_len == owner_len && memcmp(o->owner, owner, owner_len) == 0) {
			*access = o->access;
			*deny = o->deny;
			break;
		}
	pthread_mutex_unlock(&st->lock);
}

static void open_owner(const struct client *c, const struct open *o, struct nfs4_open_owner *who)
{
	memcpy(who->key, c->key, sizeof(c->key));
	who->access = o->access;
	who->deny = o->deny;
	who->owner_len = o->owner_len;
	memcpy(who->owner, o->owner, o->owner_len);
}

nfsstat4 nfs4_open_check(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino, uint32_t want)
{
	nfsstat4 status;

	pthread_mutex_lock(&st->lock);
	struct client *c = NULL;
	struct open *o = find_open(st, clientid, sid, &c);
	struct lockst *l = o || !c ? NULL : find_lockst(st, clientid, sid, NULL);
	if (l) /* a lock stateid stands for its open (the Linux client sends one for I/O under a lock) */
		o = open_by_id(c, l->open_id);
	if (!o || o->ino != ino)
		status = NFS4ERR_BAD_STATEID;
	else if ((status = l ? check_seq(l->seqid, sid) : check_seqid(o, sid)) == NFS4_OK) {
		uint32_t allowed = o->access;
		if (allowed & OPEN4_SHARE_ACCESS_WRITE)
			allowed |= OPEN4_SHARE_ACCESS_READ;
		if ((want & allowed) != want)
			status = NFS4ERR_OPENMODE;
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_open_close(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino, stateid4 *out,
			 struct nfs4_open_owner *who)
{
	nfsstat4 status;
	struct client *c = NULL;

	pthread_mutex_lock(&st->lock);
	struct open *o = find_open(st, clientid, sid, &c);
	if (!o || o->ino != ino)
		status = NFS4ERR_BAD_STATEID;
	else if ((status = check_seqid(o, sid)) == NFS4_OK) {
		o->seqid++;
		make_stateid(st, clientid, o, out);
		open_owner(c, o, who);
		who->access = who->deny = 0;
		/* Its lock states go with it (the caller checked that they hold
		 * no lock). */
		for (struct lockst **lp = &c->locks; *lp;) {
			struct lockst *l = *lp;
			if (l->open_id == o->id) {
				*lp = l->next;
				free(l);
			} else
				lp = &l->next;
		}
		for (struct open **p = &c->opens; *p; p = &(*p)->next)
			if (*p == o) {
				*p = o->next;
				free(o);
				break;
			}
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_open_downgrade(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino,
			     uint32_t access, uint32_t deny, stateid4 *out, struct nfs4_open_owner *who)
{
	nfsstat4 status;
	struct client *c = NULL;

	pthread_mutex_lock(&st->lock);
	struct open *o = find_open(st, clientid, sid, &c);
	if (!o || o->ino != ino)
		status = NFS4ERR_BAD_STATEID;
	else if ((status = check_seqid(o, sid)) == NFS4_OK) {
		if (access == 0 || (access & ~o->access) || (deny & ~o->deny))
			status = NFS4ERR_INVAL;
		else {
			o->access = access;
			o->deny = deny;
			o->seqid++;
			make_stateid(st, clientid, o, out);
			open_owner(c, o, who);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_stateid_test(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid)
{
	pthread_mutex_lock(&st->lock);
	struct open *o = find_open(st, clientid, sid, NULL);
	struct lockst *l = o ? NULL : find_lockst(st, clientid, sid, NULL);
	nfsstat4 status = o ? check_seqid(o, sid) : l ? check_seq(l->seqid, sid) : NFS4ERR_BAD_STATEID;
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_stateid_free(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid)
{
	nfsstat4 status = nfs4_stateid_test(st, clientid, sid);
	return status == NFS4_OK ? NFS4ERR_LOCKS_HELD : status;
}

static void lock_info(const struct nfs4_state *st, clientid4 clientid, const struct client *c, const struct open *o,
		      const struct lockst *l, struct nfs4_lock_info *out)
{
	make_sid(st, clientid, l->id, l->seqid, &out->stateid);
	out->ino = l->ino;
	out->access = o ? o->access : 0;
	memcpy(out->key, c->key, sizeof(c->key));
	out->owner_len = l->owner_len;
	memcpy(out->owner, l->owner, l->owner_len);
}

nfsstat4 nfs4_lock_from_open(struct nfs4_state *st, clientid4 clientid, const stateid4 *open_sid, uint64_t ino,
			     const void *owner, size_t owner_len, struct nfs4_lock_info *out)
{
	nfsstat4 status;
	struct client *c = NULL;

	if (owner_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	pthread_mutex_lock(&st->lock);
	struct open *o = find_open(st, clientid, open_sid, &c);
	if (!o || o->ino != ino)
		status = NFS4ERR_BAD_STATEID;
	else if ((status = check_seqid(o, open_sid)) == NFS4_OK) {
		struct lockst *l = c->locks;
		for (; l; l = l->next)
			if (l->ino == ino && l->owner_len == owner_len && memcmp(l->owner, owner, owner_len) == 0)
				break;
		if (!l && (l = calloc(1, sizeof(*l))) != NULL) {
			l->id = st->next_open++;
			l->open_id = o->id;
			l->ino = ino;
			l->owner_len = owner_len;
			memcpy(l->owner, owner, owner_len);
			l->next = c->locks;
			c->locks = l;
		}
		if (!l)
			status = NFS4ERR_SERVERFAULT;
		else {
			if (!c->has_locks) {
				c->has_locks = true;
				c->lease_renewed_ms = now_ms(); /* the grant itself renews it */
			}
			lock_info(st, clientid, c, open_by_id(c, l->open_id), l, out);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_lock_find(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, uint64_t ino,
			struct nfs4_lock_info *out)
{
	nfsstat4 status;
	struct client *c = NULL;

	pthread_mutex_lock(&st->lock);
	struct lockst *l = find_lockst(st, clientid, sid, &c);
	if (!l || (ino && l->ino != ino))
		status = NFS4ERR_BAD_STATEID;
	else if ((status = check_seq(l->seqid, sid)) == NFS4_OK)
		lock_info(st, clientid, c, open_by_id(c, l->open_id), l, out);
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_lock_advance(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid, stateid4 *out)
{
	pthread_mutex_lock(&st->lock);
	struct lockst *l = find_lockst(st, clientid, sid, NULL);
	if (l) {
		l->seqid++;
		make_sid(st, clientid, l->id, l->seqid, out);
	}
	pthread_mutex_unlock(&st->lock);
	return l ? NFS4_OK : NFS4ERR_BAD_STATEID;
}

nfsstat4 nfs4_lock_free(struct nfs4_state *st, clientid4 clientid, const stateid4 *sid)
{
	nfsstat4 status = NFS4ERR_BAD_STATEID;
	struct client *c = NULL;

	pthread_mutex_lock(&st->lock);
	struct lockst *l = find_lockst(st, clientid, sid, &c);
	if (l && (status = check_seq(l->seqid, sid)) == NFS4_OK)
		for (struct lockst **p = &c->locks; *p; p = &(*p)->next)
			if (*p == l) {
				*p = l->next;
				free(l);
				break;
			}
	pthread_mutex_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_open_lock_owners(struct nfs4_state *st, clientid4 clientid, const stateid4 *open_sid, uint64_t ino,
			       struct nfs4_lock_info **out, size_t *n)
{
	nfsstat4 status;
	struct client *c = NULL;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	struct open *o = find_open(st, clientid, open_sid, &c);
	if (!o || o->ino != ino)
		status = NFS4ERR_BAD_STATEID;
	else if ((status = check_seqid(o, open_sid)) == NFS4_OK) {
		size_t count = 0;
		for (struct lockst *l = c->locks; l; l = l->next)
			count += l->open_id == o->id;
		if (count && !(*out = calloc(count, sizeof(**out))))
			status = NFS4ERR_DELAY;
		for (struct lockst *l = c->locks; *out && l; l = l->next)
			if (l->open_id == o->id)
				lock_info(st, clientid, c, o, l, &(*out)[(*n)++]);
	}
	pthread_mutex_unlock(&st->lock);
	return status;
}
