/*
 * nfs3_impl.h - what the nfs3*.c files share: admission of a call on a
 * handle, the errno -> nfsstat3 table, attribute and wcc conversion, name
 * checks, and the procedure handlers that nfs3_proc.c puts in the table.
 * Private to the NFSv3 program; the transport sees only nfs3.h.
 */
#ifndef GATEFS_NFS3_IMPL_H
#define GATEFS_NFS3_IMPL_H

#include "nfs3_prot.h"

#include "export.h"
#include "nfs3.h"
#include "rpc.h"

/* READ and WRITE size limits advertised by FSINFO and enforced here. */
#define NFS3_MAX_IO (1u << 20)
#define NFS3_DTPREF (64u << 10)

/* Admits the call on fh: decodes it, checks the export ACL, squashes the
 * credentials.  Returns NFS3_OK or BADHANDLE / STALE / ACCES. */
nfsstat3 nfs3_admit(const struct rpc_call *call, const nfs_fh3 *fh, struct export_access *acc);
/* As nfs3_admit, plus NFS3ERR_ROFS on a read-only export. */
nfsstat3 nfs3_admit_write(const struct rpc_call *call, const nfs_fh3 *fh, struct export_access *acc);

/* Negative vfs errno -> nfsstat3 (0 -> NFS3_OK, unknown -> NFS3ERR_IO). */
nfsstat3 nfs3_status(int err);

/* Copies a wire name into out (NUL-terminated).  NFS3ERR_INVAL for an
 * empty name or one containing '/' or NUL, NFS3ERR_NAMETOOLONG past
 * GFS_NAME_MAX. */
nfsstat3 nfs3_name(const filename3 *name, char out[GFS_NAME_MAX + 1]);

void nfs3_fattr(const struct gfs_vfs *vfs, const struct gfs_attr *a, fattr3 *out);
void nfs3_post_op(const struct gfs_vfs *vfs, const struct gfs_attr *a, post_op_attr *out);
/* post_op_attr from a fresh getattr; attributes_follow = FALSE on error. */
void nfs3_post_op_ref(struct gfs_vfs *vfs, struct gfs_ref ref, post_op_attr *out);
void nfs3_wcc(const struct gfs_vfs *vfs, const struct gfs_wcc *w, wcc_data *out);
/* wcc_data for a failure before the vfs ran: no pre, post from getattr. */
void nfs3_wcc_ref(struct gfs_vfs *vfs, struct gfs_ref ref, wcc_data *out);

/* Fills out->data with a newly allocated handle for ref in acc's export
 * (freed by xdr_free).  Returns 0 or -ENOMEM. */
int nfs3_make_fh(const struct rpc_call *call, const struct export_access *acc, struct gfs_ref ref, nfs_fh3 *out);
void nfs3_post_op_fh(const struct rpc_call *call, const struct export_access *acc, const struct gfs_attr *a,
		     post_op_fh3 *out);

/* sattr3 -> gfs_setattr.  NFS3ERR_INVAL for a bad time_how. */
nfsstat3 nfs3_sattr(const sattr3 *in, struct gfs_setattr *out);

/* Handlers; args/result are the rpcgen structs named after the procedure. */
enum rpc_disposition nfs3_null(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_getattr(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_setattr(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_lookup(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_access(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_readlink(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_read(struct rpc_call *call, void *args, void *result);
/* READ's result: the reply with the bytes lent by the vfs, which its codec
 * (nfs3_xdr_read_result, in the procedure table) gives back when freeing. */
struct nfs3_read_result {
	READ3res res;
	struct gfs_vfs *vfs; /* set once lent holds bytes */
	struct gfs_lent lent;
	const void *tcp_ops; /* the xdr_ioq ops of a TCP call, else NULL */
};
bool nfs3_xdr_read_result(XDR *xdrs, void *obj);
enum rpc_disposition nfs3_write(struct rpc_call *call, void *args, void *result);
/* WRITE's arguments: the decoder (nfs3_xdr_write_args) leaves the payload
 * where it lies in the received record when it is contiguous there, valid
 * while the call runs, instead of copying it into a buffer of its own. */
struct nfs3_write_args {
	WRITE3args args;
	bool data_in_place;
};
bool nfs3_xdr_write_args(XDR *xdrs, void *obj);
enum rpc_disposition nfs3_create(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_mkdir(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_symlink(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_mknod(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_remove(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_rmdir(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_rename(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_link(struct rpc_call *call, void *args, void *result);
/* The result of READDIR and READDIRPLUS, encoded by xdr_nfs3_dir_reply as
 * READDIR3res or READDIRPLUS3res: the list's entries are XDR already
 * (nfs3_readdir.c), without the list's end. */
struct nfs3_dir_reply {
	nfsstat3 status;
	post_op_attr dir_attributes;
	char cookieverf[NFS3_COOKIEVERFSIZE];
	bool_t eof;
	uint8_t *entries; /* malloc'ed; freed by XDR_FREE */
	uint32_t entries_len;
};
bool xdr_nfs3_dir_reply(XDR *x, struct nfs3_dir_reply *r);
enum rpc_disposition nfs3_readdir(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_readdirplus(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_fsstat(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_fsinfo(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_pathconf(struct rpc_call *call, void *args, void *result);
enum rpc_disposition nfs3_commit(struct rpc_call *call, void *args, void *result);

#endif
