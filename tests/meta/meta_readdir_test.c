/*
 * meta_readdir_test.c - directory listing: stable cookies across many small
 * batches (callback stops and max_entries hints), readdirplus attributes,
 * cookie verifiers, and a listing that runs while another thread creates and
 * deletes entries in the same directory.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "meta_fixture.h"

static struct fixture F;

struct listing {
	size_t max_per_call; /* the callback stops after this many entries */
	size_t in_call;
	uint64_t last_cookie;
	size_t n;
	size_t cap;
	char **names;
	uint64_t *cookies;
	int plus_missing_attr;
	int bad_order;
};

static int collect(void *arg, const struct gfs_dirent *e)
{
	struct listing *l = arg;
	if (l->in_call == l->max_per_call)
		return 1;
	l->in_call++;
	if (e->cookie <= l->last_cookie)
		l->bad_order++;
	l->last_cookie = e->cookie;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->names = realloc(l->names, l->cap * sizeof(*l->names));
		l->cookies = realloc(l->cookies, l->cap * sizeof(*l->cookies));
	}
	l->names[l->n] = strdup(e->name);
	l->cookies[l->n] = e->cookie;
	l->n++;
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->cookies);
	memset(l, 0, sizeof(*l));
}

/* Lists a whole directory in calls of at most per_call entries: the
 * callback stops each call, or with hint the backend is told the limit. */
static int list_all(struct meta *m, struct gfs_ref dir, size_t per_call, int plus, int hint, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	l->max_per_call = per_call;
	uint64_t cookie = 0, verf = 0;
	for (int calls = 0; calls < 1000000; calls++) {
		int eof = 0;
		uint64_t vout = 0;
		l->in_call = 0;
		int rc = meta_readdir(m, &ROOT, dir, cookie, verf, plus, hint ? (uint32_t)per_call : 0, collect, l,
				      &eof, &vout, NULL);
		if (rc < 0)
			return rc;
		verf = vout;
		if (l->n)
			cookie = l->cookies[l->n - 1];
		if (eof)
			return 0;
	}
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int plus_check(void *arg, const struct gfs_dirent *e)
{
	int *bad = arg;
	if (!e->attr || e->attr->ino != e->ino || e->attr->gen != e->gen || e->attr->type != e->type)
		(*bad)++;
	return 0;
}

TEST(ten_thousand_in_small_batches)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr d, a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "big", 0755, &d, &w), 0);
	enum { N = 10000 };
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "file-%05d", i);
		if (i % 1000 == 0)
			REQUIRE_EQ(meta_mkdir(F.m, &ROOT, ref_of(&d), name, 0755, &a, &w), 0);
		else
			REQUIRE_EQ(meta_create(F.m, &ROOT, ref_of(&d), name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w),
				   0);
	}
	struct listing l;
	REQUIRE_EQ(list_all(F.m, ref_of(&d), 37, 0, 0, &l), 0);
	CHECK_EQ(l.n, N + 2);
	CHECK_EQ(l.bad_order, 0);
	CHECK_STR(l.names[0], ".");
	CHECK_STR(l.names[1], "..");
	CHECK_EQ(l.cookies[0], 1);
	CHECK_EQ(l.cookies[1], 2);
	CHECK_EQ(l.cookies[2], 3); /* first entry: seq 1 */
	qsort(l.names, l.n, sizeof(char *), cmp_str);
	int dups = 0;
	for (size_t i = 1; i < l.n; i++)
		dups += strcmp(l.names[i - 1], l.names[i]) == 0;
	CHECK_EQ(dups, 0);
	listing_free(&l);
	/* readdirplus carries attributes for every entry */
	int bad = 0, eof = 0;
	uint64_t verf = 0;
	struct gfs_attr dattr;
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), 0, 0, 1, 0, plus_check, &bad, &eof, &verf, &dattr), 0);
	CHECK_EQ(eof, 1);
	CHECK_EQ(bad, 0);
	CHECK_EQ(dattr.ino, d.ino);
	CHECK_EQ(dattr.nlink, 2 + N / 1000);
	/* a verifier that is not the directory's, with a nonzero cookie */
	CHECK_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), 5, verf + 1, 0, 0, plus_check, &bad, &eof, &verf, NULL),
		 -EBADCOOKIE);
	/* cookies survive deletion of earlier entries */
	REQUIRE_EQ(list_all(F.m, ref_of(&d), 100, 0, 1, &l), 0);
	CHECK_EQ(l.n, N + 2);
	CHECK_EQ(l.bad_order, 0);
	uint64_t mid = l.cookies[5000];
	listing_free(&l);
	for (int i = 0; i < 4000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "file-%05d", i);
		if (i % 1000 == 0)
			REQUIRE_EQ(meta_rmdir(F.m, &ROOT, ref_of(&d), name, &w), 0);
		else
			REQUIRE_EQ(meta_remove(F.m, &ROOT, ref_of(&d), name, &w), 0);
	}
	memset(&l, 0, sizeof(l));
	l.max_per_call = 3;
	l.last_cookie = mid;
	l.in_call = 0;
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), mid, verf, 0, 0, collect, &l, &eof, &verf, NULL), 0);
	REQUIRE_EQ(l.n, 3);
	CHECK_STR(l.names[0], "file-04999"); /* cookie 5000 was entry 4998 (after . and ..) */
	listing_free(&l);
	/* a user without read permission */
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0711};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&d), &sa, NULL, &w), 0);
	CHECK_EQ(meta_readdir(F.m, &ALICE, ref_of(&d), 0, 0, 0, 0, plus_check, &bad, &eof, &verf, NULL), -EACCES);
	struct gfs_attr f;
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, ref_of(&d), "file-09999", &f), 0);
	CHECK_EQ(meta_readdir(F.m, &ROOT, ref_of(&f), 0, 0, 0, 0, plus_check, &bad, &eof, &verf, NULL), -ENOTDIR);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

/* Thread B churns temporary entries while thread A lists the directory. */
struct churn {
	struct gfs_ref dir;
	atomic_int stop;
	int errors;
	int ops;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	struct gfs_attr a;
	struct gfs_wcc w;
	for (int i = 0; !atomic_load(&c->stop); i++) {
		char name[32];
		snprintf(name, sizeof(name), "tmp-%d", i);
		if (meta_create(F.m, &ROOT, c->dir, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w) != 0)
			c->errors++;
		if (i % 5 == 0) { /* rename moves an entry to a new cookie */
			char to[32];
			snprintf(to, sizeof(to), "mv-%d", i);
			if (meta_rename(F.m, &ROOT, c->dir, name, c->dir, to, &w, &w) != 0)
				c->errors++;
		}
		if (i >= 3) { /* keep a few alive, delete older ones */
			snprintf(name, sizeof(name), "%s-%d", (i - 3) % 5 == 0 ? "mv" : "tmp", i - 3);
			if (meta_remove(F.m, &ROOT, c->dir, name, &w) != 0)
				c->errors++;
		}
		c->ops++;
	}
	return NULL;
}

TEST(listing_while_another_thread_changes_the_dir)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr d, a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "busy", 0777, &d, &w), 0);
	enum { KEEP = 2000 };
	for (int i = 0; i < KEEP; i++) {
		char name[32];
		snprintf(name, sizeof(name), "keep-%04d", i);
		REQUIRE_EQ(meta_create(F.m, &ROOT, ref_of(&d), name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	}
	struct churn c = {.dir = ref_of(&d)};
	pthread_t t;
	REQUIRE_EQ(pthread_create(&t, NULL, churn_thread, &c), 0);
	int rounds_bad = 0;
	for (int round = 0; round < 5; round++) {
		struct listing l;
		if (list_all(F.m, ref_of(&d), 5 + round * 7, round & 1, round & 2, &l) != 0) {
			rounds_bad++;
			continue;
		}
		qsort(l.names, l.n, sizeof(char *), cmp_str);
		int keep = 0, dups = 0;
		for (size_t i = 0; i < l.n; i++) {
			keep += strncmp(l.names[i], "keep-", 5) == 0;
			if (i && strcmp(l.names[i - 1], l.names[i]) == 0)
				dups++;
		}
		CHECK_EQ(keep, KEEP);
		CHECK_EQ(dups, 0);
		CHECK_EQ(l.bad_order, 0);
		listing_free(&l);
	}
	atomic_store(&c.stop, 1);
	pthread_join(t, NULL);
	CHECK_EQ(rounds_bad, 0);
	CHECK_EQ(c.errors, 0);
	CHECK(c.ops > 0);
	fprintf(stderr, "churn thread made %d changes during the listings\n", c.ops);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

/* Counts callbacks; checks each readdirplus attribute against getattr. */
struct counted {
	struct meta *m;
	int calls;
	int attr_mismatch;
	uint64_t last_cookie;
};

static int count_and_compare(void *arg, const struct gfs_dirent *e)
{
	struct counted *c = arg;
	c->calls++;
	c->last_cookie = e->cookie;
	if (e->attr && strcmp(e->name, "..") != 0) {
		struct gfs_attr g;
		if (meta_getattr(c->m, (struct gfs_ref){e->ino, e->gen}, &g) != 0 || g.ino != e->attr->ino ||
		    g.gen != e->attr->gen || g.type != e->attr->type || g.mode != e->attr->mode ||
		    g.uid != e->attr->uid || g.gid != e->attr->gid || g.nlink != e->attr->nlink ||
		    g.size != e->attr->size || g.used != e->attr->used || g.change != e->attr->change ||
		    g.mtime.sec != e->attr->mtime.sec || g.mtime.nsec != e->attr->mtime.nsec ||
		    g.ctime.sec != e->attr->ctime.sec || g.rdev_major != e->attr->rdev_major ||
		    g.rdev_minor != e->attr->rdev_minor || g.parent != e->attr->parent)
			c->attr_mismatch++;
	}
	return 0;
}

TEST(max_entries_hint_bounds_each_call)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr d, a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "small", 0755, &d, &w), 0);
	/* one of each kind, so every attribute row shape is parsed */
	REQUIRE_EQ(meta_create(F.m, &ROOT, ref_of(&d), "file", 0640, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 12345};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&a), &sa, NULL, &w), 0);
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, ref_of(&d), "sub", 0700, &a, &w), 0);
	REQUIRE_EQ(meta_symlink(F.m, &ROOT, ref_of(&d), "link", "some/target/path", 0777, &a, &w), 0);
	REQUIRE_EQ(meta_mknod(F.m, &ROOT, ref_of(&d), "dev", GFS_CHR, 0600, 7, 9, &a, &w), 0);
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		REQUIRE_EQ(meta_create(F.m, &ROOT, ref_of(&d), name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	}
	/* 10 entries + "." and "..": a hint of 5 gives exactly 5, no eof */
	struct counted c = {.m = F.m};
	int eof = 1;
	uint64_t verf = 0;
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), 0, 0, 1, 5, count_and_compare, &c, &eof, &verf, NULL), 0);
	CHECK_EQ(c.calls, 5);
	CHECK_EQ(eof, 0);
	CHECK_EQ(c.attr_mismatch, 0);
	/* the rest (7) with room to spare: eof */
	struct counted rest = {.m = F.m};
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), c.last_cookie, verf, 1, 100, count_and_compare, &rest, &eof,
				&verf, NULL),
		   0);
	CHECK_EQ(rest.calls, 7);
	CHECK_EQ(eof, 1);
	CHECK_EQ(rest.attr_mismatch, 0);
	/* a hint that only covers "." and "..", then plain readdir of the rest */
	struct counted dots = {.m = F.m};
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), 0, 0, 0, 2, count_and_compare, &dots, &eof, &verf, NULL), 0);
	CHECK_EQ(dots.calls, 2);
	CHECK_EQ(dots.last_cookie, 2);
	CHECK_EQ(eof, 0);
	struct counted plain = {.m = F.m};
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), 2, verf, 0, 10, count_and_compare, &plain, &eof, &verf, NULL),
		   0);
	CHECK_EQ(plain.calls, 10);
	/* exactly the rest fits: eof may be reported by the next call only */
	if (!eof) {
		struct counted none = {.m = F.m};
		REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&d), plain.last_cookie, verf, 0, 10, count_and_compare,
					&none, &eof, &verf, NULL),
			   0);
		CHECK_EQ(none.calls, 0);
		CHECK_EQ(eof, 1);
	}
	/* an empty directory: eof at once, with any hint */
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "empty", 0755, &a, &w), 0);
	struct counted e = {.m = F.m};
	REQUIRE_EQ(meta_readdir(F.m, &ROOT, ref_of(&a), 2, 0, 1, 1, count_and_compare, &e, &eof, &verf, NULL), 0);
	CHECK_EQ(e.calls, 0);
	CHECK_EQ(eof, 1);
	fixture_down(&F);
}

TEST_MAIN()
