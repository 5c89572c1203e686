/*
 * rawnfs.c - the blocking test client of rawnfs.h.  Each call sends one
 * request with libnfs's raw API and services the connection until its
 * callback ran; the callback copies the reply into the caller's memory
 * (libnfs frees the decoded reply when the callback returns).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawnfs.h"

struct call {
	int done;
	int rpc_status;
	int nfs_status;
	/* called with the decoded reply when the RPC succeeded */
	void (*copy)(struct call *call, void *reply);
	void *out, *out2;
	size_t out_size;
};

/* Every NFSv3 and MOUNTv3 result starts with its status. */
static void call_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *call = priv;
	call->done = 1;
	call->rpc_status = status;
	if (status != RPC_STATUS_SUCCESS || !data)
		return;
	call->nfs_status = *(int *)data;
	if (call->copy)
		call->copy(call, data);
}

/* Services rpc until call is done; -1 on a transport error or silence. */
static int wait_for(struct rpc_context *rpc, struct call *call)
{
	int idle_s = 0;
	while (!call->done) {
		struct pollfd p = {rpc_get_fd(rpc), (short)rpc_which_events(rpc), 0};
		int n = poll(&p, 1, 1000);
		if (n < 0)
			return -1;
		if (n == 0 && ++idle_s >= RN_REPLY_LIMIT_S) {
			fprintf(stderr, "rawnfs: no reply for %d s\n", RN_REPLY_LIMIT_S);
			return -1;
		}
		if (rpc_service(rpc, p.revents) < 0) {
			fprintf(stderr, "rawnfs: %s\n", rpc_get_error(rpc));
			return -1;
		}
	}
	return 0;
}

/* The outcome of a call started by `sent` (0 when the request was queued). */
static int finish(struct rn_client *c, int sent, struct call *call)
{
	if (sent != 0 || wait_for(c->rpc, call) != 0)
		return -1;
	if (call->rpc_status != RPC_STATUS_SUCCESS) {
		fprintf(stderr, "rawnfs: rpc status %d: %s\n", call->rpc_status, rpc_get_error(c->rpc));
		return -1;
	}
	return call->nfs_status;
}

static nfs_fh3 as_fh3(const struct rn_fh *fh)
{
	nfs_fh3 f;
	f.data.data_len = fh->len;
	f.data.data_val = (char *)fh->data;
	return f;
}

static void fh_from(struct rn_fh *dst, const char *val, u_int len)
{
	memset(dst, 0, sizeof(*dst));
	dst->len = len <= NFS3_FHSIZE ? len : 0;
	memcpy(dst->data, val, dst->len);
}

int rn_fh_equal(const struct rn_fh *a, const struct rn_fh *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void post_op(fattr3 *dst, const post_op_attr *src)
{
	if (!dst)
		return;
	if (src->attributes_follow)
		*dst = src->post_op_attr_u.attributes;
	else
		memset(dst, 0, sizeof(*dst));
}

/* ---- connection ---- */

static void connect_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	(void)data;
	struct call *call = priv;
	call->done = 1;
	call->rpc_status = status;
}

static struct rpc_context *connect_to(int port, int prog, int vers)
{
	struct rpc_context *rpc = rpc_init_context();
	struct call call = {0};
	if (!rpc)
		return NULL;
	if (rpc_connect_port_async(rpc, "127.0.0.1", port, prog, vers, connect_cb, &call) != 0 ||
	    wait_for(rpc, &call) != 0 || call.rpc_status != RPC_STATUS_SUCCESS) {
		rpc_destroy_context(rpc);
		return NULL;
	}
	return rpc;
}

static void copy_mnt(struct call *call, void *reply)
{
	mountres3 *r = reply;
	if (r->fhs_status == MNT3_OK)
		fh_from(call->out, r->mountres3_u.mountinfo.fhandle.fhandle3_val,
			r->mountres3_u.mountinfo.fhandle.fhandle3_len);
}

int rn_connect(struct rn_client *c, int nfs_port, int mount_port, const char *export)
{
	memset(c, 0, sizeof(*c));
	struct rpc_context *m = connect_to(mount_port, MOUNT_PROGRAM, MOUNT_V3);
	if (!m)
		return -1;
	struct call call = {.copy = copy_mnt, .out = &c->root};
	int sent = rpc_mount3_mnt_async(m, call_cb, (char *)export, &call);
	int ok = sent == 0 && wait_for(m, &call) == 0 && call.rpc_status == RPC_STATUS_SUCCESS &&
		 call.nfs_status == MNT3_OK && c->root.len > 0;
	rpc_destroy_context(m);
	if (!ok)
		return -1;
	c->rpc = connect_to(nfs_port, NFS_PROGRAM, NFS_V3);
	return c->rpc ? 0 : -1;
}

void rn_close(struct rn_client *c)
{
	if (c->rpc)
		rpc_destroy_context(c->rpc);
	c->rpc = NULL;
}

void rn_set_cred(struct rn_client *c, uint32_t uid, uint32_t gid)
{
	rpc_set_uid(c->rpc, (int)uid);
	rpc_set_gid(c->rpc, (int)gid);
}

/* ---- attributes ---- */

static void copy_getattr(struct call *call, void *reply)
{
	GETATTR3res *r = reply;
	if (r->status == NFS3_OK && call->out)
		*(fattr3 *)call->out = r->GETATTR3res_u.resok.obj_attributes;
}

int rn_getattr(struct rn_client *c, const struct rn_fh *fh, fattr3 *attr)
{
	GETATTR3args a = {as_fh3(fh)};
	struct call call = {.copy = copy_getattr, .out = attr};
	return finish(c, rpc_nfs3_getattr_async(c->rpc, call_cb, &a, &call), &call);
}

static void copy_setattr(struct call *call, void *reply)
{
	SETATTR3res *r = reply;
	if (r->status == NFS3_OK)
		post_op(call->out, &r->SETATTR3res_u.resok.obj_wcc.after);
}

int rn_setattr(struct rn_client *c, const struct rn_fh *fh, const sattr3 *how, fattr3 *after)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = as_fh3(fh);
	a.new_attributes = *how;
	struct call call = {.copy = copy_setattr, .out = after};
	return finish(c, rpc_nfs3_setattr_async(c->rpc, call_cb, &a, &call), &call);
}

static void copy_lookup(struct call *call, void *reply)
{
	LOOKUP3res *r = reply;
	if (r->status != NFS3_OK)
		return;
	if (call->out)
		fh_from(call->out, r->LOOKUP3res_u.resok.object.data.data_val,
			r->LOOKUP3res_u.resok.object.data.data_len);
	post_op(call->out2, &r->LOOKUP3res_u.resok.obj_attributes);
}

int rn_lookup(struct rn_client *c, const struct rn_fh *dir, const char *name, struct rn_fh *fh, fattr3 *attr)
{
	LOOKUP3args a;
	a.what.dir = as_fh3(dir);
	a.what.name = (char *)name;
	struct call call = {.copy = copy_lookup, .out = fh, .out2 = attr};
	return finish(c, rpc_nfs3_lookup_async(c->rpc, call_cb, &a, &call), &call);
}

static void copy_access(struct call *call, void *reply)
{
	ACCESS3res *r = reply;
	if (r->status == NFS3_OK)
		*(uint32_t *)call->out = r->ACCESS3res_u.resok.access;
}

int rn_access(struct rn_client *c, const struct rn_fh *fh, uint32_t want, uint32_t *granted)
{
	ACCESS3args a = {as_fh3(fh), want};
	struct call call = {.copy = copy_access, .out = granted};
	*granted = 0;
	return finish(c, rpc_nfs3_access_async(c->rpc, call_cb, &a, &call), &call);
}

/* ---- names ---- */

/* CREATE, MKDIR and SYMLINK replies share their first member's layout. */
static void copy_new_object(struct call *call, void *reply)
{
	CREATE3res *r = reply;
	if (r->status != NFS3_OK || !call->out)
		return;
	const post_op_fh3 *obj = &r->CREATE3res_u.resok.obj;
	if (obj->handle_follows)
		fh_from(call->out, obj->post_op_fh3_u.handle.data.data_val, obj->post_op_fh3_u.handle.data.data_len);
	else
		memset(call->out, 0, sizeof(struct rn_fh));
}

static void mode_only(sattr3 *s, uint32_t mode)
{
	memset(s, 0, sizeof(*s));
	s->mode.set_it = 1;
	s->mode.set_mode3_u.mode = mode;
}

int rn_create(struct rn_client *c, const struct rn_fh *dir, const char *name, uint32_t mode, struct rn_fh *fh)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = as_fh3(dir);
	a.where.name = (char *)name;
	a.how.mode = GUARDED;
	mode_only(&a.how.createhow3_u.obj_attributes, mode);
	struct call call = {.copy = copy_new_object, .out = fh};
	return finish(c, rpc_nfs3_create_async(c->rpc, call_cb, &a, &call), &call);
}

int rn_mkdir(struct rn_client *c, const struct rn_fh *dir, const char *name, uint32_t mode, struct rn_fh *fh)
{
	_Static_assert(offsetof(MKDIR3res, MKDIR3res_u.resok.obj) == offsetof(CREATE3res, CREATE3res_u.resok.obj),
		       "MKDIR3res layout");
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = as_fh3(dir);
	a.where.name = (char *)name;
	mode_only(&a.attributes, mode);
	struct call call = {.copy = copy_new_object, .out = fh};
	return finish(c, rpc_nfs3_mkdir_async(c->rpc, call_cb, &a, &call), &call);
}

int rn_symlink(struct rn_client *c, const struct rn_fh *dir, const char *name, const char *target, struct rn_fh *fh)
{
	_Static_assert(offsetof(SYMLINK3res, SYMLINK3res_u.resok.obj) == offsetof(CREATE3res, CREATE3res_u.resok.obj),
		       "SYMLINK3res layout");
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = as_fh3(dir);
	a.where.name = (char *)name;
	mode_only(&a.symlink.symlink_attributes, 0777);
	a.symlink.symlink_data = (char *)target;
	struct call call = {.copy = copy_new_object, .out = fh};
	return finish(c, rpc_nfs3_symlink_async(c->rpc, call_cb, &a, &call), &call);
}

static void copy_readlink(struct call *call, void *reply)
{
	READLINK3res *r = reply;
	if (r->status == NFS3_OK)
		snprintf(call->out, call->out_size, "%s", r->READLINK3res_u.resok.data);
}

int rn_readlink(struct rn_client *c, const struct rn_fh *fh, char *target, size_t size)
{
	READLINK3args a = {as_fh3(fh)};
	struct call call = {.copy = copy_readlink, .out = target, .out_size = size};
	target[0] = 0;
	return finish(c, rpc_nfs3_readlink_async(c->rpc, call_cb, &a, &call), &call);
}

int rn_remove(struct rn_client *c, const struct rn_fh *dir, const char *name)
{
	REMOVE3args a;
	a.object.dir = as_fh3(dir);
	a.object.name = (char *)name;
	struct call call = {0};
	return finish(c, rpc_nfs3_remove_async(c->rpc, call_cb, &a, &call), &call);
}

int rn_rmdir(struct rn_client *c, const struct rn_fh *dir, const char *name)
{
	RMDIR3args a;
	a.object.dir = as_fh3(dir);
	a.object.name = (char *)name;
	struct call call = {0};
	return finish(c, rpc_nfs3_rmdir_async(c->rpc, call_cb, &a, &call), &call);
}

int rn_rename(struct rn_client *c, const struct rn_fh *from_dir, const char *from, const struct rn_fh *to_dir,
	      const char *to)
{
	RENAME3args a;
	a.from.dir = as_fh3(from_dir);
	a.from.name = (char *)from;
	a.to.dir = as_fh3(to_dir);
	a.to.name = (char *)to;
	struct call call = {0};
	return finish(c, rpc_nfs3_rename_async(c->rpc, call_cb, &a, &call), &call);
}

int rn_link(struct rn_client *c, const struct rn_fh *fh, const struct rn_fh *dir, const char *name)
{
	LINK3args a;
	a.file = as_fh3(fh);
	a.link.dir = as_fh3(dir);
	a.link.name = (char *)name;
	struct call call = {0};
	return finish(c, rpc_nfs3_link_async(c->rpc, call_cb, &a, &call), &call);
}

/* ---- data ---- */

static void copy_write(struct call *call, void *reply)
{
	WRITE3res *r = reply;
	if (r->status != NFS3_OK)
		return;
	*(uint32_t *)call->out2 = r->WRITE3res_u.resok.count;
	if (call->out)
		*(stable_how *)call->out = r->WRITE3res_u.resok.committed;
}

int rn_write(struct rn_client *c, const struct rn_fh *fh, uint64_t offset, const void *buf, uint32_t len,
	     stable_how how, stable_how *committed)
{
	WRITE3args a;
	memset(&a, 0, sizeof(a));
	a.file = as_fh3(fh);
	a.offset = offset;
	a.count = len;
	a.stable = how;
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	uint32_t count = 0;
	struct call call = {.copy = copy_write, .out = committed, .out2 = &count};
	int rc = finish(c, rpc_nfs3_write_async(c->rpc, call_cb, &a, &call), &call);
	if (rc == NFS3_OK && count != len) {
		fprintf(stderr, "rawnfs: short WRITE (%u of %u)\n", count, len);
		return -1;
	}
	return rc;
}

int rn_commit(struct rn_client *c, const struct rn_fh *fh)
{
	COMMIT3args a = {as_fh3(fh), 0, 0};
	struct call call = {0};
	return finish(c, rpc_nfs3_commit_async(c->rpc, call_cb, &a, &call), &call);
}

struct read_out {
	char *buf;
	uint32_t len, got;
	int eof;
};

static void copy_read(struct call *call, void *reply)
{
	READ3res *r = reply;
	struct read_out *o = call->out;
	if (r->status != NFS3_OK)
		return;
	uint32_t n = r->READ3res_u.resok.data.data_len;
	if (n > o->len) {
		call->nfs_status = -1; /* more than asked for: a server bug */
		return;
	}
	memcpy(o->buf, r->READ3res_u.resok.data.data_val, n);
	o->got = n;
	o->eof = (int)r->READ3res_u.resok.eof;
}

int rn_read(struct rn_client *c, const struct rn_fh *fh, uint64_t offset, void *buf, uint32_t len, uint32_t *got,
	    int *eof)
{
	READ3args a = {as_fh3(fh), offset, len};
	struct read_out o = {buf, len, 0, 0};
	struct call call = {.copy = copy_read, .out = &o};
	int rc = finish(c, rpc_nfs3_read_async(c->rpc, call_cb, &a, &call), &call);
	*got = o.got;
	*eof = o.eof;
	return rc;
}

#define IO_MAX (1u << 20)

int rn_write_all(struct rn_client *c, const struct rn_fh *fh, uint64_t offset, const void *buf, size_t len,
		 stable_how how)
{
	for (size_t off = 0; off < len;) {
		uint32_t n = len - off < IO_MAX ? (uint32_t)(len - off) : IO_MAX;
		int rc = rn_write(c, fh, offset + off, (const char *)buf + off, n, how, NULL);
		if (rc != NFS3_OK)
			return rc;
		off += n;
	}
	return NFS3_OK;
}

int rn_read_all(struct rn_client *c, const struct rn_fh *fh, char **buf, size_t *len)
{
	size_t cap = IO_MAX, n = 0;
	char *b = malloc(cap);
	if (!b)
		return -1;
	for (;;) {
		if (cap - n < IO_MAX) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		uint32_t got = 0;
		int eof = 0;
		int rc = rn_read(c, fh, n, b + n, IO_MAX, &got, &eof);
		if (rc != NFS3_OK) {
			free(b);
			return rc;
		}
		n += got;
		if (eof)
			break;
		if (got == 0) { /* no progress and no EOF: the server is wrong */
			free(b);
			return -1;
		}
	}
	*buf = b;
	*len = n;
	return NFS3_OK;
}

/* ---- directories ---- */

struct listing {
	struct rn_entry *v;
	size_t n, cap;
	cookie3 cookie;
	cookieverf3 verf;
	int eof;
	int failed;
};

static void copy_readdirplus(struct call *call, void *reply)
{
	READDIRPLUS3res *r = reply;
	struct listing *l = call->out;
	if (r->status != NFS3_OK)
		return;
	memcpy(l->verf, r->READDIRPLUS3res_u.resok.cookieverf, sizeof(l->verf));
	l->eof = (int)r->READDIRPLUS3res_u.resok.reply.eof;
	/* libnfs 4.0 decodes entries at 4-byte aligned addresses: each one is
	 * copied to an aligned local before its 8-byte members are read. */
	for (const char *raw = (const char *)r->READDIRPLUS3res_u.resok.reply.entries; raw;) {
		entryplus3 copy, *e = &copy;
		memcpy(&copy, raw, sizeof(copy));
		raw = (const char *)copy.nextentry;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct rn_entry *v = realloc(l->v, cap * sizeof(*v));
			if (!v) {
				l->failed = 1;
				return;
			}
			l->v = v;
			l->cap = cap;
		}
		struct rn_entry *o = &l->v[l->n++];
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", e->name);
		o->fileid = e->fileid;
		o->has_attr = (int)e->name_attributes.attributes_follow;
		post_op(&o->attr, &e->name_attributes);
		o->has_fh = (int)e->name_handle.handle_follows;
		if (o->has_fh)
			fh_from(&o->fh, e->name_handle.post_op_fh3_u.handle.data.data_val,
				e->name_handle.post_op_fh3_u.handle.data.data_len);
		l->cookie = e->cookie;
	}
}

int rn_readdirplus(struct rn_client *c, const struct rn_fh *dir, struct rn_entry **entries, size_t *n)
{
	struct listing l;
	memset(&l, 0, sizeof(l));
	int rc = NFS3_OK;
	while (!l.eof && rc == NFS3_OK && !l.failed) {
		READDIRPLUS3args a;
		memset(&a, 0, sizeof(a));
		a.dir = as_fh3(dir);
		a.cookie = l.cookie;
		memcpy(a.cookieverf, l.verf, sizeof(a.cookieverf));
		a.dircount = 8192;
		a.maxcount = 32768;
		struct call call = {.copy = copy_readdirplus, .out = &l};
		size_t before = l.n;
		rc = finish(c, rpc_nfs3_readdirplus_async(c->rpc, call_cb, &a, &call), &call);
		if (rc == NFS3_OK && !l.eof && l.n == before)
			rc = -1; /* no entries and no EOF: no progress */
	}
	if (l.failed)
		rc = -1;
	if (rc != NFS3_OK) {
		free(l.v);
		return rc;
	}
	*entries = l.v;
	*n = l.n;
	return NFS3_OK;
}
