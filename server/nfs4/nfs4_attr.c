/*
 * nfs4_attr.c - NFSv4 attributes (RFC 8881 section 5): which ones gatefs
 * supports, their encoding into fattr4 from vfs attributes, the decoding of
 * the settable ones, and GETATTR, SETATTR, VERIFY and NVERIFY.
 *
 * change is the inode's change counter; owners are numeric strings, which
 * is what Linux sends with sec=sys, or name@domain (nfs4_idmap.c).  An export's fsid is {volume id, export
 * id}, so every export is a file system of its own, and its root's
 * mounted_on_fileid is the fileid of the pseudo directory it hides.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"
#include "server.h"

#define BIT(n) (1u << ((n) % 32))
#define NWORDS 3

static const uint32_t supported[NWORDS] = {
    BIT(FATTR4_SUPPORTED_ATTRS) | BIT(FATTR4_TYPE) | BIT(FATTR4_FH_EXPIRE_TYPE) | BIT(FATTR4_CHANGE) |
	BIT(FATTR4_SIZE) | BIT(FATTR4_LINK_SUPPORT) | BIT(FATTR4_SYMLINK_SUPPORT) | BIT(FATTR4_NAMED_ATTR) |
	BIT(FATTR4_FSID) | BIT(FATTR4_UNIQUE_HANDLES) | BIT(FATTR4_LEASE_TIME) | BIT(FATTR4_RDATTR_ERROR) |
	BIT(FATTR4_ACLSUPPORT) | BIT(FATTR4_CANSETTIME) | BIT(FATTR4_CASE_INSENSITIVE) | BIT(FATTR4_CASE_PRESERVING) |
	BIT(FATTR4_CHOWN_RESTRICTED) | BIT(FATTR4_FILEHANDLE) | BIT(FATTR4_FILEID) | BIT(FATTR4_FILES_AVAIL) |
	BIT(FATTR4_FILES_FREE) | BIT(FATTR4_FILES_TOTAL) | BIT(FATTR4_HOMOGENEOUS) | BIT(FATTR4_MAXFILESIZE) |
	BIT(FATTR4_MAXLINK) | BIT(FATTR4_MAXNAME) | BIT(FATTR4_MAXREAD) | BIT(FATTR4_MAXWRITE),
    BIT(FATTR4_MODE) | BIT(FATTR4_NO_TRUNC) | BIT(FATTR4_NUMLINKS) | BIT(FATTR4_OWNER) | BIT(FATTR4_OWNER_GROUP) |
	BIT(FATTR4_RAWDEV) | BIT(FATTR4_SPACE_AVAIL) | BIT(FATTR4_SPACE_FREE) | BIT(FATTR4_SPACE_TOTAL) |
	BIT(FATTR4_SPACE_USED) | BIT(FATTR4_TIME_ACCESS) | BIT(FATTR4_TIME_ACCESS_SET) | BIT(FATTR4_TIME_DELTA) |
	BIT(FATTR4_TIME_METADATA) | BIT(FATTR4_TIME_MODIFY) | BIT(FATTR4_TIME_MODIFY_SET) |
	BIT(FATTR4_MOUNTED_ON_FILEID),
    BIT(FATTR4_SUPPATTR_EXCLCREAT),
};

/* Settable, and so also what EXCLUSIVE4_1 may set (suppattr_exclcreat):
 * the create verifier is kept apart from the times (backend/meta). */
static const uint32_t settable[NWORDS] = {
    BIT(FATTR4_SIZE),
    BIT(FATTR4_MODE) | BIT(FATTR4_OWNER) | BIT(FATTR4_OWNER_GROUP) | BIT(FATTR4_TIME_ACCESS_SET) |
	BIT(FATTR4_TIME_MODIFY_SET),
    0,
};

static bool write_only(unsigned n)
{
	return n == FATTR4_TIME_ACCESS_SET || n == FATTR4_TIME_MODIFY_SET;
}

static bool bit_set(const bitmap4 *b, unsigned n)
{
	return n / 32 < b->bitmap4_len && (b->bitmap4_val[n / 32] & BIT(n));
}

static bool supported_bit(unsigned n)
{
	return n / 32 < NWORDS && (supported[n / 32] & BIT(n));
}

void nfs4_bitmap_free(bitmap4 *b)
{
	free(b->bitmap4_val);
	b->bitmap4_val = NULL;
	b->bitmap4_len = 0;
}

static int bitmap_set(bitmap4 *b, const uint32_t words[NWORDS])
{
	b->bitmap4_val = calloc(NWORDS, sizeof(uint32_t));
	if (!b->bitmap4_val)
		return -ENOMEM;
	memcpy(b->bitmap4_val, words, NWORDS * sizeof(uint32_t));
	b->bitmap4_len = NWORDS;
	while (b->bitmap4_len > 0 && b->bitmap4_val[b->bitmap4_len - 1] == 0)
		b->bitmap4_len--;
	return 0;
}

/* A bounded XDR writer for attribute values. */
struct out {
	uint8_t buf[2048];
	size_t len;
	bool overflow;
};

static void put32(struct out *o, uint32_t v)
{
	if (o->len + 4 > sizeof(o->buf)) {
		o->overflow = true;
		return;
	}
	for (int i = 0; i < 4; i++)
		o->buf[o->len++] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(struct out *o, uint64_t v)
{
	put32(o, (uint32_t)(v >> 32));
	put32(o, (uint32_t)v);
}

static void put_opaque(struct out *o, const void *data, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	put32(o, (uint32_t)len);
	if (o->len + padded > sizeof(o->buf)) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, data, len);
	memset(o->buf + o->len + len, 0, padded - len);
	o->len += padded;
}

static void put_time(struct out *o, struct gfs_time t)
{
	put64(o, (uint64_t)t.sec);
	put32(o, t.nsec);
}

static void put_words(struct out *o, const uint32_t w[NWORDS])
{
	put32(o, NWORDS);
	for (int i = 0; i < NWORDS; i++)
		put32(o, w[i]);
}

static uint32_t ftype4(enum gfs_ftype t)
{
	switch (t) {
	case GFS_REG:
		return NF4REG;
	case GFS_DIR:
		return NF4DIR;
	case GFS_LNK:
		return NF4LNK;
	case GFS_BLK:
		return NF4BLK;
	case GFS_CHR:
		return NF4CHR;
	case GFS_SOCK:
		return NF4SOCK;
	case GFS_FIFO:
		return NF4FIFO;
	}
	return NF4REG;
}

static void put_id(struct out *o, uint32_t id, bool group)
{
	char text[300];
	put_opaque(o, text, nfs4_idmap_string(id, group, text, sizeof(text)));
}

void nfs4_obj_export(struct nfs4_compound *c, const struct export *ex, const struct gfs_attr *a, struct nfs4_obj *out)
{
	const struct server *srv = c->call->server;

	out->attr = *a;
	out->fsid.major = srv->vol->volume_id;
	out->fsid.minor = ex->id;
	/* The pseudo directory an export root hides has id ex->id. */
	bool root = export_is_root(ex, (struct gfs_ref){a->ino, a->gen}) && strcmp(ex->path, "/") != 0;
	out->mounted_on_fileid = root ? ex->id : a->ino;
	fh_encode(srv->vol, ex->id, (struct gfs_ref){a->ino, a->gen}, &out->fh);
}

nfsstat4 nfs4_obj_of(struct nfs4_compound *c, const struct nfs4_fh *f, struct nfs4_obj *out)
{
	memset(out, 0, sizeof(*out));
	if (f->kind == NFS4_FH_EXPORT) {
		struct gfs_attr a;
		int rc = gfs_getattr(c->call->vfs, f->acc.ref, &a);
		if (rc < 0)
			return nfs4_status(rc);
		nfs4_obj_export(c, f->acc.export, &a, out);
		return NFS4_OK;
	}
	const struct nfs4_pseudo *p = &c->nfs4->pseudo[f->pseudo];
	out->attr.ino = p->id;
	out->attr.type = GFS_DIR;
	out->attr.mode = 0555;
	out->attr.nlink = 2;
	out->attr.size = 4096;
	out->attr.atime = out->attr.mtime = out->attr.ctime = c->nfs4->boot_time;
	out->attr.change = (uint64_t)c->nfs4->boot_time.sec;
	out->fsid.major = 0;
	out->fsid.minor = 0;
	out->mounted_on_fileid = p->id;
	nfs4_fh_bytes(c, f, &out->fh);
	return NFS4_OK;
}

static bool wants_statfs(const bitmap4 *req)
{
	static const unsigned bits[] = {FATTR4_FILES_AVAIL, FATTR4_FILES_FREE, FATTR4_FILES_TOTAL,
					FATTR4_SPACE_AVAIL, FATTR4_SPACE_FREE, FATTR4_SPACE_TOTAL};
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (bit_set(req, bits[i]))
			return true;
	return false;
}

/* One attribute's value. */
static void put_attr(struct nfs4_compound *c, const struct nfs4_obj *o, const struct gfs_statfs *sf, unsigned n,
		     struct out *w)
{
	const struct gfs_attr *a = &o->attr;

	switch (n) {
	case FATTR4_SUPPORTED_ATTRS:
		put_words(w, supported);
		break;
	case FATTR4_TYPE:
		put32(w, ftype4(a->type));
		break;
	case FATTR4_FH_EXPIRE_TYPE:
		put32(w, FH4_PERSISTENT);
		break;
	case FATTR4_CHANGE:
		put64(w, a->change);
		break;
	case FATTR4_SIZE:
		put64(w, a->size);
		break;
	case FATTR4_LINK_SUPPORT:
	case FATTR4_SYMLINK_SUPPORT:
	case FATTR4_UNIQUE_HANDLES:
	case FATTR4_CANSETTIME:
	case FATTR4_CASE_PRESERVING:
	case FATTR4_CHOWN_RESTRICTED:
	case FATTR4_HOMOGENEOUS:
	case FATTR4_NO_TRUNC:
		put32(w, 1);
		break;
	case FATTR4_NAMED_ATTR:
	case FATTR4_CASE_INSENSITIVE:
	case FATTR4_RDATTR_ERROR:
	case FATTR4_ACLSUPPORT:
		put32(w, 0);
		break;
	case FATTR4_FSID:
		put64(w, o->fsid.major);
		put64(w, o->fsid.minor);
		break;
	case FATTR4_LEASE_TIME:
		put32(w, nfs4_state_lease(c->nfs4->state));
		break;
	case FATTR4_FILEHANDLE:
		put_opaque(w, o->fh.data, o->fh.len);
		break;
	case FATTR4_FILEID:
		put64(w, a->ino);
		break;
	case FATTR4_FILES_AVAIL:
	case FATTR4_FILES_FREE:
		put64(w, sf->free_files);
		break;
	case FATTR4_FILES_TOTAL:
		put64(w, sf->total_files);
		break;
	case FATTR4_MAXFILESIZE:
		put64(w, (uint64_t)INT64_MAX);
		break;
	case FATTR4_MAXLINK:
		put32(w, 65000);
		break;
	case FATTR4_MAXNAME:
		put32(w, GFS_NAME_MAX);
		break;
	case FATTR4_MAXREAD:
	case FATTR4_MAXWRITE:
		put64(w, NFS4_MAX_IO);
		break;
	case FATTR4_MODE:
		put32(w, a->mode & 07777);
		break;
	case FATTR4_NUMLINKS:
		put32(w, a->nlink);
		break;
	case FATTR4_OWNER:
		put_id(w, a->uid, false);
		break;
	case FATTR4_OWNER_GROUP:
		put_id(w, a->gid, true);
		break;
	case FATTR4_RAWDEV:
		put32(w, a->rdev_major);
		put32(w, a->rdev_minor);
		break;
	case FATTR4_SPACE_AVAIL:
		put64(w, sf->avail_bytes);
		break;
	case FATTR4_SPACE_FREE:
		put64(w, sf->free_bytes);
		break;
	case FATTR4_SPACE_TOTAL:
		put64(w, sf->total_bytes);
		break;
	case FATTR4_SPACE_USED:
		put64(w, a->used);
		break;
	case FATTR4_TIME_ACCESS:
		put_time(w, a->atime);
		break;
	case FATTR4_TIME_DELTA:
		put_time(w, (struct gfs_time){0, 1});
		break;
	case FATTR4_TIME_METADATA:
		put_time(w, a->ctime);
		break;
	case FATTR4_TIME_MODIFY:
		put_time(w, a->mtime);
		break;
	case FATTR4_MOUNTED_ON_FILEID:
		put64(w, o->mounted_on_fileid);
		break;
	case FATTR4_SUPPATTR_EXCLCREAT:
		put_words(w, settable);
		break;
	}
}

nfsstat4 nfs4_encode_fattr(struct nfs4_compound *c, const struct nfs4_obj *o, const bitmap4 *req, fattr4 *out)
{
	uint32_t got[NWORDS] = {0};
	struct gfs_statfs sf = {0};
	/* On the stack, buf left unset: it was a calloc of 2 KiB per GETATTR
	 * and per READDIR entry, which showed in the GETATTR rate. */
	struct out w;

	w.len = 0;
	w.overflow = false;
	if (wants_statfs(req)) {
		int rc = gfs_statfs(c->call->vfs, &sf);
		if (rc < 0)
			return nfs4_status(rc);
	}
	for (unsigned n = 0; n < 32 * NWORDS; n++) {
		if (!bit_set(req, n) || !supported_bit(n) || write_only(n))
			continue;
		put_attr(c, o, &sf, n, &w);
		got[n / 32] |= BIT(n);
	}
	if (w.overflow || bitmap_set(&out->attrmask, got) < 0)
		return NFS4ERR_SERVERFAULT;
	out->attr_vals.attrlist4_val = malloc(w.len ? w.len : 1);
	if (!out->attr_vals.attrlist4_val) {
		nfs4_bitmap_free(&out->attrmask);
		return NFS4ERR_DELAY;
	}
	memcpy(out->attr_vals.attrlist4_val, w.buf, w.len);
	out->attr_vals.attrlist4_len = (u_int)w.len;
	return NFS4_OK;
}

/* A bounded XDR reader over attr_vals. */
struct in {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static uint32_t get32(struct in *r)
{
	if (r->pos + 4 > r->len) {
		r->bad = true;
		return 0;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(struct in *r)
{
	uint64_t hi = get32(r);
	return hi << 32 | get32(r);
}

/* An owner or owner_group string (nfs4_idmap.c). */
static nfsstat4 get_id(struct in *r, bool group, uint32_t *out)
{
	uint32_t len = get32(r);
	size_t padded = ((size_t)len + 3) & ~(size_t)3;

	if (r->bad || len > r->len - r->pos || padded > r->len - r->pos)
		return NFS4ERR_BADXDR;
	nfsstat4 st = nfs4_idmap_id((const char *)r->p + r->pos, len, group, out);
	r->pos += padded;
	return st;
}

nfsstat4 nfs4_decode_sattr(const fattr4 *in, struct gfs_setattr *sa, bitmap4 *set)
{
	struct in r = {(const uint8_t *)in->attr_vals.attrlist4_val, in->attr_vals.attrlist4_len, 0, false};
	uint32_t got[NWORDS] = {0};
	nfsstat4 st;

	memset(sa, 0, sizeof(*sa));
	for (unsigned n = 0; n < 32 * in->attrmask.bitmap4_len; n++) {
		if (!bit_set(&in->attrmask, n))
			continue;
		if (n / 32 >= NWORDS || !(settable[n / 32] & BIT(n)))
			return supported_bit(n) ? NFS4ERR_INVAL : NFS4ERR_ATTRNOTSUPP;
		got[n / 32] |= BIT(n);
		switch (n) {
		case FATTR4_SIZE:
			sa->valid |= GFS_SET_SIZE;
			sa->size = get64(&r);
			break;
		case FATTR4_MODE:
			sa->valid |= GFS_SET_MODE;
			sa->mode = get32(&r) & 07777;
			break;
		case FATTR4_OWNER:
			sa->valid |= GFS_SET_UID;
			if ((st = get_id(&r, false, &sa->uid)) != NFS4_OK)
				return st;
			break;
		case FATTR4_OWNER_GROUP:
			sa->valid |= GFS_SET_GID;
			if ((st = get_id(&r, true, &sa->gid)) != NFS4_OK)
				return st;
			break;
		case FATTR4_TIME_ACCESS_SET:
		case FATTR4_TIME_MODIFY_SET: {
			bool access = n == FATTR4_TIME_ACCESS_SET;
			uint32_t how = get32(&r);
			struct gfs_time t = {0, 0};
			if (how == SET_TO_CLIENT_TIME4) {
				t.sec = (int64_t)get64(&r);
				t.nsec = get32(&r);
				if (t.nsec >= 1000000000u)
					return NFS4ERR_INVAL;
				sa->valid |= access ? GFS_SET_ATIME : GFS_SET_MTIME;
			} else if (how == SET_TO_SERVER_TIME4)
				sa->valid |= access ? GFS_SET_ATIME_NOW : GFS_SET_MTIME_NOW;
			else
				return NFS4ERR_BADXDR;
			if (access)
				sa->atime = t;
			else
				sa->mtime = t;
			break;
		}
		}
		if (r.bad)
			return NFS4ERR_BADXDR;
	}
	if (r.pos != r.len)
		return NFS4ERR_BADXDR;
	if (set && bitmap_set(set, got) < 0)
		return NFS4ERR_DELAY;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_getattr)
{
	GETATTR4args *a = args;
	GETATTR4res *r = res;
	struct nfs4_obj o;
	nfsstat4 st = nfs4_obj_of(c, &c->cur, &o);

	if (st != NFS4_OK)
		return st;
	return nfs4_encode_fattr(c, &o, &a->attr_request, &r->GETATTR4res_u.resok4.obj_attributes);
}

NFS4_HANDLER(nfs4_op_setattr)
{
	SETATTR4args *a = args;
	SETATTR4res *r = res;
	struct gfs_setattr sa;
	struct gfs_wcc wcc;
	bitmap4 set = {0, NULL};
	nfsstat4 st = nfs4_need_export(c, true);

	if (st != NFS4_OK)
		return st;
	st = nfs4_decode_sattr(&a->obj_attributes, &sa, &set);
	if (st == NFS4_OK && (sa.valid & GFS_SET_SIZE))
		st = nfs4_check_stateid(c, &a->stateid, OPEN4_SHARE_ACCESS_WRITE);
	if (st == NFS4_OK)
		st = nfs4_status(gfs_setattr(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, &sa, NULL, &wcc));
	if (st != NFS4_OK) {
		nfs4_bitmap_free(&set);
		return st;
	}
	r->attrsset = set;
	return NFS4_OK;
}

/* VERIFY and NVERIFY: encode ours for the client's bitmap and compare the
 * bytes, as the values are compared "as if by memcmp" (section 18.31.4). */
static nfsstat4 same_attrs(struct nfs4_compound *c, const fattr4 *theirs, bool *same)
{
	struct nfs4_obj o;
	fattr4 mine = {{0, NULL}, {0, NULL}};

	for (unsigned n = 0; n < 32 * theirs->attrmask.bitmap4_len; n++) {
		if (!bit_set(&theirs->attrmask, n))
			continue;
		if (!supported_bit(n))
			return NFS4ERR_ATTRNOTSUPP;
		if (write_only(n) || n == FATTR4_RDATTR_ERROR)
			return NFS4ERR_INVAL;
	}
	nfsstat4 st = nfs4_obj_of(c, &c->cur, &o);
	if (st == NFS4_OK)
		st = nfs4_encode_fattr(c, &o, &theirs->attrmask, &mine);
	if (st != NFS4_OK)
		return st;
	*same =
	    mine.attr_vals.attrlist4_len == theirs->attr_vals.attrlist4_len &&
	    memcmp(mine.attr_vals.attrlist4_val, theirs->attr_vals.attrlist4_val, mine.attr_vals.attrlist4_len) == 0;
	xdr_free(NFS4_XDRPROC(xdr_fattr4), &mine);
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_verify)
{
	VERIFY4args *a = args;
	bool same = false;
	nfsstat4 st = same_attrs(c, &a->obj_attributes, &same);
	(void)res;

	if (st != NFS4_OK)
		return st;
	return same ? NFS4_OK : NFS4ERR_NOT_SAME;
}

NFS4_HANDLER(nfs4_op_nverify)
{
	NVERIFY4args *a = args;
	bool same = false;
	nfsstat4 st = same_attrs(c, &a->obj_attributes, &same);
	(void)res;

	if (st != NFS4_OK)
		return st;
	return same ? NFS4ERR_SAME : NFS4_OK;
}
