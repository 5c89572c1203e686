/*
 * server.h - one running gateway: the opened volume, the configuration and
 * exports, the RPC programs it serves and the state they share (duplicate
 * request cache, MOUNT list).  Built by cmd_serve.c; every RPC handler
 * reaches it through rpc_call.server.
 */
#ifndef GATEFS_SERVER_H
#define GATEFS_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vfs.h"
#include "config.h"
#include "export.h"
#include "rpc.h"

struct drc;
struct mount_list;
struct nfs4_server;

#define SERVER_MAX_PROGRAMS 16

struct server {
	struct gfs_vfs *vfs;
	const struct gfs_volume_info *vol;
	const struct gfs_config *cfg;
	struct export *exports; /* cfg->exports, roots resolved */
	size_t nexports;

	const struct rpc_program *programs[SERVER_MAX_PROGRAMS];
	size_t nprograms;

	struct drc *drc;
	struct mount_list *mounts;
	struct nfs4_server *nfs4; /* NULL unless nfs4 = on (server/nfs4) */

	/* Ports actually bound (after 0 = "any free port"). */
	int nfs_port;
	int mount_port;
	int portmap_port; /* 0 if the builtin portmapper does not run */
};

/* Adds a program to the dispatch table; -ENOSPC when full. */
int server_add_program(struct server *srv, const struct rpc_program *prog);
/* Finds the program for (prog, vers).  If the program number is known but
 * not this version, returns NULL and sets *low and *high to the versions served. */
const struct rpc_program *server_find_program(const struct server *srv, uint32_t prog, uint32_t vers, bool *prog_known,
					      uint32_t *low, uint32_t *high);

#endif
