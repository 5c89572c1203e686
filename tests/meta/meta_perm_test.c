/*
 * meta_perm_test.c - the one permission model (meta_perm.h) held to one
 * table of (credentials, type, mode, operation) cases with what Linux knfsd
 * answers.  Each row runs through both halves: the C rules (meta_permit,
 * meta_access_granted: the data path and cached answers) and the Lua rules
 * (the scripts, through the engine operation that uses them, against a real
 * redis-server).  A rule changed in one half only fails here.
 */
#include "meta_fixture.h"
#include "meta_perm.h"

static struct fixture F;

/* The object of every row: owned by uid 1000, group 100. */
#define OWNER 1000
#define GROUP 100
static const struct gfs_cred OWNER_C = {OWNER, 1000, 0, {0}};
static const struct gfs_cred MEMBER_C = {2000, 2000, 1, {GROUP}};
static const struct gfs_cred OTHER_C = {3000, 3000, 0, {0}};
static const struct gfs_cred SQUASHED_C = {65534, 65534, 0, {0}};

enum op {
	OP_READ,     /* READ data (C only: the vfs checks it) */
	OP_WRITE,    /* WRITE data (C only) */
	OP_TRUNCATE, /* SETATTR size (Lua), the WRITE row in C */
	OP_LOOKUP,   /* LOOKUP in a directory */
	OP_CREATE,   /* CREATE in a directory */
	OP_READDIR,  /* READDIR of a directory */
	OP_ACCESS,   /* ACCESS: expect = the granted bits of want */
};

struct row {
	const char *why;
	const struct gfs_cred *cred;
	enum gfs_ftype type;
	uint32_t mode;
	enum op op;
	uint32_t want;	 /* OP_ACCESS */
	uint32_t expect; /* 1 allowed / 0 refused; OP_ACCESS: granted bits */
};

#define R GFS_ACCESS_READ
#define L GFS_ACCESS_LOOKUP
#define M GFS_ACCESS_MODIFY
#define X GFS_ACCESS_EXTEND
#define D GFS_ACCESS_DELETE
#define E GFS_ACCESS_EXECUTE
#define ALL (R | L | M | X | D | E)

static const struct row rows[] = {
    /* data: the owner passes (NFSD_MAY_OWNER_OVERRIDE), others need bits */
    {"owner reads mode 0", &OWNER_C, GFS_REG, 0000, OP_READ, 0, 1},
    {"owner writes mode 0", &OWNER_C, GFS_REG, 0000, OP_WRITE, 0, 1},
    {"owner truncates mode 0444", &OWNER_C, GFS_REG, 0444, OP_TRUNCATE, 0, 1},
    {"owner truncates mode 0", &OWNER_C, GFS_REG, 0000, OP_TRUNCATE, 0, 1},
    {"member reads 0040", &MEMBER_C, GFS_REG, 0040, OP_READ, 0, 1},
    {"member reads 0404: group class decides", &MEMBER_C, GFS_REG, 0404, OP_READ, 0, 0},
    {"other reads 0004", &OTHER_C, GFS_REG, 0004, OP_READ, 0, 1},
    {"other reads 0440", &OTHER_C, GFS_REG, 0440, OP_READ, 0, 0},
    {"other reads execute-only 0711", &OTHER_C, GFS_REG, 0711, OP_READ, 0, 1},
    {"member reads execute-only 0710", &MEMBER_C, GFS_REG, 0710, OP_READ, 0, 1},
    {"other reads 0710: no x for others", &OTHER_C, GFS_REG, 0710, OP_READ, 0, 0},
    {"other writes 0002", &OTHER_C, GFS_REG, 0002, OP_WRITE, 0, 1},
    {"other writes 0775", &OTHER_C, GFS_REG, 0775, OP_WRITE, 0, 0},
    {"other writes 0001: exec gives no write", &OTHER_C, GFS_REG, 0001, OP_WRITE, 0, 0},
    {"other truncates 0666", &OTHER_C, GFS_REG, 0666, OP_TRUNCATE, 0, 1},
    {"other truncates 0664", &OTHER_C, GFS_REG, 0664, OP_TRUNCATE, 0, 0},
    {"member truncates 0646: group class decides", &MEMBER_C, GFS_REG, 0646, OP_TRUNCATE, 0, 0},
    {"squashed root truncates 0644", &SQUASHED_C, GFS_REG, 0644, OP_TRUNCATE, 0, 0},
    {"root reads mode 0", &ROOT, GFS_REG, 0000, OP_READ, 0, 1},
    {"root writes mode 0", &ROOT, GFS_REG, 0000, OP_WRITE, 0, 1},
    {"root truncates mode 0", &ROOT, GFS_REG, 0000, OP_TRUNCATE, 0, 1},
    /* directories: no owner override */
    {"owner looks up in 0600", &OWNER_C, GFS_DIR, 0600, OP_LOOKUP, 0, 0},
    {"other looks up in 0701", &OTHER_C, GFS_DIR, 0701, OP_LOOKUP, 0, 1},
    {"root looks up in 0", &ROOT, GFS_DIR, 0000, OP_LOOKUP, 0, 1},
    {"owner creates in 0500", &OWNER_C, GFS_DIR, 0500, OP_CREATE, 0, 0},
    {"owner creates in 0300", &OWNER_C, GFS_DIR, 0300, OP_CREATE, 0, 1},
    {"member creates in 0720: needs search", &MEMBER_C, GFS_DIR, 0720, OP_CREATE, 0, 0},
    {"member creates in 0730", &MEMBER_C, GFS_DIR, 0730, OP_CREATE, 0, 1},
    {"other creates in 0777", &OTHER_C, GFS_DIR, 0777, OP_CREATE, 0, 1},
    {"root creates in 0", &ROOT, GFS_DIR, 0000, OP_CREATE, 0, 1},
    {"owner lists 0300", &OWNER_C, GFS_DIR, 0300, OP_READDIR, 0, 0},
    {"other lists 0004", &OTHER_C, GFS_DIR, 0004, OP_READDIR, 0, 1},
    /* ACCESS: no owner override, knfsd's maps */
    {"ACCESS owner, file 0", &OWNER_C, GFS_REG, 0000, OP_ACCESS, ALL, 0},
    {"ACCESS owner, file 0700", &OWNER_C, GFS_REG, 0700, OP_ACCESS, ALL, R | M | X | E},
    {"ACCESS other, file 0711", &OTHER_C, GFS_REG, 0711, OP_ACCESS, ALL, E},
    {"ACCESS member, file 0060", &MEMBER_C, GFS_REG, 0060, OP_ACCESS, ALL, R | M | X},
    {"ACCESS root, file 0644: no execute", &ROOT, GFS_REG, 0644, OP_ACCESS, ALL, R | M | X},
    {"ACCESS root, file 0100", &ROOT, GFS_REG, 0100, OP_ACCESS, ALL, R | M | X | E},
    {"ACCESS other, dir 0777", &OTHER_C, GFS_DIR, 0777, OP_ACCESS, ALL, R | L | M | X | D},
    {"ACCESS other, dir 0772: modify needs search", &OTHER_C, GFS_DIR, 0772, OP_ACCESS, ALL, 0},
    {"ACCESS other, dir 0775", &OTHER_C, GFS_DIR, 0775, OP_ACCESS, ALL, R | L},
    {"ACCESS member, dir 0730", &MEMBER_C, GFS_DIR, 0730, OP_ACCESS, ALL, L | M | X | D},
    {"ACCESS root, dir 0", &ROOT, GFS_DIR, 0000, OP_ACCESS, ALL, R | L | M | X | D},
    {"ACCESS squashed root, dir 0770", &SQUASHED_C, GFS_DIR, 0770, OP_ACCESS, ALL, 0},
};

static unsigned c_acc(enum op op)
{
	switch (op) {
	case OP_READ:
		return META_PERM_READ_DATA;
	case OP_WRITE:
	case OP_TRUNCATE:
		return META_PERM_WRITE_DATA;
	case OP_LOOKUP:
		return META_MAY_EXEC;
	case OP_CREATE:
		return META_MAY_WRITE | META_MAY_EXEC;
	case OP_READDIR:
		return META_MAY_READ;
	default:
		return 0;
	}
}

static int count_entry(void *arg, const struct gfs_dirent *e)
{
	(void)e;
	++*(int *)arg;
	return 0;
}

/* The row through the scripts: 1 allowed, 0 refused, -1 neither. */
static int lua_answer(const struct row *r, struct gfs_ref ref, uint32_t *granted)
{
	struct gfs_wcc w;
	struct gfs_attr a;
	int rc, n = 0, eof;
	uint64_t verf;
	switch (r->op) {
	case OP_TRUNCATE: {
		struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = 0};
		rc = meta_setattr(F.m, r->cred, ref, &sa, NULL, &w);
		break;
	}
	case OP_LOOKUP:
		rc = meta_lookup(F.m, r->cred, ref, ".", &a);
		break;
	case OP_CREATE:
		rc = meta_create(F.m, r->cred, ref, "new", 0644, GFS_CREATE_GUARDED, NULL, &a, &w);
		break;
	case OP_READDIR:
		rc = meta_readdir(F.m, r->cred, ref, 0, 0, 0, 0, count_entry, &n, &eof, &verf, NULL);
		break;
	case OP_ACCESS:
		rc = meta_access(F.m, r->cred, ref, r->want, granted, NULL);
		break;
	default:
		return -1;
	}
	if (rc == 0)
		return 1;
	return rc == -EACCES ? 0 : -1;
}

TEST(one_table_through_c_and_lua)
{
	REQUIRE(fixture_up(&F) == 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		char name[32];
		snprintf(name, sizeof(name), "row%zu", i);
		struct gfs_attr a;
		struct gfs_wcc w;
		int rc = r->type == GFS_DIR
			     ? meta_mkdir(F.m, &ROOT, F.root, name, 0755, &a, &w)
			     : meta_create(F.m, &ROOT, F.root, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w);
		REQUIRE_EQ(rc, 0);
		struct gfs_ref ref = ref_of(&a);
		struct gfs_setattr own = {.valid = GFS_SET_UID | GFS_SET_GID, .uid = OWNER, .gid = GROUP};
		struct gfs_setattr mode = {.valid = GFS_SET_MODE, .mode = r->mode};
		REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref, &own, NULL, &w), 0);
		REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref, &mode, NULL, &w), 0);
		REQUIRE_EQ(meta_getattr(F.m, ref, &a), 0);

		uint32_t c_says = r->op == OP_ACCESS ? meta_access_granted(r->cred, &a, r->want)
						     : (uint32_t)meta_permit(r->cred, &a, c_acc(r->op));
		if (c_says != r->expect)
			tl_fail(__FILE__, __LINE__, "C: %s: got %u, knfsd %u", r->why, c_says, r->expect);
		uint32_t granted = 0;
		int lua = lua_answer(r, ref, &granted);
		if (lua < 0 && r->op != OP_READ && r->op != OP_WRITE)
			tl_fail(__FILE__, __LINE__, "Lua: %s: unexpected error", r->why);
		uint32_t lua_says = r->op == OP_ACCESS ? granted : (uint32_t)lua;
		if (lua >= 0 && lua_says != r->expect)
			tl_fail(__FILE__, __LINE__, "Lua: %s: got %u, knfsd %u", r->why, lua_says, r->expect);
	}
	fixture_down(&F);
}

/* The privilege bits, in the scripts: mode after a WRITE (GFS_SET_DROP_SUID),
 * a truncate and a chown, against Linux's should_remove_suid. */
TEST(suid_bits_after_write_truncate_chown)
{
	REQUIRE(fixture_up(&F) == 0);
	static const struct {
		const struct gfs_cred *cred;
		uint32_t valid, before, after;
	} cases[] = {
	    {&OTHER_C, GFS_SET_DROP_SUID, 06777, 0777},
	    {&OTHER_C, GFS_SET_DROP_SUID, 06767, 02767}, /* S_ISGID without group-exec stays */
	    {&OWNER_C, GFS_SET_DROP_SUID, 04700, 0700},
	    {&ROOT, GFS_SET_DROP_SUID, 06777, 06777},
	    {&OTHER_C, GFS_SET_SIZE, 06777, 0777},
	    {&ROOT, GFS_SET_SIZE, 06777, 06777},
	    {&ROOT, GFS_SET_UID, 06755, 0755},
	    {&OWNER_C, GFS_SET_GID, 06755, 0755}, /* chgrp to its own group */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "suid%zu", i);
		struct gfs_attr a;
		struct gfs_wcc w;
		REQUIRE_EQ(meta_create(F.m, &ROOT, F.root, name, 0644, GFS_CREATE_GUARDED, NULL, &a, &w), 0);
		struct gfs_ref ref = ref_of(&a);
		struct gfs_setattr own = {.valid = GFS_SET_UID | GFS_SET_GID, .uid = OWNER, .gid = 1000};
		struct gfs_setattr mode = {.valid = GFS_SET_MODE, .mode = cases[i].before};
		REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref, &own, NULL, &w), 0);
		REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref, &mode, NULL, &w), 0);
		struct gfs_setattr sa = {.valid = cases[i].valid, .uid = OWNER, .gid = 1000, .size = 0};
		CHECK_EQ(meta_setattr(F.m, cases[i].cred, ref, &sa, NULL, &w), 0);
		REQUIRE_EQ(meta_getattr(F.m, ref, &a), 0);
		if (a.mode != cases[i].after)
			tl_fail(__FILE__, __LINE__, "case %zu: mode %o, Linux %o", i, a.mode, cases[i].after);
		if (cases[i].valid == GFS_SET_DROP_SUID || cases[i].valid == GFS_SET_SIZE) /* the C half */
			CHECK_EQ(meta_mode_after_write(cases[i].cred, GFS_REG, cases[i].before), cases[i].after);
	}
	fixture_down(&F);
}

/* Devices: only uid 0 (CAP_MKNOD), after the directory's own checks and the
 * name's existence; FIFOs and sockets need only the directory rights. */
TEST(device_nodes_only_for_uid_0)
{
	REQUIRE(fixture_up(&F) == 0);
	struct gfs_attr d, a;
	struct gfs_wcc w;
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "dev", 0777, &d, &w), 0);
	struct gfs_setattr sa = {.valid = GFS_SET_MODE, .mode = 01777};
	REQUIRE_EQ(meta_setattr(F.m, &ROOT, ref_of(&d), &sa, NULL, &w), 0);
	const struct gfs_cred *users[] = {&OWNER_C, &SQUASHED_C};
	for (size_t i = 0; i < 2; i++) {
		char name[32];
		snprintf(name, sizeof(name), "blk%zu", i);
		CHECK_EQ(meta_mknod(F.m, users[i], ref_of(&d), name, GFS_BLK, 0666, 8, 0, &a, &w), -EPERM);
		CHECK_EQ(meta_mknod(F.m, users[i], ref_of(&d), name, GFS_CHR, 0666, 1, 3, &a, &w), -EPERM);
		CHECK_EQ(meta_lookup(F.m, &ROOT, ref_of(&d), name, &a), -ENOENT);
		snprintf(name, sizeof(name), "fifo%zu", i);
		CHECK_EQ(meta_mknod(F.m, users[i], ref_of(&d), name, GFS_FIFO, 0666, 0, 0, &a, &w), 0);
		CHECK_EQ(meta_mknod(F.m, users[i], ref_of(&d), name, GFS_CHR, 0666, 1, 3, &a, &w), -EEXIST);
		snprintf(name, sizeof(name), "sock%zu", i);
		CHECK_EQ(meta_mknod(F.m, users[i], ref_of(&d), name, GFS_SOCK, 0666, 0, 0, &a, &w), 0);
	}
	CHECK_EQ(meta_mknod(F.m, &ROOT, ref_of(&d), "root-blk", GFS_BLK, 0600, 8, 0, &a, &w), 0);
	CHECK_EQ(a.rdev_major, 8);
	/* no right to create in the directory: that answers first */
	REQUIRE_EQ(meta_mkdir(F.m, &ROOT, F.root, "closed", 0755, &d, &w), 0);
	CHECK_EQ(meta_mknod(F.m, &OWNER_C, ref_of(&d), "blk", GFS_BLK, 0666, 8, 0, &a, &w), -EACCES);
	fixture_down(&F);
}

TEST_MAIN()
