/*
 * data_dir.h - the embedded default's data directory as one owned thing:
 * its absolute path, the lock that lets one gatefs at a time run a
 * redis-server and write objects there, and the check that the volume in
 * it keeps its objects in it (not in the directory it was copied from).
 */
#ifndef GATEFS_DATA_DIR_H
#define GATEFS_DATA_DIR_H

#include <stddef.h>

/* dir made absolute against the working directory (symlinks are kept as
 * given: the volume records the path, and resolving it would change it). */
int data_dir_absolute(const char *dir, char *out, size_t outlen);

/*
 * Creates dir (0700) if needed and takes an exclusive flock on DIR/lock,
 * writing our pid into it.  Returns the lock's fd (keep it open while the
 * directory is in use; it is close-on-exec), or -EBUSY with the holder's
 * pid in *holder (0 if unknown), or another negative errno with err set.
 */
int data_dir_lock(const char *dir, int *holder, char *err, size_t errlen);
/* Lets a child (the redis-server) inherit the lock, so that the directory
 * stays locked until the child has exited too. */
int data_dir_lock_inherit(int lock_fd);

/*
 * Checks that a volume whose storage is storage_url may be served from
 * dir: a file:// store must be DIR/objects itself (same directory, found by
 * device and inode).  A data directory that was copied still names the
 * original's objects, and writing there would mix two volumes' slice ids in
 * one store.  Returns 0, or -EXDEV with the explanation in err.
 */
int data_dir_check_objects(const char *dir, const char *storage_url, char *err, size_t errlen);

#endif
