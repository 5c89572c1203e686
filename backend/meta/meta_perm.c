/*
 * meta_perm.c - permission checks on attributes held in gatefs, for the
 * answers that the attribute cache gives without Redis.  The rules must
 * stay exactly those of may() in lua/_lib.lua and of lua/access.lua, which
 * decide every mutation: a cached answer never grants what a script would
 * refuse.
 */
#include "meta_cache.h"

static int in_group(const struct gfs_cred *cred, uint32_t gid)
{
	if (cred->gid == gid)
		return 1;
	for (uint32_t i = 0; i < cred->ngroups && i < GFS_MAX_GROUPS; i++)
		if (cred->groups[i] == gid)
			return 1;
	return 0;
}

int meta_may(const struct gfs_cred *cred, const struct gfs_attr *a, unsigned mask)
{
	static const struct gfs_cred root;
	if (!cred)
		cred = &root;
	if (cred->uid == 0) /* root: all but executing a file that nobody may execute */
		return (mask & 1) == 0 || a->type == GFS_DIR || (a->mode & 0111) != 0;
	unsigned bits;
	if (cred->uid == a->uid)
		bits = a->mode >> 6;
	else if (in_group(cred, a->gid))
		bits = a->mode >> 3;
	else
		bits = a->mode;
	return (bits & mask) == mask;
}

uint32_t meta_access_granted(const struct gfs_cred *cred, const struct gfs_attr *a, uint32_t want)
{
	int isdir = a->type == GFS_DIR;
	const struct {
		uint32_t bit;
		int ok;
	} rules[] = {
	    {GFS_ACCESS_READ, meta_may(cred, a, 4)},
	    {GFS_ACCESS_LOOKUP, isdir && meta_may(cred, a, 1)},
	    {GFS_ACCESS_MODIFY, meta_may(cred, a, 2)},
	    {GFS_ACCESS_EXTEND, meta_may(cred, a, 2)},
	    {GFS_ACCESS_DELETE, isdir && meta_may(cred, a, 3)},
	    {GFS_ACCESS_EXECUTE, !isdir && meta_may(cred, a, 1)},
	};
	uint32_t granted = 0;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if ((want & rules[i].bit) && rules[i].ok)
			granted |= rules[i].bit;
	return granted;
}
