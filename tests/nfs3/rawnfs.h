/*
 * rawnfs.h - a blocking NFSv3 client for tests, over libnfs's raw RPC API:
 * one call on the wire per function, one call at a time, so a test knows
 * exactly which procedure each gateway answered.  Every function returns
 * the NFS status (NFS3_OK, NFS3ERR_*) or -1 when the call itself failed
 * (no connection, no reply within RN_REPLY_LIMIT_S); what the test needs
 * of a reply is copied out into caller-owned memory before libnfs frees it.
 */
#ifndef GATEFS_TEST_NFS3_RAWNFS_H
#define GATEFS_TEST_NFS3_RAWNFS_H

#include <stddef.h>
#include <stdint.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#define RN_REPLY_LIMIT_S 60

struct rn_fh {
	uint32_t len;
	char data[NFS3_FHSIZE];
};

struct rn_client {
	struct rpc_context *rpc;
	struct rn_fh root;
};

/* One directory entry of READDIRPLUS, with what the server sent of it. */
struct rn_entry {
	char name[256];
	uint64_t fileid;
	int has_attr, has_fh;
	fattr3 attr;
	struct rn_fh fh;
};

/* MOUNTs export through mount_port, then connects to nfs_port; 0 or -1. */
int rn_connect(struct rn_client *c, int nfs_port, int mount_port, const char *export);
void rn_close(struct rn_client *c);
/* AUTH_SYS credentials of the following calls. */
void rn_set_cred(struct rn_client *c, uint32_t uid, uint32_t gid);

int rn_fh_equal(const struct rn_fh *a, const struct rn_fh *b);

int rn_getattr(struct rn_client *c, const struct rn_fh *fh, fattr3 *attr);
int rn_setattr(struct rn_client *c, const struct rn_fh *fh, const sattr3 *how, fattr3 *after);
/* attr may be NULL; it is zeroed when the reply carried none. */
int rn_lookup(struct rn_client *c, const struct rn_fh *dir, const char *name, struct rn_fh *fh, fattr3 *attr);
int rn_access(struct rn_client *c, const struct rn_fh *fh, uint32_t want, uint32_t *granted);
/* GUARDED create of a regular file with mode. */
int rn_create(struct rn_client *c, const struct rn_fh *dir, const char *name, uint32_t mode, struct rn_fh *fh);
int rn_mkdir(struct rn_client *c, const struct rn_fh *dir, const char *name, uint32_t mode, struct rn_fh *fh);
int rn_symlink(struct rn_client *c, const struct rn_fh *dir, const char *name, const char *target, struct rn_fh *fh);
int rn_readlink(struct rn_client *c, const struct rn_fh *fh, char *target, size_t size);
int rn_remove(struct rn_client *c, const struct rn_fh *dir, const char *name);
int rn_rmdir(struct rn_client *c, const struct rn_fh *dir, const char *name);
int rn_rename(struct rn_client *c, const struct rn_fh *from_dir, const char *from, const struct rn_fh *to_dir,
	      const char *to);
int rn_link(struct rn_client *c, const struct rn_fh *fh, const struct rn_fh *dir, const char *name);
/* *committed (may be NULL) is what the server says it made stable. */
int rn_write(struct rn_client *c, const struct rn_fh *fh, uint64_t offset, const void *buf, uint32_t len,
	     stable_how how, stable_how *committed);
int rn_commit(struct rn_client *c, const struct rn_fh *fh);
/* Reads up to len bytes; *got and *eof as the server answered. */
int rn_read(struct rn_client *c, const struct rn_fh *fh, uint64_t offset, void *buf, uint32_t len, uint32_t *got,
	    int *eof);
/* Every entry of dir, following cookies to the end; *entries is malloc'd
 * (caller frees), *n its length. */
int rn_readdirplus(struct rn_client *c, const struct rn_fh *dir, struct rn_entry **entries, size_t *n);

/* Writes len bytes from buf at offset in WRITEs of up to 1 MiB. */
int rn_write_all(struct rn_client *c, const struct rn_fh *fh, uint64_t offset, const void *buf, size_t len,
		 stable_how how);
/* Reads the whole file (until EOF) into a malloc'd buffer. */
int rn_read_all(struct rn_client *c, const struct rn_fh *fh, char **buf, size_t *len);

#endif
