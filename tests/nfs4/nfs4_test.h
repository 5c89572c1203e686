/*
 * nfs4_test.h - what the NFSv4 test files share: the gateway (nfs4 = on,
 * the exports of the NFSv3 tests) and compound helpers over v4client.h.
 *
 * Exports: /hf rw no_root_squash, /sq root_squash anonuid=4242, /ro ro,
 * /only2 for 127.0.0.2 only, /sec secure port; all 127.0.0.1, insecure
 * unless said.
 */
#ifndef GATEFS_TEST_NFS4_TEST_H
#define GATEFS_TEST_NFS4_TEST_H

#include "gateway.h"
#include "testlib.h"
#include "v4client.h"

struct gateway *v4_gateway(void);
/* Two gateways of one volume: g1 with conf and the test exports, g2 its
 * peer with conf.  Started on the first v4_pair_up, stopped at exit. */
struct v4_pair {
	const char *conf;
	struct gateway g1, g2;
	int state; /* 0 not tried, 1 up, -1 failed */
	struct v4_pair *next_up;
};
bool v4_pair_up(struct v4_pair *p);
/* CLOCK_MONOTONIC in seconds. */
double v4_now_s(void);
/* A session as root (uid 0) on the shared gateway. */
int v4_root_session(struct v4 *s, const char *owner);
/* The handle of export (looked up from the pseudo root). */
int v4_export_fh(struct v4 *s, const char *export, nfs_fh4 *out);
/* Appends an OPEN (CLAIM_NULL; UNCHECKED4 with attrs when create). */
void v4_open_args(struct v4 *s, const char *owner, const char *name, uint32_t access, uint32_t deny, bool create,
		  fattr4 *attrs);
/* SEQUENCE, PUTFH dir, OPEN, GETFH: 0 (stateid, handle) or the status. */
int v4_open(struct v4 *s, const nfs_fh4 *dir, const char *owner, const char *name, uint32_t access, uint32_t deny,
	    bool create, stateid4 *sid, nfs_fh4 *fh);
/* READ (exactly len bytes expected) or WRITE FILE_SYNC: the op's status. */
int v4_io(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid, bool write, uint64_t off, void *data, u_int len);
int v4_close_file(struct v4 *s, const nfs_fh4 *fh, const stateid4 *sid);
/* SEQUENCE, PUTFH fh, OPEN CLAIM_PREVIOUS (a reclaim) by owner: the
 * status, and the stateid into *sid (may be NULL). */
int v4_reclaim_open(struct v4 *s, const nfs_fh4 *fh, const char *owner, uint32_t access, uint32_t deny, stateid4 *sid);
int v4_attrs_of(struct v4 *s, const nfs_fh4 *fh, struct v4_attrs *a);

#endif
