/*
 * meta_reply.c - turning Redis replies into vfs structs: the inode hash
 * (docs/FORMAT.md "Inode") into struct gfs_attr, wcc data, and the packed
 * 24-byte slice record.
 */
#include <string.h>

#include "meta_internal.h"

/* Decimal digits at s, optionally after a '-' (pre-1970 times), with
 * strtoull's wrap-around for negatives; stops at the first non-digit.
 * strtoull's locale and base handling were a third of parsing an inode. */
static uint64_t parse_decimal(const char *s)
{
	int negative = *s == '-';
	uint64_t v = 0;
	for (s += negative; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return negative ? -v : v;
}

uint64_t meta_reply_u64(const redisReply *r)
{
	if (!r)
		return 0;
	if (r->type == REDIS_REPLY_INTEGER)
		return (uint64_t)r->integer;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return parse_decimal(r->str);
	return 0;
}

int meta_reply_status(const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER)
		return -EIO;
	return (int)r->element[0]->integer;
}

/* One inode hash field and where it goes. */
enum attr_slot {
	A_TYPE,
	A_MODE,
	A_UID,
	A_GID,
	A_NLINK,
	A_SIZE,
	A_RDEV_MAJOR,
	A_RDEV_MINOR,
	A_ATIME_S,
	A_ATIME_N,
	A_MTIME_S,
	A_MTIME_N,
	A_CTIME_S,
	A_CTIME_N,
	A_CHANGE,
	A_PARENT,
	A_GEN,
	A_INO,
	A_LINK,
	A_NSLOTS
};

/* The slot of an inode hash field (docs/FORMAT.md "Inode"), or -1 for the
 * fields attributes do not use (v, sq, cv...).  A switch rather than a
 * table walk with strcmp: this runs for every field of every
 * READDIRPLUS entry and GETATTR. */
static int field_slot(const char *k, size_t len)
{
	if (len == 1) {
		switch (k[0]) {
		case 't':
			return A_TYPE;
		case 'm':
			return A_MODE;
		case 'u':
			return A_UID;
		case 'g':
			return A_GID;
		case 'n':
			return A_NLINK;
		case 's':
			return A_SIZE;
		case 'p':
			return A_PARENT;
		case 'i':
			return A_INO;
		case 'l':
			return A_LINK;
		}
	} else if (len == 2) {
		switch (k[0]) {
		case 'r':
			return k[1] == 'a' ? A_RDEV_MAJOR : k[1] == 'i' ? A_RDEV_MINOR : -1;
		case 'a':
			return k[1] == 's' ? A_ATIME_S : k[1] == 'n' ? A_ATIME_N : -1;
		case 'm':
			return k[1] == 's' ? A_MTIME_S : k[1] == 'n' ? A_MTIME_N : -1;
		case 'c':
			return k[1] == 's' ? A_CTIME_S : k[1] == 'n' ? A_CTIME_N : k[1] == 'h' ? A_CHANGE : -1;
		}
	} else if (len == 3 && memcmp(k, "gen", 3) == 0) {
		return A_GEN;
	}
	return -1;
}

/* Field order of an attribute row (row() in lua/_lib.lua); a directory's
 * row may stop after A_SEQ. */
enum { A_SEQ = A_NSLOTS }; /* in a row, not in struct gfs_attr */
static const int row_fields[] = {
    A_INO,     A_TYPE,	  A_MODE,    A_UID,    A_GID,	 A_NLINK, A_SIZE, A_ATIME_S,	A_ATIME_N,    A_MTIME_S,
    A_MTIME_N, A_CTIME_S, A_CTIME_N, A_CHANGE, A_PARENT, A_GEN,	  A_SEQ,  A_RDEV_MAJOR, A_RDEV_MINOR, A_LINK,
};
#define ROW_MIN 17 /* up to A_SEQ */

static int attr_from_slots(const uint64_t v[A_NSLOTS], size_t linklen, struct gfs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = v[A_INO];
	attr->gen = (uint32_t)v[A_GEN];
	attr->type = (enum gfs_ftype)v[A_TYPE];
	attr->mode = (uint32_t)v[A_MODE] & 07777;
	attr->uid = (uint32_t)v[A_UID];
	attr->gid = (uint32_t)v[A_GID];
	attr->nlink = (uint32_t)v[A_NLINK];
	attr->size = attr->type == GFS_LNK ? linklen : v[A_SIZE];
	attr->rdev_major = (uint32_t)v[A_RDEV_MAJOR];
	attr->rdev_minor = (uint32_t)v[A_RDEV_MINOR];
	attr->atime = (struct gfs_time){(int64_t)v[A_ATIME_S], (uint32_t)v[A_ATIME_N]};
	attr->mtime = (struct gfs_time){(int64_t)v[A_MTIME_S], (uint32_t)v[A_MTIME_N]};
	attr->ctime = (struct gfs_time){(int64_t)v[A_CTIME_S], (uint32_t)v[A_CTIME_N]};
	attr->change = v[A_CHANGE];
	attr->parent = attr->type == GFS_DIR ? v[A_PARENT] : 0;
	meta_attr_set_used(attr);
	return attr->type >= GFS_REG && attr->type <= GFS_FIFO ? 0 : -EIO;
}

void meta_attr_set_used(struct gfs_attr *attr)
{
	/* Charged storage: whole 4 KiB pages of the size (see FORMAT.md "Usage"). */
	if (attr->type == GFS_REG)
		attr->used = (attr->size + 4095) & ~4095ULL;
	else if (attr->type == GFS_DIR)
		attr->used = 4096;
	else
		attr->used = attr->size;
}

int meta_parse_attr(const redisReply *r, struct gfs_attr *attr)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2)
		return -ESTALE;
	uint64_t v[A_NSLOTS] = {0};
	size_t linklen = 0;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *val = r->element[i + 1];
		int slot = k->type == REDIS_REPLY_STRING ? field_slot(k->str, k->len) : -1;
		if (slot == A_LINK)
			linklen = val->len;
		else if (slot >= 0)
			v[slot] = meta_reply_u64(val);
	}
	return attr_from_slots(v, linklen, attr);
}

int meta_parse_attr_row(const redisReply *r, struct gfs_attr *attr)
{
	enum { NROW = sizeof(row_fields) / sizeof(row_fields[0]) };
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < ROW_MIN || r->element[0]->type != REDIS_REPLY_STRING)
		return -ESTALE;
	uint64_t v[A_NSLOTS + 1] = {0};
	size_t linklen = 0;
	for (size_t i = 0; i < NROW && i < r->elements; i++) {
		if (row_fields[i] == A_LINK)
			linklen = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->len : 0;
		else
			v[row_fields[i]] = meta_reply_u64(r->element[i]);
	}
	return attr_from_slots(v, linklen, attr);
}

/* Splits a wcc string (wcc_str in lua/_lib.lua) into up to max decimal
 * fields; an empty field is an absent one (0).  Returns the field count,
 * or -EIO for anything but digits and single spaces. */
static int split_fields(const char *s, size_t len, uint64_t *out, int max)
{
	int n = 0;
	size_t i = 0;
	for (;;) {
		if (n == max)
			return -EIO;
		uint64_t v = 0;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			v = v * 10 + (uint64_t)(s[i] - '0');
		out[n++] = v;
		if (i == len)
			return n;
		if (s[i++] != ' ')
			return -EIO;
	}
}

int meta_parse_wcc_str(const redisReply *r, struct gfs_wcc *wcc)
{
	enum { NPOST = 6 };
	memset(wcc, 0, sizeof(*wcc));
	uint64_t f[ROW_MIN + NPOST];
	int n = r && r->type == REDIS_REPLY_STRING ? split_fields(r->str, r->len, f, ROW_MIN + NPOST) : -EIO;
	/* A missing directory sends no number as its ino. */
	if ((n != ROW_MIN && n != ROW_MIN + NPOST) || r->str[0] < '0' || r->str[0] > '9')
		return -EIO;
	uint64_t v[A_NSLOTS + 1] = {0};
	for (int i = 0; i < ROW_MIN; i++)
		v[row_fields[i]] = f[i];
	struct gfs_attr a;
	if (attr_from_slots(v, 0, &a) < 0)
		return -EIO;
	wcc->has_pre = 1;
	wcc->pre_size = a.size;
	wcc->pre_mtime = a.mtime;
	wcc->pre_ctime = a.ctime;
	wcc->pre_change = a.change;
	wcc->has_post = 1;
	wcc->post = a;
	if (n == ROW_MIN) /* nothing changed */
		return 0;
	const uint64_t *post = f + ROW_MIN;
	wcc->post.mtime = (struct gfs_time){(int64_t)post[0], (uint32_t)post[1]};
	wcc->post.ctime = (struct gfs_time){(int64_t)post[2], (uint32_t)post[3]};
	wcc->post.change = post[4];
	wcc->post.nlink = (uint32_t)post[5];
	return 1;
}

void meta_parse_wcc(const redisReply *pre, const redisReply *post, struct gfs_wcc *wcc)
{
	if (!wcc)
		return;
	memset(wcc, 0, sizeof(*wcc));
	if (pre && pre->type == REDIS_REPLY_ARRAY && pre->elements == 6) {
		wcc->has_pre = 1;
		wcc->pre_size = meta_reply_u64(pre->element[0]);
		wcc->pre_mtime = (struct gfs_time){(int64_t)meta_reply_u64(pre->element[1]),
						   (uint32_t)meta_reply_u64(pre->element[2])};
		wcc->pre_ctime = (struct gfs_time){(int64_t)meta_reply_u64(pre->element[3]),
						   (uint32_t)meta_reply_u64(pre->element[4])};
		wcc->pre_change = meta_reply_u64(pre->element[5]);
	}
	if (post && meta_parse_attr(post, &wcc->post) == 0)
		wcc->has_post = 1;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void meta_pack_slice(uint8_t out[META_REC_SIZE], const struct meta_slice *s)
{
	put32(out, s->pos);
	put32(out + 4, (uint32_t)(s->id >> 32));
	put32(out + 8, (uint32_t)s->id);
	put32(out + 12, s->size);
	put32(out + 16, s->off);
	put32(out + 20, s->len);
}

void meta_unpack_slice(const uint8_t in[META_REC_SIZE], struct meta_slice *s)
{
	s->pos = get32(in);
	s->id = (uint64_t)get32(in + 4) << 32 | get32(in + 8);
	s->size = get32(in + 12);
	s->off = get32(in + 16);
	s->len = get32(in + 20);
}
