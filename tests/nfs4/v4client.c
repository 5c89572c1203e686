/*
 * v4client.c - the NFSv4.1 test client; see v4client.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "v4client.h"

static const struct timeval call_timeout = {60, 0};

const uint32_t v4_attr_request[2] = {
    (1u << FATTR4_TYPE) | (1u << FATTR4_CHANGE) | (1u << FATTR4_SIZE) | (1u << FATTR4_FSID) | (1u << FATTR4_FILEID),
    (1u << (FATTR4_MODE - 32)) | (1u << (FATTR4_NUMLINKS - 32)) | (1u << (FATTR4_OWNER - 32)) |
	(1u << (FATTR4_OWNER_GROUP - 32)) | (1u << (FATTR4_MOUNTED_ON_FILEID - 32)),
};

CLIENT *v4_connect(int port, uint32_t uid, uint32_t gid, bool privileged)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in src = {.sin_family = AF_INET};

	if (fd < 0)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (privileged) {
		int bound = -1;
		for (int p = 1023; p >= 600 && bound != 0; p--) {
			src.sin_port = htons((uint16_t)p);
			bound = bind(fd, (struct sockaddr *)&src, sizeof(src));
		}
		if (bound != 0) {
			close(fd);
			return NULL;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return NULL;
	}
	struct netbuf nb = {.maxlen = sizeof(sa), .len = sizeof(sa), .buf = &sa};
	CLIENT *c = clnt_vc_create(fd, &nb, 100003, 4, 0, 0);
	if (!c) {
		close(fd);
		return NULL;
	}
	clnt_control(c, CLSET_FD_CLOSE, NULL);
	auth_destroy(c->cl_auth);
	c->cl_auth = authunix_create("gatefs-v4-test", uid, gid, 0, NULL);
	return c;
}

void v4_begin(struct v4 *s)
{
	xdr_free((xdrproc_t)xdr_COMPOUND4res, (char *)&s->res);
	memset(&s->res, 0, sizeof(s->res));
	memset(s->ops, 0, sizeof(s->ops));
	s->nops = 0;
}

nfs_argop4 *v4_add(struct v4 *s, nfs_opnum4 op)
{
	if (s->nops >= V4_MAX_OPS)
		abort();
	nfs_argop4 *a = &s->ops[s->nops++];
	a->argop = op;
	return a;
}

void v4_seq(struct v4 *s, uint32_t slot)
{
	SEQUENCE4args *a = &v4_add(s, OP_SEQUENCE)->nfs_argop4_u.opsequence;
	memcpy(a->sa_sessionid, s->sessionid, sizeof(s->sessionid));
	a->sa_sequenceid = ++s->slot_seq[slot];
	a->sa_slotid = slot;
	a->sa_highest_slotid = 7;
	a->sa_cachethis = TRUE;
}

void v4_putfh(struct v4 *s, const nfs_fh4 *fh)
{
	v4_add(s, OP_PUTFH)->nfs_argop4_u.opputfh.object = *fh;
}

void v4_lookup(struct v4 *s, const char *name)
{
	LOOKUP4args *a = &v4_add(s, OP_LOOKUP)->nfs_argop4_u.oplookup;
	a->objname.utf8string_val = (char *)name;
	a->objname.utf8string_len = (u_int)strlen(name);
}

void v4_getattr(struct v4 *s)
{
	GETATTR4args *a = &v4_add(s, OP_GETATTR)->nfs_argop4_u.opgetattr;
	a->attr_request.bitmap4_val = (uint32_t *)v4_attr_request;
	a->attr_request.bitmap4_len = 2;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One record, all its fragments joined: *out malloc'ed. */
static int read_record(int fd, uint8_t **out, size_t *len)
{
	uint8_t *rec = NULL;
	size_t n = 0;
	for (;;) {
		uint32_t mark;
		if (read_all(fd, (uint8_t *)&mark, 4) < 0)
			break;
		mark = ntohl(mark);
		size_t frag = mark & 0x7fffffffu;
		uint8_t *grown = frag > (64u << 20) ? NULL : realloc(rec, n + frag + 1);
		if (!grown)
			break;
		rec = grown;
		if (read_all(fd, rec + n, frag) < 0)
			break;
		n += frag;
		if (mark & 0x80000000u) {
			*out = rec;
			*len = n;
			return 0;
		}
	}
	free(rec);
	return -1;
}

/* The call as one record of one fragment, on the CLIENT's socket and with
 * its credentials; the reply is read and decoded here too. */
static enum clnt_stat send_one_fragment(struct v4 *s, COMPOUND4args *args)
{
	int fd;
	if (!clnt_control(s->cl, CLGET_FD, (char *)&fd))
		return RPC_CANTSEND;
	size_t cap = 4 + 1024 + xdr_sizeof((xdrproc_t)xdr_COMPOUND4args, args);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return RPC_SYSTEMERROR;
	struct rpc_msg call = {0};
	call.rm_xid = ++s->xid;
	call.rm_direction = CALL;
	call.rm_call.cb_rpcvers = RPC_MSG_VERSION;
	call.rm_call.cb_prog = 100003;
	call.rm_call.cb_vers = 4;
	call.rm_call.cb_proc = NFSPROC4_COMPOUND;
	call.rm_call.cb_cred = s->cl->cl_auth->ah_cred;
	call.rm_call.cb_verf = s->cl->cl_auth->ah_verf;
	XDR x;
	xdrmem_create(&x, (char *)buf + 4, (u_int)(cap - 4), XDR_ENCODE);
	bool ok = xdr_callmsg(&x, &call) && xdr_COMPOUND4args(&x, args);
	uint32_t len = xdr_getpos(&x);
	xdr_destroy(&x);
	uint32_t mark = htonl(0x80000000u | len);
	memcpy(buf, &mark, 4);
	if (!ok || write_all(fd, buf, 4 + (size_t)len) < 0) {
		free(buf);
		return ok ? RPC_CANTSEND : RPC_CANTENCODEARGS;
	}
	free(buf);

	uint8_t *rec;
	size_t rec_len;
	if (read_record(fd, &rec, &rec_len) < 0)
		return RPC_CANTRECV;
	struct rpc_msg reply = {0};
	reply.acpted_rply.ar_verf = _null_auth;
	reply.acpted_rply.ar_results.where = (char *)&s->res;
	reply.acpted_rply.ar_results.proc = (xdrproc_t)xdr_COMPOUND4res;
	xdrmem_create(&x, (char *)rec, (u_int)rec_len, XDR_DECODE);
	enum clnt_stat st = RPC_CANTDECODERES;
	if (xdr_replymsg(&x, &reply) && reply.rm_xid == call.rm_xid) {
		if (reply.rm_reply.rp_stat != MSG_ACCEPTED)
			st = RPC_AUTHERROR;
		else if (reply.acpted_rply.ar_stat == GARBAGE_ARGS)
			st = RPC_CANTDECODEARGS;
		else if (reply.acpted_rply.ar_stat != SUCCESS)
			st = RPC_FAILED;
		else
			st = RPC_SUCCESS;
	}
	xdr_destroy(&x);
	free(rec);
	return st;
}

enum clnt_stat v4_send_minor(struct v4 *s, uint32_t minor)
{
	COMPOUND4args args = {.minorversion = minor};
	args.argarray.argarray_val = s->ops;
	args.argarray.argarray_len = s->nops;
	xdr_free((xdrproc_t)xdr_COMPOUND4res, (char *)&s->res);
	memset(&s->res, 0, sizeof(s->res));
	if (s->one_fragment)
		return send_one_fragment(s, &args);
	return clnt_call(s->cl, NFSPROC4_COMPOUND, (xdrproc_t)xdr_COMPOUND4args, (char *)&args,
			 (xdrproc_t)xdr_COMPOUND4res, (char *)&s->res, call_timeout);
}

enum clnt_stat v4_send(struct v4 *s)
{
	return v4_send_minor(s, 1);
}

int v4_status(const struct v4 *s, u_int i)
{
	if (i >= s->res.resarray.resarray_len)
		return -1;
	/* every result starts with its status */
	return (int)s->res.resarray.resarray_val[i].nfs_resop4_u.opillegal.status;
}

int v4_open_session(struct v4 *s, int port, uint32_t uid, uint32_t gid, const char *owner)
{
	return v4_open_session_cb(s, port, uid, gid, owner, false);
}

int v4_open_session_cb(struct v4 *s, int port, uint32_t uid, uint32_t gid, const char *owner, bool back_chan)
{
	memset(s, 0, sizeof(*s));
	s->cl = v4_connect(port, uid, gid, false);
	if (!s->cl)
		return -1;
	v4_begin(s);
	EXCHANGE_ID4args *e = &v4_add(s, OP_EXCHANGE_ID)->nfs_argop4_u.opexchange_id;
	memcpy(e->eia_clientowner.co_verifier, "verifier", 8);
	e->eia_clientowner.co_ownerid.co_ownerid_val = (char *)owner;
	e->eia_clientowner.co_ownerid.co_ownerid_len = (u_int)strlen(owner);
	e->eia_state_protect.spa_how = SP4_NONE;
	if (v4_send(s) != RPC_SUCCESS || v4_status(s, 0) != NFS4_OK)
		return -1;
	EXCHANGE_ID4resok *eok =
	    &s->res.resarray.resarray_val[0].nfs_resop4_u.opexchange_id.EXCHANGE_ID4res_u.eir_resok4;
	s->clientid = eok->eir_clientid;
	s->cs_seq = eok->eir_sequenceid;

	v4_begin(s);
	CREATE_SESSION4args *cs = &v4_add(s, OP_CREATE_SESSION)->nfs_argop4_u.opcreate_session;
	cs->csa_clientid = s->clientid;
	cs->csa_sequence = s->cs_seq;
	/* room for a 1 MiB READ or WRITE and its compound (v4bench); ganesha
	 * wants more than 1 MiB + 4 KiB for a 1 MiB READ, and the server
	 * caps it anyway */
	cs->csa_fore_chan_attrs = (channel_attrs4){0, 2 << 20, 2 << 20, 8192, 16, 8, {0, NULL}};
	cs->csa_back_chan_attrs = (channel_attrs4){0, 4096, 4096, 0, 2, 1, {0, NULL}};
	/* As the Linux client asks: this connection as the backchannel,
	 * AUTH_SYS callbacks to program NFS4_CALLBACK. */
	callback_sec_parms4 sec;
	memset(&sec, 0, sizeof(sec));
	if (back_chan) {
		cs->csa_flags = CREATE_SESSION4_FLAG_CONN_BACK_CHAN;
		cs->csa_cb_program = NFS4_CALLBACK;
		sec.cb_secflavor = 1;
		sec.callback_sec_parms4_u.cbsp_sys_cred.machinename.machinename_val = (char *)"v4client";
		sec.callback_sec_parms4_u.cbsp_sys_cred.machinename.machinename_len = 8;
		sec.callback_sec_parms4_u.cbsp_sys_cred.uid = uid;
		sec.callback_sec_parms4_u.cbsp_sys_cred.gid = gid;
		cs->csa_sec_parms.csa_sec_parms_val = &sec;
		cs->csa_sec_parms.csa_sec_parms_len = 1;
	}
	if (v4_send(s) != RPC_SUCCESS || v4_status(s, 0) != NFS4_OK)
		return -1;
	CREATE_SESSION4resok *ok =
	    &s->res.resarray.resarray_val[0].nfs_resop4_u.opcreate_session.CREATE_SESSION4res_u.csr_resok4;
	memcpy(s->sessionid, ok->csr_sessionid, sizeof(s->sessionid));
	s->back_chan = (ok->csr_flags & CREATE_SESSION4_FLAG_CONN_BACK_CHAN) != 0;
	s->max_request = ok->csr_fore_chan_attrs.ca_maxrequestsize;
	s->max_response = ok->csr_fore_chan_attrs.ca_maxresponsesize;
	v4_begin(s);
	return 0;
}

void v4_close(struct v4 *s)
{
	if (!s->cl)
		return;
	v4_begin(s);
	auth_destroy(s->cl->cl_auth);
	s->cl->cl_auth = NULL;
	clnt_destroy(s->cl);
	s->cl = NULL;
}

struct rd {
	const uint8_t *p;
	size_t len, pos;
	int bad;
};

static uint32_t rd32(struct rd *r)
{
	if (r->pos + 4 > r->len) {
		r->bad = 1;
		return 0;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(struct rd *r)
{
	uint64_t hi = rd32(r);
	return hi << 32 | rd32(r);
}

static void rdstr(struct rd *r, char *out, size_t outlen)
{
	uint32_t len = rd32(r);
	if (r->bad || len >= outlen || r->pos + len > r->len) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p + r->pos, len);
	out[len] = '\0';
	r->pos += (len + 3) & ~3u;
}

int v4_decode_attrs(const fattr4 *f, struct v4_attrs *out)
{
	struct rd r = {(const uint8_t *)f->attr_vals.attrlist4_val, f->attr_vals.attrlist4_len, 0, 0};

	memset(out, 0, sizeof(*out));
	for (unsigned n = 0; n < 32 * f->attrmask.bitmap4_len; n++) {
		if (!(f->attrmask.bitmap4_val[n / 32] & (1u << (n % 32))))
			continue;
		switch (n) {
		case FATTR4_TYPE:
			out->type = rd32(&r);
			break;
		case FATTR4_CHANGE:
			out->change = rd64(&r);
			break;
		case FATTR4_SIZE:
			out->size = rd64(&r);
			break;
		case FATTR4_FSID:
			out->fsid.major = rd64(&r);
			out->fsid.minor = rd64(&r);
			break;
		case FATTR4_FILEID:
			out->fileid = rd64(&r);
			break;
		case FATTR4_MODE:
			out->mode = rd32(&r);
			break;
		case FATTR4_NUMLINKS:
			out->numlinks = rd32(&r);
			break;
		case FATTR4_OWNER:
			rdstr(&r, out->owner, sizeof(out->owner));
			break;
		case FATTR4_OWNER_GROUP:
			rdstr(&r, out->group, sizeof(out->group));
			break;
		case FATTR4_MOUNTED_ON_FILEID:
			out->mounted_on_fileid = rd64(&r);
			break;
		default:
			return -1; /* not one the tests ask for */
		}
	}
	return r.bad || r.pos != r.len ? -1 : 0;
}

void v4_sattr_mode(fattr4 *f, uint8_t buf[16], uint32_t mode, bool with_size, uint64_t size)
{
	static uint32_t mask_mode[2] = {0, 1u << (FATTR4_MODE - 32)};
	static uint32_t mask_both[2] = {1u << FATTR4_SIZE, 1u << (FATTR4_MODE - 32)};
	size_t n = 0;

	if (with_size) {
		uint32_t hi = htonl((uint32_t)(size >> 32)), lo = htonl((uint32_t)size);
		memcpy(buf, &hi, 4);
		memcpy(buf + 4, &lo, 4);
		n = 8;
	}
	uint32_t m = htonl(mode);
	memcpy(buf + n, &m, 4);
	f->attrmask.bitmap4_val = with_size ? mask_both : mask_mode;
	f->attrmask.bitmap4_len = 2;
	f->attr_vals.attrlist4_val = (char *)buf;
	f->attr_vals.attrlist4_len = (u_int)(n + 4);
}

void v4_fh_copy(nfs_fh4 *out, const nfs_fh4 *in)
{
	out->nfs_fh4_val = malloc(in->nfs_fh4_len ? in->nfs_fh4_len : 1);
	memcpy(out->nfs_fh4_val, in->nfs_fh4_val, in->nfs_fh4_len);
	out->nfs_fh4_len = in->nfs_fh4_len;
}
