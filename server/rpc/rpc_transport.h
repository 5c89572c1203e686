/*
 * rpc_transport.h - the RPC transport on libntirpc: listeners for TCP
 * (record marking, one connection per client, requests run concurrently on
 * ntirpc's threads) and UDP, all dispatched to the programs of one struct
 * service (rpc_service.h, rpc_dispatch.c).
 */
#ifndef GATEFS_RPC_TRANSPORT_H
#define GATEFS_RPC_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc_service.h"

/* Largest RPC record accepted on TCP: a 1 MiB READ/WRITE payload plus
 * headers fits with room to spare.  A client announcing more is
 * disconnected before anything is allocated (rpc_recordcap.c). */
#define RPC_MAX_RECORD ((2u << 20) + 64 * 1024)

/* Starts ntirpc (threads, event channel).  Call once, with SIGPIPE, SIGINT
 * and SIGTERM already blocked so that ntirpc's threads inherit the mask. */
int rpc_transport_start(struct rpc_service *svc, uint32_t threads);
/* Binds addr:port over TCP (and UDP if udp is set) and starts serving.
 * port 0 picks a free port, the same for both; *bound_port receives it. */
int rpc_listen(const char *addr, int port, bool udp, int *bound_port);
/* Stops accepting, closes every connection and stops ntirpc's threads. */
void rpc_transport_stop(void);

/* Replies whose bytes are borrowed (XDR_PUTBUFS) until ntirpc has sent
 * them, possibly after the call returned: the code that lends counts them
 * here, and rpc_transport_stop waits for them so that nothing is given
 * back to a volume that has been closed. */
void rpc_borrowed_reply_begin(void);
void rpc_borrowed_reply_end(void);
/* Puts len bytes at data into the reply on xdrs, ntirpc's TCP record
 * stream (xdr_ioq), by reference: no copy.  The bytes must stay valid
 * until give_back runs, once, with a copy of ctx (ctx_size bytes): after
 * ntirpc has sent them, possibly after the call returned, or at once when
 * they had to be copied for want of memory.  The caller owns neither the
 * bytes nor ctx's contents afterwards, whatever is returned.  No XDR
 * padding is added. */
struct rpc_xdr;
bool rpc_put_lent(struct rpc_xdr *xdrs, const void *data, uint32_t len, void (*give_back)(void *ctx), void *ctx,
		  size_t ctx_size);

/* rpc_recordcap.c: the record size bound on TCP connections. */
void rpc_recordcap_track(int fd, uint32_t max_record);
void rpc_recordcap_untrack(int fd);
uint64_t rpc_recordcap_rejected(void);
/* True once libntirpc's code has been located: only its reads are handled. */
bool rpc_recordcap_confined(void);

/* rpc_dispatch.c: handles one decoded call header (ntirpc process_cb). */
struct svc_req;
int rpc_dispatch(struct rpc_service *svc, struct svc_req *req);

#endif
