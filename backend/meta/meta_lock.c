/*
 * meta_lock.c - byte-range locks, share reservations and client leases in
 * Redis: argument checks and the encoding of ranges for the lock script
 * (lua/lock.lua),
 * which does every check and change atomically.  The format is in
 * docs/FORMAT.md "Byte-range locks".
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "meta_internal.h"

/* 17 hex digits: end offsets go up to 2^64 ("to EOF"), and fixed-width
 * lowercase hex compares as strings in the same order as the numbers. */
#define HEX_LEN 17
#define HEX_EOF "10000000000000000"

static int check_client(const char *client)
{
	size_t n = client ? strlen(client) : 0;
	if (n == 0 || n > GFS_LOCK_CLIENT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = client[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
		      c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

static int check_owner(const char *client, const void *owner, size_t owner_len)
{
	if (check_client(client) < 0 || (!owner && owner_len) || owner_len > GFS_LOCK_OWNER_MAX)
		return -EINVAL;
	return 0;
}

/* [start, start+len) as two hex strings; -EINVAL for len 0 or overflow. */
static int encode_range(uint64_t start, uint64_t len, char s[HEX_LEN + 1], char e[HEX_LEN + 1])
{
	if (len == 0)
		return -EINVAL;
	snprintf(s, HEX_LEN + 1, "%017" PRIx64, start);
	if (len == GFS_LOCK_EOF) {
		memcpy(e, HEX_EOF, HEX_LEN + 1);
		return 0;
	}
	if (len > UINT64_MAX - start)
		return -EINVAL;
	snprintf(e, HEX_LEN + 1, "%017" PRIx64, start + len);
	return 0;
}

static int parse_hex(const redisReply *r, uint64_t *v, int *eof)
{
	if (r->type != REDIS_REPLY_STRING || r->len != HEX_LEN)
		return -EIO;
	*eof = memcmp(r->str, HEX_EOF, HEX_LEN) == 0;
	if (*eof || r->str[0] != '0')
		return *eof ? 0 : -EIO;
	uint64_t x = 0;
	for (int i = 1; i < HEX_LEN; i++) {
		char c = r->str[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -EIO;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return 0;
}

/* {-EAGAIN, client, owner, type, start, end} into *c. */
static int parse_conflict(const redisReply *r, struct gfs_lock_conflict *c)
{
	if (r->elements != 6)
		return -EIO;
	for (size_t i = 1; i < 6; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			return -EIO;
	if (!c)
		return -EAGAIN;
	memset(c, 0, sizeof(*c));
	const redisReply *cl = r->element[1], *ow = r->element[2], *ty = r->element[3];
	if (cl->len > GFS_LOCK_CLIENT_MAX || ow->len > GFS_LOCK_OWNER_MAX || ty->len != 1)
		return -EIO;
	memcpy(c->client, cl->str, cl->len);
	memcpy(c->owner, ow->str, ow->len);
	c->owner_len = ow->len;
	c->type = ty->str[0] == 'w' ? GFS_LOCK_WRITE : GFS_LOCK_READ;
	uint64_t s = 0, e = 0;
	int s_eof, e_eof;
	if (parse_hex(r->element[4], &s, &s_eof) < 0 || s_eof || parse_hex(r->element[5], &e, &e_eof) < 0 ||
	    (!e_eof && e <= s))
		return -EIO;
	c->start = s;
	c->len = e_eof ? GFS_LOCK_EOF : e - s;
	return -EAGAIN;
}

static int run(struct meta *m, struct meta_args *a, struct gfs_lock_conflict *conflict, uint32_t *count)
{
	int rc = 0;
	redisReply *r = meta_eval(m, MS_LOCK, NULL, &rc, a->argc, a->argv, a->argvlen);
	if (!r)
		return rc;
	rc = meta_reply_status(r);
	if (rc == -EAGAIN)
		rc = parse_conflict(r, conflict);
	else if (rc == 0 && count) {
		if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER)
			rc = -EIO;
		else
			*count = (uint32_t)r->element[1]->integer;
	}
	freeReplyObject(r);
	return rc;
}

static void args_owner(struct meta_args *a, const char *op, gfs_ino_t ino, const char *client, const void *owner,
		       size_t owner_len)
{
	meta_args_init(a);
	meta_args_str(a, op);
	meta_args_u64(a, ino);
	meta_args_str(a, client);
	meta_args_bin(a, owner_len ? owner : "", owner_len);
}

static int lock_op(struct meta *m, const char *op, gfs_ino_t ino, const char *client, const void *owner,
		   size_t owner_len, enum gfs_lock_type type, uint64_t start, uint64_t len, uint32_t lease_ms,
		   struct gfs_lock_conflict *conflict)
{
	char s[HEX_LEN + 1], e[HEX_LEN + 1];
	int rc = check_owner(client, owner, owner_len);
	if (rc == 0)
		rc = encode_range(start, len, s, e);
	if (rc == 0 && type != GFS_LOCK_READ && type != GFS_LOCK_WRITE)
		rc = -EINVAL;
	if (rc == 0 && strcmp(op, "set") == 0 && lease_ms == 0)
		rc = -EINVAL;
	if (rc < 0)
		return rc;
	struct meta_args a;
	args_owner(&a, op, ino, client, owner, owner_len);
	meta_args_str(&a, type == GFS_LOCK_WRITE ? "w" : "r");
	meta_args_str(&a, s);
	meta_args_str(&a, e);
	meta_args_u64(&a, lease_ms);
	return run(m, &a, conflict, NULL);
}

int meta_lock_set(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		  enum gfs_lock_type type, uint64_t start, uint64_t len, uint32_t lease_ms,
		  struct gfs_lock_conflict *conflict)
{
	return lock_op(m, "set", ino, client, owner, owner_len, type, start, len, lease_ms, conflict);
}

int meta_lock_test(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		   enum gfs_lock_type type, uint64_t start, uint64_t len, struct gfs_lock_conflict *conflict)
{
	return lock_op(m, "test", ino, client, owner, owner_len, type, start, len, 0, conflict);
}

int meta_lock_unlock(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		     uint64_t start, uint64_t len)
{
	char s[HEX_LEN + 1], e[HEX_LEN + 1];
	int rc = check_owner(client, owner, owner_len);
	if (rc == 0)
		rc = encode_range(start, len, s, e);
	if (rc < 0)
		return rc;
	struct meta_args a;
	args_owner(&a, "unlock", ino, client, owner, owner_len);
	meta_args_str(&a, s);
	meta_args_str(&a, e);
	return run(m, &a, NULL, NULL);
}

int meta_lock_count(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		    uint32_t *count)
{
	int rc = check_owner(client, owner, owner_len);
	if (rc < 0)
		return rc;
	struct meta_args a;
	args_owner(&a, "count", ino, client, owner, owner_len);
	return run(m, &a, NULL, count);
}

int meta_lock_release_owner(struct meta *m, const char *client, const void *owner, size_t owner_len)
{
	int rc = check_owner(client, owner, owner_len);
	if (rc < 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	meta_args_str(&a, "rel_owner");
	meta_args_str(&a, client);
	meta_args_bin(&a, owner_len ? owner : "", owner_len);
	uint32_t n;
	return run(m, &a, NULL, &n);
}

int meta_lock_release_client(struct meta *m, const char *client)
{
	int rc = check_client(client);
	if (rc < 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	meta_args_str(&a, "rel_client");
	meta_args_str(&a, client);
	uint32_t n;
	return run(m, &a, NULL, &n);
}

int meta_lock_release_expired(struct meta *m, const char *client, int *released)
{
	int rc = check_client(client);
	if (rc < 0)
		return rc;
	struct meta_args a;
	meta_args_init(&a);
	meta_args_str(&a, "rel_expired");
	meta_args_str(&a, client);
	uint32_t n = 0;
	rc = run(m, &a, NULL, &n);
	*released = rc == 0 && n != UINT32_MAX;
	return rc;
}

static int share_op(struct meta *m, const char *op, gfs_ino_t ino, const char *client, const void *owner,
		    size_t owner_len, uint32_t access, uint32_t deny, uint32_t lease_ms)
{
	int rc = check_owner(client, owner, owner_len);
	if (rc < 0 || (access & ~(uint32_t)GFS_SHARE_BOTH) || (deny & ~(uint32_t)GFS_SHARE_BOTH))
		return -EINVAL;
	struct meta_args a;
	args_owner(&a, op, ino, client, owner, owner_len);
	meta_args_u64(&a, access);
	meta_args_u64(&a, deny);
	if (lease_ms)
		meta_args_u64(&a, lease_ms);
	return run(m, &a, NULL, NULL);
}

int meta_share_acquire(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		       uint32_t access, uint32_t deny, uint32_t lease_ms)
{
	if (access == 0 || lease_ms == 0)
		return -EINVAL;
	return share_op(m, "share", ino, client, owner, owner_len, access, deny, lease_ms);
}

int meta_share_set(struct meta *m, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		   uint32_t access, uint32_t deny)
{
	return share_op(m, "unshare", ino, client, owner, owner_len, access, deny, 0);
}

int meta_lease_renew(struct meta *m, const char *client, uint32_t lease_ms)
{
	int rc = check_client(client);
	if (rc < 0 || lease_ms == 0)
		return -EINVAL;
	struct meta_args a;
	meta_args_init(&a);
	meta_args_str(&a, "renew");
	meta_args_str(&a, client);
	meta_args_u64(&a, lease_ms);
	return run(m, &a, NULL, NULL);
}
