/*
 * nfs3.h - the NFS version 3 program (RFC 1813): program 100003, version 3,
 * all 22 procedures, as one rpc_program table for the transport.
 */
#ifndef GATEFS_NFS3_H
#define GATEFS_NFS3_H

#include "rpc.h"

extern const struct rpc_program nfs3_program;

#endif
