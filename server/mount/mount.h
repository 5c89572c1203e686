/*
 * mount.h - the MOUNT program, version 3 (RFC 1813 appendix I): hands out
 * the root handle of an export (or of a directory below it) to clients the
 * export admits, and keeps the list of mounts that DUMP reports (in memory
 * only: after a restart the list starts empty, as with Linux mountd).
 */
#ifndef GATEFS_MOUNT_H
#define GATEFS_MOUNT_H

#include "rpc.h"

extern const struct rpc_program mount3_program;

struct mount_list;
struct mount_list *mount_list_create(void);
void mount_list_destroy(struct mount_list *ml);

#endif
