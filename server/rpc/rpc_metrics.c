/*
 * rpc_metrics.c - the per-procedure metric tables of rpc_metrics.h, one
 * per program table, made when the program is added to a server and kept
 * for the life of the process.
 */
#include "rpc_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef GATEFS_VERSION
#define GATEFS_VERSION "dev"
#endif

#define MAX_PROGRAMS 32

struct program_slot {
	const struct rpc_program *_Atomic prog; /* published after procs */
	struct rpc_proc_metrics *procs;
};

static struct program_slot slots[MAX_PROGRAMS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric_gauge clients_connected;
static struct metric_counter connections_accepted;
static struct metric_gauge build_info;

static void register_process_metrics(void)
{
	metrics_register(METRIC_GAUGE, "gatefs_build_info", "Always 1; the labels name the build.",
			 "version=\"" GATEFS_VERSION "\"", &build_info);
	metric_gauge_set(&build_info, 1);
	metrics_register(METRIC_GAUGE, "gatefs_clients_connected", "TCP connections from RPC clients, now.", "",
			 &clients_connected);
	metrics_register(METRIC_COUNTER, "gatefs_connections_accepted_total", "TCP connections accepted.", "",
			 &connections_accepted);
}

struct rpc_proc_metrics *rpc_metrics_find(const struct rpc_program *prog)
{
	for (size_t i = 0; i < MAX_PROGRAMS; i++) {
		const struct rpc_program *p = atomic_load_explicit(&slots[i].prog, memory_order_acquire);
		if (p == prog)
			return slots[i].procs;
		if (!p)
			break;
	}
	return NULL;
}

static void register_program(const struct rpc_program *prog, struct rpc_proc_metrics *procs)
{
	char labels[160];

	for (uint32_t i = 0; i < prog->nprocs; i++) {
		if (!prog->procs[i].handler)
			continue;
		snprintf(labels, sizeof(labels), "program=\"%s\",version=\"%u\",procedure=\"%s\"", prog->name,
			 prog->vers, prog->procs[i].name);
		metrics_register(METRIC_COUNTER, "gatefs_rpc_calls_total", "RPC calls answered, by procedure.", labels,
				 &procs[i].calls);
		metrics_register(METRIC_COUNTER, "gatefs_rpc_errors_total",
				 "RPC calls rejected (garbage arguments, system error, dropped) or answered with a "
				 "protocol error status.",
				 labels, &procs[i].errors);
		metrics_register(METRIC_HISTOGRAM, "gatefs_rpc_duration_seconds",
				 "Time from a decoded call header to the reply handed to the transport.", labels,
				 &procs[i].latency);
	}
}

struct rpc_proc_metrics *rpc_metrics_program(const struct rpc_program *prog)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_process_metrics);

	pthread_mutex_lock(&slots_lock);
	struct rpc_proc_metrics *procs = rpc_metrics_find(prog);
	for (size_t i = 0; !procs && i < MAX_PROGRAMS; i++) {
		if (atomic_load(&slots[i].prog))
			continue;
		procs = calloc(prog->nprocs ? prog->nprocs : 1, sizeof(*procs));
		if (!procs)
			break;
		register_program(prog, procs);
		slots[i].procs = procs;
		atomic_store_explicit(&slots[i].prog, prog, memory_order_release);
	}
	pthread_mutex_unlock(&slots_lock);
	return procs;
}

void rpc_metrics_connection(int delta)
{
	metric_gauge_add(&clients_connected, delta);
	if (delta > 0)
		metric_inc(&connections_accepted);
}
