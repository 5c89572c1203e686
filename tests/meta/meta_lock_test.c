/*
 * meta_lock_test.c - byte-range locks and leases (meta_lock_*) against a
 * real redis-server, through two engine handles on one Redis as two
 * gateways of a volume: conflicts between them, read sharing, merging and
 * splitting, upgrades, expired leases (on Redis's clock, whatever the
 * gateways' clocks say), release of an owner and a client, share
 * reservations in the same table,
 * 64-bit range edges, random operations checked against a model, and the
 * release announcements another gateway's watch receives (pub/sub).
 */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "meta_fixture.h"

static struct fixture F;
static struct meta *G2; /* the second gateway */

#define LEASE 60000
#define EOFL GFS_LOCK_EOF

/* Locks are taken on files that exist (a lock on a removed file is
 * ESTALE): the tests use inodes 2..16, made here. */
static void up(void)
{
	REQUIRE(fixture_up(&F) == 0);
	char err[512];
	REQUIRE_EQ(meta_open(F.redis.url, &G2, err, sizeof(err)), 0);
	for (int i = 2; i <= 16; i++) {
		char name[16];
		struct gfs_attr a;
		struct gfs_wcc w;
		snprintf(name, sizeof(name), "f%d", i);
		REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
		REQUIRE_EQ(a.ino, (uint64_t)i);
	}
}

static void down(void)
{
	meta_close(G2);
	G2 = NULL;
	fixture_down(&F);
}

static int set(struct meta *m, const char *client, const char *owner, enum gfs_lock_type t, uint64_t s, uint64_t l)
{
	return meta_lock_set(m, 7, client, owner, strlen(owner), t, s, l, LEASE, NULL);
}

static uint32_t count(const char *client, const char *owner)
{
	uint32_t n = 999;
	CHECK_EQ(meta_lock_count(F.m, 7, client, owner, strlen(owner), &n), 0);
	return n;
}

TEST(conflicts_between_gateways)
{
	up();
	struct gfs_lock_conflict c;
	CHECK_EQ(set(F.m, "ca", "o1", GFS_LOCK_WRITE, 100, 50), 0);
	/* another client through the other gateway: write and read conflict */
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o1", 2, GFS_LOCK_WRITE, 120, 10, LEASE, &c), -EAGAIN);
	CHECK_STR(c.client, "ca");
	CHECK_EQ(c.owner_len, 2);
	CHECK(memcmp(c.owner, "o1", 2) == 0);
	CHECK_EQ(c.type, GFS_LOCK_WRITE);
	CHECK_EQ(c.start, 100);
	CHECK_EQ(c.len, 50);
	CHECK_EQ(set(G2, "cb", "o1", GFS_LOCK_READ, 149, 1), -EAGAIN);
	/* outside the range, and another inode, are free */
	CHECK_EQ(set(G2, "cb", "o1", GFS_LOCK_WRITE, 150, 10), 0);
	CHECK_EQ(set(G2, "cb", "o1", GFS_LOCK_WRITE, 0, 100), 0);
	CHECK_EQ(meta_lock_set(G2, 8, "cb", "o1", 2, GFS_LOCK_WRITE, 0, EOFL, LEASE, NULL), 0);
	/* another owner of the same client conflicts too */
	CHECK_EQ(set(F.m, "ca", "o2", GFS_LOCK_READ, 100, 1), -EAGAIN);
	/* test reports without granting */
	CHECK_EQ(meta_lock_test(G2, 7, "cb", "o9", 2, GFS_LOCK_READ, 0, EOFL, &c), -EAGAIN);
	CHECK_EQ(meta_lock_test(G2, 7, "cb", "o1", 2, GFS_LOCK_WRITE, 0, 100, &c), 0);
	CHECK_EQ(meta_lock_test(G2, 7, "cc", "o1", 2, GFS_LOCK_WRITE, 160, EOFL, &c), 0);
	CHECK_EQ(count("cc", "o1"), 0);
	/* unlock lets the other in */
	CHECK_EQ(meta_lock_unlock(F.m, 7, "ca", "o1", 2, 0, EOFL), 0);
	CHECK_EQ(set(G2, "cb", "o1", GFS_LOCK_WRITE, 100, 50), 0);
	CHECK_EQ(count("cb", "o1"), 1); /* [0,100) [100,150) [150,160) merged */
	down();
}

TEST(read_sharing_and_upgrade)
{
	up();
	struct gfs_lock_conflict c;
	CHECK_EQ(set(F.m, "ca", "r", GFS_LOCK_READ, 0, EOFL), 0);
	CHECK_EQ(set(G2, "cb", "r", GFS_LOCK_READ, 10, 10), 0);
	CHECK_EQ(set(G2, "cb", "r2", GFS_LOCK_READ, 0, 1), 0);
	/* the upgrade is blocked by the other reader, and changes nothing */
	CHECK_EQ(meta_lock_set(F.m, 7, "ca", "r", 1, GFS_LOCK_WRITE, 0, 100, LEASE, &c), -EAGAIN);
	CHECK_STR(c.client, "cb");
	CHECK_EQ(c.type, GFS_LOCK_READ);
	CHECK_EQ(count("ca", "r"), 1);
	CHECK_EQ(set(G2, "cb", "w", GFS_LOCK_WRITE, 1000, 1), -EAGAIN);
	/* upgrade where no one else reads: splits the read lock in place */
	CHECK_EQ(set(F.m, "ca", "r", GFS_LOCK_WRITE, 100, 100), 0);
	CHECK_EQ(count("ca", "r"), 3);
	CHECK_EQ(set(G2, "cb", "x", GFS_LOCK_READ, 150, 1), -EAGAIN);
	CHECK_EQ(set(G2, "cb", "x", GFS_LOCK_READ, 200, 1), 0);
	/* downgrade in place merges back into one read range */
	CHECK_EQ(set(F.m, "ca", "r", GFS_LOCK_READ, 100, 100), 0);
	CHECK_EQ(count("ca", "r"), 1);
	CHECK_EQ(set(G2, "cb", "x", GFS_LOCK_READ, 150, 1), 0);
	down();
}

TEST(merge_split_unlock)
{
	up();
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, 0, 10), 0);
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, 20, 10), 0);
	CHECK_EQ(count("ca", "o"), 2);
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, 10, 10), 0); /* touches both: one range */
	CHECK_EQ(count("ca", "o"), 1);
	CHECK_EQ(meta_lock_unlock(G2, 7, "ca", "o", 1, 5, 5), 0); /* through the other gateway */
	CHECK_EQ(count("ca", "o"), 2);
	CHECK_EQ(set(G2, "cb", "o", GFS_LOCK_WRITE, 5, 5), 0);
	CHECK_EQ(set(G2, "cb", "o", GFS_LOCK_WRITE, 4, 1), -EAGAIN);
	CHECK_EQ(meta_lock_unlock(F.m, 7, "ca", "o", 1, 0, EOFL), 0);
	CHECK_EQ(count("ca", "o"), 0);
	/* unlocking what is not held is fine */
	CHECK_EQ(meta_lock_unlock(F.m, 7, "ca", "o", 1, 0, 10), 0);
	/* to-EOF ranges split and merge like any other */
	CHECK_EQ(set(F.m, "ca", "e", GFS_LOCK_READ, 1000, EOFL), 0);
	CHECK_EQ(meta_lock_unlock(F.m, 7, "ca", "e", 1, 2000, 1), 0);
	CHECK_EQ(count("ca", "e"), 2);
	CHECK_EQ(set(G2, "cb", "w", GFS_LOCK_WRITE, 2000, 1), 0);
	CHECK_EQ(set(G2, "cb", "w", GFS_LOCK_WRITE, 2001, 1), -EAGAIN);
	CHECK_EQ(set(G2, "cb", "w", GFS_LOCK_WRITE, UINT64_MAX - 1, 1), -EAGAIN);
	down();
}

TEST(range_edges)
{
	up();
	struct gfs_lock_conflict c;
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, 0, 0), -EINVAL);
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, 2, UINT64_MAX - 1), -EINVAL); /* 2 + len = 2^64 */
	/* offset + length = 2^64 - 1 does not exceed NFS4_UINT64_MAX (RFC 8881 18.10.4) */
	CHECK_EQ(set(F.m, "ca", "q", GFS_LOCK_WRITE, 1, UINT64_MAX - 1), 0);
	CHECK_EQ(meta_lock_unlock(F.m, 7, "ca", "q", 1, 0, EOFL), 0);
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, UINT64_MAX, 1), -EINVAL);
	CHECK_EQ(meta_lock_unlock(F.m, 7, "ca", "o", 1, 10, UINT64_MAX - 5), -EINVAL);
	CHECK_EQ(meta_lock_test(F.m, 7, "ca", "o", 1, GFS_LOCK_READ, 5, 0, &c), -EINVAL);
	/* the last byte below 2^64 - 1, and a lock at 2^64 - 1 to EOF */
	CHECK_EQ(set(F.m, "ca", "o", GFS_LOCK_WRITE, UINT64_MAX - 2, 1), 0);
	CHECK_EQ(set(F.m, "ca", "p", GFS_LOCK_WRITE, UINT64_MAX, EOFL), 0);
	CHECK_EQ(
	    meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_READ, 1ULL << 63, UINT64_MAX - 2 - (1ULL << 63), LEASE, &c), 0);
	CHECK_EQ(
	    meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_READ, 1ULL << 62, UINT64_MAX - 1 - (1ULL << 62), LEASE, &c),
	    -EAGAIN);
	CHECK_EQ(c.start, UINT64_MAX - 2);
	CHECK_EQ(c.len, 1);
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_READ, UINT64_MAX - 1, 1, LEASE, &c), 0);
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_READ, UINT64_MAX - 1, 2, LEASE, &c), -EINVAL);
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_READ, UINT64_MAX - 1, EOFL, LEASE, &c), -EAGAIN);
	CHECK_EQ(c.start, UINT64_MAX);
	CHECK_EQ(c.len, EOFL);
	/* bad clients and owners */
	CHECK_EQ(meta_lock_set(F.m, 7, "", "o", 1, GFS_LOCK_READ, 0, 1, LEASE, NULL), -EINVAL);
	CHECK_EQ(meta_lock_set(F.m, 7, "a/b", "o", 1, GFS_LOCK_READ, 0, 1, LEASE, NULL), -EINVAL);
	CHECK_EQ(meta_lock_set(F.m, 7, "ca", "o", GFS_LOCK_OWNER_MAX + 1, GFS_LOCK_READ, 0, 1, LEASE, NULL), -EINVAL);
	CHECK_EQ(meta_lock_set(F.m, 7, "ca", "o", 1, (enum gfs_lock_type)3, 0, 1, LEASE, NULL), -EINVAL);
	/* owner bytes are binary, slashes and zeros included */
	CHECK_EQ(meta_lock_set(F.m, 9, "ca", "a/\0b", 4, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(G2, 9, "cb", "x", 1, GFS_LOCK_WRITE, 0, 1, LEASE, &c), -EAGAIN);
	CHECK_EQ(c.owner_len, 4);
	CHECK(memcmp(c.owner, "a/\0b", 4) == 0);
	down();
}

TEST(leases_and_release)
{
	up();
	struct gfs_lock_conflict c;
	/* a short lease that runs out frees the lock to the other gateway's client */
	REQUIRE_EQ(meta_lock_set(F.m, 7, "ca", "o", 1, GFS_LOCK_WRITE, 0, EOFL, 700, NULL), 0);
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, &c), -EAGAIN);
	/* renewing keeps it */
	usleep(400 * 1000);
	CHECK_EQ(meta_lease_renew(F.m, "ca", 700), 0);
	usleep(400 * 1000);
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, &c), -EAGAIN);
	usleep(500 * 1000);
	CHECK_EQ(meta_lock_set(G2, 7, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, &c), 0);
	CHECK_EQ(count("ca", "o"), 0); /* deleted by the grant that found it expired */
	/* a client whose lease ran out but comes back before anyone wanted its
	 * locks keeps them all (its own grant does not drop them) */
	REQUIRE_EQ(meta_lock_set(F.m, 13, "ce", "o", 1, GFS_LOCK_WRITE, 0, 10, 300, NULL), 0);
	usleep(500 * 1000);
	CHECK_EQ(meta_lock_set(F.m, 13, "ce", "o", 1, GFS_LOCK_WRITE, 100, 10, LEASE, NULL), 0);
	uint32_t n = 0;
	CHECK_EQ(meta_lock_count(F.m, 13, "ce", "o", 1, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(meta_lock_set(G2, 13, "cb", "o", 1, GFS_LOCK_READ, 5, 1, LEASE, &c), -EAGAIN);
	/* release of one owner, and of a whole client, on several inodes */
	CHECK_EQ(meta_lock_set(F.m, 10, "cc", "o1", 2, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(F.m, 11, "cc", "o1", 2, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(F.m, 11, "cc", "o2", 2, GFS_LOCK_WRITE, 5, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(F.m, 12, "cc", "o2", 2, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_release_owner(G2, "cc", "o1", 2), 0);
	CHECK_EQ(meta_lock_set(G2, 10, "cd", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(G2, 11, "cd", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(G2, 11, "cd", "o", 1, GFS_LOCK_WRITE, 5, 1, LEASE, NULL), -EAGAIN);
	CHECK_EQ(meta_lock_release_client(G2, "cc"), 0);
	CHECK_EQ(meta_lock_set(G2, 11, "cd", "o", 1, GFS_LOCK_WRITE, 5, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(G2, 12, "cd", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	/* nothing of cc is left in Redis */
	CHECK_EQ(tl_redis_cmd(&F.redis, "EXISTS 'gatefs{gfs}:lockinos:cc'"), 0);
	/* release of an expired client: nothing while its lease lives */
	int released = 9;
	REQUIRE_EQ(meta_lock_set(F.m, 14, "cf", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	REQUIRE_EQ(meta_lock_set(F.m, 15, "cg", "o", 1, GFS_LOCK_WRITE, 0, 1, 300, NULL), 0);
	CHECK_EQ(meta_lock_release_expired(G2, "cf", &released), 0);
	CHECK_EQ(released, 0);
	CHECK_EQ(meta_lock_set(G2, 14, "cd", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), -EAGAIN);
	usleep(500 * 1000);
	CHECK_EQ(meta_lock_release_expired(G2, "cg", &released), 0);
	CHECK_EQ(released, 1);
	uint32_t left = 9;
	CHECK_EQ(meta_lock_count(F.m, 15, "cg", "o", 1, &left), 0);
	CHECK_EQ(left, 0);
	down();
}

/* Leases run on Redis's clock: a gateway whose clock is an hour ahead
 * neither expires another's lease early nor keeps its own alive longer. */
TEST(leases_ignore_gateway_clocks)
{
	up();
	char err[512];
	struct meta *ahead;
	setenv("GATEFS_TEST_CLOCK_SKEW_SEC", "3600", 1);
	int rc = meta_open(F.redis.url, &ahead, err, sizeof(err));
	unsetenv("GATEFS_TEST_CLOCK_SKEW_SEC");
	REQUIRE_EQ(rc, 0);
	REQUIRE_EQ(meta_lock_set(F.m, 7, "ca", "o", 1, GFS_LOCK_WRITE, 0, 1, 800, NULL), 0);
	CHECK_EQ(meta_lock_set(ahead, 7, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), -EAGAIN);
	REQUIRE_EQ(meta_lock_set(ahead, 8, "cc", "o", 1, GFS_LOCK_WRITE, 0, 1, 800, NULL), 0);
	usleep(400 * 1000);
	CHECK_EQ(meta_lock_set(F.m, 8, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), -EAGAIN);
	usleep(600 * 1000);
	CHECK_EQ(meta_lock_set(F.m, 8, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(ahead, 7, "cb", "o", 1, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	meta_close(ahead);
	down();
}

static int share(struct meta *m, gfs_ino_t ino, const char *client, const char *owner, uint32_t access, uint32_t deny,
		 uint32_t lease)
{
	return meta_share_acquire(m, ino, client, owner, strlen(owner), access, deny, lease);
}

/* Share reservations: access against deny between owners (of two
 * gateways, or of one client), an owner's OPEN upgrading its own, a
 * downgrade and a close, owner bytes that are also a lock owner's (the
 * two namespaces never mix), expired leases, release of an owner and a
 * client, and a removed file. */
TEST(share_reservations)
{
	up();
	const uint32_t R = GFS_SHARE_READ, W = GFS_SHARE_WRITE, B = GFS_SHARE_BOTH;
	CHECK_EQ(share(F.m, 9, "ca", "o1", R, W, LEASE), 0);
	CHECK_EQ(share(G2, 9, "cb", "o1", W, 0, LEASE), -EACCES); /* write meets deny write */
	CHECK_EQ(share(G2, 9, "cb", "o1", R, R, LEASE), -EACCES); /* deny read meets ca's read */
	CHECK_EQ(share(G2, 9, "cb", "o1", R, 0, LEASE), 0);
	CHECK_EQ(share(F.m, 9, "ca", "o2", R, R, LEASE), -EACCES); /* another owner of ca: the same */
	/* an owner upgrades its own: ca/o1 adds write, which cb's deny-nothing
	 * allows, and ORs the bits: deny write stays */
	CHECK_EQ(share(F.m, 9, "ca", "o1", W, 0, LEASE), 0);
	CHECK_EQ(share(G2, 9, "cc", "o1", W, 0, LEASE), -EACCES);
	/* a downgrade to read/none lets cc write; a close of everything lets a
	 * deny-both in */
	CHECK_EQ(meta_share_set(F.m, 9, "ca", "o1", 2, R, 0), 0);
	CHECK_EQ(share(G2, 9, "cc", "o1", W, 0, LEASE), 0);
	CHECK_EQ(share(G2, 9, "cd", "o1", R, B, LEASE), -EACCES);
	CHECK_EQ(meta_share_set(F.m, 9, "ca", "o1", 2, 0, 0), 0);
	CHECK_EQ(meta_share_set(G2, 9, "cb", "o1", 2, 0, 0), 0);
	CHECK_EQ(meta_share_set(G2, 9, "cc", "o1", 2, 0, 0), 0);
	CHECK_EQ(share(G2, 9, "cd", "o1", R, B, LEASE), 0);
	/* locks and reservations do not meet: cd's deny-both stops no lock,
	 * and a lock owner "o1" of cd is not its open owner "o1" */
	CHECK_EQ(meta_lock_set(F.m, 9, "ce", "o1", 2, GFS_LOCK_WRITE, 0, EOFL, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(G2, 9, "cd", "o1", 2, GFS_LOCK_READ, 0, 1, LEASE, NULL), -EAGAIN);
	uint32_t n = 9;
	CHECK_EQ(meta_lock_count(F.m, 9, "cd", "o1", 2, &n), 0);
	CHECK_EQ(n, 0);
	/* releasing the owner drops its lock and its reservation; cd's index
	 * goes with its last entry */
	CHECK_EQ(meta_lock_set(F.m, 10, "cd", "o1", 2, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_release_owner(F.m, "cd", "o1", 2), 0);
	CHECK_EQ(share(G2, 9, "cf", "o1", R, 0, LEASE), 0);
	CHECK_EQ(meta_lock_set(G2, 10, "cf", "o1", 2, GFS_LOCK_WRITE, 0, 1, LEASE, NULL), 0);
	CHECK_EQ(tl_redis_int(&F.redis, "EXISTS 'gatefs{gfs}:lockinos:cd'"), 0);
	/* release of a whole client */
	CHECK_EQ(share(F.m, 11, "cg", "o1", B, B, LEASE), 0);
	CHECK_EQ(share(F.m, 12, "cg", "o2", R, W, LEASE), 0);
	CHECK_EQ(share(G2, 11, "ch", "o", R, 0, LEASE), -EACCES);
	CHECK_EQ(meta_lock_release_client(G2, "cg"), 0);
	CHECK_EQ(share(G2, 11, "ch", "o", B, 0, LEASE), 0);
	CHECK_EQ(share(G2, 12, "ch", "o", B, 0, LEASE), 0);
	CHECK_EQ(tl_redis_int(&F.redis, "EXISTS 'gatefs{gfs}:lockinos:cg'"), 0);
	/* an expired client's reservation yields (and is deleted) */
	CHECK_EQ(share(F.m, 13, "ci", "o", R, B, 300), 0);
	CHECK_EQ(share(G2, 13, "cj", "o", R, 0, LEASE), -EACCES);
	usleep(500 * 1000);
	CHECK_EQ(share(G2, 13, "cj", "o", R, 0, LEASE), 0);
	CHECK_EQ(tl_redis_int(&F.redis, "HEXISTS 'gatefs{gfs}:lk13' ci:o"), 0);
	/* bad arguments, and a file that is gone */
	CHECK_EQ(share(F.m, 14, "ck", "o", 0, 0, LEASE), -EINVAL);
	CHECK_EQ(share(F.m, 14, "ck", "o", 4, 0, LEASE), -EINVAL);
	CHECK_EQ(share(F.m, 14, "ck", "o", R, 0, 0), -EINVAL);
	CHECK_EQ(share(F.m, 14, "c/k", "o", R, 0, LEASE), -EINVAL);
	CHECK_EQ(share(F.m, 999, "ck", "o", R, 0, LEASE), -ESTALE);
	CHECK_EQ(meta_fsck(F.m, NULL, NULL), 0);
	down();
}

/* The model: positions 0..39 are bytes, position 40 stands for every byte
 * from 40 to 2^64 - 1 (only to-EOF ranges reach it). */
#define NPOS 41
#define NOWN 4
static const char *const own_client[NOWN] = {"ca", "ca", "cb", "cc"};
static const char *const own_name[NOWN] = {"x", "y", "x", "x"};
static char model[NOWN][NPOS]; /* 0, 'r', 'w' */

static uint32_t runs(int o)
{
	uint32_t n = 0;
	for (int p = 0; p < NPOS; p++)
		if (model[o][p] && (p == 0 || model[o][p - 1] != model[o][p]))
			n++;
	return n;
}

/* 1 if P lk<ino> exists, 0 if not, -1 if redis-cli failed. */
static long long lock_key_exists(uint64_t ino)
{
	char args[96];
	snprintf(args, sizeof(args), "EXISTS 'gatefs{gfs}:lk%llu'", (unsigned long long)ino);
	return tl_redis_int(&F.redis, args);
}

/* A file's locks go with the file: its last unlink deletes P lk<INO>,
 * which would otherwise stay until every holder was released. */
TEST(locks_go_with_the_file)
{
	up();
	struct gfs_attr a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "locked", 0644, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	CHECK_EQ(meta_lock_set(F.m, a.ino, "ca", "o1", 2, GFS_LOCK_WRITE, 0, 10, LEASE, NULL), 0);
	CHECK_EQ(lock_key_exists(a.ino), 1);
	REQUIRE_EQ(meta_remove(F.m, &ROOT, F.root, "locked", &w), 0);
	CHECK_EQ(lock_key_exists(a.ino), 0);
	/* a LOCK that arrives after the removal takes nothing */
	CHECK_EQ(meta_lock_set(G2, a.ino, "cb", "o1", 2, GFS_LOCK_READ, 0, 10, LEASE, NULL), -ESTALE);
	CHECK_EQ(lock_key_exists(a.ino), 0);
	CHECK_EQ(meta_fsck(F.m, NULL, NULL), 0);
	/* fsck objects to a lock key of a missing file */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "HSET 'gatefs{gfs}:lk%llu' ca/o1 x", (unsigned long long)a.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	CHECK_EQ(meta_fsck(F.m, NULL, NULL), 1);
	snprintf(cmd, sizeof(cmd), "DEL 'gatefs{gfs}:lk%llu'", (unsigned long long)a.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	/* releasing the client afterwards is harmless */
	CHECK_EQ(meta_lock_release_client(F.m, "ca"), 0);
	down();
}

TEST(random_ops_against_model)
{
	up();
	uint64_t seed = (uint64_t)time(NULL);
	fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
	srand((unsigned)seed);
	memset(model, 0, sizeof(model));
	for (int i = 0; i < 3000; i++) {
		int o = rand() % NOWN, op = rand() % 4;
		struct meta *m = rand() % 2 ? F.m : G2;
		uint64_t s = (uint64_t)(rand() % 40), len;
		int eof = rand() % 8 == 0;
		if (eof)
			len = EOFL;
		else
			len = 1 + (uint64_t)(rand() % (int)(40 - s));
		int e = eof ? NPOS : (int)(s + len);
		char t = op == 0 ? 'r' : 'w';
		const char *cl = own_client[o], *ow = own_name[o];
		if (op <= 1 || op == 3) {
			int conflict_owner = -1;
			for (int q = 0; q < NOWN && conflict_owner < 0; q++)
				for (int p = (int)s; q != o && p < e; p++)
					if (model[q][p] && (t == 'w' || model[q][p] == 'w')) {
						conflict_owner = q;
						break;
					}
			struct gfs_lock_conflict c;
			enum gfs_lock_type ty = t == 'w' ? GFS_LOCK_WRITE : GFS_LOCK_READ;
			int rc = op == 3 ? meta_lock_test(m, 7, cl, ow, 1, ty, s, len, &c)
					 : meta_lock_set(m, 7, cl, ow, 1, ty, s, len, LEASE, &c);
			if (conflict_owner < 0) {
				REQUIRE_EQ(rc, 0);
				if (op != 3)
					for (int p = (int)s; p < e; p++)
						model[o][p] = t;
			} else {
				REQUIRE_EQ(rc, -EAGAIN);
				/* the reported lock is another owner's, conflicts, and overlaps */
				int q = -1;
				for (int k = 0; k < NOWN; k++)
					if (strcmp(c.client, own_client[k]) == 0 && c.owner_len == 1 &&
					    c.owner[0] == own_name[k][0])
						q = k;
				REQUIRE(q >= 0 && q != o);
				CHECK(c.type == GFS_LOCK_WRITE || t == 'w');
				int ce = c.len == EOFL ? NPOS : (int)(c.start + c.len);
				CHECK((int)c.start < e && s < (uint64_t)ce);
				for (int p = (int)c.start; p < ce && p < NPOS; p++)
					CHECK_EQ(model[q][p], c.type == GFS_LOCK_WRITE ? 'w' : 'r');
			}
		} else {
			REQUIRE_EQ(meta_lock_unlock(m, 7, cl, ow, 1, s, len), 0);
			for (int p = (int)s; p < e; p++)
				model[o][p] = 0;
		}
		/* every owner's ranges are the model's runs: merged and split exactly */
		for (int k = 0; k < NOWN; k++)
			REQUIRE_EQ(count(own_client[k], own_name[k]), runs(k));
	}
	down();
}

/* What a watch received: inodes, in order (0: (re)connected). */
static struct {
	pthread_mutex_t mu;
	gfs_ino_t seen[64];
	int n;
} W = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static void watched(void *arg, gfs_ino_t ino)
{
	(void)arg;
	pthread_mutex_lock(&W.mu);
	if (W.n < 64)
		W.seen[W.n++] = ino;
	pthread_mutex_unlock(&W.mu);
}

/* Whether ino was announced (and forgets that one announcement), waiting up to ms. */
static bool announced(gfs_ino_t ino, int ms)
{
	for (int waited = 0;; waited += 10) {
		bool hit = false;
		pthread_mutex_lock(&W.mu);
		for (int i = 0; i < W.n && !hit; i++) {
			if (W.seen[i] == ino) {
				hit = true;
				memmove(&W.seen[i], &W.seen[i + 1], (size_t)(W.n - i - 1) * sizeof(W.seen[0]));
				W.n--;
			}
		}
		pthread_mutex_unlock(&W.mu);
		if (hit || waited >= ms)
			return hit;
		usleep(10000);
	}
}

TEST(release_announcements)
{
	up();
	struct meta_lock_watch *w = NULL;
	REQUIRE_EQ(meta_lock_watch_start(G2, watched, NULL, &w), 0);
	REQUIRE(announced(0, 3000)); /* subscribed */
	/* a grant announces nothing; unlock of a held range does */
	CHECK_EQ(meta_lock_set(F.m, 9, "wa", "o", 1, GFS_LOCK_WRITE, 0, 10, LEASE, NULL), 0);
	CHECK(!announced(9, 200));
	CHECK_EQ(meta_lock_unlock(F.m, 9, "wa", "o", 1, 0, 5), 0);
	CHECK(announced(9, 2000));
	/* nothing held there: nothing to announce */
	CHECK_EQ(meta_lock_unlock(F.m, 9, "wa", "o", 1, 100, 5), 0);
	CHECK(!announced(9, 200));
	/* an owner's and a client's release announce each inode */
	CHECK_EQ(meta_lock_set(F.m, 10, "wb", "o", 1, GFS_LOCK_READ, 0, EOFL, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_release_owner(F.m, "wb", "o", 1), 0);
	CHECK(announced(10, 2000));
	CHECK_EQ(meta_lock_set(F.m, 11, "wc", "o", 1, GFS_LOCK_READ, 0, EOFL, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_set(F.m, 12, "wc", "p", 1, GFS_LOCK_READ, 0, EOFL, LEASE, NULL), 0);
	CHECK_EQ(meta_lock_release_client(F.m, "wc"), 0);
	CHECK(announced(11, 2000));
	CHECK(announced(12, 2000));
	/* an expired holder's lock, dropped by another client's test */
	CHECK_EQ(meta_lock_set(F.m, 13, "wd", "o", 1, GFS_LOCK_WRITE, 0, EOFL, 100, NULL), 0);
	usleep(300 * 1000);
	CHECK_EQ(meta_lock_test(F.m, 13, "we", "o", 1, GFS_LOCK_WRITE, 0, EOFL, NULL), 0);
	CHECK(announced(13, 2000));
	meta_lock_watch_stop(w);
	CHECK_EQ(meta_lock_release_owner(F.m, "wa", "o", 1), 0);
	down();
}

TEST_MAIN()
