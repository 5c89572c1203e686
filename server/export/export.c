/*
 * export.c - the security decision made for every call: which export a
 * handle belongs to, whether this client (address, source port) may use it,
 * whether it may write, and the credentials after squashing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "export.h"
#include "fh.h"
#include "server.h"

uint32_t export_id_for_path(const char *path)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h ? h : 1;
}

const struct export *export_by_id(const struct server *srv, uint32_t id)
{
	for (size_t i = 0; i < srv->nexports; i++)
		if (srv->exports[i].id == id)
			return &srv->exports[i];
	return NULL;
}

const struct export *export_by_path(const struct server *srv, const char *path)
{
	for (size_t i = 0; i < srv->nexports; i++)
		if (strcmp(srv->exports[i].path, path) == 0)
			return &srv->exports[i];
	return NULL;
}

bool export_is_root(const struct export *ex, struct gfs_ref ref)
{
	return ref.ino == ex->root.ino;
}

/* The peer as raw address bytes; IPv4-mapped IPv6 counts as IPv4, so that
 * "127.0.0.1" matches a client that reached a dual-stack socket. */
static int peer_bytes(const struct sockaddr *peer, uint8_t out[16], int *port)
{
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		memcpy(out, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return AF_INET;
	}
	if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
		*port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(out, sin6->sin6_addr.s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(out, &sin6->sin6_addr, 16);
		return AF_INET6;
	}
	return AF_UNSPEC;
}

static bool prefix_matches(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

const struct export_client *export_match_client(const struct export *ex, const struct sockaddr *peer)
{
	uint8_t addr[16];
	int port;
	int family = peer_bytes(peer, addr, &port);

	for (size_t i = 0; i < ex->nclients; i++) {
		const struct export_client *c = &ex->clients[i];
		if (c->family == AF_UNSPEC)
			return c;
		if (c->family == family && prefix_matches(addr, c->addr, c->prefix_len))
			return c;
	}
	return NULL;
}

static void squash(const struct export_client *c, const struct rpc_call *call, struct gfs_cred *cred)
{
	memset(cred, 0, sizeof(*cred));
	if (!call->have_unix_cred || c->squash == EXPORT_ALL_SQUASH) {
		cred->uid = c->anonuid;
		cred->gid = c->anongid;
		return;
	}
	*cred = call->raw_cred;
	if (cred->ngroups > GFS_MAX_GROUPS)
		cred->ngroups = GFS_MAX_GROUPS;
	if (c->squash != EXPORT_ROOT_SQUASH)
		return;
	if (cred->uid == 0)
		cred->uid = c->anonuid;
	if (cred->gid == 0)
		cred->gid = c->anongid;
	for (uint32_t i = 0; i < cred->ngroups; i++)
		if (cred->groups[i] == 0)
			cred->groups[i] = c->anongid;
}

int export_admit_export(const struct rpc_call *call, const struct export *ex, struct export_access *out)
{
	const struct export_client *c = export_match_client(ex, (const struct sockaddr *)&call->peer);
	uint8_t addr[16];
	int port = 0;

	if (!c)
		return -EACCES;
	peer_bytes((const struct sockaddr *)&call->peer, addr, &port);
	if (c->secure && port >= 1024)
		return -EACCES;
	out->export = ex;
	out->ref = ex->root;
	out->read_only = c->read_only;
	squash(c, call, &out->cred);
	return 0;
}

int export_admit(const struct rpc_call *call, const void *fh, size_t fh_len, struct export_access *out)
{
	const struct server *srv = call->server;
	const struct export *ex;
	uint32_t export_id;
	struct gfs_ref ref;
	*out = (struct export_access){0}; /* a refused call has no export and no inode */
	int rc = fh_decode(srv->vol, fh, fh_len, &export_id, &ref);

	if (rc < 0)
		return rc;
	ex = export_by_id(srv, export_id);
	if (!ex)
		return -ESTALE;
	rc = export_admit_export(call, ex, out);
	if (rc < 0)
		return rc;
	out->ref = ref;
	return 0;
}
