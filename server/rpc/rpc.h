/*
 * rpc.h - the contract between the RPC transport (rpc_*.c, on libntirpc)
 * and the protocol programs (MOUNT, NFSv3, NLM, NFSv4, portmapper).
 *
 * A program is a table of procedures, as in Linux nfsd: each entry names the
 * XDR routine that decodes the arguments, the one that encodes the result,
 * their sizes and the handler.  The transport decodes into a zeroed
 * argument buffer, calls the handler with a zeroed result buffer, encodes
 * the result, then frees both with xdr_free.  Handlers therefore never touch
 * XDR streams or sockets, and may allocate result data with malloc (it is
 * freed by xdr_free of the encode routine).
 */
#ifndef GATEFS_RPC_H
#define GATEFS_RPC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gfs_types.h"

struct gfs_vfs;
struct server; /* the programs' shared context (server/export/server.h) */
struct svc_req;
struct __rpc_xdr;
typedef bool (*rpc_xdr_fn)(struct __rpc_xdr *, void *);

/* What a handler knows about the call it serves. */
struct rpc_call {
	struct svc_req *req;
	struct sockaddr_storage peer; /* client address */
	socklen_t peer_len;
	uint32_t auth_flavor; /* AUTH_NONE = 0, AUTH_SYS = 1 */
	bool have_unix_cred;
	struct gfs_cred raw_cred; /* as sent by the client (AUTH_SYS), before squashing */
	uint32_t xid;
	struct gfs_vfs *vfs;
	struct server *server; /* never looked into by the transport */
};

enum rpc_proc_flags {
	RPC_PROC_NONIDEMPOTENT = 1 << 0, /* replies are kept in the duplicate request cache */
};

/* Handler return: RPC_OK sends the result; RPC_GARBAGE answers GARBAGE_ARGS;
 * RPC_SYSTEM_ERR answers SYSTEM_ERR; RPC_DROP sends nothing (the client will
 * retransmit, used when a backend is unavailable and the protocol has no
 * retry status). */
enum rpc_disposition {
	RPC_OK = 0,
	RPC_GARBAGE = 1,
	RPC_SYSTEM_ERR = 2,
	RPC_DROP = 3,
	RPC_AUTH_TOOWEAK = 4,
};

struct rpc_proc {
	const char *name;
	rpc_xdr_fn decode_args;
	size_t args_size;
	rpc_xdr_fn encode_result;
	size_t result_size;
	enum rpc_disposition (*handler)(struct rpc_call *call, void *args, void *result);
	uint32_t flags;
};

struct rpc_program {
	const char *name;
	uint32_t prog;
	uint32_t vers;
	uint32_t nprocs;
	const struct rpc_proc *procs; /* indexed by procedure number */
	/* Every result (of a procedure with a result_size) starts with a
	 * status enum where 0 is success, as NFSv3's nfsstat3: metrics count
	 * other statuses as errors. */
	bool status_first;
};

#endif
