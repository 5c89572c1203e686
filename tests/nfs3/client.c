/*
 * client.c - the libtirpc NFSv3/MOUNT test client; see client.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

static const struct timeval call_timeout = {120, 0};

static int bind_source(int fd, const struct client_opts *o)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, o && o->src_addr ? o->src_addr : "127.0.0.1", &sa.sin_addr);
	if (!o || !o->privileged_port)
		return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	for (int port = 1023; port >= 600; port--) {
		sa.sin_port = htons((uint16_t)port);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
	}
	return -1;
}

CLIENT *client_connect(int port, uint32_t prog, uint32_t vers, const struct client_opts *o)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return NULL;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind_source(fd, o) != 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return NULL;
	}
	struct netbuf nb = {.maxlen = sizeof(sa), .len = sizeof(sa), .buf = &sa};
	CLIENT *c = clnt_vc_create(fd, &nb, prog, vers, 0, 0);
	if (!c) {
		close(fd);
		return NULL;
	}
	clnt_control(c, CLSET_FD_CLOSE, NULL);
	auth_destroy(c->cl_auth);
	c->cl_auth = authunix_create("gatefs-test", o ? o->uid : 0, o ? o->gid : 0, 0, NULL);
	return c;
}

void client_destroy(CLIENT *c)
{
	/* libtirpc's clnt_destroy leaves the AUTH to its owner. */
	if (c->cl_auth)
		auth_destroy(c->cl_auth);
	clnt_destroy(c);
}

int client_mount(int mount_port, const char *path, const struct client_opts *o, nfs_fh3 *fh)
{
	CLIENT *c = client_connect(mount_port, MOUNTPROG, MOUNTVERS3, o);
	if (!c)
		return -1;
	mountres3 res;
	memset(&res, 0, sizeof(res));
	char *p = (char *)path;
	int rc = -1;
	if (clnt_call(c, MOUNTPROC3_MNT, (xdrproc_t)xdr_dirpath, (char *)&p, (xdrproc_t)xdr_mountres3, (char *)&res,
		      call_timeout) == RPC_SUCCESS) {
		rc = res.fhs_status;
		if (rc == MNT3_OK) {
			fhandle3 *h = &res.mountres3_u.mountinfo.fhandle;
			fh->data.data_len = h->fhandle3_len;
			fh->data.data_val = malloc(h->fhandle3_len ? h->fhandle3_len : 1);
			memcpy(fh->data.data_val, h->fhandle3_val, h->fhandle3_len);
		}
		clnt_freeres(c, (xdrproc_t)xdr_mountres3, (char *)&res);
	}
	client_destroy(c);
	return rc;
}

enum clnt_stat client_call(CLIENT *c, uint32_t proc, xdrproc_t xargs, void *args, xdrproc_t xres, void *res)
{
	return clnt_call(c, proc, xargs, args, xres, res, call_timeout);
}

void fh_copy(nfs_fh3 *dst, const nfs_fh3 *src)
{
	dst->data.data_len = src->data.data_len;
	dst->data.data_val = malloc(src->data.data_len ? src->data.data_len : 1);
	memcpy(dst->data.data_val, src->data.data_val, src->data.data_len);
}

void fh_free(nfs_fh3 *fh)
{
	free(fh->data.data_val);
	fh->data.data_val = NULL;
	fh->data.data_len = 0;
}

bool fh_equal(const nfs_fh3 *a, const nfs_fh3 *b)
{
	return a->data.data_len == b->data.data_len &&
	       memcmp(a->data.data_val, b->data.data_val, a->data.data_len) == 0;
}

static filename3 wire_name(const char *name)
{
	filename3 n = {(u_int)strlen(name), (char *)name};
	return n;
}

int nfs_lookup(CLIENT *c, const nfs_fh3 *dir, const char *name, nfs_fh3 *out, fattr3 *attr)
{
	LOOKUP3args a = {{*dir, wire_name(name)}};
	LOOKUP3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_LOOKUP, (xdrproc_t)xdr_LOOKUP3args, &a, (xdrproc_t)xdr_LOOKUP3res, &r) !=
	    RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK) {
		if (out)
			fh_copy(out, &r.LOOKUP3res_u.resok.object);
		if (attr)
			*attr = r.LOOKUP3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	}
	clnt_freeres(c, (xdrproc_t)xdr_LOOKUP3res, (char *)&r);
	return st;
}

int nfs_getattr(CLIENT *c, const nfs_fh3 *fh, fattr3 *attr)
{
	GETATTR3args a = {*fh};
	GETATTR3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_GETATTR, (xdrproc_t)xdr_GETATTR3args, &a, (xdrproc_t)xdr_GETATTR3res, &r) !=
	    RPC_SUCCESS)
		return -1;
	if (r.status == NFS3_OK && attr)
		*attr = r.GETATTR3res_u.resok.obj_attributes;
	return r.status;
}

int nfs_create(CLIENT *c, const nfs_fh3 *dir, const char *name, createmode3 how, uint32_t mode, const char *verf,
	       nfs_fh3 *out, fattr3 *attr)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name = wire_name(name);
	a.how.mode = how;
	if (how == EXCLUSIVE) {
		memcpy(a.how.createhow3_u.verf, verf, NFS3_CREATEVERFSIZE);
	} else {
		a.how.createhow3_u.obj_attributes.mode.set_it = TRUE;
		a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = mode;
	}
	CREATE3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_CREATE, (xdrproc_t)xdr_CREATE3args, &a, (xdrproc_t)xdr_CREATE3res, &r) !=
	    RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK) {
		CREATE3resok *ok = &r.CREATE3res_u.resok;
		if (out && ok->obj.handle_follows)
			fh_copy(out, &ok->obj.post_op_fh3_u.handle);
		else if (out)
			st = -2;
		if (attr)
			*attr = ok->obj_attributes.post_op_attr_u.attributes;
	}
	clnt_freeres(c, (xdrproc_t)xdr_CREATE3res, (char *)&r);
	return st;
}

int nfs_mkdir(CLIENT *c, const nfs_fh3 *dir, const char *name, uint32_t mode, nfs_fh3 *out)
{
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = *dir;
	a.where.name = wire_name(name);
	a.attributes.mode.set_it = TRUE;
	a.attributes.mode.set_mode3_u.mode = mode;
	MKDIR3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_MKDIR, (xdrproc_t)xdr_MKDIR3args, &a, (xdrproc_t)xdr_MKDIR3res, &r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK && out) {
		if (r.MKDIR3res_u.resok.obj.handle_follows)
			fh_copy(out, &r.MKDIR3res_u.resok.obj.post_op_fh3_u.handle);
		else
			st = -2;
	}
	clnt_freeres(c, (xdrproc_t)xdr_MKDIR3res, (char *)&r);
	return st;
}

int nfs_write(CLIENT *c, const nfs_fh3 *fh, uint64_t off, const void *buf, uint32_t len, stable_how how,
	      stable_how *committed, char verf[8])
{
	WRITE3args a;
	memset(&a, 0, sizeof(a));
	a.file = *fh;
	a.offset = off;
	a.count = len;
	a.stable = how;
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	WRITE3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_WRITE, (xdrproc_t)xdr_WRITE3args, &a, (xdrproc_t)xdr_WRITE3res, &r) != RPC_SUCCESS)
		return -1;
	if (r.status == NFS3_OK) {
		if (r.WRITE3res_u.resok.count != len)
			return -3;
		if (committed)
			*committed = r.WRITE3res_u.resok.committed;
		if (verf)
			memcpy(verf, r.WRITE3res_u.resok.verf, 8);
	}
	return r.status;
}

int nfs_read(CLIENT *c, const nfs_fh3 *fh, uint64_t off, uint32_t count, void *buf, uint32_t *got, bool *eof)
{
	READ3args a = {*fh, off, count};
	READ3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_READ, (xdrproc_t)xdr_READ3args, &a, (xdrproc_t)xdr_READ3res, &r) != RPC_SUCCESS)
		return -1;
	int st = r.status;
	if (st == NFS3_OK) {
		READ3resok *ok = &r.READ3res_u.resok;
		if (ok->data.data_len != ok->count || ok->count > count)
			st = -3;
		else if (ok->count)
			memcpy(buf, ok->data.data_val, ok->count);
		*got = ok->count;
		*eof = ok->eof;
	}
	clnt_freeres(c, (xdrproc_t)xdr_READ3res, (char *)&r);
	return st;
}

int nfs_remove(CLIENT *c, const nfs_fh3 *dir, const char *name)
{
	REMOVE3args a = {{*dir, wire_name(name)}};
	REMOVE3res r;
	memset(&r, 0, sizeof(r));
	if (client_call(c, NFSPROC3_REMOVE, (xdrproc_t)xdr_REMOVE3args, &a, (xdrproc_t)xdr_REMOVE3res, &r) !=
	    RPC_SUCCESS)
		return -1;
	return r.status;
}
