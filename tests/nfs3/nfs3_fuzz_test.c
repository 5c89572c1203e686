/*
 * nfs3_fuzz_test.c - malformed input: for every procedure, a valid
 * argument encoding is mutated (random bytes, truncation, extreme length
 * words) and sent raw.  The gateway must answer each call (a status or
 * GARBAGE_ARGS), never crash or hang, and still serve normal calls after.
 * Unknown procedure numbers get PROC_UNAVAIL.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct raw_args {
	char *buf;
	u_int len;
};

static bool_t xdr_raw_args(XDR *x, struct raw_args *r)
{
	return xdr_opaque(x, r->buf, r->len);
}

/* Accepts any reply body: the status is what the test looks at. */
static bool_t xdr_any_reply(XDR *x, void *unused)
{
	(void)x;
	(void)unused;
	return TRUE;
}

#define XDR_FN(fn) ((xdrproc_t)(void (*)(void))(fn))

struct sample {
	int proc;
	xdrproc_t encode;
	void *args;
};

static u_int encode(const struct sample *s, char *buf, u_int size)
{
	XDR x;
	xdrmem_create(&x, buf, size, XDR_ENCODE);
	if (!s->encode(&x, s->args))
		return 0;
	return xdr_getpos(&x);
}

static const uint32_t extreme_words[] = {0, 1, 3, 64, 65, 255, 256, 4096, 4097, 0x7fffffff, 0x80000000, 0xffffffff};

static void mutate(char *buf, u_int *len, uint64_t *rng)
{
	switch (tl_rand(rng) % 4) {
	case 0: /* a few random bytes */
		for (int i = 0, n = 1 + (int)(tl_rand(rng) % 4); i < n && *len; i++)
			buf[tl_rand(rng) % *len] = (char)tl_rand(rng);
		break;
	case 1: /* truncation (a multiple of 4, since it is sent as XDR) */
		*len = (u_int)(tl_rand(rng) % (*len + 1)) & ~3u;
		break;
	case 2: /* a length or enum word set to an extreme value */
		if (*len >= 4) {
			u_int at = (u_int)(tl_rand(rng) % (*len / 4)) * 4;
			uint32_t w = htonl(extreme_words[tl_rand(rng) % (sizeof(extreme_words) / 4)]);
			memcpy(buf + at, &w, 4);
		}
		break;
	default: /* random garbage appended */
		for (int i = 0; i < 16 && *len + 4 <= 4096; i++, *len += 4) {
			uint32_t w = (uint32_t)tl_rand(rng);
			memcpy(buf + *len, &w, 4);
		}
		break;
	}
}

TEST(mutated_arguments_never_crash_the_gateway)
{
	struct fixture *f = fx();
	REQUIRE(f != NULL);
	CLIENT *c = f->root;
	nfs_fh3 d = {{0, NULL}}, file = {{0, NULL}}, sub = {{0, NULL}};
	REQUIRE_EQ(fx_testdir("fuzz", &d), NFS3_OK);
	REQUIRE_EQ(nfs_create(c, &d, "file", GUARDED, 0644, NULL, &file, NULL), NFS3_OK);
	REQUIRE_EQ(nfs_mkdir(c, &d, "sub", 0755, &sub), NFS3_OK);

	sattr3 all;
	memset(&all, 0, sizeof(all));
	all.mode.set_it = TRUE;
	all.mode.set_mode3_u.mode = 0644;
	all.size.set_it = TRUE;
	all.size.set_size3_u.size = 100;
	all.atime.set_it = SET_TO_CLIENT_TIME;
	all.mtime.set_it = SET_TO_SERVER_TIME;
	GETATTR3args ga = {file};
	SETATTR3args sa = {file, all, {FALSE, {{0, 0}}}};
	LOOKUP3args la = {{d, wname("file")}};
	ACCESS3args aa = {file, 0x3f};
	READLINK3args rla = {file};
	READ3args ra = {file, 0, 4096};
	char data[64] = "fuzz";
	WRITE3args wa = {file, 0, sizeof(data), UNSTABLE, {sizeof(data), data}};
	CREATE3args ca;
	memset(&ca, 0, sizeof(ca));
	ca.where.dir = d;
	ca.where.name = wname("new");
	ca.how.mode = GUARDED;
	ca.how.createhow3_u.obj_attributes = all;
	MKDIR3args ma = {{d, wname("newdir")}, all};
	SYMLINK3args sla = {{d, wname("lnk")}, {all, {6, "target"}}};
	MKNOD3args mna;
	memset(&mna, 0, sizeof(mna));
	mna.where.dir = d;
	mna.where.name = wname("dev");
	mna.what.type = NF3CHR;
	mna.what.mknoddata3_u.device.spec.specdata1 = 1;
	REMOVE3args rma = {{d, wname("new")}};
	RMDIR3args rda = {{d, wname("newdir")}};
	RENAME3args rna = {{d, wname("file")}, {sub, wname("file2")}};
	LINK3args lka = {file, {sub, wname("hard")}};
	READDIR3args rdd;
	memset(&rdd, 0, sizeof(rdd));
	rdd.dir = d;
	rdd.count = 4096;
	READDIRPLUS3args rdp;
	memset(&rdp, 0, sizeof(rdp));
	rdp.dir = d;
	rdp.dircount = 4096;
	rdp.maxcount = 16384;
	FSSTAT3args fsa = {d};
	FSINFO3args fia = {d};
	PATHCONF3args pca = {d};
	COMMIT3args cma = {file, 0, 0};

	const struct sample samples[] = {
	    {NFSPROC3_GETATTR, XDR_FN(xdr_GETATTR3args), &ga},
	    {NFSPROC3_SETATTR, XDR_FN(xdr_SETATTR3args), &sa},
	    {NFSPROC3_LOOKUP, XDR_FN(xdr_LOOKUP3args), &la},
	    {NFSPROC3_ACCESS, XDR_FN(xdr_ACCESS3args), &aa},
	    {NFSPROC3_READLINK, XDR_FN(xdr_READLINK3args), &rla},
	    {NFSPROC3_READ, XDR_FN(xdr_READ3args), &ra},
	    {NFSPROC3_WRITE, XDR_FN(xdr_WRITE3args), &wa},
	    {NFSPROC3_CREATE, XDR_FN(xdr_CREATE3args), &ca},
	    {NFSPROC3_MKDIR, XDR_FN(xdr_MKDIR3args), &ma},
	    {NFSPROC3_SYMLINK, XDR_FN(xdr_SYMLINK3args), &sla},
	    {NFSPROC3_MKNOD, XDR_FN(xdr_MKNOD3args), &mna},
	    {NFSPROC3_REMOVE, XDR_FN(xdr_REMOVE3args), &rma},
	    {NFSPROC3_RMDIR, XDR_FN(xdr_RMDIR3args), &rda},
	    {NFSPROC3_RENAME, XDR_FN(xdr_RENAME3args), &rna},
	    {NFSPROC3_LINK, XDR_FN(xdr_LINK3args), &lka},
	    {NFSPROC3_READDIR, XDR_FN(xdr_READDIR3args), &rdd},
	    {NFSPROC3_READDIRPLUS, XDR_FN(xdr_READDIRPLUS3args), &rdp},
	    {NFSPROC3_FSSTAT, XDR_FN(xdr_FSSTAT3args), &fsa},
	    {NFSPROC3_FSINFO, XDR_FN(xdr_FSINFO3args), &fia},
	    {NFSPROC3_PATHCONF, XDR_FN(xdr_PATHCONF3args), &pca},
	    {NFSPROC3_COMMIT, XDR_FN(xdr_COMMIT3args), &cma},
	};
	/* NFS3_FUZZ_SEED and NFS3_FUZZ_ITERS widen the search on demand. */
	const char *seed_env = getenv("NFS3_FUZZ_SEED"), *iters_env = getenv("NFS3_FUZZ_ITERS");
	uint64_t rng = seed_env ? strtoull(seed_env, NULL, 0) : 0x6761746566733321ULL;
	int iters = iters_env && atoi(iters_env) > 0 ? atoi(iters_env) : 40;
	char *buf = malloc(8192);
	unsigned answered = 0, garbage = 0;
	const struct timeval tmo = {60, 0};
	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		u_int valid = encode(&samples[s], buf, 4096);
		REQUIRE(valid > 0);
		/* the unmutated encoding is answered with an RPC reply */
		struct raw_args raw = {buf, valid};
		REQUIRE_EQ(
		    clnt_call(c, samples[s].proc, XDR_FN(xdr_raw_args), (char *)&raw, XDR_FN(xdr_any_reply), NULL, tmo),
		    RPC_SUCCESS);
		for (int i = 0; i < iters; i++) {
			u_int len = encode(&samples[s], buf, 4096);
			mutate(buf, &len, &rng);
			raw.len = len;
			enum clnt_stat st = clnt_call(c, samples[s].proc, XDR_FN(xdr_raw_args), (char *)&raw,
						      XDR_FN(xdr_any_reply), NULL, tmo);
			if (st != RPC_SUCCESS && st != RPC_CANTDECODEARGS) {
				fprintf(stderr, "proc %d mutation %d: %s\n", samples[s].proc, i, clnt_sperrno(st));
				CHECK(!"unexpected RPC failure");
				goto out;
			}
			answered++;
			garbage += st == RPC_CANTDECODEARGS;
		}
	}
	CHECK(garbage > 0);
	CHECK(answered > garbage);
	/* procedure numbers past COMMIT */
	CHECK_EQ(clnt_call(c, 22, XDR_VOID, NULL, XDR_VOID, NULL, tmo), RPC_PROCUNAVAIL);
	CHECK_EQ(clnt_call(c, 0xffffffffu, XDR_VOID, NULL, XDR_VOID, NULL, tmo), RPC_PROCUNAVAIL);
out:
	free(buf);
	/* still serving */
	fattr3 a;
	CHECK_EQ(nfs_getattr(c, &f->hf, &a), NFS3_OK);
	CHECK_EQ(clnt_call(c, NFSPROC3_NULL, XDR_VOID, NULL, XDR_VOID, NULL, tmo), RPC_SUCCESS);
	fh_free(&d);
	fh_free(&file);
	fh_free(&sub);
}
