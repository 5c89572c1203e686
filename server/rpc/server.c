/*
 * server.c - the program table of a running gateway.
 */
#include <errno.h>

#include "rpc_metrics.h"
#include "server.h"

int server_add_program(struct server *srv, const struct rpc_program *prog)
{
	if (srv->nprograms >= SERVER_MAX_PROGRAMS)
		return -ENOSPC;
	if (!rpc_metrics_program(prog))
		return -ENOMEM;
	srv->programs[srv->nprograms++] = prog;
	return 0;
}

const struct rpc_program *server_find_program(const struct server *srv, uint32_t prog, uint32_t vers, bool *prog_known,
					      uint32_t *low, uint32_t *high)
{
	*prog_known = false;
	*low = UINT32_MAX;
	*high = 0;
	for (size_t i = 0; i < srv->nprograms; i++) {
		const struct rpc_program *p = srv->programs[i];
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
