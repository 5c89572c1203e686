/*
 * mount.c - MOUNT v3 procedures (see mount.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rpc/rpc.h>

#include "log.h"
#include "fh.h"
#include "mount.h"
/* ntirpc's inline XDR helpers have unused parameters. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "mount_prot.h"
#pragma GCC diagnostic pop
#include "server.h"

struct mount_entry {
	char host[INET6_ADDRSTRLEN];
	char *dir;
	struct mount_entry *next;
};

/* DUMP is advisory (clients never depend on it) but its list lives in our
 * memory, so a client that mounts many paths must not grow it without end:
 * past these bounds the oldest entry (of that host, else of anyone) goes. */
#define MOUNT_LIST_MAX 1024
#define MOUNT_LIST_PER_HOST 64

struct mount_list {
	pthread_mutex_t lock;
	struct mount_entry *head; /* newest first */
};

struct mount_list *mount_list_create(void)
{
	struct mount_list *ml = calloc(1, sizeof(*ml));

	if (ml)
		pthread_mutex_init(&ml->lock, NULL);
	return ml;
}

void mount_list_destroy(struct mount_list *ml)
{
	if (!ml)
		return;
	while (ml->head) {
		struct mount_entry *e = ml->head;
		ml->head = e->next;
		free(e->dir);
		free(e);
	}
	pthread_mutex_destroy(&ml->lock);
	free(ml);
}

static void peer_name(const struct rpc_call *call, char *out, size_t outlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&call->peer;

	out[0] = 0;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

static void unlink_entry(struct mount_list *ml, struct mount_entry *victim)
{
	for (struct mount_entry **p = &ml->head; *p; p = &(*p)->next) {
		if (*p == victim) {
			*p = victim->next;
			free(victim->dir);
			free(victim);
			return;
		}
	}
}

/* Adds (host, dir) unless present, within the bounds above. */
static void mount_list_add(struct mount_list *ml, const char *host, const char *dir)
{
	pthread_mutex_lock(&ml->lock);
	size_t total = 0, of_host = 0;
	struct mount_entry *oldest = NULL, *oldest_of_host = NULL;
	for (struct mount_entry *e = ml->head; e; e = e->next) {
		if (!strcmp(e->host, host)) {
			if (!strcmp(e->dir, dir)) {
				pthread_mutex_unlock(&ml->lock);
				return;
			}
			of_host++;
			oldest_of_host = e;
		}
		total++;
		oldest = e;
	}
	if (of_host >= MOUNT_LIST_PER_HOST)
		unlink_entry(ml, oldest_of_host);
	else if (total >= MOUNT_LIST_MAX)
		unlink_entry(ml, oldest);
	struct mount_entry *e = calloc(1, sizeof(*e));
	if (e && (e->dir = strdup(dir))) {
		snprintf(e->host, sizeof(e->host), "%s", host);
		e->next = ml->head;
		ml->head = e;
	} else {
		free(e);
	}
	pthread_mutex_unlock(&ml->lock);
}

/* The path with empty and "." components dropped ("/hf/./a//" is "/hf/a"),
 * so that spellings of one directory are one export match and one entry of
 * the mount list.  ".." is kept: resolve_below refuses it. */
static void normalise_path(const char *in, char out[MNT3_PATHLEN + 1])
{
	size_t n = 0;
	out[0] = 0;
	for (const char *p = in; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.')) {
			p += len;
			continue;
		}
		if (n + 1 + len > MNT3_PATHLEN)
			len = MNT3_PATHLEN - n - 1; /* cannot happen: never longer than in */
		out[n++] = '/';
		memcpy(out + n, p, len);
		n += len;
		out[n] = 0;
		p += len;
	}
	if (n == 0)
		snprintf(out, MNT3_PATHLEN + 1, "/");
}

/* Removes host's entries for dir, or all of host's entries if dir is NULL. */
static void mount_list_remove(struct mount_list *ml, const char *host, const char *dir)
{
	pthread_mutex_lock(&ml->lock);
	for (struct mount_entry **p = &ml->head; *p;) {
		struct mount_entry *e = *p;
		if (!strcmp(e->host, host) && (!dir || !strcmp(e->dir, dir))) {
			*p = e->next;
			free(e->dir);
			free(e);
		} else {
			p = &e->next;
		}
	}
	pthread_mutex_unlock(&ml->lock);
}

/* The export whose path is the longest prefix of path at a '/' boundary. */
static const struct export *export_for_path(const struct server *srv, const char *path, const char **rest)
{
	const struct export *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < srv->nexports; i++) {
		const struct export *ex = &srv->exports[i];
		size_t len = strlen(ex->path);
		if (strncmp(path, ex->path, len) != 0)
			continue;
		if (path[len] != 0 && path[len] != '/' && strcmp(ex->path, "/") != 0)
			continue;
		if (!best || len > best_len) {
			best = ex;
			best_len = len;
		}
	}
	if (best)
		*rest = path + best_len;
	return best;
}

static mnt3_stat errno_to_mnt3(int err)
{
	switch (err) {
	case -ENOENT:
	case -ESTALE:
		return MNT3ERR_NOENT;
	case -EACCES:
		return MNT3ERR_ACCES;
	case -EPERM:
		return MNT3ERR_PERM;
	case -ENOTDIR:
		return MNT3ERR_NOTDIR;
	case -EINVAL:
		return MNT3ERR_INVAL;
	case -ENAMETOOLONG:
		return MNT3ERR_NAMETOOLONG;
	default:
		return MNT3ERR_IO;
	}
}

/* Walks the components of rest below the export root. */
static int resolve_below(struct rpc_call *call, const struct export_access *acc, const char *rest, struct gfs_ref *out)
{
	char path[MNT3_PATHLEN + 1];
	struct gfs_ref ref = acc->ref;
	struct gfs_attr attr;

	snprintf(path, sizeof(path), "%s", rest);
	for (char *save = NULL, *comp = strtok_r(path, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, ".."))
			return -EINVAL; /* never above the export root */
		int rc = gfs_lookup(call->vfs, &acc->cred, ref, comp, &attr);
		if (rc < 0)
			return rc;
		if (attr.type != GFS_DIR)
			return -ENOTDIR;
		ref.ino = attr.ino;
		ref.gen = attr.gen;
	}
	*out = ref;
	return 0;
}

static enum rpc_disposition mnt3_null(struct rpc_call *call, void *args, void *result)
{
	(void)call;
	(void)args;
	(void)result;
	return RPC_OK;
}

static enum rpc_disposition mnt3_mnt(struct rpc_call *call, void *args, void *result)
{
	const char *asked = *(mnt3_dirpath *)args;
	char path[MNT3_PATHLEN + 1];
	mnt3_res *res = result;
	struct server *srv = call->server;
	struct export_access acc;
	const char *rest = NULL;
	char host[INET6_ADDRSTRLEN];
	struct gfs_ref ref;
	int rc;

	peer_name(call, host, sizeof(host));
	if (!asked || asked[0] != '/') {
		res->fhs_status = MNT3ERR_NOENT;
		log_info("mount: %s asked for %s: not an absolute path", host, asked ? asked : "(null)");
		return RPC_OK;
	}
	normalise_path(asked, path);
	const struct export *ex = export_for_path(srv, path, &rest);
	if (!ex) {
		res->fhs_status = MNT3ERR_NOENT;
		log_info("mount: %s asked for %s: no such export", host, path);
		return RPC_OK;
	}
	rc = export_admit_export(call, ex, &acc);
	if (rc == 0)
		rc = resolve_below(call, &acc, rest, &ref);
	if (rc < 0) {
		res->fhs_status = errno_to_mnt3(rc);
		log_info("mount: %s refused %s: %s", host, path, gfs_strerror(rc));
		return RPC_OK;
	}

	struct fh fh;
	fh_encode(srv->vol, ex->id, ref, &fh);
	mnt3_res_ok *ok = &res->mnt3_res_u.mountinfo;
	ok->fhandle.mnt3_fhandle_val = malloc(fh.len);
	ok->auth_flavors.auth_flavors_val = calloc(2, sizeof(int));
	if (!ok->fhandle.mnt3_fhandle_val || !ok->auth_flavors.auth_flavors_val) {
		res->fhs_status = MNT3ERR_SERVERFAULT;
		return RPC_OK;
	}
	memcpy(ok->fhandle.mnt3_fhandle_val, fh.data, fh.len);
	ok->fhandle.mnt3_fhandle_len = fh.len;
	ok->auth_flavors.auth_flavors_val[0] = AUTH_SYS;
	ok->auth_flavors.auth_flavors_len = 1;
	if (srv->allow_auth_none)
		ok->auth_flavors.auth_flavors_val[ok->auth_flavors.auth_flavors_len++] = AUTH_NONE;
	res->fhs_status = MNT3_OK;
	mount_list_add(srv->mounts, host, path);
	log_info("mount: %s mounted %s%s", host, path, acc.read_only ? " (read-only)" : "");
	return RPC_OK;
}

static enum rpc_disposition mnt3_dump(struct rpc_call *call, void *args, void *result)
{
	struct mount_list *ml = call->server->mounts;
	mnt3_list *list = result;

	(void)args;
	pthread_mutex_lock(&ml->lock);
	for (struct mount_entry *e = ml->head; e; e = e->next) {
		mnt3_body *b = calloc(1, sizeof(*b));
		if (!b)
			break;
		b->ml_hostname = strdup(e->host);
		b->ml_directory = strdup(e->dir);
		b->ml_next = *list;
		*list = b;
		if (!b->ml_hostname || !b->ml_directory)
			break;
	}
	pthread_mutex_unlock(&ml->lock);
	return RPC_OK;
}

static enum rpc_disposition mnt3_umnt(struct rpc_call *call, void *args, void *result)
{
	char host[INET6_ADDRSTRLEN], path[MNT3_PATHLEN + 1];
	const char *asked = *(mnt3_dirpath *)args;

	(void)result;
	if (!asked)
		return RPC_OK;
	peer_name(call, host, sizeof(host));
	normalise_path(asked, path);
	mount_list_remove(call->server->mounts, host, path);
	return RPC_OK;
}

static enum rpc_disposition mnt3_umntall(struct rpc_call *call, void *args, void *result)
{
	char host[INET6_ADDRSTRLEN];

	(void)args;
	(void)result;
	peer_name(call, host, sizeof(host));
	mount_list_remove(call->server->mounts, host, NULL);
	return RPC_OK;
}

static enum rpc_disposition mnt3_export(struct rpc_call *call, void *args, void *result)
{
	const struct server *srv = call->server;
	mnt3_exports *list = result;

	(void)args;
	/* Built back to front so that the list comes out in config order. */
	for (size_t i = srv->nexports; i-- > 0;) {
		const struct export *ex = &srv->exports[i];
		mnt3_exportnode *node = calloc(1, sizeof(*node));
		if (!node)
			return RPC_SYSTEM_ERR;
		node->ex_next = *list;
		*list = node;
		if (!(node->ex_dir = strdup(ex->path)))
			return RPC_SYSTEM_ERR;
		for (size_t c = ex->nclients; c-- > 0;) {
			mnt3_groupnode *g = calloc(1, sizeof(*g));
			if (!g)
				return RPC_SYSTEM_ERR;
			g->gr_next = node->ex_groups;
			node->ex_groups = g;
			if (!(g->gr_name = strdup(ex->clients[c].spec)))
				return RPC_SYSTEM_ERR;
		}
	}
	return RPC_OK;
}

/* rpcgen routines return bool_t and take typed pointers; cast through a
 * plain function type, as the table wants rpc_xdr_fn. */
#define XDR(fn) ((rpc_xdr_fn)(void (*)(void))(fn))

static const struct rpc_proc mount3_procs[] = {
    [MOUNTPROC3_NULL] = {"NULL", NULL, 0, NULL, 0, mnt3_null, 0},
    [MOUNTPROC3_MNT] = {"MNT", XDR(xdr_mnt3_dirpath), sizeof(mnt3_dirpath), XDR(xdr_mnt3_res), sizeof(mnt3_res),
			mnt3_mnt, 0},
    [MOUNTPROC3_DUMP] = {"DUMP", NULL, 0, XDR(xdr_mnt3_list), sizeof(mnt3_list), mnt3_dump, 0},
    [MOUNTPROC3_UMNT] = {"UMNT", XDR(xdr_mnt3_dirpath), sizeof(mnt3_dirpath), NULL, 0, mnt3_umnt, 0},
    [MOUNTPROC3_UMNTALL] = {"UMNTALL", NULL, 0, NULL, 0, mnt3_umntall, 0},
    [MOUNTPROC3_EXPORT] = {"EXPORT", NULL, 0, XDR(xdr_mnt3_exports), sizeof(mnt3_exports), mnt3_export, 0},
};

const struct rpc_program mount3_program = {
    .name = "MOUNT",
    .prog = MOUNT_PROGRAM,
    .vers = MOUNT_V3,
    .nprocs = sizeof(mount3_procs) / sizeof(mount3_procs[0]),
    .procs = mount3_procs,
};
