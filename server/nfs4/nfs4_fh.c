/*
 * nfs4_fh.c - the pseudo filesystem (RFC 8881 section 7) and the
 * operations that set or read the current filehandle: PUTFH, PUTROOTFH,
 * PUTPUBFH, GETFH, SAVEFH, RESTOREFH, LOOKUP, LOOKUPP.
 *
 * The pseudo filesystem is built once from the export paths: the root and
 * every directory above an export, read-only, so that "mount gw:/" shows
 * /hf.  Crossing into an export admits the client through the same
 * export_admit path as NFSv3 (client match, secure port, squashing); an
 * export's handles are the NFSv3 handles (server/export/fh.c).
 */
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"
#include "server.h"

static int add_node(struct nfs4_server *n, const char *path, int parent, size_t cap)
{
	for (size_t i = 0; i < n->npseudo; i++)
		if (!strcmp(n->pseudo[i].path, path))
			return (int)i;
	if (n->npseudo >= cap)
		return -1;
	struct nfs4_pseudo *p = &n->pseudo[n->npseudo];
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->id = export_id_for_path(path);
	p->parent = parent;
	p->export = NULL;
	return (int)n->npseudo++;
}

int nfs4_pseudo_build(struct nfs4_server *n, const struct server *srv)
{
	size_t cap = 1;

	for (size_t i = 0; i < srv->nexports; i++)
		for (const char *p = srv->exports[i].path; *p; p++)
			cap += *p == '/';
	n->pseudo = calloc(cap, sizeof(*n->pseudo));
	if (!n->pseudo)
		return -ENOMEM;
	n->npseudo = 0;
	add_node(n, "/", -1, cap);
	for (size_t i = 0; i < srv->nexports; i++) {
		const struct export *ex = &srv->exports[i];
		char path[sizeof(ex->path)];
		int parent = 0, idx = 0;

		for (size_t len = 1; len <= strlen(ex->path); len++) {
			if (ex->path[len] != '/' && ex->path[len] != '\0')
				continue;
			snprintf(path, sizeof(path), "%.*s", (int)len, ex->path);
			if (len == 1 && path[0] == '/')
				continue;
			idx = add_node(n, path, parent, cap);
			if (idx < 0)
				return -ENOMEM;
			parent = idx;
		}
		if (!n->pseudo[idx].export)
			n->pseudo[idx].export = ex;
	}
	return 0;
}

int nfs4_pseudo_child(const struct nfs4_server *n, int idx, const char *name, int *child)
{
	const char *base = n->pseudo[idx].path;

	for (size_t i = 0; i < n->npseudo; i++) {
		if (n->pseudo[i].parent != idx)
			continue;
		const char *leaf = n->pseudo[i].path + strlen(base) + (strcmp(base, "/") != 0);
		if (!strcmp(leaf, name)) {
			*child = (int)i;
			return 0;
		}
	}
	return -ENOENT;
}

bool nfs4_node_visible(const struct nfs4_compound *c, int idx)
{
	const struct server *srv = c->call->server;
	const char *path = c->nfs4->pseudo[idx].path;
	size_t len = strlen(path);

	for (size_t i = 0; i < srv->nexports; i++) {
		const struct export *ex = &srv->exports[i];
		bool below = len == 1 || (!strncmp(ex->path, path, len) && (ex->path[len] == '/' || !ex->path[len]));
		if (below && export_match_client(ex, (const struct sockaddr *)&c->call->peer))
			return true;
	}
	return false;
}

nfsstat4 nfs4_enter_node(struct nfs4_compound *c, int idx, struct nfs4_fh *f)
{
	const struct nfs4_pseudo *p = &c->nfs4->pseudo[idx];

	memset(f, 0, sizeof(*f));
	if (p->export) {
		if (export_admit_export(c->call, p->export, &f->acc) < 0)
			return NFS4ERR_ACCESS;
		f->kind = NFS4_FH_EXPORT;
		return NFS4_OK;
	}
	f->kind = NFS4_FH_PSEUDO;
	f->pseudo = idx;
	return NFS4_OK;
}

static nfsstat4 admit_status(int rc)
{
	switch (rc) {
	case 0:
		return NFS4_OK;
	case -EBADMSG:
		return NFS4ERR_BADHANDLE;
	case -ESTALE:
		return NFS4ERR_STALE;
	case -EACCES:
		return NFS4ERR_ACCESS;
	default:
		return NFS4ERR_SERVERFAULT;
	}
}

NFS4_HANDLER(nfs4_op_putfh)
{
	PUTFH4args *a = args;
	const uint8_t *d = (const uint8_t *)a->object.nfs_fh4_val;
	size_t len = a->object.nfs_fh4_len;
	struct nfs4_fh f;
	(void)res;

	memset(&f, 0, sizeof(f));
	if (len == 16 && d[0] == 0xF4) {
		struct fh mine;
		for (size_t i = 0; i < c->nfs4->npseudo; i++) {
			struct nfs4_fh probe = {.kind = NFS4_FH_PSEUDO, .pseudo = (int)i};
			nfs4_fh_bytes(c, &probe, &mine);
			if (memcmp(mine.data, d, 16) == 0 && !c->nfs4->pseudo[i].export) {
				c->cur = probe;
				return NFS4_OK;
			}
		}
		return NFS4ERR_STALE;
	}
	nfsstat4 st = admit_status(export_admit(c->call, d, len, &f.acc));
	if (st != NFS4_OK)
		return st;
	f.kind = NFS4_FH_EXPORT;
	c->cur = f;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_putrootfh)
{
	(void)args;
	(void)res;
	return nfs4_enter_node(c, 0, &c->cur);
}

NFS4_HANDLER(nfs4_op_putpubfh)
{
	return nfs4_op_putrootfh(c, args, res);
}

NFS4_HANDLER(nfs4_op_getfh)
{
	GETFH4res *r = res;
	struct fh fh;
	(void)args;

	nfs4_fh_bytes(c, &c->cur, &fh);
	r->GETFH4res_u.resok4.object.nfs_fh4_val = malloc(fh.len);
	if (!r->GETFH4res_u.resok4.object.nfs_fh4_val)
		return NFS4ERR_DELAY;
	memcpy(r->GETFH4res_u.resok4.object.nfs_fh4_val, fh.data, fh.len);
	r->GETFH4res_u.resok4.object.nfs_fh4_len = fh.len;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_savefh)
{
	(void)args;
	(void)res;
	c->saved = c->cur;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_restorefh)
{
	(void)args;
	(void)res;
	if (c->saved.kind == NFS4_FH_NONE)
		return NFS4ERR_RESTOREFH;
	c->cur = c->saved;
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_lookup)
{
	LOOKUP4args *a = args;
	char name[GFS_NAME_MAX + 1];
	nfsstat4 st = nfs4_name(&a->objname, name);
	(void)res;

	if (st != NFS4_OK)
		return st;
	if (c->cur.kind == NFS4_FH_PSEUDO) {
		int child;
		if (nfs4_pseudo_child(c->nfs4, c->cur.pseudo, name, &child) < 0 || !nfs4_node_visible(c, child))
			return NFS4ERR_NOENT;
		return nfs4_enter_node(c, child, &c->cur);
	}
	struct gfs_attr attr;
	int rc = gfs_lookup(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, name, &attr);
	if (rc < 0)
		return nfs4_status(rc);
	c->cur.acc.ref = (struct gfs_ref){attr.ino, attr.gen};
	return NFS4_OK;
}

NFS4_HANDLER(nfs4_op_lookupp)
{
	(void)args;
	(void)res;
	if (c->cur.kind == NFS4_FH_PSEUDO) {
		int parent = c->nfs4->pseudo[c->cur.pseudo].parent;
		if (parent < 0)
			return NFS4ERR_NOENT;
		return nfs4_enter_node(c, parent, &c->cur);
	}
	const struct export *ex = c->cur.acc.export;
	if (export_is_root(ex, c->cur.acc.ref)) {
		for (size_t i = 0; i < c->nfs4->npseudo; i++)
			if (c->nfs4->pseudo[i].export == ex) {
				int parent = c->nfs4->pseudo[i].parent;
				return parent < 0 ? NFS4ERR_NOENT : nfs4_enter_node(c, parent, &c->cur);
			}
		return NFS4ERR_NOENT;
	}
	struct gfs_attr attr;
	int rc = gfs_lookup(c->call->vfs, &c->cur.acc.cred, c->cur.acc.ref, "..", &attr);
	if (rc < 0)
		return nfs4_status(rc);
	c->cur.acc.ref = (struct gfs_ref){attr.ino, attr.gen};
	return NFS4_OK;
}
