/*
 * meta_perm.h - the one permission model of gatefs: who may do what to an
 * inode, as Linux knfsd decides it (fs/nfsd/vfs.c nfsd_permission on top of
 * generic_permission, with the capabilities nfsd keeps for uid 0).
 *
 * Every check is "acc" against an inode: a mask of META_MAY_READ/WRITE/EXEC
 * plus flags.  The rules live twice because the mutations must check inside
 * their Redis script (atomic with the change) and the data path and the
 * attribute cache must check without Redis:
 *   - C:   meta_permit() in meta_perm.c (READ, WRITE, cached ACCESS/LOOKUP);
 *   - Lua: permit() and the access table in lua/_lib.lua (every script).
 * They are the same few lines, and tests/meta/meta_perm_test.c runs one table
 * of (credentials, mode, operation) cases, with what Linux answers, through
 * both, so they cannot drift.  The rows each operation uses:
 *
 *   operation                       acc (on)                          refusal
 *   READ data                       READ|OWNER_OVERRIDE|READ_IF_EXEC  EACCES
 *   WRITE data, truncate, times=now WRITE|OWNER_OVERRIDE              EACCES
 *   LOOKUP, READDIR                 EXEC (dir), READ (dir)            EACCES
 *   CREATE/MKDIR/.../REMOVE/RENAME  WRITE|EXEC (dir)                  EACCES
 *   ACCESS bits                     meta_access_granted: no override  (bit not granted)
 *   MKNOD of a block/char device    uid 0 only (CAP_MKNOD)            EPERM
 *   chmod, explicit times           owner or uid 0                    EPERM
 *   chown                           uid 0, or owner keeping its uid   EPERM
 *   chgrp                           uid 0, or owner to a group of its EPERM
 *
 * uid 0 (after squashing) passes every check but executing a non-directory
 * that has no execute bit at all (CAP_DAC_OVERRIDE); everyone else gets the
 * owner, group or other bits, the first class that matches.  Privilege bits:
 * a WRITE or truncate by anyone but uid 0 clears S_ISUID, and S_ISGID when
 * group-exec is set; chown does the same for everyone; a new non-directory
 * in a setgid directory keeps S_ISGID|S_IXGRP only if its creator is in the
 * directory's group or uid 0 (Linux should_remove_suid, inode_init_owner).
 */
#ifndef GATEFS_META_PERM_H
#define GATEFS_META_PERM_H

#include "gfs_types.h"

enum {
	META_MAY_EXEC = 1,
	META_MAY_WRITE = 2,
	META_MAY_READ = 4,
	/* The owner passes whatever the mode says: the client checked the mode
	 * when the file was opened (fchmod(fd, 0) must not break the fd). */
	META_MAY_OWNER_OVERRIDE = 8,
	/* A regular file its caller may execute may be read (knfsd: a client
	 * reads a binary of mode 0111 to run it). */
	META_MAY_READ_IF_EXEC = 16,
};

#define META_PERM_READ_DATA (META_MAY_READ | META_MAY_OWNER_OVERRIDE | META_MAY_READ_IF_EXEC)
#define META_PERM_WRITE_DATA (META_MAY_WRITE | META_MAY_OWNER_OVERRIDE)

/* 1 if cred (after squashing; NULL = uid 0) may do acc to a, else 0. */
int meta_permit(const struct gfs_cred *cred, const struct gfs_attr *a, unsigned acc);
/* The GFS_ACCESS_* bits of want that cred is granted on a (NFSv3 ACCESS). */
uint32_t meta_access_granted(const struct gfs_cred *cred, const struct gfs_attr *a, uint32_t want);
/* The mode after a write or truncate by cred: S_ISUID, and S_ISGID with
 * S_IXGRP, dropped from a regular file unless cred is uid 0. */
uint32_t meta_mode_after_write(const struct gfs_cred *cred, enum gfs_ftype type, uint32_t mode);

#endif
