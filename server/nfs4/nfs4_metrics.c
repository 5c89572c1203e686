/*
 * nfs4_metrics.c - per-operation metrics of NFSv4: a COMPOUND is one RPC
 * procedure to the transport's gatefs_rpc_* series, so what a v4 client
 * costs (how many OPENs per create, how long each WRITE takes) is only
 * visible per operation inside it.  One slot per operation number of the
 * table, registered once for the life of the process.
 */
#include "nfs4_impl.h"

#include <pthread.h>
#include <stdio.h>

#include "metrics.h"

#define NFS4_METRIC_OPS 72 /* operation numbers 0..OP_CLONE */

struct nfs4_op_metrics {
	struct metric_counter calls, errors;
	struct metric_histogram latency;
};

static struct nfs4_op_metrics op_metrics[NFS4_METRIC_OPS];

static void register_ops(void)
{
	char labels[64];

	for (uint32_t opnum = 0; opnum < NFS4_METRIC_OPS; opnum++) {
		const struct nfs4_op *op = nfs4_op_find(opnum);
		if (!op)
			continue;
		snprintf(labels, sizeof(labels), "operation=\"%s\"", op->name);
		struct nfs4_op_metrics *m = &op_metrics[opnum];
		metrics_register(METRIC_COUNTER, "gatefs_nfs4_operations_total",
				 "NFSv4 operations run inside COMPOUNDs, by operation.", labels, &m->calls);
		metrics_register(METRIC_COUNTER, "gatefs_nfs4_operation_errors_total",
				 "NFSv4 operations that ended the COMPOUND with a status other than NFS4_OK.", labels,
				 &m->errors);
		metrics_register(METRIC_HISTOGRAM, "gatefs_nfs4_operation_duration_seconds",
				 "Time an NFSv4 operation's handler ran.", labels, &m->latency);
	}
}

void nfs4_metrics_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_ops);
}

void nfs4_metrics_op(uint32_t opnum, nfsstat4 status, uint64_t start_ns)
{
	if (opnum >= NFS4_METRIC_OPS || !nfs4_op_find(opnum))
		return;
	struct nfs4_op_metrics *m = &op_metrics[opnum];
	metric_inc(&m->calls);
	if (status != NFS4_OK)
		metric_inc(&m->errors);
	metric_observe_since(&m->latency, start_ns);
}
