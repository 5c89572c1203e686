/*
 * nfs3_ns.c - the NFSv3 procedures that read or change the namespace and
 * attributes: GETATTR SETATTR LOOKUP ACCESS READLINK CREATE MKDIR SYMLINK
 * MKNOD REMOVE RMDIR RENAME LINK.  Each admits the call on its handle(s),
 * calls one vfs function with the squashed credentials and converts the
 * outcome, wcc data included, into the RFC 1813 result.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs3_impl.h"

/* wcc_data for a vfs call that may or may not have filled *w (it fills it
 * on success; on failure we fall back to fresh post-op attributes). */
static void wcc_out(struct gfs_vfs *vfs, const struct gfs_wcc *w, struct gfs_ref ref, wcc_data *out)
{
	if (w->has_pre || w->has_post)
		nfs3_wcc(vfs, w, out);
	else
		nfs3_wcc_ref(vfs, ref, out);
}

/* wcc data for an error found before the vfs ran: none unless the handle
 * was admitted (a refused handle names no inode we may show). */
static void early_wcc(struct gfs_vfs *vfs, const struct export_access *acc, wcc_data *out)
{
	memset(out, 0, sizeof(*out));
	if (acc->export)
		nfs3_wcc_ref(vfs, acc->ref, out);
}

/* Applies what gfs_create/mkdir/... could not take (everything but mode)
 * to a new object, refreshing *attr. */
static nfsstat3 apply_rest(struct gfs_vfs *vfs, const struct export_access *acc, const struct gfs_setattr *sa,
			   struct gfs_attr *attr)
{
	struct gfs_setattr rest = *sa;
	rest.valid &= ~(uint32_t)GFS_SET_MODE;
	if (!rest.valid)
		return NFS3_OK;
	struct gfs_wcc w = {0};
	struct gfs_ref ref = {attr->ino, attr->gen};
	int err = gfs_setattr(vfs, &acc->cred, ref, &rest, NULL, &w);
	if (err)
		return nfs3_status(err);
	if (w.has_post)
		*attr = w.post;
	return NFS3_OK;
}

enum rpc_disposition nfs3_getattr(struct rpc_call *call, void *args, void *result)
{
	GETATTR3args *a = args;
	GETATTR3res *r = result;
	struct export_access acc;
	struct gfs_attr attr;

	r->status = nfs3_admit(call, &a->object, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	r->status = nfs3_status(gfs_getattr(call->vfs, acc.ref, &attr));
	if (r->status == NFS3_OK)
		nfs3_fattr(call->vfs, &attr, &r->GETATTR3res_u.resok.obj_attributes);
	return RPC_OK;
}

enum rpc_disposition nfs3_setattr(struct rpc_call *call, void *args, void *result)
{
	SETATTR3args *a = args;
	SETATTR3res *r = result;
	struct export_access acc;
	struct gfs_setattr sa;
	struct gfs_wcc w = {0};
	struct gfs_time guard;

	r->status = nfs3_admit_write(call, &a->object, &acc);
	if (r->status == NFS3_OK)
		r->status = nfs3_sattr(&a->new_attributes, &sa);
	if (r->status != NFS3_OK) {
		early_wcc(call->vfs, &acc, &r->SETATTR3res_u.resfail.obj_wcc);
		return RPC_OK;
	}
	if (a->guard.check) {
		guard.sec = a->guard.sattrguard3_u.obj_ctime.seconds;
		guard.nsec = a->guard.sattrguard3_u.obj_ctime.nseconds;
	}
	int err = gfs_setattr(call->vfs, &acc.cred, acc.ref, &sa, a->guard.check ? &guard : NULL, &w);
	r->status = nfs3_status(err);
	/* resok and resfail are both just obj_wcc. */
	wcc_out(call->vfs, &w, acc.ref, &r->SETATTR3res_u.resok.obj_wcc);
	return RPC_OK;
}

enum rpc_disposition nfs3_lookup(struct rpc_call *call, void *args, void *result)
{
	LOOKUP3args *a = args;
	LOOKUP3res *r = result;
	struct export_access acc;
	char name[GFS_NAME_MAX + 1];
	struct gfs_attr attr;
	int err;

	r->status = nfs3_admit(call, &a->what.dir, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	r->status = nfs3_name(&a->what.name, name);
	if (r->status != NFS3_OK) {
		nfs3_post_op_ref(call->vfs, acc.ref, &r->LOOKUP3res_u.resfail.dir_attributes);
		return RPC_OK;
	}
	/* ".." at the export root is the root itself, and a directory that is
	 * no longer inside the exported tree has no ".." at all: a client never
	 * walks out of its export. */
	int dotdot = strcmp(name, "..") == 0 ? export_parent_allowed(call->vfs, acc.export, acc.ref) : 1;
	if (dotdot < 0)
		err = dotdot;
	else if (dotdot == 0)
		err = gfs_getattr(call->vfs, acc.ref, &attr);
	else
		err = gfs_lookup(call->vfs, &acc.cred, acc.ref, name, &attr);
	r->status = nfs3_status(err);
	if (r->status != NFS3_OK) {
		nfs3_post_op_ref(call->vfs, acc.ref, &r->LOOKUP3res_u.resfail.dir_attributes);
		return RPC_OK;
	}
	LOOKUP3resok *ok = &r->LOOKUP3res_u.resok;
	struct gfs_ref ref = {attr.ino, attr.gen};
	if (nfs3_make_fh(call, &acc, ref, &ok->object) != 0) {
		r->status = NFS3ERR_SERVERFAULT;
		memset(&r->LOOKUP3res_u, 0, sizeof(r->LOOKUP3res_u));
		return RPC_OK;
	}
	nfs3_post_op(call->vfs, &attr, &ok->obj_attributes);
	nfs3_post_op_ref(call->vfs, acc.ref, &ok->dir_attributes);
	return RPC_OK;
}

enum rpc_disposition nfs3_access(struct rpc_call *call, void *args, void *result)
{
	ACCESS3args *a = args;
	ACCESS3res *r = result;
	struct export_access acc;
	struct gfs_attr attr;
	uint32_t granted = 0;

	r->status = nfs3_admit(call, &a->object, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	uint32_t want = a->access & (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE |
				     ACCESS3_EXECUTE);
	int err = gfs_access(call->vfs, &acc.cred, acc.ref, want, &granted, &attr);
	r->status = nfs3_status(err);
	if (r->status != NFS3_OK) {
		nfs3_post_op_ref(call->vfs, acc.ref, &r->ACCESS3res_u.resfail.obj_attributes);
		return RPC_OK;
	}
	if (acc.read_only)
		granted &= ~(uint32_t)(ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE);
	r->ACCESS3res_u.resok.access = granted & want;
	nfs3_post_op(call->vfs, &attr, &r->ACCESS3res_u.resok.obj_attributes);
	return RPC_OK;
}

enum rpc_disposition nfs3_readlink(struct rpc_call *call, void *args, void *result)
{
	READLINK3args *a = args;
	READLINK3res *r = result;
	struct export_access acc;
	size_t len = 0;

	r->status = nfs3_admit(call, &a->symlink, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	char *buf = malloc(GFS_PATH_MAX);
	if (!buf) {
		r->status = NFS3ERR_SERVERFAULT;
		return RPC_OK;
	}
	r->status = nfs3_status(gfs_readlink(call->vfs, &acc.cred, acc.ref, buf, GFS_PATH_MAX, &len));
	if (r->status != NFS3_OK) {
		free(buf);
		nfs3_post_op_ref(call->vfs, acc.ref, &r->READLINK3res_u.resfail.symlink_attributes);
		return RPC_OK;
	}
	READLINK3resok *ok = &r->READLINK3res_u.resok;
	ok->data.nfspath3_val = buf; /* freed by xdr_free */
	ok->data.nfspath3_len = (u_int)(len < GFS_PATH_MAX ? len : GFS_PATH_MAX);
	nfs3_post_op_ref(call->vfs, acc.ref, &ok->symlink_attributes);
	return RPC_OK;
}

/* The common tail of CREATE, MKDIR, SYMLINK and MKNOD: the three results
 * have the same resok/resfail layout, so one writer serves them all. */
struct new_object_res {
	post_op_fh3 *obj;
	post_op_attr *obj_attributes;
	wcc_data *ok_wcc;
	wcc_data *fail_wcc;
};
/* The new_object_res of a CREATE3res, MKDIR3res, SYMLINK3res or MKNOD3res. */
#define NEW_OBJECT_RES(r, TYPE)                                                                                        \
	{                                                                                                              \
		&(r)->TYPE##_u.resok.obj, &(r)->TYPE##_u.resok.obj_attributes, &(r)->TYPE##_u.resok.dir_wcc,           \
		    &(r)->TYPE##_u.resfail.dir_wcc                                                                     \
	}

static void new_object_reply(struct rpc_call *call, const struct export_access *acc, nfsstat3 *status, int err,
			     struct gfs_attr *attr, const struct gfs_setattr *sa, const struct gfs_wcc *w,
			     const struct new_object_res *out)
{
	*status = nfs3_status(err);
	if (*status == NFS3_OK && sa)
		*status = apply_rest(call->vfs, acc, sa, attr);
	if (*status != NFS3_OK) {
		wcc_out(call->vfs, w, acc->ref, out->fail_wcc);
		return;
	}
	nfs3_post_op_fh(call, acc, attr, out->obj);
	nfs3_post_op(call->vfs, attr, out->obj_attributes);
	wcc_out(call->vfs, w, acc->ref, out->ok_wcc);
}

/* Admission and name check shared by every procedure that makes a name in
 * a directory.  On failure, the early wcc is written to *fail_wcc. */
static nfsstat3 admit_dirop(struct rpc_call *call, const diropargs3 *where, struct export_access *acc,
			    char name[GFS_NAME_MAX + 1], wcc_data *fail_wcc)
{
	nfsstat3 st = nfs3_admit_write(call, &where->dir, acc);
	if (st == NFS3_OK)
		st = nfs3_name(&where->name, name);
	if (st != NFS3_OK)
		early_wcc(call->vfs, acc, fail_wcc);
	return st;
}

/*
 * CREATE, MKDIR, SYMLINK and MKNOD differ only in how they read their
 * arguments and in the vfs call that makes the object; admission, the name
 * check, the early wcc on a refusal and the reply are one path (make_object).
 */
struct new_object {
	struct export_access acc;
	char name[GFS_NAME_MAX + 1];
	struct gfs_setattr sa; /* the requested attributes, applied after the create */
	bool keep_sa;	       /* false: none to apply after (EXCLUSIVE create) */
	uint32_t mode;
	struct gfs_attr attr;
	struct gfs_wcc w;
	/* what one procedure needs beyond that */
	enum gfs_create_how how;
	const uint8_t *verf;
	enum gfs_ftype type;
	uint32_t major, minor;
	char path[GFS_PATH_MAX];
};

struct new_object_ops {
	/* Reads the procedure's arguments into n (n->sa already holds none). */
	nfsstat3 (*prepare)(const void *args, struct new_object *n);
	/* Makes the object (a vfs errno). */
	int (*make)(struct gfs_vfs *vfs, struct new_object *n);
};

static void make_object(struct rpc_call *call, const diropargs3 *where, const void *args,
			const struct new_object_ops *ops, nfsstat3 *status, const struct new_object_res *out)
{
	struct new_object *n = calloc(1, sizeof(*n));
	if (!n) {
		*status = NFS3ERR_SERVERFAULT;
		return;
	}
	n->keep_sa = true;
	*status = admit_dirop(call, where, &n->acc, n->name, out->fail_wcc);
	if (*status == NFS3_OK) {
		*status = ops->prepare(args, n);
		if (*status != NFS3_OK)
			early_wcc(call->vfs, &n->acc, out->fail_wcc);
	}
	if (*status == NFS3_OK) {
		int err = ops->make(call->vfs, n);
		new_object_reply(call, &n->acc, status, err, &n->attr, n->keep_sa ? &n->sa : NULL, &n->w, out);
	}
	free(n);
}

/* The mode a sattr3 asks for, else the procedure's default. */
static uint32_t mode_or(const struct new_object *n, uint32_t dflt)
{
	return (n->sa.valid & GFS_SET_MODE) ? n->sa.mode : dflt;
}

static nfsstat3 create_prepare(const void *args, struct new_object *n)
{
	const CREATE3args *a = args;
	switch (a->how.mode) {
	case UNCHECKED:
	case GUARDED:
		n->how = a->how.mode == UNCHECKED ? GFS_CREATE_UNCHECKED : GFS_CREATE_GUARDED;
		n->mode = 0644;
		nfsstat3 st = nfs3_sattr(&a->how.createhow3_u.obj_attributes, &n->sa);
		n->mode = mode_or(n, 0644);
		return st;
	case EXCLUSIVE:
		/* The client follows with SETATTR for the real attributes (and
		 * often a size of 0); owner read/write lets that SETATTR pass the
		 * permission check for a non-root owner. */
		n->how = GFS_CREATE_EXCLUSIVE;
		n->verf = (const uint8_t *)a->how.createhow3_u.verf;
		n->mode = 0600;
		n->keep_sa = false;
		return NFS3_OK;
	default:
		return NFS3ERR_INVAL;
	}
}

static int create_make(struct gfs_vfs *vfs, struct new_object *n)
{
	return gfs_create(vfs, &n->acc.cred, n->acc.ref, n->name, n->mode, n->how, n->verf, &n->attr, &n->w);
}

static nfsstat3 mkdir_prepare(const void *args, struct new_object *n)
{
	nfsstat3 st = nfs3_sattr(&((const MKDIR3args *)args)->attributes, &n->sa);
	n->mode = mode_or(n, 0755);
	return st;
}

static int mkdir_make(struct gfs_vfs *vfs, struct new_object *n)
{
	return gfs_mkdir(vfs, &n->acc.cred, n->acc.ref, n->name, n->mode, &n->attr, &n->w);
}

static nfsstat3 symlink_prepare(const void *args, struct new_object *n)
{
	const SYMLINK3args *a = args;
	const nfspath3 *target = &a->symlink.symlink_data;
	nfsstat3 st = nfs3_sattr(&a->symlink.symlink_attributes, &n->sa);
	if (st == NFS3_OK && (target->nfspath3_len == 0 || memchr(target->nfspath3_val, '\0', target->nfspath3_len)))
		st = NFS3ERR_INVAL;
	if (st == NFS3_OK && target->nfspath3_len >= GFS_PATH_MAX)
		st = NFS3ERR_NAMETOOLONG;
	if (st != NFS3_OK)
		return st;
	memcpy(n->path, target->nfspath3_val, target->nfspath3_len);
	n->path[target->nfspath3_len] = '\0';
	n->mode = mode_or(n, 0777);
	return NFS3_OK;
}

static int symlink_make(struct gfs_vfs *vfs, struct new_object *n)
{
	return gfs_symlink(vfs, &n->acc.cred, n->acc.ref, n->name, n->path, n->mode, &n->attr, &n->w);
}

static nfsstat3 mknod_prepare(const void *args, struct new_object *n)
{
	const mknoddata3 *what = &((const MKNOD3args *)args)->what;
	nfsstat3 st;
	switch (what->type) {
	case NF3CHR:
	case NF3BLK:
		n->type = what->type == NF3CHR ? GFS_CHR : GFS_BLK;
		n->major = what->mknoddata3_u.device.spec.specdata1;
		n->minor = what->mknoddata3_u.device.spec.specdata2;
		st = nfs3_sattr(&what->mknoddata3_u.device.dev_attributes, &n->sa);
		break;
	case NF3SOCK:
	case NF3FIFO:
		n->type = what->type == NF3SOCK ? GFS_SOCK : GFS_FIFO;
		st = nfs3_sattr(&what->mknoddata3_u.pipe_attributes, &n->sa);
		break;
	default:
		return NFS3ERR_BADTYPE;
	}
	n->mode = mode_or(n, 0644);
	return st;
}

static int mknod_make(struct gfs_vfs *vfs, struct new_object *n)
{
	return gfs_mknod(vfs, &n->acc.cred, n->acc.ref, n->name, n->type, n->mode, n->major, n->minor, &n->attr, &n->w);
}

enum rpc_disposition nfs3_create(struct rpc_call *call, void *args, void *result)
{
	static const struct new_object_ops ops = {create_prepare, create_make};
	CREATE3res *r = result;
	struct new_object_res out = NEW_OBJECT_RES(r, CREATE3res);
	make_object(call, &((CREATE3args *)args)->where, args, &ops, &r->status, &out);
	return RPC_OK;
}

enum rpc_disposition nfs3_mkdir(struct rpc_call *call, void *args, void *result)
{
	static const struct new_object_ops ops = {mkdir_prepare, mkdir_make};
	MKDIR3res *r = result;
	struct new_object_res out = NEW_OBJECT_RES(r, MKDIR3res);
	make_object(call, &((MKDIR3args *)args)->where, args, &ops, &r->status, &out);
	return RPC_OK;
}

enum rpc_disposition nfs3_symlink(struct rpc_call *call, void *args, void *result)
{
	static const struct new_object_ops ops = {symlink_prepare, symlink_make};
	SYMLINK3res *r = result;
	struct new_object_res out = NEW_OBJECT_RES(r, SYMLINK3res);
	make_object(call, &((SYMLINK3args *)args)->where, args, &ops, &r->status, &out);
	return RPC_OK;
}

enum rpc_disposition nfs3_mknod(struct rpc_call *call, void *args, void *result)
{
	static const struct new_object_ops ops = {mknod_prepare, mknod_make};
	MKNOD3res *r = result;
	struct new_object_res out = NEW_OBJECT_RES(r, MKNOD3res);
	make_object(call, &((MKNOD3args *)args)->where, args, &ops, &r->status, &out);
	return RPC_OK;
}

/* REMOVE and RMDIR: the same arguments and the same result (the
 * directory's wcc in both arms), a different vfs call. */
typedef int (*unlink_fn)(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
			 struct gfs_wcc *dir_wcc);

static nfsstat3 unlink_name(struct rpc_call *call, diropargs3 *object, unlink_fn op, wcc_data *dir_wcc)
{
	struct export_access acc;
	char name[GFS_NAME_MAX + 1];
	struct gfs_wcc w = {0};
	nfsstat3 st = admit_dirop(call, object, &acc, name, dir_wcc);
	if (st != NFS3_OK)
		return st;
	st = nfs3_status(op(call->vfs, &acc.cred, acc.ref, name, &w));
	wcc_out(call->vfs, &w, acc.ref, dir_wcc);
	return st;
}

enum rpc_disposition nfs3_remove(struct rpc_call *call, void *args, void *result)
{
	REMOVE3res *r = result;
	r->status = unlink_name(call, &((REMOVE3args *)args)->object, gfs_remove, &r->REMOVE3res_u.resok.dir_wcc);
	return RPC_OK;
}

enum rpc_disposition nfs3_rmdir(struct rpc_call *call, void *args, void *result)
{
	RMDIR3res *r = result;
	r->status = unlink_name(call, &((RMDIR3args *)args)->object, gfs_rmdir, &r->RMDIR3res_u.resok.dir_wcc);
	return RPC_OK;
}

enum rpc_disposition nfs3_rename(struct rpc_call *call, void *args, void *result)
{
	RENAME3args *a = args;
	RENAME3res *r = result;
	struct export_access from, to;
	char from_name[GFS_NAME_MAX + 1], to_name[GFS_NAME_MAX + 1];
	struct gfs_wcc from_w = {0}, to_w = {0};
	/* resok and resfail have the same two wcc_data. */
	wcc_data *from_out = &r->RENAME3res_u.resok.fromdir_wcc;
	wcc_data *to_out = &r->RENAME3res_u.resok.todir_wcc;

	/* Admit both sides even when the first fails, so that an error reply
	 * still carries what the client can know of both directories. */
	nfsstat3 from_st = admit_dirop(call, &a->from, &from, from_name, from_out);
	nfsstat3 to_st = admit_dirop(call, &a->to, &to, to_name, to_out);
	r->status = from_st != NFS3_OK ? from_st : to_st;
	if (r->status == NFS3_OK && from.export != to.export) {
		r->status = NFS3ERR_XDEV;
		early_wcc(call->vfs, &from, from_out);
		early_wcc(call->vfs, &to, to_out);
	}
	if (r->status != NFS3_OK)
		return RPC_OK;
	int err = gfs_rename(call->vfs, &from.cred, from.ref, from_name, to.ref, to_name, &from_w, &to_w);
	r->status = nfs3_status(err);
	wcc_out(call->vfs, &from_w, from.ref, from_out);
	wcc_out(call->vfs, &to_w, to.ref, to_out);
	return RPC_OK;
}

enum rpc_disposition nfs3_link(struct rpc_call *call, void *args, void *result)
{
	LINK3args *a = args;
	LINK3res *r = result;
	struct export_access file, dir;
	char name[GFS_NAME_MAX + 1];
	struct gfs_wcc w = {0};
	struct gfs_attr attr;
	/* resok and resfail have the same layout. */
	post_op_attr *file_out = &r->LINK3res_u.resok.file_attributes;
	wcc_data *dir_out = &r->LINK3res_u.resok.linkdir_wcc;

	/* The file is only read here; the directory is what changes, so it
	 * alone decides ROFS. */
	r->status = nfs3_admit(call, &a->file, &file);
	if (r->status != NFS3_OK)
		return RPC_OK;
	r->status = admit_dirop(call, &a->link, &dir, name, dir_out);
	if (r->status == NFS3_OK && file.export != dir.export) {
		r->status = NFS3ERR_XDEV;
		early_wcc(call->vfs, &dir, dir_out);
	}
	if (r->status != NFS3_OK) {
		nfs3_post_op_ref(call->vfs, file.ref, file_out);
		return RPC_OK;
	}
	int err = gfs_link(call->vfs, &dir.cred, file.ref, dir.ref, name, &attr, &w);
	r->status = nfs3_status(err);
	if (err == 0)
		nfs3_post_op(call->vfs, &attr, file_out);
	else
		nfs3_post_op_ref(call->vfs, file.ref, file_out);
	wcc_out(call->vfs, &w, dir.ref, dir_out);
	return RPC_OK;
}
