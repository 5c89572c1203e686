/*
 * pmap.c - the builtin portmapper: PMAP v2 (NULL, GETPORT, DUMP) and
 * RPCBIND v3/v4 (NULL, GETADDR, DUMP, and v4 GETVERSADDR) answered from a
 * fixed table of gatefs's own programs.  SET and UNSET are refused: this is
 * not a general rpcbind, only enough for NFS clients to find us.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rpc/rpc.h>
#include <rpc/pmap_prot.h>
#include <rpc/rpcb_prot.h>
#include <rpc/svc.h>
/* ntirpc's inline XDR helpers have unused parameters. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <rpc/xdr_inline.h>
#pragma GCC diagnostic pop

#include "pmap.h"

#define PMAP_MAX_MAPPINGS 32

static struct pmap_mapping table[PMAP_MAX_MAPPINGS];
static size_t table_len;

void pmap_set_table(const struct pmap_mapping *maps, size_t n)
{
	if (n > PMAP_MAX_MAPPINGS)
		n = PMAP_MAX_MAPPINGS;
	memcpy(table, maps, n * sizeof(*maps));
	table_len = n;
}

static const char *proto_netid(uint32_t proto)
{
	return proto == PMAP_PROTO_TCP ? "tcp" : "udp";
}

static bool netid_matches(const char *netid, uint32_t proto)
{
	/* "tcp6"/"udp6" name the same sockets when we listen on a wildcard. */
	return netid && strncmp(netid, proto_netid(proto), 3) == 0;
}

/* The universal address (RFC 5665) of this server as the client reached it. */
static void server_uaddr(const struct rpc_call *call, uint32_t port, char *out, size_t outlen)
{
	const struct sockaddr_storage *local = svc_getrpclocal(call->req->rq_xprt);
	char host[INET6_ADDRSTRLEN] = "127.0.0.1";

	if (local->ss_family == AF_INET) {
		struct in_addr a = ((const struct sockaddr_in *)local)->sin_addr;
		if (a.s_addr == htonl(INADDR_ANY))
			a = call->req->rq_xprt->xp_pktinfo.in.ipi_addr;
		if (a.s_addr != htonl(INADDR_ANY))
			inet_ntop(AF_INET, &a, host, sizeof(host));
	} else if (local->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)local)->sin6_addr;
		if (!IN6_IS_ADDR_UNSPECIFIED(a))
			inet_ntop(AF_INET6, a, host, sizeof(host));
	}
	snprintf(out, outlen, "%s.%u.%u", host, port >> 8, port & 0xff);
}

static enum rpc_disposition pmap_null(struct rpc_call *call, void *args, void *result)
{
	(void)call;
	(void)args;
	(void)result;
	return RPC_OK;
}

static enum rpc_disposition pmap_refuse(struct rpc_call *call, void *args, void *result)
{
	(void)call;
	(void)args;
	*(bool_t *)result = FALSE;
	return RPC_OK;
}

static enum rpc_disposition pmap_getport(struct rpc_call *call, void *args, void *result)
{
	const struct pmap *want = args;

	(void)call;
	*(u_int *)result = 0;
	for (size_t i = 0; i < table_len; i++) {
		if (table[i].prog == want->pm_prog && table[i].vers == want->pm_vers &&
		    table[i].proto == want->pm_prot) {
			*(u_int *)result = table[i].port;
			break;
		}
	}
	return RPC_OK;
}

static enum rpc_disposition pmap_dump(struct rpc_call *call, void *args, void *result)
{
	struct pmaplist **list = result;

	(void)call;
	(void)args;
	for (size_t i = table_len; i-- > 0;) {
		struct pmaplist *node = calloc(1, sizeof(*node));
		if (!node)
			return RPC_SYSTEM_ERR;
		node->pml_map.pm_prog = table[i].prog;
		node->pml_map.pm_vers = table[i].vers;
		node->pml_map.pm_prot = table[i].proto;
		node->pml_map.pm_port = table[i].port;
		node->pml_next = *list;
		*list = node;
	}
	return RPC_OK;
}

/* GETADDR: the exact version; GETVERSADDR (v4) falls back to any version,
 * as RFC 1833 allows, so the answer is never empty when the program runs. */
static enum rpc_disposition rpcb_proc_lookup(struct rpc_call *call, const struct rpcb *want, char **result,
					     bool any_version)
{
	char uaddr[96] = "";

	for (int pass = 0; pass < (any_version ? 2 : 1) && !uaddr[0]; pass++) {
		for (size_t i = 0; i < table_len; i++) {
			if (table[i].prog != want->r_prog || (pass == 0 && table[i].vers != want->r_vers))
				continue;
			if (want->r_netid && want->r_netid[0] && !netid_matches(want->r_netid, table[i].proto))
				continue;
			server_uaddr(call, table[i].port, uaddr, sizeof(uaddr));
			break;
		}
	}
	*result = strdup(uaddr);
	return *result ? RPC_OK : RPC_SYSTEM_ERR;
}

static enum rpc_disposition rpcb_proc_getaddr(struct rpc_call *call, void *args, void *result)
{
	return rpcb_proc_lookup(call, args, result, false);
}

static enum rpc_disposition rpcb_proc_getversaddr(struct rpc_call *call, void *args, void *result)
{
	return rpcb_proc_lookup(call, args, result, true);
}

static enum rpc_disposition rpcb_proc_dump(struct rpc_call *call, void *args, void *result)
{
	rpcblist_ptr *list = result;

	(void)args;
	for (size_t i = table_len; i-- > 0;) {
		char uaddr[96];
		rp__list *node = calloc(1, sizeof(*node));
		if (!node)
			return RPC_SYSTEM_ERR;
		node->rpcb_next = *list;
		*list = node;
		server_uaddr(call, table[i].port, uaddr, sizeof(uaddr));
		node->rpcb_map.r_prog = table[i].prog;
		node->rpcb_map.r_vers = table[i].vers;
		node->rpcb_map.r_netid = strdup(proto_netid(table[i].proto));
		node->rpcb_map.r_addr = strdup(uaddr);
		node->rpcb_map.r_owner = strdup("gatefs");
		if (!node->rpcb_map.r_netid || !node->rpcb_map.r_addr || !node->rpcb_map.r_owner)
			return RPC_SYSTEM_ERR;
	}
	return RPC_OK;
}

static bool xdr_bool_result(XDR *xdrs, void *obj)
{
	return xdr_bool(xdrs, obj);
}

/* rpcgen routines return bool_t and take typed pointers; cast through a
 * plain function type, as the table wants rpc_xdr_fn. */
#define XDR(fn) ((rpc_xdr_fn)(void (*)(void))(fn))

static const struct rpc_proc pmap2_procs[] = {
    [PMAPPROC_NULL] = {"NULL", NULL, 0, NULL, 0, pmap_null, 0},
    [PMAPPROC_SET] = {"SET", XDR(xdr_pmap), sizeof(struct pmap), XDR(xdr_bool_result), sizeof(bool_t), pmap_refuse, 0},
    [PMAPPROC_UNSET] = {"UNSET", XDR(xdr_pmap), sizeof(struct pmap), XDR(xdr_bool_result), sizeof(bool_t), pmap_refuse,
			0},
    [PMAPPROC_GETPORT] = {"GETPORT", XDR(xdr_pmap), sizeof(struct pmap), XDR(xdr_u_int), sizeof(u_int), pmap_getport,
			  0},
    [PMAPPROC_DUMP] = {"DUMP", NULL, 0, XDR(xdr_pmaplist), sizeof(struct pmaplist *), pmap_dump, 0},
};

static const struct rpc_proc rpcb_procs[] = {
    [0] = {"NULL", NULL, 0, NULL, 0, pmap_null, 0},
    [RPCBPROC_SET] = {"SET", XDR(xdr_rpcb), sizeof(struct rpcb), XDR(xdr_bool_result), sizeof(bool_t), pmap_refuse, 0},
    [RPCBPROC_UNSET] = {"UNSET", XDR(xdr_rpcb), sizeof(struct rpcb), XDR(xdr_bool_result), sizeof(bool_t), pmap_refuse,
			0},
    [RPCBPROC_GETADDR] = {"GETADDR", XDR(xdr_rpcb), sizeof(struct rpcb), XDR(xdr_wrapstring), sizeof(char *),
			  rpcb_proc_getaddr, 0},
    [RPCBPROC_DUMP] = {"DUMP", NULL, 0, XDR(xdr_rpcblist_ptr), sizeof(rpcblist_ptr), rpcb_proc_dump, 0},
    [5] = {"CALLIT", NULL, 0, NULL, 0, NULL, 0},
    [6] = {"GETTIME", NULL, 0, NULL, 0, NULL, 0},
    [7] = {"UADDR2TADDR", NULL, 0, NULL, 0, NULL, 0},
    [8] = {"TADDR2UADDR", NULL, 0, NULL, 0, NULL, 0},
    [RPCBPROC_GETVERSADDR] = {"GETVERSADDR", XDR(xdr_rpcb), sizeof(struct rpcb), XDR(xdr_wrapstring), sizeof(char *),
			      rpcb_proc_getversaddr, 0},
};

const struct rpc_program pmap2_program = {"PMAP", PMAPPROG, PMAPVERS, 5, pmap2_procs, false};
const struct rpc_program rpcb3_program = {"RPCBIND", RPCBPROG, RPCBVERS, 5, rpcb_procs, false};
const struct rpc_program rpcb4_program = {"RPCBIND", RPCBPROG, RPCBVERS4, 10, rpcb_procs, false};
