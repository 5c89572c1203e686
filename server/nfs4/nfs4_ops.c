/*
 * nfs4_ops.c - the NFSv4 operation table (RFC 8881 section 18, RFC 7863
 * section 15): for each operation gatefs implements, its argument decoder,
 * result encoder, handler and flags.  An operation without a row is
 * answered NFS4ERR_NOTSUPP (a valid number) or NFS4ERR_OP_ILLEGAL.
 */
#include "nfs4_impl.h"

#define XDR_FN(fn) ((rpc_xdr_fn)(void (*)(void))(fn))
#define OP(name, args, res, handler, flags)                                                                            \
	{                                                                                                              \
		name, XDR_FN(xdr_##args), XDR_FN(xdr_##res), handler, flags                                            \
	}
#define OP_NOARGS(name, res, handler, flags)                                                                           \
	{                                                                                                              \
		name, NULL, XDR_FN(xdr_##res), handler, flags                                                          \
	}

#define FH NFS4_OP_NEED_FH
#define NOSESS NFS4_OP_NO_SESSION

static const struct nfs4_op ops[] = {
    [OP_ACCESS] = OP("ACCESS", ACCESS4args, ACCESS4res, nfs4_op_access, FH),
    [OP_CLOSE] = OP("CLOSE", CLOSE4args, CLOSE4res, nfs4_op_close, FH),
    [OP_COMMIT] = OP("COMMIT", COMMIT4args, COMMIT4res, nfs4_op_commit, FH),
    [OP_CREATE] = OP("CREATE", CREATE4args, CREATE4res, nfs4_op_create, FH),
    [OP_DELEGRETURN] = OP("DELEGRETURN", DELEGRETURN4args, DELEGRETURN4res, nfs4_op_delegreturn, FH),
    [OP_GETATTR] = OP("GETATTR", GETATTR4args, GETATTR4res, nfs4_op_getattr, FH),
    [OP_GETFH] = OP_NOARGS("GETFH", GETFH4res, nfs4_op_getfh, FH),
    [OP_LINK] = OP("LINK", LINK4args, LINK4res, nfs4_op_link, FH),
    [OP_LOCK] = OP("LOCK", LOCK4args, LOCK4res, nfs4_op_lock, FH),
    [OP_LOCKT] = OP("LOCKT", LOCKT4args, LOCKT4res, nfs4_op_lockt, FH),
    [OP_LOCKU] = OP("LOCKU", LOCKU4args, LOCKU4res, nfs4_op_locku, FH),
    [OP_LOOKUP] = OP("LOOKUP", LOOKUP4args, LOOKUP4res, nfs4_op_lookup, FH),
    [OP_LOOKUPP] = OP_NOARGS("LOOKUPP", LOOKUPP4res, nfs4_op_lookupp, FH),
    [OP_NVERIFY] = OP("NVERIFY", NVERIFY4args, NVERIFY4res, nfs4_op_nverify, FH),
    [OP_OPEN] = OP("OPEN", OPEN4args, OPEN4res, nfs4_op_open, FH),
    [OP_OPEN_DOWNGRADE] = OP("OPEN_DOWNGRADE", OPEN_DOWNGRADE4args, OPEN_DOWNGRADE4res, nfs4_op_open_downgrade, FH),
    [OP_PUTFH] = OP("PUTFH", PUTFH4args, PUTFH4res, nfs4_op_putfh, 0),
    [OP_PUTPUBFH] = OP_NOARGS("PUTPUBFH", PUTPUBFH4res, nfs4_op_putpubfh, 0),
    [OP_PUTROOTFH] = OP_NOARGS("PUTROOTFH", PUTROOTFH4res, nfs4_op_putrootfh, 0),
    [OP_READ] = {"READ", XDR_FN(xdr_READ4args), XDR_FN(nfs4_xdr_read_res), nfs4_op_read, FH},
    [OP_READDIR] = {"READDIR", XDR_FN(xdr_READDIR4args), XDR_FN(nfs4_xdr_readdir_res), nfs4_op_readdir, FH},
    [OP_READLINK] = OP_NOARGS("READLINK", READLINK4res, nfs4_op_readlink, FH),
    [OP_REMOVE] = OP("REMOVE", REMOVE4args, REMOVE4res, nfs4_op_remove, FH),
    [OP_RENAME] = OP("RENAME", RENAME4args, RENAME4res, nfs4_op_rename, FH),
    [OP_RESTOREFH] = OP_NOARGS("RESTOREFH", RESTOREFH4res, nfs4_op_restorefh, 0),
    [OP_SAVEFH] = OP_NOARGS("SAVEFH", SAVEFH4res, nfs4_op_savefh, FH),
    [OP_SECINFO] = OP("SECINFO", SECINFO4args, SECINFO4res, nfs4_op_secinfo, FH),
    [OP_SETATTR] = OP("SETATTR", SETATTR4args, SETATTR4res, nfs4_op_setattr, FH),
    [OP_VERIFY] = OP("VERIFY", VERIFY4args, VERIFY4res, nfs4_op_verify, FH),
    [OP_WRITE] = {"WRITE", XDR_FN(nfs4_xdr_write_args), XDR_FN(xdr_WRITE4res), nfs4_op_write, FH},
    [OP_BACKCHANNEL_CTL] = OP("BACKCHANNEL_CTL", BACKCHANNEL_CTL4args, BACKCHANNEL_CTL4res, nfs4_op_backchannel_ctl, 0),
    [OP_BIND_CONN_TO_SESSION] = OP("BIND_CONN_TO_SESSION", BIND_CONN_TO_SESSION4args, BIND_CONN_TO_SESSION4res,
				   nfs4_op_bind_conn_to_session, NOSESS),
    [OP_EXCHANGE_ID] = OP("EXCHANGE_ID", EXCHANGE_ID4args, EXCHANGE_ID4res, nfs4_op_exchange_id, NOSESS),
    [OP_CREATE_SESSION] = OP("CREATE_SESSION", CREATE_SESSION4args, CREATE_SESSION4res, nfs4_op_create_session, NOSESS),
    [OP_DESTROY_SESSION] =
	OP("DESTROY_SESSION", DESTROY_SESSION4args, DESTROY_SESSION4res, nfs4_op_destroy_session, NOSESS),
    [OP_FREE_STATEID] = OP("FREE_STATEID", FREE_STATEID4args, FREE_STATEID4res, nfs4_op_free_stateid, 0),
    [OP_SECINFO_NO_NAME] = OP("SECINFO_NO_NAME", SECINFO_NO_NAME4args, SECINFO4res, nfs4_op_secinfo_no_name, FH),
    [OP_SEQUENCE] = OP("SEQUENCE", SEQUENCE4args, SEQUENCE4res, nfs4_op_sequence, 0),
    [OP_TEST_STATEID] = OP("TEST_STATEID", TEST_STATEID4args, TEST_STATEID4res, nfs4_op_test_stateid, 0),
    [OP_DESTROY_CLIENTID] =
	OP("DESTROY_CLIENTID", DESTROY_CLIENTID4args, DESTROY_CLIENTID4res, nfs4_op_destroy_clientid, NOSESS),
    [OP_RECLAIM_COMPLETE] =
	OP("RECLAIM_COMPLETE", RECLAIM_COMPLETE4args, RECLAIM_COMPLETE4res, nfs4_op_reclaim_complete, 0),
    [OP_ALLOCATE] = OP("ALLOCATE", ALLOCATE4args, ALLOCATE4res, nfs4_op_allocate, FH),
    [OP_DEALLOCATE] = OP("DEALLOCATE", DEALLOCATE4args, DEALLOCATE4res, nfs4_op_deallocate, FH),
    [OP_SEEK] = OP("SEEK", SEEK4args, SEEK4res, nfs4_op_seek, FH),
    [OP_CLONE] = OP("CLONE", CLONE4args, CLONE4res, nfs4_op_clone, FH),
    [OP_COPY] = OP("COPY", COPY4args, COPY4res, nfs4_op_copy, FH),
};

/* READ's result and WRITE's arguments carry more than the rpcgen types, in
 * the same unions. */
_Static_assert(sizeof(struct nfs4_read_res) <= sizeof(((nfs_resop4 *)0)->nfs_resop4_u), "READ result too big");
_Static_assert(sizeof(struct nfs4_write_args) <= sizeof(((nfs_argop4 *)0)->nfs_argop4_u), "WRITE args too big");

const struct nfs4_op *nfs4_op_find(uint32_t opnum)
{
	if (opnum >= sizeof(ops) / sizeof(ops[0]) || !ops[opnum].handler)
		return NULL;
	return &ops[opnum];
}
