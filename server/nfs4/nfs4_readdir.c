/*
 * nfs4_readdir.c - READDIR (RFC 8881 section 18.23).  As in NFSv3, the
 * entry list is encoded straight into one buffer instead of rpcgen's
 * linked list of entry4 (which recursed per entry); the test client
 * decodes it with the rpcgen decoders.  Cookies and the cookie verifier
 * are the vfs's; "." and ".." (cookies 1 and 2) are not NFSv4 entries.
 * In the pseudo filesystem the entries are the visible child nodes, with
 * cookie = node index + 3.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"

#define MAX_ENTRIES 4096
/* status, verifier, the list's end and eof */
#define REPLY_BASE (4 + NFS4_VERIFIER_SIZE + 4 + 4)

struct fill {
	struct nfs4_compound *c;
	const bitmap4 *req;
	struct nfs4_readdir_res *r;
	size_t cap;
	uint32_t max_bytes, used;
	uint32_t nentries;
	bool stopped;
	nfsstat4 error;
};

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (24 - 8 * i));
	return p;
}

static uint8_t *put_opaque(uint8_t *p, const void *data, uint32_t len)
{
	uint32_t padded = (len + 3) & ~3u;
	p = put32(p, len);
	memcpy(p, data, len);
	memset(p + len, 0, padded - len);
	return p + padded;
}

/* Appends one entry4 with its "value follows"; 1 when it does not fit. */
static int add_entry(struct fill *f, uint64_t cookie, const char *name, const struct nfs4_obj *o)
{
	fattr4 attrs = {{0, NULL}, {0, NULL}};
	uint32_t namelen = (uint32_t)strlen(name);
	nfsstat4 st = nfs4_encode_fattr(f->c, o, f->req, &attrs);

	if (st != NFS4_OK) {
		f->error = st;
		return -1;
	}
	uint32_t bytes = 4 + 8 + 4 + ((namelen + 3) & ~3u) + 4 + 4 * attrs.attrmask.bitmap4_len + 4 +
			 ((attrs.attr_vals.attrlist4_len + 3) & ~3u);
	if (f->nentries >= MAX_ENTRIES || f->used + bytes > f->max_bytes) {
		xdr_free(NFS4_XDRPROC(xdr_fattr4), &attrs);
		f->stopped = true;
		return 1;
	}
	if (f->r->entries_len + bytes > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4096;
		while (cap < f->r->entries_len + bytes)
			cap *= 2;
		uint8_t *grown = realloc(f->r->entries, cap);
		if (!grown) {
			xdr_free(NFS4_XDRPROC(xdr_fattr4), &attrs);
			f->error = NFS4ERR_DELAY;
			return -1;
		}
		f->r->entries = grown;
		f->cap = cap;
	}
	uint8_t *p = f->r->entries + f->r->entries_len;
	p = put32(p, 1);
	p = put32(p, (uint32_t)(cookie >> 32));
	p = put32(p, (uint32_t)cookie);
	p = put_opaque(p, name, namelen);
	p = put32(p, attrs.attrmask.bitmap4_len);
	for (u_int i = 0; i < attrs.attrmask.bitmap4_len; i++)
		p = put32(p, attrs.attrmask.bitmap4_val[i]);
	put_opaque(p, attrs.attr_vals.attrlist4_val, attrs.attr_vals.attrlist4_len);
	xdr_free(NFS4_XDRPROC(xdr_fattr4), &attrs);
	f->r->entries_len += bytes;
	f->used += bytes;
	f->nentries++;
	return 0;
}

static int fill_entry(void *arg, const struct gfs_dirent *e)
{
	struct fill *f = arg;
	struct nfs4_obj o;

	if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
		return 0;
	if (!e->attr)
		return -EIO;
	nfs4_obj_export(f->c, f->c->cur.acc.export, e->attr, &o);
	int rc = add_entry(f, e->cookie, e->name, &o);
	return rc < 0 ? -EIO : rc;
}

static nfsstat4 list_pseudo(struct fill *f, uint64_t cookie, bool *eof)
{
	struct nfs4_compound *c = f->c;
	int dir = c->cur.pseudo;
	const char *base = c->nfs4->pseudo[dir].path;

	*eof = true;
	for (size_t i = cookie >= 3 ? cookie - 2 : 0; i < c->nfs4->npseudo; i++) {
		const struct nfs4_pseudo *p = &c->nfs4->pseudo[i];
		struct nfs4_obj o;
		if (p->parent != dir || !nfs4_node_visible(c, (int)i))
			continue;
		if (p->export) {
			struct gfs_attr a;
			int rc = gfs_getattr(c->call->vfs, p->export->root, &a);
			if (rc < 0)
				return nfs4_status(rc);
			nfs4_obj_export(c, p->export, &a, &o);
		} else {
			struct nfs4_fh node = {.kind = NFS4_FH_PSEUDO, .pseudo = (int)i};
			nfs4_obj_of(c, &node, &o);
		}
		const char *leaf = p->path + strlen(base) + (strcmp(base, "/") != 0);
		int rc = add_entry(f, i + 3, leaf, &o);
		if (rc < 0)
			return f->error;
		if (rc > 0) {
			*eof = false;
			break;
		}
	}
	return NFS4_OK;
}

/* A lower bound of one entry's encoded size with the requested attributes:
 * cookie, name length and the shortest name, bitmap, attribute length,
 * value_follows, and each requested attribute at its smallest.  It sizes
 * the page asked from the vfs: with a flat 64 bytes per entry a 128 KiB
 * reply of `ls -l` attributes asked 2048 entries (with their attributes,
 * from Redis) of which about 700 fit. */
static uint32_t min_entry_bytes(const bitmap4 *req)
{
	uint32_t n = 8 + 4 + 4 + 4 + 4 * req->bitmap4_len + 4 + 4;

	for (u_int w = 0; w < req->bitmap4_len; w++) {
		for (unsigned b = 0; b < 32; b++) {
			if (!(req->bitmap4_val[w] & (1u << b)))
				continue;
			switch (32 * w + b) {
			case FATTR4_CHANGE:
			case FATTR4_SIZE:
			case FATTR4_FILEID:
			case FATTR4_MOUNTED_ON_FILEID:
			case FATTR4_SPACE_USED:
				n += 8;
				break;
			case FATTR4_TIME_ACCESS:
			case FATTR4_TIME_METADATA:
			case FATTR4_TIME_MODIFY:
				n += 12;
				break;
			case FATTR4_FSID:
				n += 16;
				break;
			case FATTR4_FILEHANDLE: /* length and at least an inode number */
			case FATTR4_OWNER:	/* length and at least one digit */
			case FATTR4_OWNER_GROUP:
				n += 8;
				break;
			default: /* unsupported ones encode nothing: 4 only errs low */
				n += 4;
			}
		}
	}
	return n;
}

NFS4_HANDLER(nfs4_op_readdir)
{
	READDIR4args *a = args;
	struct nfs4_readdir_res *r = res;
	struct fill f = {.c = c, .req = &a->attr_request, .r = r, .used = REPLY_BASE};
	uint64_t verifier = 0;
	bool eof = false;

	f.max_bytes = a->maxcount < NFS4_MAX_IO ? a->maxcount : NFS4_MAX_IO;
	if (c->cur.kind == NFS4_FH_PSEUDO) {
		nfsstat4 st = list_pseudo(&f, a->cookie, &eof);
		if (st != NFS4_OK)
			return st;
	} else {
		for (int i = 0; i < NFS4_VERIFIER_SIZE; i++)
			verifier = verifier << 8 | (uint8_t)a->cookieverf[i];
		struct gfs_attr dir_attr;
		int veof = 0;
		/* at least one entry past "." and "..": a reply too small for
		 * it is TOOSMALL, never an empty page that does not advance */
		uint32_t per_entry = min_entry_bytes(&a->attr_request);
		uint32_t hint = f.max_bytes / per_entry ? f.max_bytes / per_entry : 1;
		if (hint > MAX_ENTRIES)
			hint = MAX_ENTRIES;
		/* cookie 0 starts over whatever the verifier says */
		int rc =
		    gfs_readdir(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, a->cookie, a->cookie ? verifier : 0, 1,
				hint + 2, fill_entry, &f, &veof, &verifier, &dir_attr);
		if (rc < 0)
			return f.error != NFS4_OK ? f.error : nfs4_status(rc);
		eof = veof && !f.stopped;
	}
	if (f.nentries == 0 && f.stopped)
		return NFS4ERR_TOOSMALL;
	for (int i = 0; i < NFS4_VERIFIER_SIZE; i++)
		r->cookieverf[i] = (char)(verifier >> (56 - 8 * i));
	r->eof = eof;
	return NFS4_OK;
}

bool nfs4_xdr_readdir_res(XDR *x, void *obj)
{
	struct nfs4_readdir_res *r = obj;

	if (x->x_op == XDR_FREE) {
		free(r->entries);
		r->entries = NULL;
		r->entries_len = 0;
		return true;
	}
	if (x->x_op != XDR_ENCODE)
		return false;
	if (!xdr_nfsstat4(x, &r->status))
		return false;
	if (r->status != NFS4_OK)
		return true;
	bool_t no_more = FALSE;
	return xdr_opaque(x, r->cookieverf, NFS4_VERIFIER_SIZE) &&
	       (r->entries_len == 0 || XDR_PUTBYTES(x, (const char *)r->entries, r->entries_len)) &&
	       xdr_bool(x, &no_more) && xdr_bool(x, &r->eof);
}
