/*
 * nfs3_multigw_test.c - two `gatefs serve` processes of one volume (one
 * redis-server, one file:// object store), each driven by its own libnfs
 * client: what client A changes through gateway A must be what client B
 * gets from gateway B on its very next call, with no sleep in between
 * (close-to-open across gateways, docs/architecture/meta-cache.md).  B
 * always reads the old value first, so that its gateway holds it in its
 * attribute, name and chunk-record caches when A changes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gateway.h"
#include "rawnfs.h"

struct pair {
	struct gateway ga, gb;
	struct rn_client a, b; /* a talks to ga only, b to gb only */
};

/* b_config: configuration lines for gateway B only (NULL: none). */
static int pair_start_with(struct pair *p, const char *b_config)
{
	memset(p, 0, sizeof(*p));
	if (gw_start(&p->ga, NULL) != 0)
		return -1;
	if (gw_start_peer(&p->gb, &p->ga, b_config) != 0) {
		gw_stop(&p->ga);
		return -1;
	}
	if (rn_connect(&p->a, p->ga.nfs_port, p->ga.mount_port, "/hf") != 0 ||
	    rn_connect(&p->b, p->gb.nfs_port, p->gb.mount_port, "/hf") != 0) {
		fprintf(stderr, "cannot mount /hf through both gateways\n");
		rn_close(&p->a);
		rn_close(&p->b);
		gw_stop(&p->gb);
		gw_stop(&p->ga);
		return -1;
	}
	return 0;
}

static int pair_start(struct pair *p)
{
	return pair_start_with(p, NULL);
}

/* 0 when both gateways stopped cleanly with no sanitizer report. */
static int pair_stop(struct pair *p)
{
	rn_close(&p->a);
	rn_close(&p->b);
	int rb = gw_stop(&p->gb); /* before ga: ga owns the redis-server */
	int ra = gw_stop(&p->ga);
	return ra == 0 && rb == 0 ? 0 : -1;
}

static void sha256(const void *buf, size_t len, unsigned char out[32])
{
	EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL);
}

static int same_time(nfstime3 x, nfstime3 y)
{
	return x.seconds == y.seconds && x.nseconds == y.nseconds;
}

/* The attributes both gateways must agree on (atime aside: reads move it
 * on either side). */
static int same_attr(const fattr3 *x, const fattr3 *y)
{
	return x->type == y->type && x->mode == y->mode && x->nlink == y->nlink && x->uid == y->uid &&
	       x->gid == y->gid && x->size == y->size && x->fileid == y->fileid && same_time(x->mtime, y->mtime) &&
	       same_time(x->ctime, y->ctime);
}

static void print_attr(const char *who, const fattr3 *x)
{
	fprintf(
	    stderr, "  %s: type %d mode %o nlink %u uid %u gid %u size %llu fileid %llu mtime %u.%09u ctime %u.%09u\n",
	    who, (int)x->type, x->mode, x->nlink, x->uid, x->gid, (unsigned long long)x->size,
	    (unsigned long long)x->fileid, x->mtime.seconds, x->mtime.nseconds, x->ctime.seconds, x->ctime.nseconds);
}

/* B's GETATTR of fh must equal A's (A's gateway made the change and
 * stored what its script returned; both must equal Redis). */
static int b_agrees_with_a(struct pair *p, const struct rn_fh *fh, const char *what)
{
	fattr3 fa, fb;
	if (rn_getattr(&p->a, fh, &fa) != NFS3_OK || rn_getattr(&p->b, fh, &fb) != NFS3_OK) {
		fprintf(stderr, "%s: GETATTR failed\n", what);
		return 0;
	}
	if (same_attr(&fa, &fb))
		return 1;
	fprintf(stderr, "%s: gateway B's GETATTR differs from gateway A's\n", what);
	print_attr("A", &fa);
	print_attr("B", &fb);
	return 0;
}

/* B reads the whole file and compares its SHA-256 with want. */
static int b_reads(struct pair *p, const struct rn_fh *fh, const void *want, size_t want_len, const char *what)
{
	char *got = NULL;
	size_t got_len = 0;
	if (rn_read_all(&p->b, fh, &got, &got_len) != NFS3_OK) {
		fprintf(stderr, "%s: READ through B failed\n", what);
		return 0;
	}
	unsigned char h1[32], h2[32];
	sha256(want, want_len, h1);
	sha256(got, got_len, h2);
	free(got);
	if (got_len == want_len && memcmp(h1, h2, 32) == 0)
		return 1;
	fprintf(stderr, "%s: B read %zu bytes, A wrote %zu (sha256 %s)\n", what, got_len, want_len,
		memcmp(h1, h2, 32) == 0 ? "equal" : "differs");
	return 0;
}

static sattr3 set_mode(uint32_t mode)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = mode;
	return s;
}

static sattr3 set_size(uint64_t size)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	s.size.set_size3_u.size = size;
	return s;
}

static sattr3 set_owner(uint32_t uid)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.uid.set_it = 1;
	s.uid.set_uid3_u.uid = uid;
	return s;
}

#define MIB (1u << 20)

TEST(write_commit_and_file_sync_through_a_are_read_through_b)
{
	struct pair p;
	REQUIRE(pair_start(&p) == 0);
	struct rn_fh fa, fb;
	fattr3 attr;
	REQUIRE_EQ(rn_create(&p.a, &p.a.root, "f", 0644, &fa), NFS3_OK);
	/* B holds the empty file: its name, its attributes, its (no) records */
	REQUIRE_EQ(rn_lookup(&p.b, &p.b.root, "f", &fb, &attr), NFS3_OK);
	CHECK(rn_fh_equal(&fa, &fb));
	CHECK_EQ(attr.size, 0);
	CHECK(b_reads(&p, &fb, "", 0, "empty file"));

	/* UNSTABLE + COMMIT through A */
	size_t len = 4 * MIB + 12345;
	char *data = malloc(len);
	REQUIRE(data != NULL);
	tl_fill_random(data, len, 1);
	CHECK_EQ(rn_write_all(&p.a, &fa, 0, data, len, UNSTABLE), NFS3_OK);
	CHECK_EQ(rn_commit(&p.a, &fa), NFS3_OK);
	REQUIRE_EQ(rn_getattr(&p.b, &fb, &attr), NFS3_OK);
	CHECK_EQ(attr.size, len);
	CHECK(b_agrees_with_a(&p, &fa, "after UNSTABLE+COMMIT"));
	CHECK(b_reads(&p, &fb, data, len, "after UNSTABLE+COMMIT"));

	/* FILE_SYNC overwrite in the middle, same size: only mtime/ctime and
	 * the chunk records change (B read them a moment ago) */
	fattr3 before;
	REQUIRE_EQ(rn_getattr(&p.b, &fb, &before), NFS3_OK);
	tl_fill_random(data + MIB + 100, MIB, 2);
	stable_how committed = UNSTABLE;
	CHECK_EQ(rn_write(&p.a, &fa, MIB + 100, data + MIB + 100, MIB, FILE_SYNC, &committed), NFS3_OK);
	CHECK_EQ(committed, FILE_SYNC);
	REQUIRE_EQ(rn_getattr(&p.b, &fb, &attr), NFS3_OK);
	CHECK_EQ(attr.size, len);
	CHECK(!same_time(attr.ctime, before.ctime) || !same_time(attr.mtime, before.mtime));
	CHECK(b_agrees_with_a(&p, &fa, "after a FILE_SYNC overwrite"));
	CHECK(b_reads(&p, &fb, data, len, "after a FILE_SYNC overwrite"));

	/* FILE_SYNC small overwrite inside one block B has cached */
	for (int i = 0; i < 20; i++) {
		uint64_t off = (uint64_t)i * 4099;
		tl_fill_random(data + off, 100, 100 + (uint64_t)i);
		CHECK_EQ(rn_write(&p.a, &fa, off, data + off, 100, FILE_SYNC, NULL), NFS3_OK);
		char back[100];
		uint32_t got = 0;
		int eof = 0;
		CHECK_EQ(rn_read(&p.b, &fb, off, back, 100, &got, &eof), NFS3_OK);
		CHECK(got == 100 && memcmp(back, data + off, 100) == 0);
	}

	/* FILE_SYNC append */
	char *grown = realloc(data, len + MIB);
	REQUIRE(grown != NULL);
	data = grown;
	tl_fill_random(data + len, MIB, 3);
	CHECK_EQ(rn_write(&p.a, &fa, len, data + len, MIB, FILE_SYNC, NULL), NFS3_OK);
	len += MIB;
	REQUIRE_EQ(rn_getattr(&p.b, &fb, &attr), NFS3_OK);
	CHECK_EQ(attr.size, len);
	CHECK(b_reads(&p, &fb, data, len, "after a FILE_SYNC append"));
	free(data);
	CHECK_EQ(pair_stop(&p), 0);
}

TEST(setattr_through_a_is_seen_by_getattr_and_access_through_b)
{
	struct pair p;
	REQUIRE(pair_start(&p) == 0);
	struct rn_fh f, d, inner;
	fattr3 attr, after;
	uint32_t granted = 0;
	const uint32_t user = 1000, group = 1000;
	REQUIRE_EQ(rn_create(&p.a, &p.a.root, "s", 0644, &f), NFS3_OK);
	char data[1000];
	tl_fill_random(data, sizeof(data), 7);
	CHECK_EQ(rn_write_all(&p.a, &f, 0, data, sizeof(data), FILE_SYNC), NFS3_OK);

	/* another user through B: read only */
	rn_set_cred(&p.b, user, group);
	CHECK_EQ(rn_access(&p.b, &f, ACCESS3_READ | ACCESS3_MODIFY, &granted), NFS3_OK);
	CHECK_EQ(granted, ACCESS3_READ);
	REQUIRE_EQ(rn_getattr(&p.b, &f, &attr), NFS3_OK);
	CHECK_EQ(attr.mode & 07777, 0644);

	sattr3 s = set_mode(0666);
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	CHECK_EQ(rn_access(&p.b, &f, ACCESS3_READ | ACCESS3_MODIFY, &granted), NFS3_OK);
	CHECK_EQ(granted, ACCESS3_READ | ACCESS3_MODIFY);
	REQUIRE_EQ(rn_getattr(&p.b, &f, &attr), NFS3_OK);
	CHECK_EQ(attr.mode & 07777, 0666);

	s = set_mode(0600);
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	CHECK_EQ(rn_access(&p.b, &f, ACCESS3_READ | ACCESS3_MODIFY, &granted), NFS3_OK);
	CHECK_EQ(granted, 0);
	uint32_t got = 0;
	int eof = 0;
	char back[2000];
	CHECK_EQ(rn_read(&p.b, &f, 0, back, sizeof(back), &got, &eof), NFS3ERR_ACCES);

	/* group read for the user's group, then the file becomes the user's */
	s = set_mode(0640);
	s.gid.set_it = 1;
	s.gid.set_gid3_u.gid = group;
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	CHECK_EQ(rn_access(&p.b, &f, ACCESS3_READ | ACCESS3_MODIFY, &granted), NFS3_OK);
	CHECK_EQ(granted, ACCESS3_READ);
	s = set_owner(user);
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	CHECK_EQ(rn_access(&p.b, &f, ACCESS3_READ | ACCESS3_MODIFY, &granted), NFS3_OK);
	CHECK_EQ(granted, ACCESS3_READ | ACCESS3_MODIFY);
	REQUIRE_EQ(rn_getattr(&p.b, &f, &attr), NFS3_OK);
	CHECK_EQ(attr.uid, user);
	CHECK_EQ(attr.gid, group);
	CHECK(b_agrees_with_a(&p, &f, "after chown"));

	/* times set by the client (touch -d) */
	memset(&s, 0, sizeof(s));
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	s.mtime.set_mtime_u.mtime = (nfstime3){1000000000u, 123456789u};
	s.atime.set_it = SET_TO_CLIENT_TIME;
	s.atime.set_atime_u.atime = (nfstime3){999999999u, 5u};
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	REQUIRE_EQ(rn_getattr(&p.b, &f, &attr), NFS3_OK);
	CHECK(same_time(attr.mtime, s.mtime.set_mtime_u.mtime));
	CHECK(same_time(attr.atime, s.atime.set_atime_u.atime));

	/* truncate, then extend: B reads the short file, then zeros */
	s = set_size(10);
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	REQUIRE_EQ(rn_getattr(&p.b, &f, &attr), NFS3_OK);
	CHECK_EQ(attr.size, 10);
	CHECK_EQ(rn_read(&p.b, &f, 0, back, sizeof(back), &got, &eof), NFS3_OK);
	CHECK(got == 10 && eof && memcmp(back, data, 10) == 0);
	s = set_size(1500);
	CHECK_EQ(rn_setattr(&p.a, &f, &s, &after), NFS3_OK);
	CHECK_EQ(rn_read(&p.b, &f, 0, back, sizeof(back), &got, &eof), NFS3_OK);
	char zeros[1490] = {0};
	CHECK(got == 1500 && memcmp(back, data, 10) == 0 && memcmp(back + 10, zeros, sizeof(zeros)) == 0);
	CHECK(b_agrees_with_a(&p, &f, "after truncate and extend"));

	/* a directory closed to others: B's next LOOKUP in it is refused
	 * (the search check is decided from cached attributes) */
	rn_set_cred(&p.b, 0, 0);
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "d", 0755, &d), NFS3_OK);
	REQUIRE_EQ(rn_create(&p.a, &d, "inner", 0644, &inner), NFS3_OK);
	rn_set_cred(&p.b, user, group);
	CHECK_EQ(rn_lookup(&p.b, &d, "inner", &f, NULL), NFS3_OK);
	CHECK_EQ(rn_access(&p.b, &d, ACCESS3_LOOKUP, &granted), NFS3_OK);
	CHECK_EQ(granted, ACCESS3_LOOKUP);
	s = set_mode(0700);
	CHECK_EQ(rn_setattr(&p.a, &d, &s, &after), NFS3_OK);
	CHECK_EQ(rn_lookup(&p.b, &d, "inner", &f, NULL), NFS3ERR_ACCES);
	CHECK_EQ(rn_access(&p.b, &d, ACCESS3_LOOKUP, &granted), NFS3_OK);
	CHECK_EQ(granted, 0);
	s = set_mode(0711);
	CHECK_EQ(rn_setattr(&p.a, &d, &s, &after), NFS3_OK);
	CHECK_EQ(rn_lookup(&p.b, &d, "inner", &f, NULL), NFS3_OK);
	CHECK(rn_fh_equal(&f, &inner));
	rn_set_cred(&p.b, 0, 0);
	CHECK_EQ(pair_stop(&p), 0);
}

/* The entry named name in a listing, or NULL. */
static const struct rn_entry *find_entry(const struct rn_entry *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

/* B's READDIRPLUS of dir must list exactly names (besides . and ..), each
 * with the handle and the attributes A's gateway gives for it. */
static int b_lists(struct pair *p, const struct rn_fh *dir, const char *const *names, size_t count, const char *what)
{
	struct rn_entry *v = NULL;
	size_t n = 0;
	int ok = 1;
	if (rn_readdirplus(&p->b, dir, &v, &n) != NFS3_OK) {
		fprintf(stderr, "%s: READDIRPLUS through B failed\n", what);
		return 0;
	}
	size_t real = 0;
	for (size_t i = 0; i < n; i++)
		real += strcmp(v[i].name, ".") && strcmp(v[i].name, "..");
	if (real != count) {
		fprintf(stderr, "%s: B lists %zu names, expected %zu:", what, real, count);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %s", v[i].name);
		fprintf(stderr, "\n");
		ok = 0;
	}
	for (size_t i = 0; i < count; i++) {
		const struct rn_entry *e = find_entry(v, n, names[i]);
		struct rn_fh fh;
		fattr3 attr;
		if (!e) {
			fprintf(stderr, "%s: B does not list %s\n", what, names[i]);
			ok = 0;
			continue;
		}
		if (rn_lookup(&p->a, dir, names[i], &fh, NULL) != NFS3_OK || rn_getattr(&p->a, &fh, &attr) != NFS3_OK) {
			fprintf(stderr, "%s: A cannot look %s up\n", what, names[i]);
			ok = 0;
			continue;
		}
		if (!e->has_fh || !rn_fh_equal(&e->fh, &fh) || e->fileid != attr.fileid) {
			fprintf(stderr, "%s: B lists %s with another handle or fileid\n", what, names[i]);
			ok = 0;
		}
		if (!e->has_attr || !same_attr(&e->attr, &attr)) {
			fprintf(stderr, "%s: B lists %s with other attributes\n", what, names[i]);
			print_attr("A", &attr);
			print_attr("B", &e->attr);
			ok = 0;
		}
	}
	free(v);
	return ok;
}

/* LOOKUP through B must give want (and B's attributes must be A's). */
static int b_finds(struct pair *p, const struct rn_fh *dir, const char *name, const struct rn_fh *want)
{
	struct rn_fh fh;
	fattr3 attr;
	int rc = rn_lookup(&p->b, dir, name, &fh, &attr);
	if (rc != NFS3_OK) {
		fprintf(stderr, "B LOOKUP %s: status %d, expected the name to exist\n", name, rc);
		return 0;
	}
	if (!rn_fh_equal(&fh, want)) {
		fprintf(stderr, "B LOOKUP %s: another file handle than A's\n", name);
		return 0;
	}
	fattr3 fa;
	if (rn_getattr(&p->a, want, &fa) != NFS3_OK || !same_attr(&fa, &attr)) {
		fprintf(stderr, "B LOOKUP %s: other attributes than A's\n", name);
		print_attr("A", &fa);
		print_attr("B", &attr);
		return 0;
	}
	return 1;
}

static int b_misses(struct pair *p, const struct rn_fh *dir, const char *name)
{
	struct rn_fh fh;
	int rc = rn_lookup(&p->b, dir, name, &fh, NULL);
	if (rc == NFS3ERR_NOENT)
		return 1;
	fprintf(stderr, "B LOOKUP %s: status %d, expected NFS3ERR_NOENT\n", name, rc);
	return 0;
}

TEST(create_remove_rename_through_a_are_seen_by_lookup_and_readdirplus_through_b)
{
	struct pair p;
	REQUIRE(pair_start(&p) == 0);
	struct rn_fh n, x, y, z, n2, fh;
	fattr3 attr;
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "n", 0755, &n), NFS3_OK);
	CHECK(b_finds(&p, &p.b.root, "n", &n));
	CHECK(b_lists(&p, &n, NULL, 0, "empty directory"));

	/* create */
	CHECK(b_misses(&p, &n, "x"));
	REQUIRE_EQ(rn_create(&p.a, &n, "x", 0644, &x), NFS3_OK);
	CHECK(b_finds(&p, &n, "x", &x));
	CHECK(b_agrees_with_a(&p, &n, "directory after create"));
	const char *only_x[] = {"x"};
	CHECK(b_lists(&p, &n, only_x, 1, "after create"));

	/* remove: B held the name and the inode */
	CHECK_EQ(rn_remove(&p.a, &n, "x"), NFS3_OK);
	CHECK(b_misses(&p, &n, "x"));
	CHECK_EQ(rn_getattr(&p.b, &x, &attr), NFS3ERR_STALE);
	CHECK(b_lists(&p, &n, NULL, 0, "after remove"));
	CHECK(b_agrees_with_a(&p, &n, "directory after remove"));

	/* rename to a new name */
	REQUIRE_EQ(rn_create(&p.a, &n, "y", 0644, &y), NFS3_OK);
	REQUIRE_EQ(rn_create(&p.a, &n, "z", 0600, &z), NFS3_OK);
	CHECK_EQ(rn_write_all(&p.a, &z, 0, "zz", 2, FILE_SYNC), NFS3_OK);
	CHECK(b_finds(&p, &n, "y", &y));
	CHECK(b_finds(&p, &n, "z", &z));
	CHECK_EQ(rn_rename(&p.a, &n, "y", &n, "w"), NFS3_OK);
	CHECK(b_misses(&p, &n, "y"));
	CHECK(b_finds(&p, &n, "w", &y));
	const char *w_z[] = {"w", "z"};
	CHECK(b_lists(&p, &n, w_z, 2, "after rename"));

	/* rename over an existing file: w now names z's inode, y's is gone */
	CHECK(b_finds(&p, &n, "w", &y));
	CHECK_EQ(rn_rename(&p.a, &n, "z", &n, "w"), NFS3_OK);
	CHECK(b_finds(&p, &n, "w", &z));
	CHECK(b_misses(&p, &n, "z"));
	CHECK_EQ(rn_getattr(&p.b, &y, &attr), NFS3ERR_STALE);
	REQUIRE_EQ(rn_lookup(&p.b, &n, "w", &fh, &attr), NFS3_OK);
	CHECK_EQ(attr.size, 2);
	CHECK_EQ(attr.mode & 07777, 0600);
	CHECK(b_reads(&p, &fh, "zz", 2, "file renamed over another"));
	const char *only_w[] = {"w"};
	CHECK(b_lists(&p, &n, only_w, 1, "after rename over"));

	/* rename across directories, then of the directory itself */
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "n2", 0755, &n2), NFS3_OK);
	CHECK(b_finds(&p, &p.b.root, "n2", &n2));
	CHECK(b_lists(&p, &n2, NULL, 0, "second directory"));
	CHECK_EQ(rn_rename(&p.a, &n, "w", &n2, "moved"), NFS3_OK);
	CHECK(b_misses(&p, &n, "w"));
	CHECK(b_finds(&p, &n2, "moved", &z));
	CHECK(b_lists(&p, &n, NULL, 0, "source after a move"));
	const char *only_moved[] = {"moved"};
	CHECK(b_lists(&p, &n2, only_moved, 1, "target after a move"));
	CHECK(b_agrees_with_a(&p, &n, "source directory after a move"));
	CHECK(b_agrees_with_a(&p, &n2, "target directory after a move"));
	CHECK_EQ(rn_rename(&p.a, &p.a.root, "n2", &p.a.root, "n3"), NFS3_OK);
	CHECK(b_misses(&p, &p.b.root, "n2"));
	CHECK(b_finds(&p, &p.b.root, "n3", &n2));
	CHECK(b_finds(&p, &n2, "moved", &z));

	/* a hard link: B sees the new name and nlink */
	CHECK_EQ(rn_link(&p.a, &z, &n, "hard"), NFS3_OK);
	CHECK(b_finds(&p, &n, "hard", &z));
	REQUIRE_EQ(rn_getattr(&p.b, &z, &attr), NFS3_OK);
	CHECK_EQ(attr.nlink, 2);
	CHECK_EQ(rn_remove(&p.a, &n2, "moved"), NFS3_OK);
	REQUIRE_EQ(rn_getattr(&p.b, &z, &attr), NFS3_OK);
	CHECK_EQ(attr.nlink, 1);
	CHECK(b_misses(&p, &n2, "moved"));

	/* a directory removed and made again under the same name */
	CHECK_EQ(rn_remove(&p.a, &n, "hard"), NFS3_OK);
	CHECK(b_finds(&p, &p.b.root, "n", &n));
	CHECK_EQ(rn_rmdir(&p.a, &p.a.root, "n"), NFS3_OK);
	struct rn_fh again;
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "n", 0700, &again), NFS3_OK);
	CHECK(!rn_fh_equal(&again, &n));
	CHECK(b_finds(&p, &p.b.root, "n", &again));
	CHECK_EQ(rn_getattr(&p.b, &n, &attr), NFS3ERR_STALE);
	const char *root_names[] = {"n", "n3"};
	CHECK(b_lists(&p, &p.b.root, root_names, 2, "root"));
	CHECK_EQ(pair_stop(&p), 0);
}

/* Resolves path (relative, '/'-separated, with "..") from dir through B,
 * LOOKUP by LOOKUP, as a client resolving a symlink does. */
static int b_resolve(struct pair *p, const struct rn_fh *dir, const char *path, struct rn_fh *out)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", path);
	struct rn_fh cur = *dir;
	for (char *save = NULL, *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		struct rn_fh next;
		int rc = rn_lookup(&p->b, &cur, part, &next, NULL);
		if (rc != NFS3_OK) {
			fprintf(stderr, "B resolving %s: LOOKUP %s: status %d\n", path, part, rc);
			return rc;
		}
		cur = next;
	}
	*out = cur;
	return NFS3_OK;
}

/* The Hugging Face cache layout as huggingface_hub writes it: the blob is
 * downloaded to blobs/<name>.incomplete, renamed to blobs/<name>, and
 * snapshots/<rev>/<file> is a relative symlink to it; a new revision
 * repoints the symlink (a new link renamed over the old one). */
TEST(hf_cache_pattern_written_through_a_is_resolved_and_read_through_b)
{
	struct pair p;
	REQUIRE(pair_start(&p) == 0);
	struct rn_fh blobs, snaps, rev, inc, link, fh, resolved;
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "blobs", 0755, &blobs), NFS3_OK);
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "snapshots", 0755, &snaps), NFS3_OK);
	REQUIRE_EQ(rn_mkdir(&p.a, &snaps, "r", 0755, &rev), NFS3_OK);
	const char *blob_names[2] = {"x", "y"};
	size_t len = 3 * MIB + 777;
	char *data = malloc(len);
	REQUIRE(data != NULL);
	for (int round = 0; round < 2; round++) {
		const char *blob = blob_names[round];
		char incomplete[64], target[64];
		snprintf(incomplete, sizeof(incomplete), "%s.incomplete", blob);
		snprintf(target, sizeof(target), "../../blobs/%s", blob);
		tl_fill_random(data, len, 50 + (uint64_t)round);

		/* B looks first: nothing yet, then the partial download */
		CHECK(b_misses(&p, &blobs, blob));
		REQUIRE_EQ(rn_create(&p.a, &blobs, incomplete, 0644, &inc), NFS3_OK);
		CHECK_EQ(rn_write_all(&p.a, &inc, 0, data, len / 2, UNSTABLE), NFS3_OK);
		CHECK_EQ(rn_commit(&p.a, &inc), NFS3_OK);
		CHECK(b_finds(&p, &blobs, incomplete, &inc));
		CHECK(b_reads(&p, &inc, data, len / 2, "half-downloaded blob"));
		CHECK_EQ(rn_write_all(&p.a, &inc, len / 2, data + len / 2, len - len / 2, UNSTABLE), NFS3_OK);
		CHECK_EQ(rn_commit(&p.a, &inc), NFS3_OK);
		CHECK_EQ(rn_rename(&p.a, &blobs, incomplete, &blobs, blob), NFS3_OK);
		if (round == 0) {
			CHECK_EQ(rn_symlink(&p.a, &rev, "f", target, &link), NFS3_OK);
		} else {
			CHECK_EQ(rn_symlink(&p.a, &rev, "f.tmp", target, &link), NFS3_OK);
			CHECK_EQ(rn_rename(&p.a, &rev, "f.tmp", &rev, "f"), NFS3_OK);
		}

		/* B: snapshots/r/f -> READLINK -> LOOKUP .. .. blobs x -> READ */
		CHECK(b_misses(&p, &blobs, incomplete));
		REQUIRE_EQ(b_resolve(&p, &p.b.root, "snapshots/r/f", &fh), NFS3_OK);
		CHECK(rn_fh_equal(&fh, &link));
		char got[256];
		REQUIRE_EQ(rn_readlink(&p.b, &fh, got, sizeof(got)), NFS3_OK);
		CHECK_STR(got, target);
		REQUIRE_EQ(b_resolve(&p, &rev, got, &resolved), NFS3_OK);
		CHECK(rn_fh_equal(&resolved, &inc));
		CHECK(b_reads(&p, &resolved, data, len, "blob through the snapshot symlink"));
		const char *rev_names[] = {"f"};
		CHECK(b_lists(&p, &rev, rev_names, 1, "snapshot directory"));
	}
	const char *both[] = {"x", "y"};
	CHECK(b_lists(&p, &blobs, both, 2, "blobs"));
	free(data);
	CHECK_EQ(pair_stop(&p), 0);
}

#define MANY 2000

/* B holds MANY files (names and attributes); A changes every one, then
 * renames every one; B must see each change. */
static void many_files(const char *b_config)
{
	struct pair p;
	REQUIRE(pair_start_with(&p, b_config) == 0);
	static struct rn_fh fh[MANY];
	struct rn_fh dir, got;
	fattr3 attr;
	char name[32];
	int stale_modes = 0, stale_names = 0, errors = 0;
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "many", 0755, &dir), NFS3_OK);
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		errors += rn_create(&p.a, &dir, name, 0644, &fh[i]) != NFS3_OK;
	}
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		errors += rn_lookup(&p.b, &dir, name, &got, &attr) != NFS3_OK || !rn_fh_equal(&got, &fh[i]);
	}
	sattr3 s = set_mode(0600);
	for (int i = 0; i < MANY; i++)
		errors += rn_setattr(&p.a, &fh[i], &s, NULL) != NFS3_OK;
	for (int i = 0; i < MANY; i++) {
		if (rn_getattr(&p.b, &fh[i], &attr) != NFS3_OK)
			errors++;
		else if ((attr.mode & 07777) != 0600 && stale_modes++ < 10)
			fprintf(stderr, "B GETATTR m%d: mode %o after A's chmod to 600\n", i, attr.mode & 07777);
	}
	for (int i = 0; i < MANY; i++) {
		char to[32];
		snprintf(name, sizeof(name), "m%d", i);
		snprintf(to, sizeof(to), "r%d", i);
		errors += rn_rename(&p.a, &dir, name, &dir, to) != NFS3_OK;
	}
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		int rc = rn_lookup(&p.b, &dir, name, &got, NULL);
		if (rc != NFS3ERR_NOENT && stale_names++ < 10)
			fprintf(stderr, "B LOOKUP m%d after A renamed it: status %d\n", i, rc);
		snprintf(name, sizeof(name), "r%d", i);
		rc = rn_lookup(&p.b, &dir, name, &got, NULL);
		if ((rc != NFS3_OK || !rn_fh_equal(&got, &fh[i])) && stale_names++ < 10)
			fprintf(stderr, "B LOOKUP r%d after A renamed m%d to it: status %d\n", i, i, rc);
	}
	fprintf(stderr, "%d files: %d stale modes, %d stale names, %d failed calls\n", MANY, stale_modes, stale_names,
		errors);
	CHECK_EQ(stale_modes, 0);
	CHECK_EQ(stale_names, 0);
	CHECK_EQ(errors, 0);
	CHECK_EQ(pair_stop(&p), 0);
}

TEST(many_files_changed_through_a_are_all_new_through_b)
{
	many_files(NULL);
}

/* 1024 entries is 4 per stripe: B's cache evicts all the time. */
TEST(many_files_changed_through_a_are_all_new_through_b_with_a_small_cache)
{
	many_files("attr_cache = 1024");
}

static int rounds(void)
{
	const char *env = getenv("NFS3_MULTIGW_ROUNDS");
	return env && atoi(env) > 0 ? atoi(env) : 3000;
}

/* The state of the alternating loop: a directory, a file renamed along
 * (f<file_no>) and the value its first 8 bytes hold. */
struct loop {
	struct pair *p;
	struct rn_fh dir, file;
	int file_no;
	uint64_t head;
	int round;
	int checks, stale, errors;
};

static void stale(struct loop *l, const char *what, long long want, long long got)
{
	if (l->stale++ < 20)
		fprintf(stderr, "round %d: B's %s: expected %lld, got %lld\n", l->round, what, want, got);
}

/* A call that should have worked did not: not a stale answer, but the
 * round then proves nothing, so it fails the test too. */
static void failed(struct loop *l, const char *what, int rc)
{
	if (l->errors++ < 20)
		fprintf(stderr, "round %d: %s: status %d\n", l->round, what, rc);
}

static int expect_status(struct loop *l, const char *what, int want, int got)
{
	l->checks++;
	if (got != want)
		stale(l, what, want, got);
	return got == want ? 0 : -1;
}

static void round_chmod(struct loop *l)
{
	uint32_t mode = 0600 | (uint32_t)(l->round * 7 % 0100);
	sattr3 s = set_mode(mode);
	fattr3 attr;
	int rc;
	if ((rc = rn_setattr(&l->p->a, &l->file, &s, NULL)) != NFS3_OK) {
		failed(l, "A SETATTR mode", rc);
		return;
	}
	if ((rc = rn_getattr(&l->p->b, &l->file, &attr)) != NFS3_OK) {
		failed(l, "B GETATTR", rc);
		return;
	}
	l->checks++;
	if ((attr.mode & 07777) != mode)
		stale(l, "mode after chmod (decimal)", mode, attr.mode & 07777);
}

static void round_truncate(struct loop *l)
{
	uint64_t size = 16 + (uint64_t)l->round; /* grows: the first 16 bytes stay */
	sattr3 s = set_size(size);
	fattr3 attr;
	int rc;
	if ((rc = rn_setattr(&l->p->a, &l->file, &s, NULL)) != NFS3_OK) {
		failed(l, "A SETATTR size", rc);
		return;
	}
	if ((rc = rn_getattr(&l->p->b, &l->file, &attr)) != NFS3_OK) {
		failed(l, "B GETATTR", rc);
		return;
	}
	l->checks++;
	if (attr.size != size)
		stale(l, "size after truncate", (long long)size, (long long)attr.size);
}

/* B reads the first 16 bytes: they must be head, then tail. */
static void b_reads_head(struct loop *l, uint64_t tail, const char *what)
{
	uint64_t back[2] = {0, 0};
	uint32_t got = 0;
	int eof = 0, rc;
	if ((rc = rn_read(&l->p->b, &l->file, 0, back, sizeof(back), &got, &eof)) != NFS3_OK) {
		failed(l, "B READ", rc);
		return;
	}
	l->checks++;
	if (got != sizeof(back) || back[0] != l->head)
		stale(l, what, (long long)(l->head & 0xffffffff), (long long)(back[0] & 0xffffffff));
	else if (back[1] != tail)
		stale(l, what, (long long)(tail & 0xffffffff), (long long)(back[1] & 0xffffffff));
}

static void round_write(struct loop *l)
{
	uint64_t v = 0x5a5a000000000000ULL | (uint64_t)l->round, tail = 0;
	uint32_t got = 0;
	int eof = 0, rc;
	if ((rc = rn_read(&l->p->b, &l->file, 8, &tail, sizeof(tail), &got, &eof)) != NFS3_OK) {
		failed(l, "B READ", rc);
		return;
	}
	if ((rc = rn_write(&l->p->a, &l->file, 0, &v, sizeof(v), FILE_SYNC, NULL)) != NFS3_OK) {
		failed(l, "A WRITE", rc);
		return;
	}
	l->head = v;
	b_reads_head(l, tail, "first 16 bytes after A's FILE_SYNC write");
}

static void round_create(struct loop *l)
{
	struct rn_fh made, fh;
	char name[32];
	int rc;
	snprintf(name, sizeof(name), "c%d", l->round);
	if ((rc = rn_create(&l->p->a, &l->dir, name, 0644, &made)) != NFS3_OK) {
		failed(l, "A CREATE", rc);
		return;
	}
	rc = rn_lookup(&l->p->b, &l->dir, name, &fh, NULL);
	if (expect_status(l, "LOOKUP of a created name", NFS3_OK, rc) == 0 && !rn_fh_equal(&fh, &made))
		stale(l, "LOOKUP of a created name gives A's handle (1 = yes)", 1, 0);
}

/* Removes the name round_create made: B must miss it and list only the
 * file. */
static void round_remove(struct loop *l)
{
	struct rn_fh fh;
	char name[32], file[32];
	int rc;
	snprintf(name, sizeof(name), "c%d", l->round - 1);
	if ((rc = rn_remove(&l->p->a, &l->dir, name)) != NFS3_OK) {
		failed(l, "A REMOVE", rc);
		return;
	}
	expect_status(l, "LOOKUP of a removed name", NFS3ERR_NOENT, rn_lookup(&l->p->b, &l->dir, name, &fh, NULL));
	snprintf(file, sizeof(file), "f%d", l->file_no);
	const char *names[] = {file};
	l->checks++;
	if (!b_lists(l->p, &l->dir, names, 1, "READDIRPLUS after a remove"))
		stale(l, "READDIRPLUS lists only the file, with A's handle and attributes (1 = yes)", 1, 0);
}

static void round_rename(struct loop *l)
{
	struct rn_fh fh;
	char from[32], to[32];
	int rc;
	snprintf(from, sizeof(from), "f%d", l->file_no);
	snprintf(to, sizeof(to), "f%d", l->file_no + 1);
	if ((rc = rn_rename(&l->p->a, &l->dir, from, &l->dir, to)) != NFS3_OK) {
		failed(l, "A RENAME", rc);
		return;
	}
	l->file_no++;
	expect_status(l, "LOOKUP of a renamed-away name", NFS3ERR_NOENT, rn_lookup(&l->p->b, &l->dir, from, &fh, NULL));
	rc = rn_lookup(&l->p->b, &l->dir, to, &fh, NULL);
	if (expect_status(l, "LOOKUP of the new name", NFS3_OK, rc) == 0 && !rn_fh_equal(&fh, &l->file))
		stale(l, "LOOKUP of the new name gives the file (1 = yes)", 1, 0);
}

/* B creates (its gateway caches the new inode as its own), A changes and
 * then removes it at once, B looks each time. */
static void round_b_creates_a_changes(struct loop *l)
{
	struct rn_fh made, fh;
	fattr3 attr;
	char name[32];
	int rc;
	snprintf(name, sizeof(name), "b%d", l->round);
	if ((rc = rn_create(&l->p->b, &l->dir, name, 0600, &made)) != NFS3_OK) {
		failed(l, "B CREATE", rc);
		return;
	}
	if ((rc = rn_lookup(&l->p->a, &l->dir, name, &fh, NULL)) != NFS3_OK || !rn_fh_equal(&fh, &made)) {
		failed(l, "A LOOKUP of B's new file", rc);
		return;
	}
	sattr3 s = set_mode(0604);
	if ((rc = rn_setattr(&l->p->a, &fh, &s, NULL)) != NFS3_OK) {
		failed(l, "A SETATTR of B's new file", rc);
		return;
	}
	if ((rc = rn_getattr(&l->p->b, &made, &attr)) != NFS3_OK) {
		failed(l, "B GETATTR of its new file", rc);
		return;
	}
	l->checks++;
	if ((attr.mode & 07777) != 0604)
		stale(l, "mode of its new file after A's chmod (decimal)", 0604, attr.mode & 07777);
	if ((rc = rn_remove(&l->p->a, &l->dir, name)) != NFS3_OK) {
		failed(l, "A REMOVE of B's new file", rc);
		return;
	}
	expect_status(l, "LOOKUP of its new file after A removed it", NFS3ERR_NOENT,
		      rn_lookup(&l->p->b, &l->dir, name, &fh, NULL));
	expect_status(l, "GETATTR of its new file after A removed it", NFS3ERR_STALE,
		      rn_getattr(&l->p->b, &made, &attr));
}

/* B writes bytes 8..16, A overwrites them at once, B must read A's. */
static void round_both_write(struct loop *l)
{
	uint64_t vb = 0xb0b0000000000000ULL | (uint64_t)l->round, va = 0xa0a0000000000000ULL | (uint64_t)l->round;
	int rc;
	if ((rc = rn_write(&l->p->b, &l->file, 8, &vb, sizeof(vb), FILE_SYNC, NULL)) != NFS3_OK) {
		failed(l, "B WRITE", rc);
		return;
	}
	if ((rc = rn_write(&l->p->a, &l->file, 8, &va, sizeof(va), FILE_SYNC, NULL)) != NFS3_OK) {
		failed(l, "A WRITE", rc);
		return;
	}
	b_reads_head(l, va, "first 16 bytes after B's then A's FILE_SYNC write");
}

/* Both gateways must give the directory the same attributes. */
static void directories_agree(struct loop *l)
{
	fattr3 fa, fb;
	int ra = rn_getattr(&l->p->a, &l->dir, &fa), rb = rn_getattr(&l->p->b, &l->dir, &fb);
	if (ra != NFS3_OK || rb != NFS3_OK) {
		failed(l, "GETATTR of the directory", ra != NFS3_OK ? ra : rb);
		return;
	}
	l->checks++;
	if (!same_attr(&fa, &fb)) {
		stale(l, "directory attributes equal to A's (1 = yes)", 1, 0);
		print_attr("A", &fa);
		print_attr("B", &fb);
	}
}

/* Each round one client changes one thing through its gateway and B reads
 * it back at once; B always read the previous value, so its gateway held
 * it.  Tracking is cut twice on the way. */
TEST(thousands_of_alternating_changes_through_a_give_no_stale_answer_through_b)
{
	struct pair p;
	REQUIRE(pair_start(&p) == 0);
	struct loop l = {.p = &p};
	fattr3 attr;
	REQUIRE_EQ(rn_mkdir(&p.a, &p.a.root, "loop", 0755, &l.dir), NFS3_OK);
	REQUIRE_EQ(rn_create(&p.a, &l.dir, "f0", 0644, &l.file), NFS3_OK);
	REQUIRE(b_finds(&p, &p.b.root, "loop", &l.dir));
	REQUIRE(b_finds(&p, &l.dir, "f0", &l.file));

	/* The test is about B's caches: make sure B answers from memory when
	 * nothing changes (GETATTR from Redis would be an HGETALL). */
	REQUIRE_EQ(rn_getattr(&p.b, &l.file, &attr), NFS3_OK);
	long long before = tl_redis_calls(&p.ga.redis, "hgetall");
	for (int i = 0; i < 200; i++)
		CHECK_EQ(rn_getattr(&p.b, &l.file, &attr), NFS3_OK);
	long long during = tl_redis_calls(&p.ga.redis, "hgetall") - before;
	fprintf(stderr, "200 unchanged GETATTRs through B cost %lld HGETALLs\n", during);
	CHECK(before >= 0 && during < 20);

	void (*const kinds[])(struct loop *) = {
	    round_chmod,
	    round_truncate,
	    round_write,
	    round_create,
	    round_remove,
	    round_rename,
	    round_b_creates_a_changes,
	    round_both_write,
	};
	const int nkinds = (int)(sizeof(kinds) / sizeof(kinds[0]));
	int n = rounds(), kills = 0;
	for (l.round = 0; l.round < n; l.round++) {
		if (l.round == n / 3 || l.round == 2 * n / 3) {
			/* B (and A) lose their tracking connections mid-stream */
			CHECK_EQ(tl_redis_cmd(&p.ga.redis, "CLIENT KILL TYPE pubsub"), 0);
			kills++;
		}
		kinds[l.round % nkinds](&l);
		directories_agree(&l);
	}
	fprintf(stderr, "%d rounds, %d checks through B: %d stale, %d failed calls; tracking killed %d times\n", n,
		l.checks, l.stale, l.errors, kills);
	CHECK_EQ(l.stale, 0);
	CHECK_EQ(l.errors, 0);
	/* the kills really cut B's tracking, and B tracked again afterwards */
	CHECK(gw_log_count(&p.gb, "lost the tracking connection") >= 1);
	CHECK(gw_log_count(&p.gb, "tracking changes again") >= 1);
	CHECK_EQ(pair_stop(&p), 0);
}

TEST_MAIN()
