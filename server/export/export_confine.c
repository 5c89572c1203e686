/*
 * export_confine.c - keeps a handle inside its export when it walks up:
 * whether ".." of a directory lies inside the tree this gateway exports.
 * The root inode of an export is resolved when the gateway starts, and the
 * export directory can be renamed, or removed and made again through another
 * gateway, while handles issued for it stay valid (their MAC is good), so
 * the check follows the parents rather than trusting the handle.
 */
#include <errno.h>

#include "export.h"

/* Deeper than any real tree; a longer chain of parents is a damaged (or
 * cyclic) volume, and confinement then refuses. */
#define MAX_DEPTH 4096

int export_parent_allowed(struct gfs_vfs *vfs, const struct export *ex, struct gfs_ref dir)
{
	if (dir.ino == ex->root.ino)
		return 0;
	if (ex->root.ino == GFS_ROOT_INO) /* the whole volume: every parent is inside */
		return 1;
	/* Walk up: the export directory may have been renamed, or removed and
	 * made again by another gateway, so the handle's inode can lie outside
	 * the tree this gateway exports even though its MAC is good. */
	gfs_ino_t ino = dir.ino;
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		struct gfs_attr a;
		int rc = gfs_getattr(vfs, (struct gfs_ref){ino, 0}, &a);
		if (rc < 0)
			return rc;
		if (a.type != GFS_DIR || a.parent == ino) /* the volume root */
			return -ESTALE;
		if (a.parent == ex->root.ino)
			return 1;
		ino = a.parent;
	}
	return -ESTALE;
}
