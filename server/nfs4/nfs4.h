/*
 * nfs4.h - the NFS version 4 program (minor versions 1 and 2): program
 * 100003, version 4, NULL and COMPOUND, as one rpc_program table for the
 * transport.  Served unless the configuration says nfs4 = off.
 */
#ifndef GATEFS_NFS4_H
#define GATEFS_NFS4_H

#include <stdint.h>

#include "rpc.h"

struct server;

extern const struct rpc_program nfs4_program;

/* Builds the NFSv4 state (leases of lease_seconds, 0 = 90) and the pseudo
 * filesystem of srv, after its exports are resolved; 0 or -ENOMEM.
 * idmap_domain: "" for numeric owner strings, else the domain of
 * name@domain owners (nfs4_idmap.c).  nfs4_stop frees them. */
int nfs4_start(struct server *srv, uint32_t lease_seconds, const char *idmap_domain);
void nfs4_stop(struct server *srv);
/* Stops sending callbacks and lets go of the connections they use; before
 * the transport stops (rpc_transport_stop), so that no reference to a
 * connection outlives it.  nfs4_stop does it too. */
void nfs4_quiesce(struct server *srv);

#endif
