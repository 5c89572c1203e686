/*
 * proc_cost.h - what a workload cost the server processes, read from /proc:
 * CPU time (user + system, all threads) and context switches (voluntary and
 * involuntary, summed over the threads alive at each sample).  nfsbench -p
 * samples before and after each workload and prints the difference per
 * operation, so that the cost of one RPC can be compared between servers.
 */
#ifndef GATEFS_BENCH_PROC_COST_H
#define GATEFS_BENCH_PROC_COST_H

#include <stdint.h>
#include <sys/types.h>

#define PROC_COST_MAX_PIDS 4

struct proc_sample {
	double cpu_seconds;
	uint64_t switches;
};

struct proc_cost {
	int npids;
	pid_t pids[PROC_COST_MAX_PIDS];
	char names[PROC_COST_MAX_PIDS][32];
	struct proc_sample start[PROC_COST_MAX_PIDS];
};

/* Parses "PID[,PID...]"; returns 0 or -EINVAL. */
int proc_cost_parse(struct proc_cost *pc, const char *list);

/* Samples every process: the start of a workload. */
void proc_cost_begin(struct proc_cost *pc);

/* Samples again and prints one COST line per process:
 * COST <label> <workload> <name> <pid> <cpu_us_per_op> <switches_per_op>. */
void proc_cost_end(struct proc_cost *pc, const char *label, const char *workload, uint64_t ops);

#endif
