/*
 * meta_perm.c - the C half of the one permission model (meta_perm.h): the
 * checks of the data path and of answers the attribute cache gives without
 * Redis.  permit() and the access table in lua/_lib.lua are the same rules
 * for the scripts; tests/meta/meta_perm_test.c holds both to one table.
 */
#include "meta_perm.h"

static int in_group(const struct gfs_cred *cred, uint32_t gid)
{
	if (cred->gid == gid)
		return 1;
	for (uint32_t i = 0; i < cred->ngroups && i < GFS_MAX_GROUPS; i++)
		if (cred->groups[i] == gid)
			return 1;
	return 0;
}

int meta_permit(const struct gfs_cred *cred, const struct gfs_attr *a, unsigned acc)
{
	unsigned mask = acc & (META_MAY_READ | META_MAY_WRITE | META_MAY_EXEC);
	if (!cred || cred->uid == 0) /* all but executing a file that nobody may execute */
		return (mask & META_MAY_EXEC) == 0 || a->type == GFS_DIR || (a->mode & 0111) != 0;
	if ((acc & META_MAY_OWNER_OVERRIDE) && cred->uid == a->uid)
		return 1;
	unsigned bits;
	if (cred->uid == a->uid)
		bits = a->mode >> 6;
	else if (in_group(cred, a->gid))
		bits = a->mode >> 3;
	else
		bits = a->mode;
	if ((bits & mask) == mask)
		return 1;
	return (acc & META_MAY_READ_IF_EXEC) && mask == META_MAY_READ && a->type == GFS_REG &&
	       (bits & META_MAY_EXEC) != 0;
}

/* knfsd's nfs3_diraccess / nfs3_regaccess / nfs3_anyaccess maps: what each
 * ACCESS bit asks of a directory and of anything else (0 = never granted). */
static const struct {
	uint32_t bit;
	unsigned dir, other;
} access_map[] = {
    {GFS_ACCESS_READ, META_MAY_READ, META_MAY_READ},
    {GFS_ACCESS_LOOKUP, META_MAY_EXEC, 0},
    {GFS_ACCESS_MODIFY, META_MAY_WRITE | META_MAY_EXEC, META_MAY_WRITE},
    {GFS_ACCESS_EXTEND, META_MAY_WRITE | META_MAY_EXEC, META_MAY_WRITE},
    {GFS_ACCESS_DELETE, META_MAY_WRITE | META_MAY_EXEC, 0},
    {GFS_ACCESS_EXECUTE, 0, META_MAY_EXEC},
};

uint32_t meta_access_granted(const struct gfs_cred *cred, const struct gfs_attr *a, uint32_t want)
{
	uint32_t granted = 0;
	for (size_t i = 0; i < sizeof(access_map) / sizeof(access_map[0]); i++) {
		unsigned acc = a->type == GFS_DIR ? access_map[i].dir : access_map[i].other;
		if ((want & access_map[i].bit) && acc && meta_permit(cred, a, acc))
			granted |= access_map[i].bit;
	}
	return granted;
}

uint32_t meta_mode_after_write(const struct gfs_cred *cred, enum gfs_ftype type, uint32_t mode)
{
	if (type != GFS_REG || !cred || cred->uid == 0)
		return mode;
	mode &= ~(uint32_t)04000;
	if (mode & 010)
		mode &= ~(uint32_t)02000;
	return mode;
}
