/*
 * pmap.h - the portmapper.  gatefs either registers its programs with the
 * system's rpcbind (pmap_client.c), or, where none runs, answers PMAP v2
 * and RPCBIND v3/v4 itself (pmap.c) so that "mount -t nfs host:/hf" works
 * in a container with no other daemons.
 */
#ifndef GATEFS_PMAP_H
#define GATEFS_PMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"

#define PMAP_PROTO_TCP 6
#define PMAP_PROTO_UDP 17

/* One (program, version, protocol) -> port mapping. */
struct pmap_mapping {
	uint32_t prog;
	uint32_t vers;
	uint32_t proto; /* PMAP_PROTO_TCP or PMAP_PROTO_UDP */
	uint32_t port;
};

/* The builtin portmapper answers from this table (set once before serving). */
void pmap_set_table(const struct pmap_mapping *maps, size_t n);

extern const struct rpc_program pmap2_program;
extern const struct rpc_program rpcb3_program;
extern const struct rpc_program rpcb4_program;

/* pmap_client.c: talks PMAP v2 over UDP to the rpcbind at 127.0.0.1:port. */
bool pmap_rpcbind_running(int port);
/* Registers (set) or unregisters (!set) each mapping; returns how many the
 * rpcbind accepted, or <0 if it could not be reached. */
int pmap_rpcbind_register(int port, const struct pmap_mapping *maps, size_t n, bool set);

#endif
