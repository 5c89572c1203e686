/*
 * server.h - what the protocol programs of one running gateway share: the
 * opened volume, the exports (with their roots resolved) and the MOUNT
 * list, and the NFSv4 state.  Built by the gatefs command (server/cli/cmd_serve.c); every
 * handler reaches it through rpc_call.server.
 */
#ifndef GATEFS_SERVER_H
#define GATEFS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"
#include "vfs.h"

struct mount_list;
struct nfs4_server;

struct server {
	struct gfs_vfs *vfs;
	const struct gfs_volume_info *vol;
	struct export *exports; /* the configuration's, roots resolved */
	size_t nexports;
	bool allow_auth_none; /* offer AUTH_NONE in MNT replies */
	struct mount_list *mounts;
	struct nfs4_server *nfs4; /* NFSv4 state and pseudo fs; NULL unless nfs4 = on */
};

#endif
