/*
 * nfs3_proc.c - the NFSv3 procedure table (RFC 1813 section 3): for each
 * procedure number its XDR codecs, sizes, handler and DRC flag.  The
 * transport decodes, calls the handler and encodes; see rpc.h.
 */
#include "nfs3_impl.h"

/* rpcgen routines return bool_t (int) and take a typed pointer; the table
 * wants rpc_xdr_fn.  Casting through void (*)(void) is the portable way to
 * silence the function-type cast warning; the ABI is the same. */
#define XDR_FN(fn) ((rpc_xdr_fn)(void (*)(void))(fn))

#define PROC(NAME, args_t, res_t, handler, flags)                                                                      \
	{                                                                                                              \
		NAME, XDR_FN(xdr_##args_t), sizeof(args_t), XDR_FN(xdr_##res_t), sizeof(res_t), handler, flags         \
	}

/* Mutations that must not run twice for one retransmitted xid. */
#define NONIDEM RPC_PROC_NONIDEMPOTENT

static const struct rpc_proc nfs3_procs[] = {
    [NFSPROC3_NULL] = {"NULL", XDR_FN(xdr_void), 0, XDR_FN(xdr_void), 0, nfs3_null, 0},
    [NFSPROC3_GETATTR] = PROC("GETATTR", GETATTR3args, GETATTR3res, nfs3_getattr, 0),
    [NFSPROC3_SETATTR] = PROC("SETATTR", SETATTR3args, SETATTR3res, nfs3_setattr, NONIDEM),
    [NFSPROC3_LOOKUP] = PROC("LOOKUP", LOOKUP3args, LOOKUP3res, nfs3_lookup, 0),
    [NFSPROC3_ACCESS] = PROC("ACCESS", ACCESS3args, ACCESS3res, nfs3_access, 0),
    [NFSPROC3_READLINK] = PROC("READLINK", READLINK3args, READLINK3res, nfs3_readlink, 0),
    [NFSPROC3_READ] = {"READ", XDR_FN(xdr_READ3args), sizeof(READ3args), XDR_FN(nfs3_xdr_read_result),
		       sizeof(struct nfs3_read_result), nfs3_read, 0},
    [NFSPROC3_WRITE] = {"WRITE", XDR_FN(nfs3_xdr_write_args), sizeof(struct nfs3_write_args), XDR_FN(xdr_WRITE3res),
			sizeof(WRITE3res), nfs3_write, 0},
    [NFSPROC3_CREATE] = PROC("CREATE", CREATE3args, CREATE3res, nfs3_create, NONIDEM),
    [NFSPROC3_MKDIR] = PROC("MKDIR", MKDIR3args, MKDIR3res, nfs3_mkdir, NONIDEM),
    [NFSPROC3_SYMLINK] = PROC("SYMLINK", SYMLINK3args, SYMLINK3res, nfs3_symlink, NONIDEM),
    [NFSPROC3_MKNOD] = PROC("MKNOD", MKNOD3args, MKNOD3res, nfs3_mknod, NONIDEM),
    [NFSPROC3_REMOVE] = PROC("REMOVE", REMOVE3args, REMOVE3res, nfs3_remove, NONIDEM),
    [NFSPROC3_RMDIR] = PROC("RMDIR", RMDIR3args, RMDIR3res, nfs3_rmdir, NONIDEM),
    [NFSPROC3_RENAME] = PROC("RENAME", RENAME3args, RENAME3res, nfs3_rename, NONIDEM),
    [NFSPROC3_LINK] = PROC("LINK", LINK3args, LINK3res, nfs3_link, NONIDEM),
    [NFSPROC3_READDIR] = {"READDIR", XDR_FN(xdr_READDIR3args), sizeof(READDIR3args), XDR_FN(xdr_nfs3_dir_reply),
			  sizeof(struct nfs3_dir_reply), nfs3_readdir, 0},
    [NFSPROC3_READDIRPLUS] = {"READDIRPLUS", XDR_FN(xdr_READDIRPLUS3args), sizeof(READDIRPLUS3args),
			      XDR_FN(xdr_nfs3_dir_reply), sizeof(struct nfs3_dir_reply), nfs3_readdirplus, 0},
    [NFSPROC3_FSSTAT] = PROC("FSSTAT", FSSTAT3args, FSSTAT3res, nfs3_fsstat, 0),
    [NFSPROC3_FSINFO] = PROC("FSINFO", FSINFO3args, FSINFO3res, nfs3_fsinfo, 0),
    [NFSPROC3_PATHCONF] = PROC("PATHCONF", PATHCONF3args, PATHCONF3res, nfs3_pathconf, 0),
    [NFSPROC3_COMMIT] = PROC("COMMIT", COMMIT3args, COMMIT3res, nfs3_commit, 0),
};

const struct rpc_program nfs3_program = {
    .name = "nfs3",
    .prog = 100003,
    .vers = 3,
    .nprocs = sizeof(nfs3_procs) / sizeof(nfs3_procs[0]),
    .procs = nfs3_procs,
    .status_first = true,
};

enum rpc_disposition nfs3_null(struct rpc_call *call, void *args, void *result)
{
	(void)call;
	(void)args;
	(void)result;
	return RPC_OK;
}
