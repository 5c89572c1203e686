/*
 * client.h - a synchronous NFSv3 test client on libtirpc, using the
 * server's own nfs3_prot.x compiled for libtirpc.  It can bind its source
 * address (127.0.0.2 for ACL tests) and a privileged port, set the xid of
 * the next call (DRC replay), and mount an export to get its root handle.
 */
#ifndef GATEFS_TEST_NFS3_CLIENT_H
#define GATEFS_TEST_NFS3_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <rpc/rpc.h>

#include "mount_client.h"
#include "nfs3_prot.h"

struct client_opts {
	const char *src_addr; /* NULL: 127.0.0.1 */
	bool privileged_port; /* bind a source port < 1024 (needs root) */
	uint32_t uid, gid;
};

/* A connected CLIENT for prog/vers on 127.0.0.1:port, AUTH_SYS uid/gid. */
CLIENT *client_connect(int port, uint32_t prog, uint32_t vers, const struct client_opts *o);
/* Destroys c and its AUTH. */
void client_destroy(CLIENT *c);
/* MNT path via the MOUNT port; fills fh (data malloc'd).  Returns the
 * mountstat3, or -1 on an RPC failure. */
int client_mount(int mount_port, const char *path, const struct client_opts *o, nfs_fh3 *fh);
/* One NFSv3 call; returns the clnt_stat. */
enum clnt_stat client_call(CLIENT *c, uint32_t proc, xdrproc_t xargs, void *args, xdrproc_t xres, void *res);

void fh_copy(nfs_fh3 *dst, const nfs_fh3 *src);
void fh_free(nfs_fh3 *fh);
bool fh_equal(const nfs_fh3 *a, const nfs_fh3 *b);

/* Convenience wrappers used by most tests: status returned, -1 on RPC error. */
int nfs_lookup(CLIENT *c, const nfs_fh3 *dir, const char *name, nfs_fh3 *out, fattr3 *attr);
int nfs_getattr(CLIENT *c, const nfs_fh3 *fh, fattr3 *attr);
int nfs_create(CLIENT *c, const nfs_fh3 *dir, const char *name, createmode3 how, uint32_t mode, const char *verf,
	       nfs_fh3 *out, fattr3 *attr);
int nfs_mkdir(CLIENT *c, const nfs_fh3 *dir, const char *name, uint32_t mode, nfs_fh3 *out);
int nfs_write(CLIENT *c, const nfs_fh3 *fh, uint64_t off, const void *buf, uint32_t len, stable_how how,
	      stable_how *committed, char verf[8]);
int nfs_read(CLIENT *c, const nfs_fh3 *fh, uint64_t off, uint32_t count, void *buf, uint32_t *got, bool *eof);
int nfs_remove(CLIENT *c, const nfs_fh3 *dir, const char *name);

#endif
