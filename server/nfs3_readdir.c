/*
 * nfs3_readdir.c - READDIR and READDIRPLUS.  Entries are collected from
 * gfs_readdir into the rpcgen linked list while the encoded size of the
 * reply is estimated exactly, so a reply never exceeds the client's count
 * (READDIR), dircount or maxcount (READDIRPLUS).  Cookies and the cookie
 * verifier are the vfs's: stable across creates and deletes.
 */
#include <stdlib.h>
#include <string.h>

#include "fh.h"
#include "nfs3_impl.h"

#define XDR_UNIT 4
#define XDR_PAD(n) (((n) + 3u) & ~3u)
/* status + post_op_attr(fattr3) + cookieverf + list end + eof */
/* Caps that keep the recursive rpcgen list codec shallow whatever count a
 * client asks for. */
#define MAX_REPLY_BYTES NFS3_MAX_IO
#define MAX_ENTRIES 8192
#define REPLY_BASE (XDR_UNIT + (XDR_UNIT + 84) + NFS3_COOKIEVERFSIZE + XDR_UNIT + XDR_UNIT)

struct dir_fill {
	struct rpc_call *call;
	const struct export_access *acc;
	int plus;
	uint32_t max_bytes;	/* count or maxcount */
	uint32_t max_dir_bytes; /* dircount (plus only) */
	uint32_t used_bytes;
	uint32_t used_dir_bytes;
	uint32_t nentries;
	int stopped; /* an entry did not fit */
	void **tail; /* where the next entry is linked: entries or ->nextentry */
};

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

/* The ".." of an export root lies outside the export; it is shown as the
 * root itself, without attributes or handle. */
static int is_root_dotdot(const struct dir_fill *f, const struct gfs_dirent *e)
{
	return strcmp(e->name, "..") == 0 && export_is_root(f->acc->export, f->acc->ref);
}

static int fill_entry(void *arg, const struct gfs_dirent *e)
{
	struct dir_fill *f = arg;
	size_t namelen = strlen(e->name);
	uint32_t dir_bytes = 8 + XDR_UNIT + XDR_PAD((uint32_t)namelen) + 8; /* fileid, name, cookie */
	uint32_t bytes = XDR_UNIT + dir_bytes;				    /* + "value follows" */
	int root_dotdot = is_root_dotdot(f, e);
	int with_attr = f->plus && e->attr && strcmp(e->name, "..") != 0;
	struct fh_probe {
		nfs_fh3 fh;
	} probe = {{{0, NULL}}};

	if (f->plus) {
		bytes += XDR_UNIT + (with_attr ? 84 : 0) + XDR_UNIT; /* post_op_attr + post_op_fh3 */
		if (with_attr) {
			struct gfs_ref ref = {e->ino, e->gen};
			if (nfs3_make_fh(f->call, f->acc, ref, &probe.fh) != 0)
				return -ENOMEM;
			bytes += XDR_UNIT + XDR_PAD(probe.fh.data.data_len);
		}
	}
	if (f->nentries >= MAX_ENTRIES || f->used_bytes + bytes > f->max_bytes ||
	    (f->plus && f->used_dir_bytes + dir_bytes > f->max_dir_bytes)) {
		free(probe.fh.data.data_val);
		f->stopped = 1;
		return 1;
	}

	/* entry3 and entryplus3 start with the same fields; build the right one. */
	char *name = malloc(namelen ? namelen : 1);
	void *ent = calloc(1, f->plus ? sizeof(entryplus3) : sizeof(entry3));
	if (!name || !ent) {
		free(name);
		free(ent);
		free(probe.fh.data.data_val);
		return -ENOMEM;
	}
	memcpy(name, e->name, namelen);
	gfs_ino_t fileid = root_dotdot ? f->acc->ref.ino : e->ino;
	if (f->plus) {
		entryplus3 *p = ent;
		p->fileid = fileid;
		p->name.filename3_len = (u_int)namelen;
		p->name.filename3_val = name;
		p->cookie = e->cookie;
		if (with_attr) {
			nfs3_post_op(f->call->vfs, e->attr, &p->name_attributes);
			p->name_handle.handle_follows = TRUE;
			p->name_handle.post_op_fh3_u.handle = probe.fh;
		}
		*f->tail = p;
		f->tail = (void **)&p->nextentry;
	} else {
		entry3 *d = ent;
		d->fileid = fileid;
		d->name.filename3_len = (u_int)namelen;
		d->name.filename3_val = name;
		d->cookie = e->cookie;
		*f->tail = d;
		f->tail = (void **)&d->nextentry;
	}
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
		min_bytes += XDR_UNIT + 84 + XDR_UNIT + XDR_UNIT + XDR_PAD(fh.len);
		if (f->max_dir_bytes / min_dir_bytes < n)
			n = f->max_dir_bytes / min_dir_bytes;
	}
	uint32_t room = f->max_bytes > f->used_bytes ? f->max_bytes - f->used_bytes : 0;
	if (room / min_bytes < n)
		n = room / min_bytes;
	/* at least one, so that a reply too small for any entry is TOOSMALL */
	return n ? n : 1;
}

/* The part READDIR and READDIRPLUS share.  Returns the status; on success
 * the list hangs off *head and *eof, *verf and *dir_attr are set. */
static nfsstat3 list_dir(struct rpc_call *call, const struct export_access *acc, int plus, cookie3 cookie,
			 const char verf_in[NFS3_COOKIEVERFSIZE], uint32_t max_bytes, uint32_t max_dir_bytes,
			 void **head, bool_t *eof_out, char verf_out[NFS3_COOKIEVERFSIZE], post_op_attr *dir_out)
{
	struct dir_fill f = {
	    .call = call,
	    .acc = acc,
	    .plus = plus,
	    .max_bytes = max_bytes < MAX_REPLY_BYTES ? max_bytes : MAX_REPLY_BYTES,
	    .max_dir_bytes = max_dir_bytes,
	    .used_bytes = REPLY_BASE,
	    .tail = head,
	};
	struct gfs_attr dir_attr;
	uint64_t verifier = 0;
	int eof = 0;

	int err = gfs_readdir(call->vfs, &acc->cred, acc->ref, cookie, verifier_from_wire(verf_in), plus,
			      max_entries_that_fit(call, acc, &f), fill_entry, &f, &eof, &verifier, &dir_attr);
	if (err) {
		nfs3_post_op_ref(call->vfs, acc->ref, dir_out);
		return nfs3_status(err);
	}
	if (f.nentries == 0 && f.stopped) {
		nfs3_post_op(call->vfs, &dir_attr, dir_out);
		return NFS3ERR_TOOSMALL;
	}
	*eof_out = eof && !f.stopped;
	verifier_to_wire(verifier, verf_out);
	nfs3_post_op(call->vfs, &dir_attr, dir_out);
	return NFS3_OK;
}

enum rpc_disposition nfs3_readdir(struct rpc_call *call, void *args, void *result)
{
	READDIR3args *a = args;
	READDIR3res *r = result;
	struct export_access acc;

	r->status = nfs3_admit(call, &a->dir, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	READDIR3resok *ok = &r->READDIR3res_u.resok;
	r->status = list_dir(call, &acc, 0, a->cookie, a->cookieverf, a->count, 0, (void **)&ok->reply.entries,
			     &ok->reply.eof, ok->cookieverf, &ok->dir_attributes);
	if (r->status != NFS3_OK) {
		/* Partly built lists are freed by xdr_free only for the resok arm. */
		xdr_free((xdrproc_t)(void (*)(void))xdr_dirlist3, &ok->reply);
		post_op_attr dir = ok->dir_attributes;
		memset(&r->READDIR3res_u, 0, sizeof(r->READDIR3res_u));
		r->READDIR3res_u.resfail.dir_attributes = dir;
	}
	return RPC_OK;
}

enum rpc_disposition nfs3_readdirplus(struct rpc_call *call, void *args, void *result)
{
	READDIRPLUS3args *a = args;
	READDIRPLUS3res *r = result;
	struct export_access acc;

	r->status = nfs3_admit(call, &a->dir, &acc);
	if (r->status != NFS3_OK)
		return RPC_OK;
	READDIRPLUS3resok *ok = &r->READDIRPLUS3res_u.resok;
	r->status = list_dir(call, &acc, 1, a->cookie, a->cookieverf, a->maxcount, a->dircount,
			     (void **)&ok->reply.entries, &ok->reply.eof, ok->cookieverf, &ok->dir_attributes);
	if (r->status != NFS3_OK) {
		xdr_free((xdrproc_t)(void (*)(void))xdr_dirlistplus3, &ok->reply);
		post_op_attr dir = ok->dir_attributes;
		memset(&r->READDIRPLUS3res_u, 0, sizeof(r->READDIRPLUS3res_u));
		r->READDIRPLUS3res_u.resfail.dir_attributes = dir;
	}
	return RPC_OK;
}
