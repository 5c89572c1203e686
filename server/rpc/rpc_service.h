/*
 * rpc_service.h - what the transport serves: the table of RPC programs
 * (one struct rpc_program per program and version), the duplicate request
 * cache, and the context that every call hands to its handler.  Built by
 * the gatefs command before the transport starts; read-only afterwards.
 */
#ifndef GATEFS_RPC_SERVICE_H
#define GATEFS_RPC_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.h"

struct drc;

#define RPC_MAX_PROGRAMS 16

struct rpc_service {
	const struct rpc_program *programs[RPC_MAX_PROGRAMS];
	size_t nprograms;
	struct drc *drc;       /* replies of non-idempotent calls (drc.h) */
	bool nfs_auth_none;    /* accept AUTH_NONE on NFS procedures other than NULL */
	struct gfs_vfs *vfs;   /* handed to every handler (rpc_call.vfs) */
	struct server *server; /* the programs' shared context (rpc_call.server), opaque here */
};

/* Adds a program; -ENOSPC when the table is full. */
int rpc_service_add(struct rpc_service *svc, const struct rpc_program *prog);
/* Finds the program for (prog, vers).  If the program number is known but
 * not this version, returns NULL and sets *low and *high to the versions
 * served. */
const struct rpc_program *rpc_service_find(const struct rpc_service *svc, uint32_t prog, uint32_t vers,
					   bool *prog_known, uint32_t *low, uint32_t *high);

#endif
