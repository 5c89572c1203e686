/*
 * nfs3_names_test.c - name validation on the wire (slash, NUL, empty,
 * 255/256 bytes) and directory listing: READDIR/READDIRPLUS size limits,
 * TOOSMALL, cookies that resume a listing of 10,000 entries with every
 * name seen exactly once, and READDIRPLUS handles and attributes.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static int create_raw(CLIENT *c, const nfs_fh3 *dir, const char *name, u_int len)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name.filename3_len = len;
	a.where.name.filename3_val = (char *)name;
	a.how.mode = GUARDED;
	CREATE3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, CREATE, CREATE3args, a, CREATE3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	FREE_RES(c, CREATE3res, r);
	return st;
}

TEST(names_are_checked)
{
	struct fixture *f = fx();
	REQUIRE(f != NULL);
	CLIENT *c = f->root;
	nfs_fh3 d = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("names", &d), NFS3_OK);
	CHECK_EQ(create_raw(c, &d, "a/b", 3), NFS3ERR_INVAL);
	CHECK_EQ(create_raw(c, &d, "a\0b", 3), NFS3ERR_INVAL);
	CHECK_EQ(create_raw(c, &d, "", 0), NFS3ERR_INVAL);
	CHECK_EQ(create_raw(c, &d, ".", 1) == NFS3ERR_INVAL || create_raw(c, &d, ".", 1) == NFS3ERR_EXIST, 1);
	CHECK_EQ(create_raw(c, &d, "..", 2) == NFS3ERR_INVAL || create_raw(c, &d, "..", 2) == NFS3ERR_EXIST, 1);
	char name[300];
	memset(name, 'n', sizeof(name));
	CHECK_EQ(create_raw(c, &d, name, 256), NFS3ERR_NAMETOOLONG);
	CHECK_EQ(create_raw(c, &d, name, 255), NFS3_OK);
	name[255] = 0;
	CHECK_EQ(nfs_lookup(c, &d, name, NULL, NULL), NFS3_OK);
	memset(name, 'n', sizeof(name));
	name[256] = 0;
	CHECK_EQ(nfs_lookup(c, &d, name, NULL, NULL), NFS3ERR_NAMETOOLONG);
	CHECK_EQ(nfs_lookup(c, &d, "a/b", NULL, NULL), NFS3ERR_INVAL);
	/* a name longer than anything valid but within the decoder bound */
	char *huge = malloc(4000);
	memset(huge, 'h', 4000);
	CHECK_EQ(create_raw(c, &d, huge, 4000), NFS3ERR_NAMETOOLONG);
	free(huge);
	/* nothing was created but the 255-byte name */
	CHECK_EQ(nfs_lookup(c, &d, "a", NULL, NULL), NFS3ERR_NOENT);
	fh_free(&d);
}

struct listing {
	uint32_t count; /* entries seen in this reply */
	uint64_t last_cookie;
	char verf[8];
	bool eof;
	unsigned *seen; /* per index: times "e%05u" was seen */
	unsigned nseen_total;
	unsigned dots;
	unsigned bad;	    /* names not expected */
	unsigned no_handle; /* plus: entries without handle/attributes */
};

static void note_name(struct listing *l, const char *name, u_int len, unsigned n)
{
	char buf[64];
	if (len >= sizeof(buf)) {
		l->bad++;
		return;
	}
	memcpy(buf, name, len);
	buf[len] = 0;
	if (!strcmp(buf, ".") || !strcmp(buf, "..")) {
		l->dots++;
		return;
	}
	unsigned i;
	char tail;
	if (sscanf(buf, "e%05u%c", &i, &tail) != 1 || i >= n) {
		l->bad++;
		return;
	}
	l->seen[i]++;
	l->nseen_total++;
}

static int readdir_page(CLIENT *c, const nfs_fh3 *dir, uint64_t cookie, uint32_t count, struct listing *l, unsigned n)
{
	READDIR3args a;
	memset(&a, 0, sizeof(a));
	a.dir = *dir;
	a.cookie = cookie;
	memcpy(a.cookieverf, l->verf, 8);
	a.count = count;
	READDIR3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, READDIR, READDIR3args, a, READDIR3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK) {
		READDIR3resok *ok = &r.READDIR3res_u.resok;
		memcpy(l->verf, ok->cookieverf, 8);
		l->count = 0;
		for (entry3 *e = ok->reply.entries; e; e = e->nextentry) {
			note_name(l, e->name.filename3_val, e->name.filename3_len, n);
			l->last_cookie = e->cookie;
			l->count++;
		}
		l->eof = ok->reply.eof;
		if (!ok->dir_attributes.attributes_follow)
			st = -4;
	}
	FREE_RES(c, READDIR3res, r);
	return st;
}

static int readdirplus_page(CLIENT *c, const nfs_fh3 *dir, uint64_t cookie, uint32_t dircount, uint32_t maxcount,
			    struct listing *l, unsigned n, size_t *reply_bytes)
{
	READDIRPLUS3args a;
	memset(&a, 0, sizeof(a));
	a.dir = *dir;
	a.cookie = cookie;
	memcpy(a.cookieverf, l->verf, 8);
	a.dircount = dircount;
	a.maxcount = maxcount;
	READDIRPLUS3res r;
	memset(&r, 0, sizeof(r));
	if (CALL(c, READDIRPLUS, READDIRPLUS3args, a, READDIRPLUS3res, r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK) {
		READDIRPLUS3resok *ok = &r.READDIRPLUS3res_u.resok;
		memcpy(l->verf, ok->cookieverf, 8);
		l->count = 0;
		/* exact encoded size of this resok, to check maxcount */
		size_t bytes = 4 + 4 + 84 + 8 + 4 + 4;
		for (entryplus3 *e = ok->reply.entries; e; e = e->nextentry) {
			note_name(l, e->name.filename3_val, e->name.filename3_len, n);
			l->last_cookie = e->cookie;
			l->count++;
			bytes += 4 + 8 + 4 + ((e->name.filename3_len + 3) & ~3u) + 8 + 4 + 4;
			if (e->name_attributes.attributes_follow)
				bytes += 84;
			if (e->name_handle.handle_follows)
				bytes += 4 + ((e->name_handle.post_op_fh3_u.handle.data.data_len + 3) & ~3u);
			int dot = e->name.filename3_len <= 2 && e->name.filename3_val[0] == '.';
			if (!dot && (!e->name_attributes.attributes_follow || !e->name_handle.handle_follows))
				l->no_handle++;
			if (!dot && e->name_attributes.attributes_follow &&
			    e->name_attributes.post_op_attr_u.attributes.fileid != e->fileid)
				l->bad++;
		}
		l->eof = ok->reply.eof;
		if (reply_bytes)
			*reply_bytes = bytes;
	}
	FREE_RES(c, READDIRPLUS3res, r);
	return st;
}

TEST(readdir_small_count_and_resume)
{
	struct fixture *f = fx();
	REQUIRE(f != NULL);
	CLIENT *c = f->root;
	nfs_fh3 d = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("readdir_small", &d), NFS3_OK);
	enum { N = 50 };
	for (unsigned i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "e%05u", i);
		REQUIRE_EQ(nfs_create(c, &d, name, GUARDED, 0644, NULL, NULL, NULL), NFS3_OK);
	}
	struct listing l;
	memset(&l, 0, sizeof(l));
	unsigned seen[N] = {0};
	l.seen = seen;
	CHECK_EQ(readdir_page(c, &d, 0, 60, &l, N), NFS3ERR_TOOSMALL);
	CHECK_EQ(readdirplus_page(c, &d, 0, 4096, 100, &l, N, NULL), NFS3ERR_TOOSMALL);

	/* count = 200 bytes: a few entries per reply, never more than fits */
	uint64_t cookie = 0;
	int pages = 0;
	memset(&l, 0, sizeof(l));
	l.seen = seen;
	do {
		REQUIRE_EQ(readdir_page(c, &d, cookie, 200, &l, N), NFS3_OK);
		REQUIRE(l.count >= 1);
		CHECK(l.count <= 4); /* 108 + 4 * 24 = 204 > 200 */
		cookie = l.last_cookie;
		pages++;
	} while (!l.eof && pages < 1000);
	CHECK(l.eof);
	CHECK_EQ(l.dots, 2);
	CHECK_EQ(l.bad, 0);
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ(seen[i], 1);

	/* READDIRPLUS with maxcount 1024: the encoded reply never exceeds it */
	memset(seen, 0, sizeof(seen));
	memset(&l, 0, sizeof(l));
	l.seen = seen;
	cookie = 0;
	pages = 0;
	do {
		size_t bytes = 0;
		REQUIRE_EQ(readdirplus_page(c, &d, cookie, 8192, 1024, &l, N, &bytes), NFS3_OK);
		REQUIRE(l.count >= 1);
		CHECK(bytes <= 1024);
		cookie = l.last_cookie;
		pages++;
	} while (!l.eof && pages < 1000);
	CHECK_EQ(l.no_handle, 0);
	CHECK_EQ(l.bad, 0);
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ(seen[i], 1);
	/* dircount limits the directory part: small dircount, big maxcount */
	memset(&l, 0, sizeof(l));
	memset(seen, 0, sizeof(seen));
	l.seen = seen;
	REQUIRE_EQ(readdirplus_page(c, &d, 0, 100, 1 << 20, &l, N, NULL), NFS3_OK);
	CHECK(l.count <= 100 / 20);
	CHECK(!l.eof);

	/* READDIR of a file is NOTDIR */
	nfs_fh3 h = {{0, NULL}};
	REQUIRE_EQ(nfs_lookup(c, &d, "e00001", &h, NULL), NFS3_OK);
	CHECK_EQ(readdir_page(c, &h, 0, 4096, &l, N), NFS3ERR_NOTDIR);
	fh_free(&h);
	fh_free(&d);
}

TEST(readdir_10k_entries_resume_by_cookie)
{
	struct fixture *f = fx();
	REQUIRE(f != NULL);
	CLIENT *c = f->root;
	nfs_fh3 d = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("readdir_10k", &d), NFS3_OK);
	enum { N = 10000 };
	for (unsigned i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "e%05u", i);
		REQUIRE_EQ(nfs_create(c, &d, name, GUARDED, 0644, NULL, NULL, NULL), NFS3_OK);
	}
	unsigned *seen = calloc(N, sizeof(*seen));
	struct listing l;
	memset(&l, 0, sizeof(l));
	l.seen = seen;
	uint64_t cookie = 0;
	int pages = 0;
	do {
		REQUIRE_EQ(readdir_page(c, &d, cookie, 1024, &l, N), NFS3_OK);
		REQUIRE(l.count >= 1);
		cookie = l.last_cookie;
		pages++;
		/* remove some already-listed entries and add new ones while listing:
		 * the resumed listing must still return each original name once */
		if (pages == 20) {
			REQUIRE_EQ(nfs_remove(c, &d, "e00000"), NFS3_OK);
			REQUIRE_EQ(nfs_create(c, &d, "zz-late", GUARDED, 0644, NULL, NULL, NULL), NFS3_OK);
		}
	} while (!l.eof && pages < 100000);
	CHECK(l.eof);
	CHECK(pages > 100);
	CHECK_EQ(l.bad, 1); /* zz-late, created after the start */
	unsigned once = 0;
	for (unsigned i = 0; i < N; i++)
		once += seen[i] == 1;
	CHECK_EQ(once, N);
	free(seen);

	/* READDIRPLUS over the same directory, large pages */
	seen = calloc(N, sizeof(*seen));
	memset(&l, 0, sizeof(l));
	l.seen = seen;
	cookie = 0;
	pages = 0;
	do {
		REQUIRE_EQ(readdirplus_page(c, &d, cookie, 16384, 65536, &l, N, NULL), NFS3_OK);
		cookie = l.last_cookie;
		pages++;
	} while (!l.eof && pages < 100000);
	once = 0;
	for (unsigned i = 1; i < N; i++)
		once += seen[i] == 1;
	CHECK_EQ(once, N - 1);
	CHECK_EQ(seen[0], 0);
	CHECK_EQ(l.no_handle, 0);
	free(seen);
	fh_free(&d);
}

/* Runs last (tests run in link order): the gateway, built with the
 * sanitizers like the tests, must stop cleanly on SIGTERM after all of the
 * above and leave no sanitizer report in its log. */
TEST(gateway_stops_cleanly)
{
	REQUIRE(fx() != NULL);
	CHECK_EQ(fx_stop(), 0);
}
