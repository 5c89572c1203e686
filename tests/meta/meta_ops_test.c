/*
 * meta_ops_test.c - every namespace operation of the metadata engine against
 * a real redis-server: the success path and each error path (vfs.h codes),
 * permissions with non-root credentials, and fsck finding no problem after.
 */
#include "meta_fixture.h"

static struct fixture F;

#define UP()                                                                                                           \
	do {                                                                                                           \
		REQUIRE(fixture_up(&F) == 0);                                                                          \
	} while (0)

static struct gfs_attr mk(const struct gfs_cred *c, struct gfs_ref dir, const char *name, int isdir)
{
	struct gfs_attr a = {0};
	struct gfs_wcc w;
	int rc = isdir ? meta_mkdir(F.m, c, dir, name, 0755, &a, &w)
		       : meta_create(F.m, c, dir, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w);
	if (rc != 0)
		tl_fail(__FILE__, __LINE__, "creating %s: %d", name, rc);
	return a;
}

static void chmod_as(const struct gfs_cred *c, struct gfs_ref ref, uint32_t mode)
{
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = mode};
	struct gfs_wcc w;
	CHECK_EQ(meta_setattr(F.m, c, ref, &sa, NULL, &w), 0);
}

TEST(format_and_settings)
{
	UP();
	char err[512];
	struct gfs_volume_settings s;
	REQUIRE_EQ(meta_load_settings(F.m, &s, err, sizeof(err)), 0);
	CHECK_STR(s.name, "test");
	CHECK_EQ(s.format_version, META_FORMAT_VERSION);
	CHECK_EQ(s.chunk_size, META_CHUNK_SIZE);
	struct gfs_volume_settings s2 = s;
	snprintf(s2.name, sizeof(s2.name), "renamed");
	CHECK_EQ(meta_format(F.m, &s2, 0, err, sizeof(err)), -EEXIST);
	CHECK_EQ(meta_format(F.m, &s2, 1, err, sizeof(err)), 0);
	REQUIRE_EQ(meta_load_settings(F.m, &s, err, sizeof(err)), 0);
	CHECK_STR(s.name, "renamed");
	/* force never replaces the identity, even from a caller that did not
	 * read it: the script compares the uuid */
	struct gfs_volume_settings usurper = s2;
	snprintf(usurper.uuid, sizeof(usurper.uuid), "00000000-0000-4000-8000-000000000000");
	snprintf(usurper.name, sizeof(usurper.name), "usurper");
	CHECK_EQ(meta_format(F.m, &usurper, 1, err, sizeof(err)), -EEXIST);
	REQUIRE_EQ(meta_load_settings(F.m, &s, err, sizeof(err)), 0);
	CHECK_STR(s.uuid, s2.uuid);
	CHECK_STR(s.name, "renamed");
	/* the slice counter gc reads before its scan */
	uint64_t last = 99, first = 0;
	CHECK_EQ(meta_last_slice_id(F.m, &last), 0);
	CHECK_EQ(meta_new_slice_ids(F.m, 3, &first), 0);
	CHECK_EQ(meta_last_slice_id(F.m, &last), 0);
	CHECK_EQ(last, first + 2);
	struct gfs_attr root;
	REQUIRE_EQ(meta_getattr(F.m, F.root, &root), 0);
	CHECK_EQ(root.type, GFS_DIR);
	CHECK_EQ(root.mode, 0755);
	CHECK_EQ(root.nlink, 2);
	CHECK_EQ(root.parent, GFS_ROOT_INO);
	CHECK(root.gen != 0);
	/* an unknown format version is refused */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "HSET 'gatefs{gfs}:setting' version 99");
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	err[0] = 0;
	CHECK_EQ(meta_load_settings(F.m, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "99") != NULL);
	/* a volume under another prefix is not formatted */
	struct meta *other;
	char url[200];
	snprintf(url, sizeof(url), "%s?prefix=other", F.redis.url);
	REQUIRE_EQ(meta_open(url, &other, err, sizeof(err)), 0);
	CHECK_EQ(meta_load_settings(other, &s, err, sizeof(err)), -ENOENT);
	meta_close(other);
	fixture_down(&F);
}

TEST(create_lookup_getattr)
{
	UP();
	struct gfs_attr a, b, r0, r1;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_getattr(F.m, F.root, &r0), 0);
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "f", 0640, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	CHECK_EQ(a.type, GFS_REG);
	CHECK_EQ(a.mode, 0640);
	CHECK_EQ(a.nlink, 1);
	CHECK_EQ(a.size, 0);
	CHECK(a.ino > GFS_ROOT_INO);
	CHECK(a.gen != 0);
	CHECK(w.has_pre && w.has_post);
	CHECK_EQ(w.pre_change, r0.change);
	CHECK(w.post.change > r0.change);
	REQUIRE_EQ(meta_getattr(F.m, F.root, &r1), 0);
	CHECK_EQ(r1.change, w.post.change);
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, F.root, "f", &b), 0);
	CHECK_EQ(b.ino, a.ino);
	CHECK_EQ(b.gen, a.gen);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&a), &b), 0);
	CHECK_EQ(b.ino, a.ino);
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, "missing", &b), -ENOENT);
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, ".", &b), 0);
	CHECK_EQ(b.ino, GFS_ROOT_INO);
	/* GUARDED over an existing name */
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "f", 0640, GFS_CREATE_GUARDED, NULL, &b, &w), -EEXIST);
	/* UNCHECKED over an existing file returns that file */
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "f", 0600, GFS_CREATE_UNCHECKED, NULL, &b, &w), 0);
	CHECK_EQ(b.ino, a.ino);
	CHECK_EQ(b.mode, 0640);
	struct gfs_attr d = mk(&ROOT, F.root, "d", 1);
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "d", 0600, GFS_CREATE_UNCHECKED, NULL, &b, &w), -EISDIR);
	/* EXCLUSIVE: a replay with the same verifier gets the same file */
	uint8_t v1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, v2[8] = {8, 7, 6, 5, 4, 3, 2, 1};
	struct gfs_attr e1, e2;
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "x", 0600, GFS_CREATE_EXCLUSIVE, v1, &e1, &w), 0);
	REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, "x", 0600, GFS_CREATE_EXCLUSIVE, v1, &e2, &w), 0);
	CHECK_EQ(e1.ino, e2.ino);
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "x", 0600, GFS_CREATE_EXCLUSIVE, v2, &e2, &w), -EEXIST);
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, "f", 0600, GFS_CREATE_EXCLUSIVE, v1, &e2, &w), -EEXIST);
	/* not a directory */
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&a), "y", &b), -ENOTDIR);
	CHECK_EQ(meta_create(F.m, &ROOT, ref_of(&a), "y", 0600, GFS_CREATE_GUARDED, NULL, &b, &w), -ENOTDIR);
	/* wrong generation */
	struct gfs_ref stale = ref_of(&a);
	stale.gen ^= 0x5a5a;
	CHECK_EQ(meta_getattr(F.m, stale, &b), -ESTALE);
	struct gfs_ref stale_dir = ref_of(&d);
	stale_dir.gen ^= 1;
	CHECK_EQ(meta_create(F.m, &ROOT, stale_dir, "z", 0600, GFS_CREATE_GUARDED, NULL, &b, &w), -ESTALE);
	CHECK_EQ(meta_getattr(F.m, (struct gfs_ref){999999, 0}, &b), -ESTALE);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(names)
{
	UP();
	struct gfs_attr a;
	struct gfs_wcc w;
	const char *bad[] = {"", ".", "..", "a/b", "/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(meta_create(F.m, &ROOT, F.root, bad[i], 0600, GFS_CREATE_GUARDED, NULL, &a, &w), -EINVAL);
		CHECK_EQ(meta_mkdir(F.m, &ROOT, F.root, bad[i], 0700, &a, &w), -EINVAL);
		CHECK_EQ(meta_remove(F.m, &ROOT, F.root, bad[i], &w), -EINVAL);
		CHECK_EQ(meta_rename(F.m, &ROOT, F.root, bad[i], F.root, "ok", &w, &w), -EINVAL);
	}
	char name[300];
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, name, 0600, GFS_CREATE_GUARDED, NULL, &a, &w), -ENAMETOOLONG);
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, name, &a), -ENAMETOOLONG);
	name[255] = 0;
	CHECK_EQ(meta_create(F.m, &ROOT, F.root, name, 0600, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
	CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, name, &a), 0);
	/* names are bytes: UTF-8, spaces and Lua pattern characters are ordinary */
	const char *odd[] = {"with space", "caf\xc3\xa9", "%d+.*[", "100%"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		CHECK_EQ(meta_create(F.m, &ROOT, F.root, odd[i], 0600, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
		CHECK_EQ(meta_lookup(F.m, &ROOT, F.root, odd[i], &a), 0);
	}
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(mkdir_rmdir_remove)
{
	UP();
	struct gfs_attr a, root;
	struct gfs_wcc w;
	struct gfs_attr d = mk(&ROOT, F.root, "d", 1);
	CHECK_EQ(d.type, GFS_DIR);
	CHECK_EQ(d.nlink, 2);
	CHECK_EQ(d.parent, GFS_ROOT_INO);
	REQUIRE_EQ(meta_getattr(F.m, F.root, &root), 0);
	CHECK_EQ(root.nlink, 3);
	CHECK_EQ(meta_mkdir(F.m, &ROOT, F.root, "d", 0755, &a, &w), -EEXIST);
	struct gfs_attr sub = mk(&ROOT, ref_of(&d), "sub", 1);
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, ref_of(&sub), "..", &a), 0);
	CHECK_EQ(a.ino, d.ino);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&d), &a), 0);
	CHECK_EQ(a.nlink, 3);
	struct gfs_attr f = mk(&ROOT, ref_of(&d), "f", 0);
	CHECK_EQ(meta_rmdir(F.m, &ROOT, ref_of(&d), "f", &w), -ENOTDIR);
	CHECK_EQ(meta_remove(F.m, &ROOT, ref_of(&d), "sub", &w), -EISDIR);
	CHECK_EQ(meta_rmdir(F.m, &ROOT, F.root, "d", &w), -ENOTEMPTY);
	CHECK_EQ(meta_rmdir(F.m, &ROOT, F.root, "nothing", &w), -ENOENT);
	CHECK_EQ(meta_remove(F.m, &ROOT, F.root, "nothing", &w), -ENOENT);
	/* hard link keeps the inode alive */
	struct gfs_attr la;
	REQUIRE_EQ(meta_link(F.m, &ROOT, ref_of(&f), F.root, "hard", &la, &w), 0);
	CHECK_EQ(la.nlink, 2);
	CHECK_EQ(meta_link(F.m, &ROOT, ref_of(&f), F.root, "hard", &la, &w), -EEXIST);
	CHECK_EQ(meta_link(F.m, &ROOT, ref_of(&d), F.root, "dirlink", &la, &w), -EPERM);
	REQUIRE_EQ(meta_remove(F.m, &ROOT, ref_of(&d), "f", &w), 0);
	CHECK(w.has_pre && w.has_post);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.nlink, 1);
	REQUIRE_EQ(meta_remove(F.m, &ROOT, F.root, "hard", &w), 0);
	CHECK_EQ(meta_getattr(F.m, ref_of(&f), &a), -ESTALE);
	CHECK_EQ(meta_getattr(F.m, (struct gfs_ref){f.ino, 0}, &a), -ESTALE);
	REQUIRE_EQ(meta_rmdir(F.m, &ROOT, ref_of(&d), "sub", &w), 0);
	REQUIRE_EQ(meta_rmdir(F.m, &ROOT, F.root, "d", &w), 0);
	REQUIRE_EQ(meta_getattr(F.m, F.root, &root), 0);
	CHECK_EQ(root.nlink, 2);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d), "x", &a), -ESTALE);
	struct gfs_statfs st;
	REQUIRE_EQ(meta_statfs(F.m, &st), 0);
	CHECK_EQ(st.used_files, 1);
	CHECK(st.total_bytes >= (1ULL << 50));
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(symlink_mknod_readlink)
{
	UP();
	struct gfs_attr a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_symlink(F.m, &ROOT, F.root, "ln", "some/where/../else", 0777, &a, &w), 0);
	CHECK_EQ(a.type, GFS_LNK);
	CHECK_EQ(a.size, strlen("some/where/../else"));
	char buf[64];
	size_t len = 0;
	REQUIRE_EQ(meta_readlink(F.m, &ALICE, ref_of(&a), buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, strlen("some/where/../else"));
	CHECK(memcmp(buf, "some/where/../else", len) == 0);
	CHECK_EQ(meta_readlink(F.m, &ALICE, ref_of(&a), buf, 4, &len), -ERANGE);
	CHECK_EQ(meta_symlink(F.m, &ROOT, F.root, "ln", "x", 0777, &a, &w), -EEXIST);
	struct gfs_attr f = mk(&ROOT, F.root, "f", 0);
	CHECK_EQ(meta_readlink(F.m, &ROOT, ref_of(&f), buf, sizeof(buf), &len), -EINVAL);
	REQUIRE_EQ(meta_mknod(F.m, &ROOT, F.root, "fifo", GFS_FIFO, 0600, 0, 0, &a, &w), 0);
	CHECK_EQ(a.type, GFS_FIFO);
	REQUIRE_EQ(meta_mknod(F.m, &ROOT, F.root, "blk", GFS_BLK, 0600, 8, 3, &a, &w), 0);
	CHECK_EQ(a.rdev_major, 8);
	CHECK_EQ(a.rdev_minor, 3);
	CHECK_EQ(meta_mknod(F.m, &ROOT, F.root, "dir", GFS_DIR, 0600, 0, 0, &a, &w), -EINVAL);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(permissions)
{
	UP();
	struct gfs_attr a;
	struct gfs_wcc w;
	/* root dir is 0755 root:root: others may look but not write */
	CHECK_EQ(meta_create(F.m, &ALICE, F.root, "a", 0644, GFS_CREATE_GUARDED, NULL, &a, &w), -EACCES);
	CHECK_EQ(meta_mkdir(F.m, &ALICE, F.root, "a", 0755, &a, &w), -EACCES);
	uint32_t granted = 0;
	REQUIRE_EQ(meta_access(F.m, &ALICE, F.root, 0x3f, &granted, &a), 0);
	CHECK_EQ(granted, GFS_ACCESS_READ | GFS_ACCESS_LOOKUP);
	REQUIRE_EQ(meta_access(F.m, &ROOT, F.root, 0x3f, &granted, &a), 0);
	CHECK_EQ(granted,
		 GFS_ACCESS_READ | GFS_ACCESS_LOOKUP | GFS_ACCESS_MODIFY | GFS_ACCESS_EXTEND | GFS_ACCESS_DELETE);
	/* a sticky world-writable dir, like /tmp */
	struct gfs_attr tmp = mk(&ROOT, F.root, "tmp", 1);
	chmod_as(&ROOT, ref_of(&tmp), 01777);
	struct gfs_attr af, bf;
	REQUIRE_EQ(meta_create(F.m, &ALICE, ref_of(&tmp), "alice", 0600, GFS_CREATE_GUARDED, NULL, &af, &w), 0);
	CHECK_EQ(af.uid, 1000);
	CHECK_EQ(af.gid, 1000);
	REQUIRE_EQ(meta_create(F.m, &BOB, ref_of(&tmp), "bob", 0666, GFS_CREATE_GUARDED, NULL, &bf, &w), 0);
	CHECK_EQ(meta_remove(F.m, &BOB, ref_of(&tmp), "alice", &w), -EPERM);
	CHECK_EQ(meta_rename(F.m, &BOB, ref_of(&tmp), "alice", ref_of(&tmp), "mine", &w, &w), -EPERM);
	CHECK_EQ(meta_rename(F.m, &BOB, ref_of(&tmp), "bob", ref_of(&tmp), "alice", &w, &w), -EPERM);
	/* 0600 file: bob can neither read xattrs nor truncate */
	CHECK_EQ(meta_access(F.m, &BOB, ref_of(&af), GFS_ACCESS_READ | GFS_ACCESS_MODIFY, &granted, NULL), 0);
	CHECK_EQ(granted, 0);
	struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 0};
	CHECK_EQ(meta_setattr(F.m, &BOB, ref_of(&af), &sa, NULL, &w), -EACCES);
	/* chmod: owner or root only */
	sa = (struct gfs_setattr){.valid = GFS_SET_MODE, .mode = 0777};
	CHECK_EQ(meta_setattr(F.m, &BOB, ref_of(&af), &sa, NULL, &w), -EPERM);
	/* chown: root only; chgrp: owner to a group of its own */
	sa = (struct gfs_setattr){.valid = GFS_SET_UID, .uid = 1001};
	CHECK_EQ(meta_setattr(F.m, &ALICE, ref_of(&af), &sa, NULL, &w), -EPERM);
	sa = (struct gfs_setattr){.valid = GFS_SET_GID, .gid = 50};
	CHECK_EQ(meta_setattr(F.m, &ALICE, ref_of(&af), &sa, NULL, &w), -EPERM);
	CHECK_EQ(meta_setattr(F.m, &BOB, ref_of(&bf), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.gid, 50);
	/* setuid is dropped when a non-root owner changes the group */
	sa = (struct gfs_setattr){.valid = GFS_SET_MODE, .mode = 04755};
	REQUIRE_EQ(meta_setattr(F.m, &BOB, ref_of(&bf), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.mode, 04755);
	sa = (struct gfs_setattr){.valid = GFS_SET_GID, .gid = 1001};
	REQUIRE_EQ(meta_setattr(F.m, &BOB, ref_of(&bf), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.mode, 0755);
	sa = (struct gfs_setattr){.valid = GFS_SET_UID | GFS_SET_GID, .uid = 7, .gid = 8};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&af), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.uid, 7);
	CHECK_EQ(w.post.gid, 8);
	/* times: "now" needs write permission, explicit times need ownership */
	sa = (struct gfs_setattr){.valid = GFS_SET_MTIME_NOW | GFS_SET_ATIME_NOW};
	CHECK_EQ(meta_setattr(F.m, &ALICE, ref_of(&bf), &sa, NULL, &w), -EACCES); /* 0755: no write for alice */
	chmod_as(&BOB, ref_of(&bf), 0666);
	CHECK_EQ(meta_setattr(F.m, &ALICE, ref_of(&bf), &sa, NULL, &w), 0);
	sa = (struct gfs_setattr){.valid = GFS_SET_MTIME, .mtime = {1000, 5}};
	CHECK_EQ(meta_setattr(F.m, &ALICE, ref_of(&bf), &sa, NULL, &w), -EPERM);
	REQUIRE_EQ(meta_setattr(F.m, &BOB, ref_of(&bf), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.mtime.sec, 1000);
	CHECK_EQ(w.post.mtime.nsec, 5);
	/* search permission on a directory */
	struct gfs_attr priv = mk(&ROOT, F.root, "priv", 1);
	mk(&ROOT, ref_of(&priv), "inner", 0);
	chmod_as(&ROOT, ref_of(&priv), 0700);
	CHECK_EQ(meta_lookup(F.m, &ALICE, ref_of(&priv), "inner", &a), -EACCES);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&priv), "inner", &a), 0);
	CHECK_EQ(meta_remove(F.m, &ALICE, ref_of(&priv), "inner", &w), -EACCES);
	/* group membership through supplementary groups */
	chmod_as(&ROOT, ref_of(&priv), 0770);
	sa = (struct gfs_setattr){.valid = GFS_SET_GID, .gid = 50};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&priv), &sa, NULL, &w), 0);
	CHECK_EQ(meta_lookup(F.m, &BOB, ref_of(&priv), "inner", &a), 0);
	CHECK_EQ(meta_lookup(F.m, &ALICE, ref_of(&priv), "inner", &a), -EACCES);
	/* root may not execute a file without any x bit */
	REQUIRE_EQ(meta_access(F.m, &ROOT, ref_of(&af), GFS_ACCESS_EXECUTE, &granted, NULL), 0);
	CHECK_EQ(granted, 0);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(setattr_guard_and_size)
{
	UP();
	struct gfs_attr f = mk(&ROOT, F.root, "f", 0), d = mk(&ROOT, F.root, "d", 1), a;
	struct gfs_wcc w;
	struct gfs_time wrong = {f.ctime.sec - 1, f.ctime.nsec};
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 0600};
	CHECK_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, &wrong, &w), -GFS_ENOTSYNC);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(a.mode, 0644);
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, &f.ctime, &w), 0);
	CHECK(w.has_pre && w.has_post);
	CHECK_EQ(w.post.mode, 0600);
	CHECK(w.post.change > w.pre_change);
	sa = (struct gfs_setattr){.valid = GFS_SET_SIZE, .size = 12345};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&f), &sa, NULL, &w), 0);
	CHECK_EQ(w.post.size, 12345);
	CHECK_EQ(w.pre_size, 0);
	CHECK_EQ(meta_setattr(F.m, &ROOT, ref_of(&d), &sa, NULL, &w), -EISDIR);
	struct gfs_ref stale = ref_of(&f);
	stale.gen++;
	CHECK_EQ(meta_setattr(F.m, &ROOT, stale, &sa, NULL, &w), -ESTALE);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(rename_cases)
{
	UP();
	struct gfs_attr a, r;
	struct gfs_wcc sw, dw;
	struct gfs_attr d1 = mk(&ROOT, F.root, "d1", 1), d2 = mk(&ROOT, F.root, "d2", 1);
	struct gfs_attr f1 = mk(&ROOT, ref_of(&d1), "f1", 0), f2 = mk(&ROOT, ref_of(&d2), "f2", 0);
	/* file over file, across directories: the target is gone */
	REQUIRE_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "f1", ref_of(&d2), "f2", &sw, &dw), 0);
	CHECK(sw.has_pre && sw.has_post && dw.has_pre && dw.has_post);
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, ref_of(&d2), "f2", &a), 0);
	CHECK_EQ(a.ino, f1.ino);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d1), "f1", &a), -ENOENT);
	CHECK_EQ(meta_getattr(F.m, ref_of(&f2), &a), -ESTALE);
	/* directory across directories: nlink and parent follow */
	struct gfs_attr sub = mk(&ROOT, ref_of(&d1), "sub", 1);
	mk(&ROOT, ref_of(&sub), "deep", 1);
	REQUIRE_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "sub", ref_of(&d2), "sub", &sw, &dw), 0);
	CHECK_EQ(sw.post.nlink, 2);
	CHECK_EQ(dw.post.nlink, 3);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&sub), &a), 0);
	CHECK_EQ(a.parent, d2.ino);
	/* into its own subtree, or onto itself as parent */
	struct gfs_attr deep;
	REQUIRE_EQ(meta_lookup(F.m, &ROOT, ref_of(&sub), "deep", &deep), 0);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d2), "sub", ref_of(&deep), "x", &sw, &dw), -EINVAL);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d2), "sub", ref_of(&sub), "x", &sw, &dw), -EINVAL);
	CHECK_EQ(meta_rename(F.m, &ROOT, F.root, "d2", ref_of(&deep), "x", &sw, &dw), -EINVAL);
	/* type clashes */
	struct gfs_attr e = mk(&ROOT, ref_of(&d1), "empty", 1);
	mk(&ROOT, ref_of(&d1), "file", 0);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d2), "sub", ref_of(&d1), "file", &sw, &dw), -ENOTDIR);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "file", ref_of(&d1), "empty", &sw, &dw), -EISDIR);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "empty", ref_of(&d2), "sub", &sw, &dw), -ENOTEMPTY);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "nope", ref_of(&d2), "x", &sw, &dw), -ENOENT);
	/* dir over empty dir */
	REQUIRE_EQ(meta_rename(F.m, &ROOT, ref_of(&d2), "sub", ref_of(&d1), "empty", &sw, &dw), 0);
	CHECK_EQ(meta_getattr(F.m, ref_of(&e), &a), -ESTALE);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&d1), &a), 0);
	CHECK_EQ(a.nlink, 3);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&d2), &a), 0);
	CHECK_EQ(a.nlink, 2);
	/* same inode under two names: nothing happens */
	struct gfs_attr h;
	REQUIRE_EQ(meta_link(F.m, &ROOT, ref_of(&f1), ref_of(&d1), "h", &h, &dw), 0);
	REQUIRE_EQ(meta_rename(F.m, &ROOT, ref_of(&d2), "f2", ref_of(&d1), "h", &sw, &dw), 0);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d2), "f2", &a), 0);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d1), "h", &a), 0);
	CHECK_EQ(a.nlink, 2);
	REQUIRE_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "h", ref_of(&d1), "h", &sw, &dw), 0);
	/* rename within one directory */
	REQUIRE_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "h", ref_of(&d1), "h2", &sw, &dw), 0);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d1), "h2", &a), 0);
	CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d1), "h", &a), -ENOENT);
	/* a stale destination directory */
	struct gfs_ref stale = ref_of(&d1);
	stale.gen ^= 3;
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "h2", stale, "h3", &sw, &dw), -ESTALE);
	CHECK_EQ(meta_rename(F.m, &ROOT, ref_of(&d1), "h2", ref_of(&f1), "h3", &sw, &dw), -ENOTDIR);
	REQUIRE_EQ(meta_getattr(F.m, F.root, &r), 0);
	CHECK_EQ(r.nlink, 4);
	CHECK_EQ(fsck_problems(F.m), 0);
	fixture_down(&F);
}

TEST(xattrs)
{
	UP();
	struct gfs_attr f = mk(&ROOT, F.root, "f", 0), a;
	char buf[128];
	size_t len = 0;
	CHECK_EQ(meta_getxattr(F.m, &ROOT, ref_of(&f), "user.a", buf, sizeof(buf), &len), -ENODATA);
	REQUIRE_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), "user.a", "hello\0bin", 9, 0), 0);
	REQUIRE_EQ(meta_getxattr(F.m, &ROOT, ref_of(&f), "user.a", buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, 9);
	CHECK(memcmp(buf, "hello\0bin", 9) == 0);
	CHECK_EQ(meta_getxattr(F.m, &ROOT, ref_of(&f), "user.a", NULL, 0, &len), 0);
	CHECK_EQ(len, 9);
	CHECK_EQ(meta_getxattr(F.m, &ROOT, ref_of(&f), "user.a", buf, 3, &len), -ERANGE);
	CHECK_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), "user.a", "x", 1, GFS_XATTR_CREATE), -EEXIST);
	CHECK_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), "user.b", "x", 1, GFS_XATTR_REPLACE), -ENODATA);
	REQUIRE_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), "user.b", "", 0, GFS_XATTR_CREATE), 0);
	REQUIRE_EQ(meta_listxattr(F.m, &ROOT, ref_of(&f), NULL, 0, &len), 0);
	CHECK_EQ(len, 14);
	CHECK_EQ(meta_listxattr(F.m, &ROOT, ref_of(&f), buf, 5, &len), -ERANGE);
	REQUIRE_EQ(meta_listxattr(F.m, &ROOT, ref_of(&f), buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, 14);
	CHECK(memmem(buf, len, "user.a\0", 7) && memmem(buf, len, "user.b\0", 7));
	char big[GFS_XATTR_SIZE_MAX + 1];
	memset(big, 'v', sizeof(big));
	CHECK_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), "user.big", big, sizeof(big), 0), -ERANGE);
	CHECK_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), "user.big", big, GFS_XATTR_SIZE_MAX, 0), 0);
	char lname[300];
	memset(lname, 'x', 256);
	lname[256] = 0;
	CHECK_EQ(meta_setxattr(F.m, &ROOT, ref_of(&f), lname, "v", 1, 0), -ERANGE);
	CHECK_EQ(meta_setxattr(F.m, &ALICE, ref_of(&f), "user.c", "v", 1, 0), -EACCES);
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &a), 0);
	CHECK_EQ(meta_removexattr(F.m, &ROOT, ref_of(&f), "user.a"), 0);
	CHECK_EQ(meta_removexattr(F.m, &ROOT, ref_of(&f), "user.a"), -ENODATA);
	struct gfs_attr b;
	REQUIRE_EQ(meta_getattr(F.m, ref_of(&f), &b), 0);
	CHECK(b.change > a.change);
	struct gfs_wcc w;
	REQUIRE_EQ(meta_remove(F.m, &ROOT, F.root, "f", &w), 0);
	CHECK_EQ(meta_getxattr(F.m, &ROOT, ref_of(&f), "user.b", buf, sizeof(buf), &len), -ESTALE);
	CHECK_EQ(fsck_problems(F.m), 0); /* the xattr hash went with the inode */
	fixture_down(&F);
}

struct fsck_lines {
	int n;
	char text[4096];
};

static void keep_line(void *arg, const char *line)
{
	struct fsck_lines *l = arg;
	l->n++;
	size_t used = strlen(l->text);
	snprintf(l->text + used, sizeof(l->text) - used, "%s\n", line);
}

/* fsck must find damage that no script can cause: made by hand with redis-cli. */
TEST(fsck_finds_damage)
{
	UP();
	struct gfs_attr d = mk(&ROOT, F.root, "d", 1), f = mk(&ROOT, ref_of(&d), "f", 0);
	struct gfs_attr g = mk(&ROOT, F.root, "g", 0);
	REQUIRE_EQ(fsck_problems(F.m), 0);
	char cmd[256];
	/* wrong link count on f */
	snprintf(cmd, sizeof(cmd), "HSET 'gatefs{gfs}:i%llu' n 5", (unsigned long long)f.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	/* g's inode vanishes: its entry dangles */
	snprintf(cmd, sizeof(cmd), "DEL 'gatefs{gfs}:i%llu'", (unsigned long long)g.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	/* an inode nobody names */
	REQUIRE_EQ(tl_redis_cmd(&F.redis, "HSET 'gatefs{gfs}:i99' i 99 t 1 m 420 u 0 g 0 n 1 s 0 gen 7 ch 1"), 0);
	/* a chunk record beyond its chunk */
	snprintf(cmd, sizeof(cmd), "SET 'gatefs{gfs}:c%llu_0' 0123456789abcdefghijklmn", (unsigned long long)f.ino);
	REQUIRE_EQ(tl_redis_cmd(&F.redis, cmd), 0);
	struct fsck_lines l = {0};
	int n = meta_fsck(F.m, keep_line, &l);
	fprintf(stderr, "%s", l.text);
	CHECK_EQ(n, l.n);
	CHECK(n >= 5);
	CHECK(strstr(l.text, "nlink 5") != NULL);
	CHECK(strstr(l.text, "missing inode") != NULL);
	CHECK(strstr(l.text, "inode 99: orphan") != NULL);
	CHECK(strstr(l.text, "beyond the chunk") != NULL);
	CHECK(strstr(l.text, "nextinode") != NULL);
	fixture_down(&F);
}

TEST_MAIN()
