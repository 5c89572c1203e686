/*
 * export.h - exports and the security decisions made for every call: which
 * export a handle or path belongs to, whether the client may use it, and the
 * credentials after squashing.  Parsed from the config file (docs/CONFIG.md).
 */
#ifndef GATEFS_EXPORT_H
#define GATEFS_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../backend/vfs.h"
#include "rpc.h"

enum export_squash {
	EXPORT_ROOT_SQUASH = 0, /* default */
	EXPORT_NO_ROOT_SQUASH = 1,
	EXPORT_ALL_SQUASH = 2,
};

struct export_client; /* one CIDR, address or '*' with its options */

struct export
{
	uint32_t id;	       /* stable: derived from the export path */
	char path[1024];       /* as clients mount it, e.g. "/hf" */
	char volume_dir[1024]; /* directory inside the volume, e.g. "/" or "/hf" */
	struct gfs_ref root;   /* resolved at start */
};

/* The outcome of admitting one call on one handle. */
struct export_access {
	const struct export *export;
	struct gfs_ref ref;   /* the inode the handle names */
	struct gfs_cred cred; /* after squashing */
	bool read_only;	      /* writes must fail with ROFS */
};

/* Decodes the handle, finds its export, checks the client address and port
 * against the export's client list and squashes the credentials.
 * Returns 0, -EBADMSG (bad handle), -ESTALE (unknown export, foreign volume,
 * bad MAC) or -EACCES (client not allowed / insecure port). */
int export_admit(const struct rpc_call *call, const void *fh, size_t fh_len, struct export_access *out);

#endif
