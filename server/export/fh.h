/*
 * fh.h - NFS file handles.  A handle is opaque to clients and at most 64
 * bytes: {format version, export id, volume id, inode, generation, MAC}.
 * The MAC is a keyed hash (HMAC-SHA256, truncated) over the other fields
 * with the volume secret, so every gateway of a volume produces the same
 * handle for the same file and rejects forged ones.
 */
#ifndef GATEFS_FH_H
#define GATEFS_FH_H

#include <stddef.h>
#include <stdint.h>

#include "vfs.h"

#define FH_MAX_SIZE 64

struct fh {
	uint32_t len;
	uint8_t data[FH_MAX_SIZE];
};

void fh_encode(const struct gfs_volume_info *vol, uint32_t export_id, struct gfs_ref ref, struct fh *out);
/* -EBADMSG: malformed (wrong length or version) -> NFS3ERR_BADHANDLE;
 * -ESTALE: another volume, or the MAC does not verify -> NFS3ERR_STALE;
 * -EIO: the MAC could not be computed (OpenSSL failed) -> NFS3ERR_IO. */
int fh_decode(const struct gfs_volume_info *vol, const void *data, size_t len, uint32_t *export_id,
	      struct gfs_ref *ref);

#endif
