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

#include "vfs.h"
#include "rpc.h"

enum export_squash {
	EXPORT_ROOT_SQUASH = 0, /* default */
	EXPORT_NO_ROOT_SQUASH = 1,
	EXPORT_ALL_SQUASH = 2,
};

struct server;

/* One entry of an export's client list: a CIDR, an address or '*' with its
 * options.  Entries are matched in order; the first match wins. */
struct export_client {
	char spec[64]; /* as written, e.g. "10.0.0.0/8" or "*" */
	int family;    /* AF_INET, AF_INET6, or AF_UNSPEC for '*' */
	uint8_t addr[16];
	unsigned prefix_len;
	bool read_only;
	enum export_squash squash;
	uint32_t anonuid; /* default 65534 */
	uint32_t anongid;
	bool secure; /* default: the client's source port must be < 1024 */
};

struct export
{
	uint32_t id;		       /* stable: derived from the export path */
	char path[1024];	       /* as clients mount it, e.g. "/hf" */
	char volume_dir[1024];	       /* directory inside the volume, e.g. "/" or "/hf" */
	struct gfs_ref root;	       /* resolved at start */
	struct export_client *clients; /* owned; nclients entries, first match wins */
	size_t nclients;
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
 * bad MAC), -EIO (the MAC could not be computed) or -EACCES (client not
 * allowed / insecure port).  Whatever it returns, *out is defined: on an
 * error out->export is NULL and out->ref is {0, 0}. */
int export_admit(const struct rpc_call *call, const void *fh, size_t fh_len, struct export_access *out);

/* The client entry that admits peer (port not checked), or NULL. */
const struct export_client *export_match_client(const struct export *ex, const struct sockaddr *peer);
/* Admission to an export without a handle (MOUNT): client list, secure
 * port and squashing; out->ref is the export root.  0 or -EACCES. */
int export_admit_export(const struct rpc_call *call, const struct export *ex, struct export_access *out);
/* True if ref is the export's root: LOOKUP ".." there must return the root
 * itself, so that a client can never walk out of its export. */
bool export_is_root(const struct export *ex, struct gfs_ref ref);
/* Whether LOOKUP ".." of directory dir may leave it: 1 if dir lies strictly
 * below the export root (its parent is inside the export), 0 if dir is the
 * root (".." is the root itself), -ESTALE if dir is not inside the tree
 * this gateway exports at all (the export directory was renamed or made
 * again since the handle was issued), or another error of the vfs.  Walks
 * the parents of dir: a cost of its depth, paid only for "..". */
int export_parent_allowed(struct gfs_vfs *vfs, const struct export *ex, struct gfs_ref dir);
/* The stable id of an export path (FNV-1a; never 0). */
uint32_t export_id_for_path(const char *path);
/* Finds an export of call->server by id or by exact path; NULL if none. */
const struct export *export_by_id(const struct server *srv, uint32_t id);
const struct export *export_by_path(const struct server *srv, const char *path);

#endif
