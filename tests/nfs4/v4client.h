/*
 * v4client.h - the project's own NFSv4.1 test client: libtirpc and the
 * rpcgen codecs of the server's nfs4_prot.x.  It sends COMPOUNDs exactly
 * as built by the caller (so tests can send wrong ones too), keeps a
 * session's slot sequence ids, and decodes the attributes tests read.
 */
#ifndef GATEFS_TEST_V4CLIENT_H
#define GATEFS_TEST_V4CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <rpc/rpc.h>

#include "nfs4_prot.h"

#define V4_MAX_OPS 16

struct v4 {
	CLIENT *cl;
	clientid4 clientid;
	sequenceid4 cs_seq;
	sessionid4 sessionid;
	sequenceid4 slot_seq[8];
	/* the fore channel's negotiated compound sizes (CREATE_SESSION) */
	count4 max_request, max_response;
	bool back_chan; /* CREATE_SESSION granted CONN_BACK_CHAN */
	/* Send each call as one record of one fragment, as the Linux client
	 * does, instead of through libtirpc, which cuts a record into
	 * fragments of 64 KiB (256 KiB at most) that the server receives
	 * into separate buffers.  Set after v4_open_session. */
	bool one_fragment;
	uint32_t xid; /* the last one sent that way */
	/* The compound being built: ops and the storage their names point at. */
	nfs_argop4 ops[V4_MAX_OPS];
	u_int nops;
	COMPOUND4res res;
};

/* A TCP client of program 100003 version 4 as uid/gid (AUTH_SYS), from an
 * unprivileged source port unless privileged is set. */
CLIENT *v4_connect(int port, uint32_t uid, uint32_t gid, bool privileged);
/* Connects and sets up a client and a session (EXCHANGE_ID with owner,
 * CREATE_SESSION).  0 or -1. */
int v4_open_session(struct v4 *s, int port, uint32_t uid, uint32_t gid, const char *owner);
/* The same, asking for the connection as the session's backchannel
 * (CONN_BACK_CHAN, AUTH_SYS, program NFS4_CALLBACK) when back_chan. */
int v4_open_session_cb(struct v4 *s, int port, uint32_t uid, uint32_t gid, const char *owner, bool back_chan);
void v4_close(struct v4 *s);

/* Building a compound: v4_begin clears it (and frees the last result);
 * each v4_add returns the op to fill in. */
void v4_begin(struct v4 *s);
nfs_argop4 *v4_add(struct v4 *s, nfs_opnum4 op);
/* SEQUENCE on slot with the slot's next sequence id. */
void v4_seq(struct v4 *s, uint32_t slot);
void v4_putfh(struct v4 *s, const nfs_fh4 *fh);
void v4_lookup(struct v4 *s, const char *name);
void v4_getattr(struct v4 *s);
/* Sends the compound with minorversion 1; returns the RPC status.  The
 * result stays in s->res until the next v4_begin. */
enum clnt_stat v4_send(struct v4 *s);
enum clnt_stat v4_send_minor(struct v4 *s, uint32_t minor);
/* Status of result i (or -1 if there is no result i). */
int v4_status(const struct v4 *s, u_int i);

/* GETATTR request set of v4_getattr and its decoding. */
struct v4_attrs {
	uint32_t type;
	uint64_t change, size;
	fsid4 fsid;
	uint64_t fileid;
	uint32_t mode, numlinks;
	char owner[32], group[32];
	uint64_t mounted_on_fileid;
};
extern const uint32_t v4_attr_request[2];
int v4_decode_attrs(const fattr4 *f, struct v4_attrs *out);
/* fattr4 holding only mode (and size when with_size); owns buf. */
void v4_sattr_mode(fattr4 *f, uint8_t buf[16], uint32_t mode, bool with_size, uint64_t size);

/* A copy of a handle (free with free(out->nfs_fh4_val)). */
void v4_fh_copy(nfs_fh4 *out, const nfs_fh4 *in);

#endif
