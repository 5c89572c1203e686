/*
 * rpc_service.c - the program table of rpc_service.h.
 */
#include <errno.h>

#include "rpc_metrics.h"
#include "rpc_service.h"

int rpc_service_add(struct rpc_service *svc, const struct rpc_program *prog)
{
	if (svc->nprograms >= RPC_MAX_PROGRAMS)
		return -ENOSPC;
	if (!rpc_metrics_program(prog))
		return -ENOMEM;
	svc->programs[svc->nprograms++] = prog;
	return 0;
}

const struct rpc_program *rpc_service_find(const struct rpc_service *svc, uint32_t prog, uint32_t vers,
					   bool *prog_known, uint32_t *low, uint32_t *high)
{
	*prog_known = false;
	*low = UINT32_MAX;
	*high = 0;
	for (size_t i = 0; i < svc->nprograms; i++) {
		const struct rpc_program *p = svc->programs[i];
		if (p->prog != prog)
			continue;
		if (p->vers == vers)
			return p;
		*prog_known = true;
		if (p->vers < *low)
			*low = p->vers;
		if (p->vers > *high)
			*high = p->vers;
	}
	return NULL;
}
