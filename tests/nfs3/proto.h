/*
 * proto.h - the shared fixture of the nfs3_proto_test program: one gateway
 * for the whole run, started on first use, with root handles of each test
 * export and a root (uid 0) client on /hf.
 */
#ifndef GATEFS_TEST_NFS3_PROTO_H
#define GATEFS_TEST_NFS3_PROTO_H

#include "client.h"
#include "gateway.h"

struct fixture {
	struct gateway gw;
	CLIENT *root;		 /* uid 0 on /hf */
	nfs_fh3 hf, sq, ro, sec; /* export roots */
	int ok;
};

/* The fixture, started on first use; NULL if the gateway cannot start. */
struct fixture *fx(void);
/* Stops the gateway (see gw_stop); later fx() calls return NULL. */
int fx_stop(void);
/* A fresh directory (mode 0777) under /hf named after the test. */
int fx_testdir(const char *name, nfs_fh3 *out);

#define CALL(c, PROC, ARGS, a, RES, r)                                                                                 \
	client_call((c), NFSPROC3_##PROC, (xdrproc_t)xdr_##ARGS, &(a), (xdrproc_t)xdr_##RES, &(r))
/* xdr_void takes no arguments in libtirpc; cast through a plain function type. */
#define XDR_VOID ((xdrproc_t)(void (*)(void))xdr_void)
#define FREE_RES(c, RES, r) clnt_freeres((c), (xdrproc_t)xdr_##RES, (char *)&(r))

static inline filename3 wname(const char *s)
{
	filename3 n = {(u_int)strlen(s), (char *)s};
	return n;
}

#endif
