/*
 * rpc_metrics.h - the RPC layer's metrics (metrics.h): calls, errors and
 * latency per program, version and procedure, connected clients, and the
 * build.  Counted by rpc_dispatch.c and rpc_transport.c.
 */
#ifndef GATEFS_RPC_METRICS_H
#define GATEFS_RPC_METRICS_H

#include "metrics.h"
#include "rpc.h"

struct rpc_proc_metrics {
	struct metric_counter calls;
	struct metric_counter errors; /* RPC-level rejection, or a protocol status other than OK */
	struct metric_histogram latency;
};

/* The metrics of prog's procedures (indexed like prog->procs), registered
 * on the first call for this program; NULL if out of memory. */
struct rpc_proc_metrics *rpc_metrics_program(const struct rpc_program *prog);
/* The table registered for prog, or NULL (lock-free; for every call). */
struct rpc_proc_metrics *rpc_metrics_find(const struct rpc_program *prog);
/* A TCP connection was accepted (+1) or closed (-1). */
void rpc_metrics_connection(int delta);

#endif
