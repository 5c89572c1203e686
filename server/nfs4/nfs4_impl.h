/*
 * nfs4_impl.h - what the nfs4*.c files share: the state of one COMPOUND
 * (current and saved filehandle, session slot, current stateid), the
 * operation table row, the pseudo filesystem, the errno -> nfsstat4 table
 * and attribute coding.  Private to the NFSv4 program.
 */
#ifndef GATEFS_NFS4_IMPL_H
#define GATEFS_NFS4_IMPL_H

#include "nfs4_prot.h"

#include "export.h"
#include "fh.h"
#include "nfs4.h"
#include "nfs4_state.h"
#include "rpc.h"

#define NFS4_MAX_IO (1u << 20)

/* A node of the pseudo filesystem (RFC 8881 section 7.3): the root and
 * every directory above an export.  A node whose path is an export's is
 * that export's root instead. */
struct nfs4_pseudo {
	char path[1024];
	uint32_t id; /* export_id_for_path(path): the handle and fileid */
	int parent;  /* index, -1 for the root */
	const struct export *export;
};

/* Per-server NFSv4 data, hung off struct server. */
struct nfs4_server {
	struct nfs4_state *state;
	struct nfs4_pseudo *pseudo;
	size_t npseudo;
	struct gfs_time boot_time;
	uint8_t server_id[16]; /* so_major_id: this gateway's start */
	struct nfs4_cb *cb;    /* backchannels and lock waiters (nfs4_callback.c) */
};

enum nfs4_fh_kind { NFS4_FH_NONE = 0, NFS4_FH_PSEUDO, NFS4_FH_EXPORT };

struct nfs4_fh {
	enum nfs4_fh_kind kind;
	int pseudo;		  /* index into nfs4_server.pseudo */
	struct export_access acc; /* NFS4_FH_EXPORT: export, inode, squashed cred */
};

struct nfs4_compound {
	struct rpc_call *call;
	struct nfs4_server *nfs4;
	uint32_t minorversion;
	uint32_t nops;
	uint32_t request_bytes;
	struct nfs4_fh cur, saved;
	bool in_session;
	uint8_t sessionid[NFS4_SESSIONID_SIZE];
	slotid4 slot;
	bool cachethis;
	clientid4 clientid;
	struct nfs4_slot_grant grant;
	void *replay; /* set by SEQUENCE: the whole reply to resend */
	size_t replay_len;
	bool have_cur_stateid;
	stateid4 cur_stateid;
};

/* An rpcgen routine (typed pointer) as the xdrproc_t xdr_free wants. */
#define NFS4_XDRPROC(fn) ((xdrproc_t)(void (*)(void))(fn))

/* One row of the operation table (nfs4_ops.c). */
enum nfs4_op_flags {
	NFS4_OP_NO_SESSION = 1 << 0, /* may be the first op outside a session */
	NFS4_OP_NEED_FH = 1 << 1,    /* NFS4ERR_NOFILEHANDLE without a current fh */
};
struct nfs4_op {
	const char *name;
	rpc_xdr_fn decode_args; /* NULL: no arguments */
	rpc_xdr_fn encode_result;
	nfsstat4 (*handler)(struct nfs4_compound *c, void *args, void *res);
	uint32_t flags;
};
/* The row for opnum, or NULL if gatefs does not implement it. */
const struct nfs4_op *nfs4_op_find(uint32_t opnum);

/* Per-operation metrics (nfs4_metrics.c): register once, then count each
 * operation run with its status and the handler's start time. */
void nfs4_metrics_register(void);
void nfs4_metrics_op(uint32_t opnum, nfsstat4 status, uint64_t start_ns);

/* The decoded COMPOUND: ops[0..ndecoded) hold arguments; when decoding
 * stopped early (an unknown op, bad XDR or too many ops) the reason is in
 * stop_status and applies to op number ndecoded - 1 (or to the compound
 * when ndecoded is 0). */
struct nfs4_compound_args {
	utf8str_cs tag;
	uint32_t minorversion;
	uint32_t nops; /* as sent */
	uint32_t ndecoded;
	nfs_argop4 *ops;
	nfsstat4 stop_status;
	uint32_t request_bytes;
};
bool nfs4_xdr_compound_args(XDR *xdrs, void *obj);
/* READ data that goes out by reference (nfs4_compound.c): the vfs lent
 * it, and it follows byte at of the encoded part of the reply, with its
 * XDR padding. */
struct nfs4_reply_seg {
	uint32_t at, len;
	uint32_t res;	     /* index of the READ result it came from */
	struct gfs_vfs *vfs; /* set while lent holds the bytes */
	struct gfs_lent lent;
};
#define NFS4_REPLY_SEGS 4
/* The reply, encoded already (for the slot's reply cache), except for the
 * READ data of a compound whose reply is not kept (sa_cachethis false),
 * which is lent to the transport in segs. */
struct nfs4_compound_reply {
	void *data;
	uint32_t len; /* the bytes in data */
	uint32_t nsegs;
	struct nfs4_reply_seg segs[NFS4_REPLY_SEGS];
	const void *tcp_ops; /* the xdr_ioq ops of a TCP call, else NULL */
};
bool nfs4_xdr_compound_reply(XDR *xdrs, void *obj);

/* READ's result (nfs4_data.c): the data is lent by the vfs, given back by
 * XDR_FREE, or moved into the reply's segs by the compound.  It lives in
 * the nfs_resop4 union, as READ4res would. */
struct nfs4_read_res {
	READ4res res;
	struct gfs_vfs *vfs; /* set while lent holds the bytes */
	struct gfs_lent lent;
};
bool nfs4_xdr_read_res(XDR *xdrs, void *obj);
/* WRITE's arguments: the payload is left where it lies in the received
 * record when it is contiguous there (valid while the call runs), as the
 * v3 WRITE does, instead of a copy.  In the nfs_argop4 union. */
struct nfs4_write_args {
	WRITE4args args;
	bool data_in_place;
};
bool nfs4_xdr_write_args(XDR *xdrs, void *obj);

/* nfs4_util.c */
nfsstat4 nfs4_status(int err);
/* Owner strings (nfs4_idmap.c): the string for a uid or gid (numeric, or
 * name@domain with nfs4_idmap_domain set and a name known here), and
 * the id of a string (NFS4ERR_BADOWNER for what cannot be mapped). */
void nfs4_idmap_set_domain(const char *domain);
size_t nfs4_idmap_string(uint32_t id, bool group, char *out, size_t cap);
nfsstat4 nfs4_idmap_id(const char *text, size_t len, bool group, uint32_t *out);
/* NFS4_OK for a regular file, else what OPEN and the v4.2 file operations
 * answer for other types (ISDIR, SYMLINK, WRONG_TYPE). */
nfsstat4 nfs4_file_type_status(enum gfs_ftype t);
/* The write verifier (WRITE, COMMIT, COPY): changes when the gateway or
 * its Redis restarts. */
void nfs4_put_verifier(const struct nfs4_compound *c, char out[NFS4_VERIFIER_SIZE]);
/* Copies a component into out: INVAL if empty, BADNAME for "." "..", '/'
 * or NUL, NAMETOOLONG past GFS_NAME_MAX. */
nfsstat4 nfs4_name(const component4 *name, char out[GFS_NAME_MAX + 1]);
/* Current fh is a file of an export (not pseudo): NOFILEHANDLE / the
 * status for a pseudo node (ROFS when write, else the given one). */
nfsstat4 nfs4_need_export(const struct nfs4_compound *c, bool write);
/* The current fh's handle bytes. */
void nfs4_fh_bytes(const struct nfs4_compound *c, const struct nfs4_fh *f, struct fh *out);
void nfs4_cinfo(const struct gfs_wcc *w, change_info4 *out);
bool nfs4_stateid_special(const stateid4 *sid); /* anonymous or bypass */
/* Checks the stateid of READ, WRITE or SETATTR(size) on the current file;
 * resolves the "current stateid" (RFC 8881 section 16.2.3.1.2). */
nfsstat4 nfs4_check_stateid(struct nfs4_compound *c, const stateid4 *sid, uint32_t want);
/* The "current stateid" stands for the last one an op of this compound
 * returned (section 16.2.3.1.2); set_cur records one. */
const stateid4 *nfs4_resolve_stateid(const struct nfs4_compound *c, const stateid4 *sid);
void nfs4_set_cur_stateid(struct nfs4_compound *c, const stateid4 *sid);

/* nfs4_lock.c: besides LOCK, LOCKT and LOCKU. */
uint32_t nfs4_redis_lease_ms(const struct nfs4_compound *c);
/* CLOSE: LOCKS_HELD while a lock owner made from the open holds a lock. */
nfsstat4 nfs4_locks_held_by_open(struct nfs4_compound *c, const stateid4 *open_sid);
/* FREE_STATEID of a lock stateid (*was_lock): LOCKS_HELD while it holds one. */
nfsstat4 nfs4_free_lock_stateid(struct nfs4_compound *c, const stateid4 *sid, bool *was_lock);
/* Drops every lock of client key (the client rebooted); "" = none. */
void nfs4_release_client_locks(struct nfs4_compound *c, const char *key);
/* Releases the locks of clients reap dropped whose Redis lease ran out. */
void nfs4_release_expired(struct nfs4_compound *c);
/* Drops every lock of these owners (DESTROY_CLIENTID). */
void nfs4_release_owner_locks(struct nfs4_compound *c, const struct nfs4_lock_info *owners, size_t n);
/* SEQUENCE: renews the client's Redis lease when the slot grant asks. */
void nfs4_renew_lease(struct nfs4_compound *c, const struct nfs4_slot_grant *g);

/* nfs4_callback.c: backchannels on the fore connection and CB_NOTIFY_LOCK.
 * nfs4_cb_start starts the sender thread (locks are tested through vfs);
 * nfs4_cb_stop ends it and lets go of every connection (before the
 * transport stops); nfs4_cb_destroy frees the rest. */
struct nfs4_cb;
int nfs4_cb_start(struct nfs4_server *n, struct gfs_vfs *vfs);
void nfs4_cb_stop(struct nfs4_server *n);
void nfs4_cb_destroy(struct nfs4_server *n);
/* Binds the connection of the current request as the backchannel of
 * sessionid.  set_sec (CREATE_SESSION): program and sec are the client's
 * (AUTH_NONE or AUTH_SYS is used; ENCR_ALG_UNSUPP if neither is offered);
 * otherwise (BIND_CONN_TO_SESSION) the session's are kept, and a session
 * that never asked for a backchannel is INVAL.  *bound: the connection is
 * now the backchannel. */
nfsstat4 nfs4_cb_bind(struct nfs4_compound *c, const uint8_t sessionid[NFS4_SESSIONID_SIZE], clientid4 clientid,
		      bool set_sec, uint32_t program, const callback_sec_parms4 *sec, u_int nsec, bool *bound);
/* BACKCHANNEL_CTL on the compound's session. */
nfsstat4 nfs4_cb_set_sec(struct nfs4_compound *c, uint32_t program, const callback_sec_parms4 *sec, u_int nsec);
/* DESTROY_SESSION. */
void nfs4_cb_forget(struct nfs4_server *n, const uint8_t sessionid[NFS4_SESSIONID_SIZE]);
/* Whether a callback could reach the session now (OPEN: MAY_NOTIFY_LOCK). */
bool nfs4_cb_usable(struct nfs4_server *n, const uint8_t sessionid[NFS4_SESSIONID_SIZE]);
/* SEQUENCE's sr_status_flags for the backchannel (CB_PATH_DOWN...). */
uint32_t nfs4_cb_sequence_flags(struct nfs4_server *n, const uint8_t sessionid[NFS4_SESSIONID_SIZE]);
/* A blocking LOCK was DENIED: remember the waiter (the current fh's file)
 * to notify it when the range can be granted. */
void nfs4_cb_wait(struct nfs4_compound *c, uint64_t ino, const char *key, const void *owner, size_t owner_len,
		  enum gfs_lock_type type, uint64_t offset, uint64_t length);
/* A LOCK was granted: the owner no longer waits on ino. */
void nfs4_cb_granted(struct nfs4_server *n, uint64_t ino, clientid4 clientid, const void *owner, size_t owner_len);
/* A lock on ino (0: on any file) was released: test its waiters now. */
void nfs4_cb_released(struct nfs4_server *n, uint64_t ino);

/* nfs4_share.c: share reservations in Redis.  acquire before
 * nfs4_open_acquire (SHARE_DENIED against any gateway's opens); undo after
 * it failed; narrow after CLOSE and OPEN_DOWNGRADE changed the open. */
nfsstat4 nfs4_share_acquire(struct nfs4_compound *c, const void *owner, size_t owner_len, uint64_t ino, uint32_t access,
			    uint32_t deny);
void nfs4_share_undo(struct nfs4_compound *c, const void *owner, size_t owner_len, uint64_t ino);
void nfs4_share_narrow(struct nfs4_compound *c, uint64_t ino, const struct nfs4_open_owner *who);

/* nfs4_fh.c: the pseudo filesystem and the fh ops. */
int nfs4_pseudo_build(struct nfs4_server *n, const struct server *srv);
/* A child of pseudo node idx named name: 0 and *child (a pseudo node,
 * possibly an export root), or -ENOENT. */
int nfs4_pseudo_child(const struct nfs4_server *n, int idx, const char *name, int *child);
/* Sets f to the export root when node idx is one (client admitted), else to
 * the pseudo node.  NFS4_OK or NFS4ERR_ACCESS. */
nfsstat4 nfs4_enter_node(struct nfs4_compound *c, int idx, struct nfs4_fh *f);
bool nfs4_node_visible(const struct nfs4_compound *c, int idx);

/* nfs4_attr.c */
struct nfs4_obj {
	struct gfs_attr attr;
	fsid4 fsid;
	uint64_t mounted_on_fileid;
	struct fh fh;
};
/* The attributes of f (a pseudo node or an inode of an export). */
nfsstat4 nfs4_obj_of(struct nfs4_compound *c, const struct nfs4_fh *f, struct nfs4_obj *out);
void nfs4_obj_export(struct nfs4_compound *c, const struct export *ex, const struct gfs_attr *a, struct nfs4_obj *out);
/* Encodes the requested attributes into out (attr_vals malloc'ed). */
nfsstat4 nfs4_encode_fattr(struct nfs4_compound *c, const struct nfs4_obj *o, const bitmap4 *req, fattr4 *out);
/* Decodes settable attributes (size, mode, owner, owner_group,
 * time_access_set, time_modify_set); set receives the bitmap of them. */
nfsstat4 nfs4_decode_sattr(const fattr4 *in, struct gfs_setattr *sa, bitmap4 *set);
void nfs4_bitmap_free(bitmap4 *b);

/* Handlers, one per operation (nfs4_ops.c has the table). */
#define NFS4_HANDLER(name) nfsstat4 name(struct nfs4_compound *c, void *args, void *res)
NFS4_HANDLER(nfs4_op_access);
NFS4_HANDLER(nfs4_op_close);
NFS4_HANDLER(nfs4_op_commit);
NFS4_HANDLER(nfs4_op_create);
NFS4_HANDLER(nfs4_op_delegreturn);
NFS4_HANDLER(nfs4_op_getattr);
NFS4_HANDLER(nfs4_op_getfh);
NFS4_HANDLER(nfs4_op_link);
NFS4_HANDLER(nfs4_op_lock);
NFS4_HANDLER(nfs4_op_lockt);
NFS4_HANDLER(nfs4_op_locku);
NFS4_HANDLER(nfs4_op_lookup);
NFS4_HANDLER(nfs4_op_lookupp);
NFS4_HANDLER(nfs4_op_nverify);
NFS4_HANDLER(nfs4_op_open);
NFS4_HANDLER(nfs4_op_open_downgrade);
NFS4_HANDLER(nfs4_op_putfh);
NFS4_HANDLER(nfs4_op_putpubfh);
NFS4_HANDLER(nfs4_op_putrootfh);
NFS4_HANDLER(nfs4_op_read);
NFS4_HANDLER(nfs4_op_readdir);
NFS4_HANDLER(nfs4_op_readlink);
NFS4_HANDLER(nfs4_op_remove);
NFS4_HANDLER(nfs4_op_rename);
NFS4_HANDLER(nfs4_op_restorefh);
NFS4_HANDLER(nfs4_op_savefh);
NFS4_HANDLER(nfs4_op_secinfo);
NFS4_HANDLER(nfs4_op_secinfo_no_name);
NFS4_HANDLER(nfs4_op_setattr);
NFS4_HANDLER(nfs4_op_verify);
NFS4_HANDLER(nfs4_op_write);
NFS4_HANDLER(nfs4_op_backchannel_ctl);
NFS4_HANDLER(nfs4_op_bind_conn_to_session);
NFS4_HANDLER(nfs4_op_exchange_id);
NFS4_HANDLER(nfs4_op_create_session);
NFS4_HANDLER(nfs4_op_destroy_session);
NFS4_HANDLER(nfs4_op_free_stateid);
NFS4_HANDLER(nfs4_op_sequence);
NFS4_HANDLER(nfs4_op_test_stateid);
NFS4_HANDLER(nfs4_op_destroy_clientid);
NFS4_HANDLER(nfs4_op_reclaim_complete);
NFS4_HANDLER(nfs4_op_allocate);
NFS4_HANDLER(nfs4_op_deallocate);
NFS4_HANDLER(nfs4_op_seek);
NFS4_HANDLER(nfs4_op_clone);
NFS4_HANDLER(nfs4_op_copy);

/* READDIR's result: the entry list is XDR already (nfs4_readdir.c). */
struct nfs4_readdir_res {
	nfsstat4 status;
	char cookieverf[NFS4_VERIFIER_SIZE];
	uint8_t *entries; /* malloc'ed; freed by XDR_FREE */
	uint32_t entries_len;
	bool_t eof;
};
bool nfs4_xdr_readdir_res(XDR *xdrs, void *obj);

#endif
