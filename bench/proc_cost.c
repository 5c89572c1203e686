/*
 * proc_cost.c - per-workload CPU and context switches of server processes,
 * from /proc/PID/stat and /proc/PID/task/TID/status (see proc_cost.h).
 * Threads that exit during a workload take their switches with them; the
 * servers measured here keep their pools, so the undercount is small.
 */
#include "proc_cost.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int proc_cost_parse(struct proc_cost *pc, const char *list)
{
	memset(pc, 0, sizeof(*pc));
	for (const char *p = list; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p || pid <= 0 || pc->npids == PROC_COST_MAX_PIDS)
			return -EINVAL;
		pc->pids[pc->npids++] = (pid_t)pid;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	for (int i = 0; i < pc->npids; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pc->pids[i]);
		FILE *f = fopen(path, "r");
		if (!f || !fgets(pc->names[i], sizeof(pc->names[i]), f))
			snprintf(pc->names[i], sizeof(pc->names[i]), "pid%d", (int)pc->pids[i]);
		if (f)
			fclose(f);
		pc->names[i][strcspn(pc->names[i], "\n")] = '\0';
	}
	return pc->npids > 0 ? 0 : -EINVAL;
}

/* utime + stime of the whole process (fields 14 and 15, after the comm). */
static double cpu_seconds_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long utime = 0, stime = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t switches_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	uint64_t total = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char status[64 + sizeof(e->d_name) + 8], line[128];
		snprintf(status, sizeof(status), "%s/%s/status", path, e->d_name);
		FILE *f = fopen(status, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			uint64_t v;
			if (sscanf(line, "voluntary_ctxt_switches: %" SCNu64, &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %" SCNu64, &v) == 1)
				total += v;
		}
		fclose(f);
	}
	closedir(d);
	return total;
}

void proc_cost_begin(struct proc_cost *pc)
{
	for (int i = 0; i < pc->npids; i++) {
		pc->start[i].cpu_seconds = cpu_seconds_of(pc->pids[i]);
		pc->start[i].switches = switches_of(pc->pids[i]);
	}
}

void proc_cost_end(struct proc_cost *pc, const char *label, const char *workload, uint64_t ops)
{
	if (ops == 0)
		return;
	for (int i = 0; i < pc->npids; i++) {
		double cpu = cpu_seconds_of(pc->pids[i]) - pc->start[i].cpu_seconds;
		uint64_t sw = switches_of(pc->pids[i]);
		double per_op_sw = sw >= pc->start[i].switches ? (double)(sw - pc->start[i].switches) / (double)ops : 0;
		printf("COST\t%s\t%s\t%s\t%d\t%.1f\t%.2f\n", label, workload, pc->names[i], (int)pc->pids[i],
		       cpu * 1e6 / (double)ops, per_op_sw);
	}
	fflush(stdout);
}
