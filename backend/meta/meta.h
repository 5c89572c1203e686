/*
 * meta.h - the metadata engine: the POSIX namespace, attributes, directory
 * entries, xattrs and the slice lists of file chunks, kept in Redis.  Every
 * mutation is one atomic Lua script (or MULTI/EXEC).  The engine knows
 * nothing of objects beyond slice ids and sizes.  The format is in
 * docs/FORMAT.md.
 *
 * Errors follow vfs.h.  Namespace operations take the same arguments as
 * their gfs_* twins in vfs.h and do the permission checks inside the same
 * atomic script, so a check and its mutation can never interleave with
 * another client's change.
 */
#ifndef GATEFS_META_H
#define GATEFS_META_H

#include "gfs_types.h"

#define META_FORMAT_VERSION 1
/* What the first clone raises a volume's version to (FORMAT §3, §6):
 * gatefs before clones would free a shared slice with its first file. */
#define META_FORMAT_VERSION_CLONES 2
#define META_DEFAULT_BLOCK_SIZE (4u << 20)
#define META_CHUNK_SIZE (64u << 20)

struct meta;

/* url with any password replaced by "***" (redis://user:***@host,
 * ?password=***), for messages: a password is never printed. */
void meta_url_redact(const char *url, char *out, size_t outlen);
/* Connects (per-thread connections are made lazily inside), checks
 * maxmemory-policy (refuses anything that evicts) and warns if neither AOF
 * nor RDB persistence is on.  Does not need a formatted volume. */
int meta_open(const char *url, struct meta **out, char *err, size_t errlen);
void meta_close(struct meta *m);
/* One PING round trip on a new connection to the Redis at url (for health
 * checks): 0 if PONG came back; else -EAGAIN (unreachable) or -EIO, with
 * the reason in err. */
int meta_probe_url(const char *url, char *err, size_t errlen);

/* Starts the inode attribute cache (backend/meta/meta_cache.c): GETATTR, ACCESS,
 * LOOKUP and READDIRPLUS are then answered from memory while Redis reports
 * no change of the inode (client-side tracking), from any gateway.  Up to
 * max_entries inodes (about 200 bytes each).  Stopped by meta_close. */
int meta_cache_start(struct meta *m, uint32_t max_entries, char *err, size_t errlen);
struct meta_cache_stats {
	uint64_t hits, misses, invalidations, refreshes, entries;
	uint64_t new_fresh, new_reread; /* inodes this gateway created: cached at once, or re-read first */
	int tracking;			/* 1 while invalidations are being received */
};
void meta_cache_stats(struct meta *m, struct meta_cache_stats *out);

/* Writes settings and the root directory.  Refuses (-EEXIST) if a volume
 * exists unless force is set, in which case only settings are updated. */
int meta_format(struct meta *m, const struct gfs_volume_settings *s, int force, char *err, size_t errlen);
/* -ENOENT if not formatted; -EPROTO if the format version is unknown. */
int meta_load_settings(struct meta *m, struct gfs_volume_settings *s, char *err, size_t errlen);

/* Namespace (see vfs.h for the contract of each). */
int meta_lookup(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
		struct gfs_attr *out);
int meta_getattr(struct meta *m, struct gfs_ref ref, struct gfs_attr *out);
/* Makes [offset, offset+length) of a regular file read as zeros (zero
 * records; the size never changes), as a write by cred would be allowed
 * to: -EACCES, -EISDIR, -EINVAL (not a regular file).  Bumps mtime, ctime
 * and the change counter; drops set-id bits as a write does. */
int meta_punch(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, uint64_t length,
	       struct gfs_wcc *wcc);
/* Makes [dst_off, dst_off+n) of file dst read what [src_off, src_off+n)
 * of file src reads, by copying slice records (no object is read or
 * written); n = count cut at the end of src (count 0: to the end).  Slices
 * shared this way are counted in P sliceref (FORMAT §6).  Read permission
 * on src and write permission on dst as cred: -EACCES; -EISDIR, -EINVAL
 * (not regular files, or overlapping ranges of one file), -EFBIG,
 * -ENOSPC.  *copied (optional) is n. */
int meta_clone(struct meta *m, const struct gfs_cred *cred, struct gfs_ref src, struct gfs_ref dst, uint64_t src_off,
	       uint64_t dst_off, uint64_t count, struct gfs_wcc *wcc, uint64_t *copied);
int meta_setattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const struct gfs_setattr *sa,
		 const struct gfs_time *guard_ctime, struct gfs_wcc *wcc);
int meta_access(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, uint32_t want, uint32_t *granted,
		struct gfs_attr *attr_out);
int meta_readlink(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		  size_t *len);
int meta_statfs(struct meta *m, struct gfs_statfs *out);
int meta_create(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
		enum gfs_create_how how, const uint8_t verifier[8], struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int meta_mkdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
	       struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int meta_symlink(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, const char *target,
		 uint32_t mode, struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int meta_mknod(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, enum gfs_ftype type,
	       uint32_t mode, uint32_t rdev_major, uint32_t rdev_minor, struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int meta_link(struct meta *m, const struct gfs_cred *cred, struct gfs_ref target, struct gfs_ref dir, const char *name,
	      struct gfs_attr *target_out, struct gfs_wcc *dir_wcc);
int meta_remove(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
		struct gfs_wcc *dir_wcc);
int meta_rmdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	       struct gfs_wcc *dir_wcc);
int meta_rename(struct meta *m, const struct gfs_cred *cred, struct gfs_ref src_dir, const char *src_name,
		struct gfs_ref dst_dir, const char *dst_name, struct gfs_wcc *src_wcc, struct gfs_wcc *dst_wcc);
/* max_entries: the most entries (counting "." and "..") the callback can
 * take, 0 = no hint; batches are sized from it, and once it is used up the
 * listing returns (with *eof 0) without the callback having stopped. */
int meta_readdir(struct meta *m, const struct gfs_cred *cred, struct gfs_ref dir, uint64_t cookie,
		 uint64_t cookie_verifier, int plus, uint32_t max_entries, gfs_readdir_cb cb, void *arg, int *eof,
		 uint64_t *verifier_out, struct gfs_attr *dir_attr);
int meta_getxattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *name, void *buf,
		  size_t bufsize, size_t *len);
int meta_setxattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *name, const void *value,
		  size_t len, int flags);
int meta_listxattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		   size_t *len);
int meta_removexattr(struct meta *m, const struct gfs_cred *cred, struct gfs_ref ref, const char *name);

/*
 * File data.  A file is a sequence of chunks of META_CHUNK_SIZE bytes.  Each
 * chunk has a list of slice records, oldest first; on read the newest record
 * covering a byte wins, and bytes covered by none read as zeros.
 * A record with id 0 is a hole (reads as zeros): truncate writes these.
 */
struct meta_slice {
	uint32_t pos;  /* offset of this record within the chunk */
	uint64_t id;   /* slice id; 0 = zeros */
	uint32_t size; /* full size of the slice object set (bytes) */
	uint32_t off;  /* offset of this record's data within the slice */
	uint32_t len;  /* bytes this record covers */
};

/*
 * Slice ids (docs/FORMAT.md §6).  `nextslice` is a counter; an id drawn by
 * this version is the counter value plus a random tag of its reservation
 * batch, with bit 63 set.  If Redis loses its last writes (a crash under
 * appendfsync everysec, failover to a lagging replica, a restore from
 * backup), counter values are handed out again, but to a batch with
 * another tag: the ids, their object keys and block cache keys stay
 * distinct.  Ids without bit 63 are plain counter values (volumes written
 * before tags), so their objects keep their keys.
 */
#define META_SLICE_TAGGED (1ULL << 63)
#define META_SLICE_COUNTER_BITS 40
#define META_SLICE_COUNTER_MAX ((1ULL << META_SLICE_COUNTER_BITS) - 1)
#define META_SLICE_TAG_MASK ((1U << 23) - 1) /* bits 40..62 */

static inline uint64_t meta_slice_id_make(uint32_t tag, uint64_t counter)
{
	return META_SLICE_TAGGED | (uint64_t)(tag & META_SLICE_TAG_MASK) << META_SLICE_COUNTER_BITS | counter;
}

/* The nextslice counter value an id was drawn from. */
static inline uint64_t meta_slice_counter(uint64_t id)
{
	return id & META_SLICE_TAGGED ? id & META_SLICE_COUNTER_MAX : id;
}

/* How many times a new connection found another Redis process than the
 * one before (run id changed): each may have lost acknowledged writes. */
uint64_t meta_redis_restarts(struct meta *m);
/* One round trip on this thread's connection (reconnecting, and so
 * checking the run id, if the connection broke). */
int meta_ping(struct meta *m);

/* Reserves count consecutive counter values of `nextslice`; returns the
 * first.  -ENOSPC once the counter would pass META_SLICE_COUNTER_MAX. */
int meta_new_slice_ids(struct meta *m, uint32_t count, uint64_t *first);
/* The last slice id handed out so far (0: none).  Every later reservation
 * returns larger ids, so gc spares ids above a value read before its scan. */
int meta_last_slice_id(struct meta *m, uint64_t *last);
/* Caller frees *out with free(). */
int meta_read_chunk(struct meta *m, gfs_ino_t ino, uint32_t chunk_index, struct meta_slice **out, size_t *n);
/* Appends one slice record to a chunk, and atomically raises the file size
 * to at least new_size_min, sets mtime/ctime to now and bumps the change
 * counter.  -ESTALE if the inode is gone (the slice is then queued for
 * deletion by the script).  *nslices_out (optional) is the chunk's record
 * count after the append, so the caller can schedule compaction. */
int meta_write_slice(struct meta *m, struct gfs_ref ref, uint32_t chunk_index, const struct meta_slice *s,
		     uint64_t new_size_min, struct gfs_wcc *wcc, size_t *nslices_out);
/* The first chunk index >= from whose chunk list exists: 0 and *idx, or
 * -ENOENT if there is none.  -EOPNOTSUPP for a file made before chunk
 * indexes (no `k` field, FORMAT §4): its index may miss chunks, so the
 * caller must take every chunk as possibly holding data. */
int meta_next_chunk(struct meta *m, gfs_ino_t ino, uint32_t from, uint32_t *idx);
/* Replaces the first nold records of a chunk with the given records, if the
 * list still starts with exactly those nold records (else -EAGAIN and
 * nothing changes).  Slice ids no longer referenced go to the delete queue. */
int meta_compact_chunk(struct meta *m, gfs_ino_t ino, uint32_t chunk_index, const struct meta_slice *old, size_t nold,
		       const struct meta_slice *repl, size_t nrepl);

/* The delayed-delete queue of slices whose objects may be removed. */
struct meta_dead_slice {
	uint64_t id;
	uint32_t size;
};
/* Returns up to max entries queued at least min_age_sec ago by Redis's
 * clock (TIME; the queue is scored with it), or every entry for
 * META_DEAD_ANY_AGE (caller frees). */
#define META_DEAD_ANY_AGE INT64_MIN
int meta_dead_slices(struct meta *m, int64_t min_age_sec, size_t max, struct meta_dead_slice **out, size_t *n);
/* Removes entries from the queue after their objects are deleted. */
int meta_dead_slices_done(struct meta *m, const struct meta_dead_slice *s, size_t n);
/* Moves entries whose objects could not all be deleted to queue time
 * now + backoff_sec by Redis's clock, so they come back after their
 * backoff while the rest of the queue proceeds.  Entries already removed
 * (by another gateway) stay removed. */
int meta_dead_slices_retry(struct meta *m, const struct meta_dead_slice *s, size_t n, int64_t backoff_sec);

/* fsck: walks every inode, entry and chunk; reports problems through cb
 * (one line each) and returns the number of problems found, or <0. */
typedef void (*meta_report_cb)(void *arg, const char *line);
int meta_fsck(struct meta *m, meta_report_cb cb, void *arg);
/* Calls cb for every live slice id referenced by any chunk (for gc). */
int meta_scan_slices(struct meta *m, int (*cb)(void *arg, uint64_t id, uint32_t size), void *arg);

int meta_usage(struct meta *m, struct gfs_volume_usage *u);

/*
 * Byte-range locks (FORMAT.md "Byte-range locks"): one hash per inode, one
 * script that checks and grants atomically with POSIX semantics (an
 * owner's new range replaces what it held there; same-type ranges that
 * overlap or touch merge; read locks share; a write lock conflicts with any
 * other owner's overlapping lock).  Each client has a lease key that
 * expires on Redis's clock; a lock whose client's lease ran out counts as
 * gone, and the script that meets it deletes it.  -EAGAIN: a conflict,
 * described in *conflict (may be NULL).  -EINVAL: a bad range or client.
 */
int meta_lock_set(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		  enum gfs_lock_type type, uint64_t start, uint64_t len, uint32_t lease_ms,
		  struct gfs_lock_conflict *conflict);
/* 0 if the lock could be granted now (nothing is changed), else -EAGAIN
 * with the first conflicting lock. */
int meta_lock_test(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		   enum gfs_lock_type type, uint64_t start, uint64_t len, struct gfs_lock_conflict *conflict);
/* Removes [start, start+len) from the owner's locks (splitting a range). */
int meta_lock_unlock(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		     uint64_t start, uint64_t len);
/* *count = the ranges the owner holds on ino. */
int meta_lock_count(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		    uint32_t *count);
/* Drops every lock and share reservation of one owner, or of every owner
 * of a client (and its lease): client destroyed, rebooted, or its lease
 * expired. */
int meta_lock_release_owner(struct meta *m, const char *client, const void *owner, size_t owner_len);
int meta_lock_release_client(struct meta *m, const char *client);
/* The same, only if the client's lease has run out in Redis (no gateway
 * renewed it): *released 1 if it had, else 0 and nothing changes. */
int meta_lock_release_expired(struct meta *m, const char *client, int *released);
/*
 * Share reservations, in the same per-inode table and under the same
 * leases as the locks.  acquire ORs access and deny (GFS_SHARE_*) into the
 * owner's reservation after checking the result against every other
 * owner's: -EACCES when access meets a deny or deny meets an access.  A
 * reservation whose client lease ran out counts as gone.  The grant renews
 * the client's lease.  -ESTALE: the file is gone.
 */
int meta_share_acquire(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		       uint32_t access, uint32_t deny, uint32_t lease_ms);
/* Sets the owner's reservation to exactly access and deny (a downgrade,
 * or undoing an acquire); access 0 removes it (a close). */
int meta_share_set(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		   uint32_t access, uint32_t deny);
/* Lock releases of every gateway (lock.lua PUBLISHes the inode on
 * <prefix>unlocked): released(arg, ino) runs on a thread of the watch's
 * own for each, and with ino 0 after each (re)connection, when releases
 * may have been missed.  A hint: a release may go unannounced while the
 * watch reconnects. */
struct meta_lock_watch;
int meta_lock_watch_start(struct meta *m, void (*released)(void *arg, gfs_ino_t ino), void *arg,
			  struct meta_lock_watch **out);
void meta_lock_watch_stop(struct meta_lock_watch *w);
/* Sets the client's lease to expire lease_ms from now on Redis's clock. */
int meta_lease_renew(struct meta *m, const char *client, uint32_t lease_ms);

#endif
