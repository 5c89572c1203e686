/*
 * nfs3_readdir.c - READDIR and READDIRPLUS.  Entries from gfs_readdir are
 * encoded in XDR as they come, into one buffer of the reply (struct
 * nfs3_dir_reply), while its size is counted exactly, so a reply never
 * exceeds the client's count (READDIR), dircount or maxcount
 * (READDIRPLUS).  The rpcgen list took three allocations per entry and a
 * recursive codec; this takes none per entry.  Cookies and the cookie
 * verifier are the vfs's: stable across creates and deletes.
 */
#include <stdlib.h>
#include <string.h>

#include "fh.h"
#include "nfs3_impl.h"

#define XDR_UNIT 4
#define XDR_PAD(n) (((n) + 3u) & ~3u)
#define FATTR3_BYTES 84
/* Caps whatever count a client asks for. */
#define MAX_REPLY_BYTES NFS3_MAX_IO
#define MAX_ENTRIES 8192
/* status + post_op_attr(fattr3) + cookieverf + list end + eof */
#define REPLY_BASE (XDR_UNIT + (XDR_UNIT + FATTR3_BYTES) + NFS3_COOKIEVERFSIZE + XDR_UNIT + XDR_UNIT)
/* The entry buffer starts at this and doubles as needed. */
#define ENTRIES_INITIAL 16384

struct dir_fill {
	struct rpc_call *call;
	const struct export_access *acc;
	int plus;
	uint32_t max_bytes;	/* count or maxcount */
	uint32_t max_dir_bytes; /* dircount (plus only) */
	uint32_t used_bytes;
	uint32_t used_dir_bytes;
	uint32_t nentries;
	int stopped;		      /* an entry did not fit */
	struct nfs3_dir_reply *reply; /* entries are appended to reply->entries */
	uint32_t entries_cap;
};

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

/* XDR opaque<> or string<>: length, bytes, zero padding. */
static uint8_t *put_opaque(uint8_t *p, const void *data, uint32_t len)
{
	p = put32(p, len);
	memcpy(p, data, len);
	memset(p + len, 0, XDR_PAD(len) - len);
	return p + XDR_PAD(len);
}

static uint8_t *put_time(uint8_t *p, const nfstime3 *t)
{
	return put32(put32(p, t->seconds), t->nseconds);
}

/* fattr3 in RFC 1813 order: FATTR3_BYTES bytes. */
static uint8_t *put_fattr3(uint8_t *p, const fattr3 *a)
{
	p = put32(p, a->type);
	p = put32(p, a->mode);
	p = put32(p, a->nlink);
	p = put32(p, a->uid);
	p = put32(p, a->gid);
	p = put64(p, a->size);
	p = put64(p, a->used);
	p = put32(p, a->rdev.specdata1);
	p = put32(p, a->rdev.specdata2);
	p = put64(p, a->fsid);
	p = put64(p, a->fileid);
	p = put_time(p, &a->atime);
	p = put_time(p, &a->mtime);
	return put_time(p, &a->ctime);
}

/* Room for bytes more entry bytes; -ENOMEM if none. */
static int reserve(struct dir_fill *f, uint32_t bytes)
{
	struct nfs3_dir_reply *r = f->reply;
	if (r->entries_len + bytes <= f->entries_cap)
		return 0;
	uint32_t cap = f->entries_cap ? f->entries_cap : ENTRIES_INITIAL;
	while (cap < r->entries_len + bytes)
		cap *= 2;
	uint8_t *grown = realloc(r->entries, cap);
	if (!grown)
		return -ENOMEM;
	r->entries = grown;
	f->entries_cap = cap;
	return 0;
}

bool xdr_nfs3_dir_reply(XDR *x, struct nfs3_dir_reply *r)
{
	if (x->x_op == XDR_FREE) {
		free(r->entries);
		r->entries = NULL;
		r->entries_len = 0;
		return true;
	}
	if (x->x_op != XDR_ENCODE)
		return false;
	/* READDIR3res and READDIRPLUS3res: status, then resfail (the
	 * directory's attributes) or resok (those, the verifier and the list). */
	if (!xdr_nfsstat3(x, &r->status) || !xdr_post_op_attr(x, &r->dir_attributes))
		return false;
	if (r->status != NFS3_OK)
		return true;
	bool_t no_more_entries = FALSE;
	return xdr_opaque(x, r->cookieverf, NFS3_COOKIEVERFSIZE) &&
	       (r->entries_len == 0 || XDR_PUTBYTES(x, (const char *)r->entries, r->entries_len)) &&
	       xdr_bool(x, &no_more_entries) && xdr_bool(x, &r->eof);
}

static uint64_t verifier_from_wire(const char v[NFS3_COOKIEVERFSIZE])
{
	uint64_t out = 0;
	for (int i = 0; i < NFS3_COOKIEVERFSIZE; i++)
		out = out << 8 | (uint8_t)v[i];
	return out;
}

static void verifier_to_wire(uint64_t v, char out[NFS3_COOKIEVERFSIZE])
{
	for (int i = 0; i < NFS3_COOKIEVERFSIZE; i++)
		out[i] = (char)(v >> (56 - 8 * i));
}

/* The ".." of an export root lies outside the export, and so does that of
 * a directory no longer inside the exported tree (export_parent_allowed);
 * it is shown as the directory itself.  ".." never has attributes or a
 * handle here. */
static int is_hidden_dotdot(const struct dir_fill *f, const struct gfs_dirent *e)
{
	return strcmp(e->name, "..") == 0 && export_parent_allowed(f->call->vfs, f->acc->export, f->acc->ref) != 1;
}

static int fill_entry(void *arg, const struct gfs_dirent *e)
{
	struct dir_fill *f = arg;
	size_t namelen = strlen(e->name);
	uint32_t dir_bytes = 8 + XDR_UNIT + XDR_PAD((uint32_t)namelen) + 8; /* fileid, name, cookie */
	uint32_t bytes = XDR_UNIT + dir_bytes;				    /* + "value follows" */
	int with_attr = f->plus && e->attr && strcmp(e->name, "..") != 0;
	struct fh fh;

	if (f->plus) {
		bytes += XDR_UNIT + (with_attr ? FATTR3_BYTES : 0) + XDR_UNIT; /* post_op_attr + post_op_fh3 */
		if (with_attr) {
			fh_encode(gfs_vfs_info(f->call->vfs), f->acc->export->id, (struct gfs_ref){e->ino, e->gen},
				  &fh);
			bytes += XDR_UNIT + XDR_PAD(fh.len);
		}
	}
	if (f->nentries >= MAX_ENTRIES || f->used_bytes + bytes > f->max_bytes ||
	    (f->plus && f->used_dir_bytes + dir_bytes > f->max_dir_bytes)) {
		f->stopped = 1;
		return 1;
	}
	if (reserve(f, bytes) < 0)
		return -ENOMEM;

	/* entry3, or entryplus3 (the same fields first), preceded by the
	 * list's "value follows". */
	uint8_t *p = f->reply->entries + f->reply->entries_len;
	p = put32(p, TRUE);
	p = put64(p, is_hidden_dotdot(f, e) ? f->acc->ref.ino : e->ino);
	p = put_opaque(p, e->name, (uint32_t)namelen);
	p = put64(p, e->cookie);
	if (f->plus) {
		p = put32(p, with_attr);
		if (with_attr) {
			fattr3 attr;
			nfs3_fattr(f->call->vfs, e->attr, &attr);
			p = put_fattr3(p, &attr);
		}
		p = put32(p, with_attr); /* the handle comes with the attributes */
		if (with_attr)
			p = put_opaque(p, fh.data, fh.len);
	}
	f->reply->entries_len += bytes;
	f->used_bytes += bytes;
	f->used_dir_bytes += dir_bytes;
	f->nentries++;
	return 0;
}

/* The most entries a reply can hold: its room over the smallest entry (a
 * name of at most 4 bytes), so the backend reads hardly more entries than
 * fit.  Every handle of an export has the length of the directory's own. */
static uint32_t max_entries_that_fit(const struct rpc_call *call, const struct export_access *acc,
				     const struct dir_fill *f)
{
	uint32_t min_dir_bytes = 8 + XDR_UNIT + XDR_UNIT + 8; /* fileid, name, cookie */
	uint32_t min_bytes = XDR_UNIT + min_dir_bytes;
	uint32_t n = MAX_ENTRIES;
	if (f->plus) {
		struct fh fh;
		fh_encode(gfs_vfs_info(call->vfs), acc->export->id, acc->ref, &fh);
		min_bytes += XDR_UNIT + FATTR3_BYTES + XDR_UNIT + XDR_UNIT + XDR_PAD(fh.len);
		if (f->max_dir_bytes / min_dir_bytes < n)
			n = f->max_dir_bytes / min_dir_bytes;
	}
	uint32_t room = f->max_bytes > f->used_bytes ? f->max_bytes - f->used_bytes : 0;
	if (room / min_bytes < n)
		n = room / min_bytes;
	/* at least one, so that a reply too small for any entry is TOOSMALL */
	return n ? n : 1;
}

/* READDIR and READDIRPLUS: fills the reply r (its status included). */
static void list_dir(struct rpc_call *call, const nfs_fh3 *dir, int plus, cookie3 cookie,
		     const char verf_in[NFS3_COOKIEVERFSIZE], uint32_t max_bytes, uint32_t max_dir_bytes,
		     struct nfs3_dir_reply *r)
{
	struct export_access admitted;
	const struct export_access *acc = &admitted;
	r->status = nfs3_admit(call, dir, &admitted);
	if (r->status != NFS3_OK)
		return;
	struct dir_fill f = {
	    .call = call,
	    .acc = acc,
	    .plus = plus,
	    .max_bytes = max_bytes < MAX_REPLY_BYTES ? max_bytes : MAX_REPLY_BYTES,
	    .max_dir_bytes = max_dir_bytes,
	    .used_bytes = REPLY_BASE,
	    .reply = r,
	};
	struct gfs_attr dir_attr;
	uint64_t verifier = 0;
	int eof = 0;

	int err = gfs_readdir(call->vfs, &acc->cred, acc->ref, cookie, verifier_from_wire(verf_in), plus,
			      max_entries_that_fit(call, acc, &f), fill_entry, &f, &eof, &verifier, &dir_attr);
	if (err) {
		nfs3_post_op_ref(call->vfs, acc->ref, &r->dir_attributes);
		r->status = nfs3_status(err);
		return;
	}
	nfs3_post_op(call->vfs, &dir_attr, &r->dir_attributes);
	if (f.nentries == 0 && f.stopped) {
		r->status = NFS3ERR_TOOSMALL;
		return;
	}
	r->eof = eof && !f.stopped;
	verifier_to_wire(verifier, r->cookieverf);
	r->status = NFS3_OK;
}

enum rpc_disposition nfs3_readdir(struct rpc_call *call, void *args, void *result)
{
	READDIR3args *a = args;
	list_dir(call, &a->dir, 0, a->cookie, a->cookieverf, a->count, 0, result);
	return RPC_OK;
}

enum rpc_disposition nfs3_readdirplus(struct rpc_call *call, void *args, void *result)
{
	READDIRPLUS3args *a = args;
	list_dir(call, &a->dir, 1, a->cookie, a->cookieverf, a->maxcount, a->dircount, result);
	return RPC_OK;
}
