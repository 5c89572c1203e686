/*
 * drc.h - the duplicate request cache.  Non-idempotent calls (CREATE,
 * REMOVE, RENAME, ...) are remembered with their encoded reply, so that a
 * retransmission, which a client sends when it lost our reply, gets the
 * first answer again instead of running twice (and answering EEXIST or
 * ENOENT).  A retransmission that arrives while the first is still running
 * is dropped: the client will ask again.  Bounded in entries and bytes; the
 * least recently used finished entry goes first, a running one never.
 * Thread-safe.
 */
#ifndef GATEFS_DRC_H
#define GATEFS_DRC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct drc;

struct drc_key {
	uint8_t addr[16]; /* client address (not port: clients retransmit on new connections) */
	uint32_t family;
	uint32_t xid;
	uint32_t prog;
	uint32_t vers;
	uint32_t proc;
	uint64_t args_hash;
};

enum drc_result {
	DRC_NEW = 0,	     /* first time: run the call, then drc_finish or drc_abandon */
	DRC_IN_PROGRESS = 1, /* the first copy is still running: send nothing */
	DRC_REPLAY = 2,	     /* *reply (malloc'ed, caller frees) holds the first reply */
};

/* Bounded by max_entries and by max_bytes of drc_footprint; replies unused
 * for more than retention_s seconds are dropped. */
struct drc *drc_create(uint32_t max_entries, uint64_t max_bytes, uint32_t retention_s);
/* Bytes one entry with a reply of reply_len bytes takes (allocator overhead
 * aside); the byte budget counts this. */
size_t drc_footprint(size_t reply_len);
void drc_destroy(struct drc *drc);

/* Fills the address part of a key from a socket address. */
void drc_key_set_addr(struct drc_key *key, const struct sockaddr *sa);
/* FNV-1a over encoded argument bytes. */
uint64_t drc_hash(const void *data, size_t len);

enum drc_result drc_begin(struct drc *drc, const struct drc_key *key, void **reply, size_t *reply_len);
/* Stores the encoded reply for an entry begun with DRC_NEW.  A reply larger
 * than a quarter of the byte budget is not kept (the entry is removed). */
void drc_finish(struct drc *drc, const struct drc_key *key, const void *reply, size_t reply_len);
/* Forgets an entry begun with DRC_NEW (no reply was sent). */
void drc_abandon(struct drc *drc, const struct drc_key *key);

struct drc_stats {
	uint64_t entries;
	uint64_t bytes;
	uint64_t replays;
	uint64_t drops;
	uint64_t evicted; /* finished entries pushed out by the budget */
};
void drc_get_stats(struct drc *drc, struct drc_stats *out);

#endif
