/*
 * vfs.h - the one storage API that every protocol front end (NFSv3, MOUNT,
 * NLM, NFSv4) uses.  It speaks inode references, attributes, names and byte
 * ranges; it never exposes Redis or object-store details.
 *
 * Conventions (hold for every function below):
 *  - Return 0 on success or a negative errno.  The errno set is fixed so that
 *    front ends can map it 1:1 onto protocol status codes:
 *      -ENOENT -EEXIST -ENOTDIR -EISDIR -ENOTEMPTY -EACCES -EPERM -EINVAL
 *      -ENAMETOOLONG -ESTALE -EIO -ENOSPC -EDQUOT -EROFS -EXDEV -EFBIG -EMLINK
 *      -ENODATA (no such xattr) -ERANGE (buffer too small) -ENOTSUP
 *      -EAGAIN: a backend is temporarily unreachable; retry later
 *               (NFS3ERR_JUKEBOX / NFS4ERR_DELAY).  Nothing was changed,
 *               except when Redis went away after receiving a mutation and
 *               before answering: then the mutation may have been applied
 *               (whole, never in part), as with a lost reply in NFS.
 *      -EBADCOOKIE (defined below): a readdir cookie is no longer valid.
 *      -GFS_ENOTSYNC: a setattr guard did not match.
 *  - Every mutation is atomic: it happens completely or not at all.
 *  - A struct gfs_ref names an inode together with its generation.  gen == 0
 *    means "do not check"; otherwise a mismatch (inode reused or dead) is
 *    -ESTALE.  Front ends take both from the file handle.
 *  - All functions are thread-safe; each thread uses its own Redis
 *    connection internally.
 *  - Output structs are filled only on success unless stated otherwise.
 */
#ifndef GATEFS_VFS_H
#define GATEFS_VFS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "gfs_types.h"

struct gfs_vfs_config {
	const char *meta_url;		/* redis://HOST:PORT/DB or unix:///path/sock?db=N */
	const char *storage_url;	/* optional override; normally taken from the volume */
	const char *access_key;		/* optional; else AWS_ACCESS_KEY_ID */
	const char *secret_key;		/* optional; else AWS_SECRET_ACCESS_KEY */
	const char *region;		/* optional; else AWS_REGION / us-east-1 */
	uint64_t buffer_bytes;		/* write buffer budget; 0 = default 256 MiB */
	uint64_t cache_mem_bytes;	/* read block cache in memory; 0 = default 256 MiB */
	const char *cache_dir;		/* local disk block cache; NULL = none */
	uint64_t cache_disk_bytes;	/* 0 = default 10 GiB */
	uint64_t cache_disk_free_bytes; /* the disk tier keeps this free on its filesystem; 0 = 5%, >= 1 GiB */
	uint32_t upload_threads;	/* 0 = default */
	uint32_t attr_cache_entries;	/* inode attribute cache (meta.h); 0 = none */
	int read_only;
};

struct gfs_vfs;

int gfs_vfs_open(const struct gfs_vfs_config *cfg, struct gfs_vfs **out, char *err, size_t errlen);
/* Flushes all buffered data, then frees everything. */
int gfs_vfs_close(struct gfs_vfs *vfs);
const struct gfs_volume_info *gfs_vfs_info(const struct gfs_vfs *vfs);
/* The NFS write verifier: new at every process start, and changed whenever
 * the gateway finds its Redis restarted or replaced (it may have lost
 * commits), so that clients resend every write they have not committed
 * since.  Read it after the operation whose reply carries it. */
uint64_t gfs_write_verifier(struct gfs_vfs *vfs);

/* Namespace. Names are validated here: "" "." ".." and names containing
 * '/' or NUL are -EINVAL (lookup of "." and ".." is allowed and resolves),
 * longer than GFS_NAME_MAX is -ENAMETOOLONG. */
int gfs_lookup(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	       struct gfs_attr *out);
int gfs_getattr(struct gfs_vfs *vfs, struct gfs_ref ref, struct gfs_attr *out);
/* guard_ctime: when non-NULL and the inode's ctime differs, nothing changes
 * and -GFS_ENOTSYNC is returned (NFS3ERR_NOT_SYNC).  A size change of a
 * regular file discards or zero-extends data as POSIX truncate does. */
int gfs_setattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const struct gfs_setattr *sa,
		const struct gfs_time *guard_ctime, struct gfs_wcc *wcc);
int gfs_access(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint32_t want, uint32_t *granted,
	       struct gfs_attr *attr_out);
/* Copies the target (not NUL-terminated past *len) into buf. */
int gfs_readlink(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		 size_t *len);
int gfs_statfs(struct gfs_vfs *vfs, struct gfs_statfs *out);

int gfs_create(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
	       enum gfs_create_how how, const uint8_t verifier[8], struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int gfs_mkdir(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
	      struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int gfs_symlink(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
		const char *target, uint32_t mode, struct gfs_attr *out, struct gfs_wcc *dir_wcc);
int gfs_mknod(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	      enum gfs_ftype type, uint32_t mode, uint32_t rdev_major, uint32_t rdev_minor, struct gfs_attr *out,
	      struct gfs_wcc *dir_wcc);
int gfs_link(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref target, struct gfs_ref dir,
	     const char *name, struct gfs_attr *target_out, struct gfs_wcc *dir_wcc);
/* Non-directories only: a directory is -EISDIR. */
int gfs_remove(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	       struct gfs_wcc *dir_wcc);
int gfs_rmdir(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	      struct gfs_wcc *dir_wcc);
int gfs_rename(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref src_dir, const char *src_name,
	       struct gfs_ref dst_dir, const char *dst_name, struct gfs_wcc *src_wcc, struct gfs_wcc *dst_wcc);

/* Directory listing.  Cookies are stable: each entry keeps the cookie it got
 * when it was created in its directory, and a listing resumed from a cookie
 * returns entries with larger cookies.  "." and ".." come first with cookies
 * 1 and 2.  cookie 0 starts at the beginning.  The verifier changes only if
 * cookies of this directory could have become invalid (never, today, except
 * when the directory is recreated). */
/* max_entries: the most entries (counting "." and "..") cb can take, 0 = no
 * hint.  Entries are read from the metadata store in batches of that size,
 * so a caller that knows its reply's room should say it: each entry read
 * costs.  When the hint is used up the call returns with *eof 0. */
int gfs_readdir(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, uint64_t cookie,
		uint64_t cookie_verifier, int plus, uint32_t max_entries, gfs_readdir_cb cb, void *arg, int *eof,
		uint64_t *verifier_out, struct gfs_attr *dir_attr);

/* Data.  read: *eof is set when the range reached the end of file. */
int gfs_read(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
	     void *buf, size_t *nread, int *eof, struct gfs_attr *attr);
/* gfs_read without a copy when it can: the bytes are lent from the block
 * cache when they are one run of one cached block, else read into a buffer
 * of the vfs.  lent->data is valid until gfs_read_release. */
struct gfs_lent {
	const uint8_t *data;
	void *block, *buf; /* private to the vfs */
};
int gfs_read_lend(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
		  struct gfs_lent *lent, size_t *nread, int *eof, struct gfs_attr *attr);
void gfs_read_release(struct gfs_vfs *vfs, struct gfs_lent *lent);
/* *committed says how stable the data is on return (>= the request). */
int gfs_write(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
	      const void *buf, enum gfs_stable stable, enum gfs_stable *committed, struct gfs_wcc *wcc);
/* Upload and commit everything buffered for this file. */
int gfs_commit(struct gfs_vfs *vfs, struct gfs_ref ref, struct gfs_attr *attr);

/* lseek SEEK_DATA (want_data) or SEEK_HOLE from offset (NFSv4.2 SEEK):
 * *out is where the data or hole starts, *eof whether *out is the end of
 * the file.  -ENXIO when offset is at or past the end, or no data follows
 * it; the end of the file is always a hole.  Commits buffered writes of
 * the file first.  -EISDIR, -EINVAL for other than a regular file. */
int gfs_seek(struct gfs_vfs *vfs, struct gfs_ref ref, uint64_t offset, int want_data, uint64_t *out, int *eof);
/* fallocate(2) mode 0 (NFSv4.2 ALLOCATE): the file grows to at least
 * offset+length, with the space charged to the volume as a size change
 * is (-ENOSPC, -EDQUOT); within the file nothing changes.  -EFBIG past
 * the largest size. */
int gfs_allocate(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, uint64_t length,
		 struct gfs_wcc *wcc);
/* fallocate(2) PUNCH_HOLE|KEEP_SIZE (NFSv4.2 DEALLOCATE): the range reads
 * as zeros from now on, on every gateway; the size stays.  Buffered writes
 * of the file are committed first, so none lands over the hole later.
 * Permission as for a WRITE.  -EINVAL if offset+length overflows. */
/* Clone (NFSv4.2 CLONE and COPY, FICLONERANGE): [dst_off, dst_off+n) of
 * dst reads what [src_off, src_off+n) of src reads, n = count cut at the
 * end of src (0: to the end); *copied = n.  Metadata only: the slices are
 * shared, no byte is read or stored again, and it takes one script
 * whatever n is.  Buffered writes of both files are committed first.
 * Permissions as READ of src and WRITE of dst; -EINVAL for overlapping
 * ranges of one file. */
int gfs_clone(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref src, struct gfs_ref dst,
	      uint64_t src_off, uint64_t dst_off, uint64_t count, uint64_t *copied, struct gfs_wcc *wcc);
int gfs_deallocate(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset,
		   uint64_t length, struct gfs_wcc *wcc);

/* Extended attributes (user namespace semantics; names up to 255 bytes). */
int gfs_getxattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const char *name, void *buf,
		 size_t bufsize, size_t *len);
int gfs_setxattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const char *name,
		 const void *value, size_t len, int flags);
/* Writes NUL-separated names; with bufsize 0 only reports the size needed. */
int gfs_listxattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		  size_t *len);
int gfs_removexattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const char *name);

/* Text for a vfs error code, for logs. */
/*
 * Byte-range locks shared by every gateway of the volume (meta.h
 * meta_lock_*; types in gfs_types.h).  Protocol-free: a front end names an
 * owner by a client key it derives the same way on every gateway and the
 * owner bytes of its protocol.  -EAGAIN: a conflict, in *conflict.
 */
int gfs_lock_set(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		 enum gfs_lock_type type, uint64_t start, uint64_t len, uint32_t lease_ms,
		 struct gfs_lock_conflict *conflict);
int gfs_lock_test(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		  enum gfs_lock_type type, uint64_t start, uint64_t len, struct gfs_lock_conflict *conflict);
int gfs_lock_unlock(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		    uint64_t start, uint64_t len);
int gfs_lock_count(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		   uint32_t *count);
int gfs_lock_release_owner(struct gfs_vfs *vfs, const char *client, const void *owner, size_t owner_len);
int gfs_lock_release_client(struct gfs_vfs *vfs, const char *client);
int gfs_lock_release_expired(struct gfs_vfs *vfs, const char *client, int *released);
int gfs_lease_renew(struct gfs_vfs *vfs, const char *client, uint32_t lease_ms);
/* "A lock on inode ino was released", through any gateway of the volume
 * (meta.h meta_lock_watch_*): released(arg, ino) runs on the watch's own
 * thread; ino 0 means releases may have been missed (after a reconnection).
 * A hint for waking blocked lockers, not a guarantee.  Stop it before the
 * vfs closes. */
struct gfs_lock_watch;
int gfs_lock_watch_start(struct gfs_vfs *vfs, void (*released)(void *arg, gfs_ino_t ino), void *arg,
			 struct gfs_lock_watch **out);
void gfs_lock_watch_stop(struct gfs_lock_watch *w);
/* Share reservations (meta.h meta_share_*): -EACCES on a conflict. */
int gfs_share_acquire(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		      uint32_t access, uint32_t deny, uint32_t lease_ms);
int gfs_share_set(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		  uint32_t access, uint32_t deny);

const char *gfs_strerror(int err);

#endif
