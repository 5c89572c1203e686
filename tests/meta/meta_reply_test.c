/*
 * meta_reply_test.c - the attributes and wcc data the namespace calls hand
 * back must equal what is stored.  create/mkdir/symlink/mknod build the new
 * inode's attributes on the client from what they sent plus the few values
 * the script decided, and create/remove build the directory's post-change
 * attributes from its row read before the change; every field is compared
 * here with a getattr and a lookup afterwards, for every node type, for
 * root and non-root callers and in a setgid directory.
 */
#include "meta_fixture.h"

static struct fixture F;

#define CHECK_TIME_EQ(x, y)                                                                                            \
	do {                                                                                                           \
		CHECK_EQ((x).sec, (y).sec);                                                                            \
		CHECK_EQ((x).nsec, (y).nsec);                                                                          \
	} while (0)

static void check_attr_eq(const struct gfs_attr *x, const struct gfs_attr *y)
{
	CHECK_EQ(x->ino, y->ino);
	CHECK_EQ(x->gen, y->gen);
	CHECK_EQ(x->type, y->type);
	CHECK_EQ(x->mode, y->mode);
	CHECK_EQ(x->uid, y->uid);
	CHECK_EQ(x->gid, y->gid);
	CHECK_EQ(x->nlink, y->nlink);
	CHECK_EQ(x->size, y->size);
	CHECK_EQ(x->used, y->used);
	CHECK_EQ(x->rdev_major, y->rdev_major);
	CHECK_EQ(x->rdev_minor, y->rdev_minor);
	CHECK_TIME_EQ(x->atime, y->atime);
	CHECK_TIME_EQ(x->mtime, y->mtime);
	CHECK_TIME_EQ(x->ctime, y->ctime);
	CHECK_EQ(x->change, y->change);
	CHECK_EQ(x->parent, y->parent);
}

/* wcc of a change to dir: pre must match before, post must match now. */
static void check_wcc(struct gfs_ref dir, const struct gfs_attr *before, const struct gfs_wcc *w)
{
	struct gfs_attr after;
	REQUIRE_EQ(meta_getattr(F.m, dir, &after), 0);
	CHECK(w->has_pre && w->has_post);
	CHECK_EQ(w->pre_size, before->size);
	CHECK_TIME_EQ(w->pre_mtime, before->mtime);
	CHECK_TIME_EQ(w->pre_ctime, before->ctime);
	CHECK_EQ(w->pre_change, before->change);
	check_attr_eq(&w->post, &after);
	CHECK(after.change > before->change);
}

/* Makes name in dir as cred with every kind of node; checks what comes back. */
/* Only uid 0 makes block and character devices (knfsd's CAP_MKNOD). */
static int is_device_refused(const struct gfs_cred *cred, enum gfs_ftype t)
{
	return cred->uid != 0 && (t == GFS_BLK || t == GFS_CHR);
}

static void make_all_kinds(const struct gfs_cred *cred, struct gfs_ref dir)
{
	static const enum gfs_ftype kinds[] = {GFS_REG, GFS_DIR, GFS_LNK, GFS_BLK, GFS_CHR, GFS_SOCK, GFS_FIFO};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char name[32];
		snprintf(name, sizeof(name), "n%u_%u", cred->uid, (unsigned)kinds[k]);
		struct gfs_attr before, made, got, looked;
		struct gfs_wcc w;
		REQUIRE_EQ(meta_getattr(F.m, dir, &before), 0);
		int rc;
		if (kinds[k] == GFS_REG)
			rc = meta_create(F.m, cred, dir, name, 0641, GFS_CREATE_GUARDED, NULL, &made, &w);
		else if (kinds[k] == GFS_DIR)
			rc = meta_mkdir(F.m, cred, dir, name, 0751, &made, &w);
		else if (kinds[k] == GFS_LNK)
			rc = meta_symlink(F.m, cred, dir, name, "target/of/the/link", 0777, &made, &w);
		else
			rc = meta_mknod(F.m, cred, dir, name, kinds[k], 0640, 9, 77, &made, &w);
		if (is_device_refused(cred, kinds[k])) {
			CHECK_EQ(rc, -EPERM);
			continue;
		}
		REQUIRE_EQ(rc, 0);
		CHECK_EQ(made.type, kinds[k]);
		REQUIRE_EQ(meta_getattr(F.m, ref_of(&made), &got), 0);
		check_attr_eq(&made, &got);
		REQUIRE_EQ(meta_lookup(F.m, cred, dir, name, &looked), 0);
		check_attr_eq(&looked, &got);
		check_wcc(dir, &before, &w);
		if (kinds[k] == GFS_DIR) { /* '.' and '..' of the new directory */
			REQUIRE_EQ(meta_lookup(F.m, cred, ref_of(&made), ".", &looked), 0);
			check_attr_eq(&looked, &got);
			REQUIRE_EQ(meta_lookup(F.m, cred, ref_of(&made), "..", &looked), 0);
			struct gfs_attr parent;
			REQUIRE_EQ(meta_getattr(F.m, dir, &parent), 0);
			check_attr_eq(&looked, &parent);
		}
	}
}

/* Removes what make_all_kinds made; checks the wcc data. */
static void remove_all_kinds(const struct gfs_cred *cred, struct gfs_ref dir)
{
	static const enum gfs_ftype kinds[] = {GFS_REG, GFS_DIR, GFS_LNK, GFS_BLK, GFS_CHR, GFS_SOCK, GFS_FIFO};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char name[32];
		snprintf(name, sizeof(name), "n%u_%u", cred->uid, (unsigned)kinds[k]);
		struct gfs_attr before;
		struct gfs_wcc w;
		if (is_device_refused(cred, kinds[k]))
			continue;
		REQUIRE_EQ(meta_getattr(F.m, dir, &before), 0);
		if (kinds[k] == GFS_DIR)
			REQUIRE_EQ(meta_rmdir(F.m, cred, dir, name, &w), 0);
		else
			REQUIRE_EQ(meta_remove(F.m, cred, dir, name, &w), 0);
		check_wcc(dir, &before, &w);
	}
}

TEST(created_attrs_match_stored)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr plain, sgid;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "plain", 0777, &plain, &w), 0);
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "sgid", 0777, &sgid, &w), 0);
	/* setgid, group 50: new nodes take group 50, new directories setgid */
	struct gfs_setattr sa = {.valid = GFS_SET_MODE | GFS_SET_GID, .mode = 02777, .gid = 50};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&sgid), &sa, NULL, &w), 0);
	const struct gfs_cred *creds[] = {&ROOT, &ALICE, &BOB};
	for (size_t c = 0; c < 3; c++) {
		make_all_kinds(creds[c], ref_of(&plain));
		make_all_kinds(creds[c], ref_of(&sgid));
	}
	struct gfs_attr a;
	char name[32];
	snprintf(name, sizeof(name), "n%u_%u", ALICE.uid, (unsigned)GFS_DIR);
	REQUIRE_EQ(meta_lookup(F.m, &ALICE, ref_of(&sgid), name, &a), 0);
	CHECK_EQ(a.gid, 50);
	CHECK_EQ(a.mode, 02751);
	snprintf(name, sizeof(name), "n%u_%u", ALICE.uid, (unsigned)GFS_REG);
	REQUIRE_EQ(meta_lookup(F.m, &ALICE, ref_of(&sgid), name, &a), 0);
	CHECK_EQ(a.gid, 50);
	CHECK_EQ(a.mode, 0641);
	CHECK_EQ(fsck_problems(F.m), 0);
	for (size_t c = 0; c < 3; c++) {
		remove_all_kinds(creds[c], ref_of(&plain));
		remove_all_kinds(creds[c], ref_of(&sgid));
	}
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(existing_file_returned_with_unchanged_dir)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr f, again, before;
	struct gfs_wcc w;
	uint8_t verf[8] = {9, 8, 7, 6, 5, 4, 3, 2};
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "u", 0600, GFS_CREATE_UNCHECKED, NULL, &f, &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, F.root, &before), 0);
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "u", 0644, GFS_CREATE_UNCHECKED, NULL, &again, &w), 0);
	check_attr_eq(&again, &f);
	CHECK(w.has_pre && w.has_post);
	CHECK_EQ(w.pre_change, before.change);
	check_attr_eq(&w.post, &before);
	/* Without write permission the existing name still answers first. */
	REQUIRE_EQ(meta_create(F.m, &ALICE, F.root, "u", 0644, GFS_CREATE_UNCHECKED, NULL, &again, &w), 0);
	check_attr_eq(&again, &f);
	CHECK_EQ(meta_create(F.m, &ALICE, F.root, "u", 0644, GFS_CREATE_GUARDED, NULL, &again, &w), -EEXIST);
	CHECK_EQ(meta_mkdir(F.m, &ROOT, F.root, "u", 0755, &again, &w), -EEXIST);
	REQUIRE_EQ(meta_create(F.m, &ALICE, F.root, "x", 0600, GFS_CREATE_EXCLUSIVE, verf, &f, &w), -EACCES);
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "x", 0600, GFS_CREATE_EXCLUSIVE, verf, &f, &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, F.root, &before), 0);
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "x", 0600, GFS_CREATE_EXCLUSIVE, verf, &again, &w), 0);
	check_attr_eq(&again, &f);
	check_attr_eq(&w.post, &before);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

/* The inode parser reads decimals by hand: times before 1970 (negative),
 * 64-bit sizes and 32-bit generations must come back as they were set. */
TEST(extreme_values_round_trip)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr f, a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "old", 0600, GFS_CREATE_GUARDED, NULL, &f, &w), 0);
	struct gfs_setattr sa = {
	    .valid = GFS_SET_ATIME | GFS_SET_MTIME, .atime = {-86400 * 365, 999999999}, .mtime = {-1, 5}};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.atime.sec, -86400 * 365);
	CHECK_EQ(a.atime.nsec, 999999999);
	CHECK_EQ(a.mtime.sec, -1);
	CHECK_EQ(a.mtime.nsec, 5);
	CHECK_EQ(a.gen, f.gen);
	CHECK_EQ(a.ino, f.ino);
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, F.root, "old", &a), 0);
	CHECK_EQ(a.mtime.sec, -1);
	CHECK_EQ(a.atime.sec, -86400 * 365);
	fixture_down(&F);
}

TEST_MAIN()
