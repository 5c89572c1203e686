/*
 * gfs_types.h - the vocabulary shared by the storage layers and their
 * users: inode numbers and references, file types, attributes,
 * credentials, setattr requests, weak cache consistency data, directory
 * entries and volume facts.  Plain data only, no functions: it sits at the
 * bottom so that the metadata engine, the data layer and the vfs API
 * (backend/vfs/vfs.h, where the conventions for these types are stated)
 * can all speak it without including a layer above them.
 */
#ifndef GATEFS_GFS_TYPES_H
#define GATEFS_GFS_TYPES_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define GFS_NAME_MAX 255
#define GFS_PATH_MAX 4096
#define GFS_MAX_GROUPS 16
#define GFS_ROOT_INO 1ULL
#define GFS_XATTR_NAME_MAX 255
#define GFS_XATTR_SIZE_MAX 65536
/* The largest file size the metadata engine can commit (2^52: Redis Lua
 * numbers are doubles); a write or truncate beyond it fails with -EFBIG
 * before anything is buffered. */
#define GFS_MAX_FILE_SIZE (1ULL << 52)

/* Not Linux errnos; chosen above the errno range used by the kernel. */
#define EBADCOOKIE 10003
#define GFS_ENOTSYNC 10002

typedef uint64_t gfs_ino_t;

struct gfs_ref {
	gfs_ino_t ino;
	uint32_t gen;
};

enum gfs_ftype {
	GFS_REG = 1,
	GFS_DIR = 2,
	GFS_LNK = 3,
	GFS_BLK = 4,
	GFS_CHR = 5,
	GFS_SOCK = 6,
	GFS_FIFO = 7,
};

struct gfs_time {
	int64_t sec;
	uint32_t nsec;
};

struct gfs_attr {
	gfs_ino_t ino;
	uint32_t gen;
	enum gfs_ftype type;
	uint32_t mode; /* permission bits only: 07777 */
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t used; /* bytes of storage charged to the file */
	uint32_t rdev_major;
	uint32_t rdev_minor;
	struct gfs_time atime;
	struct gfs_time mtime;
	struct gfs_time ctime;
	uint64_t change;  /* bumped by every change of this inode */
	gfs_ino_t parent; /* directories only: the parent directory; root's is itself */
};

/* Credentials after export squashing.  uid 0 is the superuser. */
struct gfs_cred {
	uint32_t uid;
	uint32_t gid;
	uint32_t ngroups;
	uint32_t groups[GFS_MAX_GROUPS];
};

enum {
	GFS_SET_MODE = 1u << 0,
	GFS_SET_UID = 1u << 1,
	GFS_SET_GID = 1u << 2,
	GFS_SET_SIZE = 1u << 3,
	GFS_SET_ATIME = 1u << 4,     /* to sa.atime */
	GFS_SET_ATIME_NOW = 1u << 5, /* to server time */
	GFS_SET_MTIME = 1u << 6,
	GFS_SET_MTIME_NOW = 1u << 7,
	/* Drop S_ISUID, and S_ISGID with S_IXGRP, as a write by this caller
	 * does (nothing for uid 0 or a non-file); gfs_write sends it itself. */
	GFS_SET_DROP_SUID = 1u << 8,
};

struct gfs_setattr {
	uint32_t valid; /* GFS_SET_* */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	struct gfs_time atime;
	struct gfs_time mtime;
};

/* Weak cache consistency data for the directory (or file) that a mutation
 * changed: attributes just before and just after, taken atomically with it. */
struct gfs_wcc {
	int has_pre;
	uint64_t pre_size;
	struct gfs_time pre_mtime;
	struct gfs_time pre_ctime;
	uint64_t pre_change;
	int has_post;
	struct gfs_attr post;
};

/* Access bits, the NFSv3/v4 ACCESS set. */
enum {
	GFS_ACCESS_READ = 0x01,
	GFS_ACCESS_LOOKUP = 0x02,
	GFS_ACCESS_MODIFY = 0x04,
	GFS_ACCESS_EXTEND = 0x08,
	GFS_ACCESS_DELETE = 0x10,
	GFS_ACCESS_EXECUTE = 0x20,
};

enum gfs_create_how {
	GFS_CREATE_UNCHECKED = 0, /* an existing regular file is opened (and truncated if sa says so) */
	GFS_CREATE_GUARDED = 1,	  /* -EEXIST if the name exists */
	GFS_CREATE_EXCLUSIVE = 2, /* verifier kept; a retry with the same verifier succeeds */
};

enum gfs_stable {
	GFS_UNSTABLE = 0,
	GFS_DATA_SYNC = 1,
	GFS_FILE_SYNC = 2,
};

struct gfs_statfs {
	uint64_t total_bytes;
	uint64_t free_bytes;
	uint64_t avail_bytes;
	uint64_t total_files;
	uint64_t free_files;
	uint64_t used_bytes;
	uint64_t used_files;
};

/* Volume facts a front end needs (handles, verifiers, limits). */
struct gfs_volume_info {
	char name[64];
	char uuid[37];
	uint64_t volume_id; /* stable 64-bit id derived from the uuid */
	uint8_t secret[32]; /* per-volume key for handle MACs */
	uint32_t block_size;
	uint32_t chunk_size;
	uint32_t format_version;
	uint64_t write_verifier; /* new at every process start; use gfs_write_verifier */
};

/* One directory entry as gfs_readdir (vfs.h) reports it. */
struct gfs_dirent {
	const char *name; /* valid only during the callback */
	gfs_ino_t ino;
	uint32_t gen;
	enum gfs_ftype type;
	uint64_t cookie;
	const struct gfs_attr *attr; /* non-NULL only for readdirplus */
};
/* Return 0 to continue, 1 to stop (the entry was NOT consumed), <0 to abort. */
typedef int (*gfs_readdir_cb)(void *arg, const struct gfs_dirent *ent);

/* What a volume is, as `gatefs format` recorded it (docs/FORMAT.md,
 * "setting"): the identity (uuid, secret, block size) never changes after
 * format. */
struct gfs_volume_settings {
	char name[64];
	char uuid[37];
	char storage_url[1024];
	uint32_t block_size;
	uint32_t chunk_size;
	uint32_t format_version;
	uint8_t secret[32];
	uint64_t capacity_bytes; /* 0 = unlimited (statfs reports a large figure) */
	uint64_t capacity_inodes;
	int64_t created_sec;
};

/* What a volume holds now. */
struct gfs_volume_usage {
	uint64_t inodes;
	uint64_t bytes;
	uint64_t dead_slices;
	uint64_t dead_slices_failing; /* queued for a time in the future: a delete failed */
};

/* setxattr flags */
enum { GFS_XATTR_CREATE = 1, GFS_XATTR_REPLACE = 2 };

/*
 * Byte-range locks (meta.h meta_lock_*, vfs.h gfs_lock_*), shared by every
 * gateway of a volume.  A lock belongs to an owner: a client key (1 to
 * GFS_LOCK_CLIENT_MAX characters of [0-9A-Za-z._-], the same on every
 * gateway for one client instance) and owner bytes the protocol gives.
 * A range is start and len; len GFS_LOCK_EOF means "to the end of any
 * file"; len 0, or start + len past 2^64 - 1, is -EINVAL.
 */
#define GFS_LOCK_EOF UINT64_MAX
#define GFS_LOCK_CLIENT_MAX 64
#define GFS_LOCK_OWNER_MAX 1100
enum gfs_lock_type { GFS_LOCK_READ = 1, GFS_LOCK_WRITE = 2 };
struct gfs_lock_conflict {
	char client[GFS_LOCK_CLIENT_MAX + 1];
	uint8_t owner[GFS_LOCK_OWNER_MAX];
	size_t owner_len;
	enum gfs_lock_type type;
	uint64_t start, len; /* len GFS_LOCK_EOF: to the end */
};

/*
 * Share reservations (meta.h meta_share_*, vfs.h gfs_share_*): what an
 * open owner may do to a file (access) and what it forbids everyone else
 * (deny), as NFSv4 OPEN and SMB/Windows opens carry them; a bitmask of
 * these two.  Owners are named as for locks, in a namespace of their own.
 */
enum { GFS_SHARE_READ = 1, GFS_SHARE_WRITE = 2, GFS_SHARE_BOTH = 3 };

#endif
