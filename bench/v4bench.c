/*
 * v4bench: an NFSv4.1 load generator on the project's own v4 client
 * (tests/nfs4/v4client.c: libtirpc and the rpcgen codec of nfs4_prot.x).
 *
 * It owns the v4.1 workloads, the worker threads and the result lines.
 * Each of the Q worker threads has its own TCP connection and its own
 * client and session (EXCHANGE_ID with a distinct owner, CREATE_SESSION)
 * and keeps one call outstanding, so Q calls are outstanding in total,
 * like nfsbench's QD16.  One benchmark operation is one COMPOUND:
 *   create   SEQUENCE, PUTFH dir, OPEN(create, UNCHECKED4), GETFH,
 *            CLOSE(current stateid)
 *   lookup   SEQUENCE, PUTFH dir, LOOKUP name, GETFH
 *   getattr  SEQUENCE, PUTFH fh, GETATTR(what a client asks for a stat)
 *   readdir  READDIR of the created directory (n entries) with the usual
 *            attributes and handles, the whole listing timed, best of -R
 *   unlink   SEQUENCE, PUTFH dir, REMOVE name
 *   seq      one file per thread: WRITE 1 MiB UNSTABLE4 then COMMIT; then
 *            READ 1 MiB back at once (the server's caches hold what was
 *            just written: a warm read on both servers)
 * Any RPC error or non-OK status stops the run with the op and status.
 *
 * Usage: v4bench [-l label] [-q threads] [-n files] [-s MiB] [-R n] [-w meta,seq] nfs4://HOST:PORT/EXPORT
 *   EXPORT is looked up from PUTROOTFH one component at a time.
 * Output: one human line per workload, then "RESULT\tlabel\tworkload\tvalue\tunit".
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "v4client.h"

#define IO_SIZE (1u << 20)
/* READDIR reply size: what the Linux client asks with rsize 128 KiB. */
#define READDIR_MAXCOUNT (128u << 10)
#define MAX_THREADS 64
#define MAX_RESULTS 16

#define BIT(a) (1u << ((a) % 32))

/* What a client's stat asks: type, change, size, fileid, mode, numlinks,
 * owner, owner_group, atime, ctime, mtime. */
static uint32_t stat_attrs[2] = {
    BIT(FATTR4_TYPE) | BIT(FATTR4_CHANGE) | BIT(FATTR4_SIZE) | BIT(FATTR4_FILEID),
    BIT(FATTR4_MODE) | BIT(FATTR4_NUMLINKS) | BIT(FATTR4_OWNER) | BIT(FATTR4_OWNER_GROUP) | BIT(FATTR4_TIME_ACCESS) |
	BIT(FATTR4_TIME_METADATA) | BIT(FATTR4_TIME_MODIFY),
};
/* A listing as `ls -l` drives it: the stat set plus the handle, the
 * per-entry error and mounted_on_fileid. */
static uint32_t readdir_attrs[2] = {
    BIT(FATTR4_TYPE) | BIT(FATTR4_CHANGE) | BIT(FATTR4_SIZE) | BIT(FATTR4_FILEID) | BIT(FATTR4_RDATTR_ERROR) |
	BIT(FATTR4_FILEHANDLE),
    BIT(FATTR4_MODE) | BIT(FATTR4_NUMLINKS) | BIT(FATTR4_OWNER) | BIT(FATTR4_OWNER_GROUP) | BIT(FATTR4_TIME_ACCESS) |
	BIT(FATTR4_TIME_METADATA) | BIT(FATTR4_TIME_MODIFY) | BIT(FATTR4_MOUNTED_ON_FILEID),
};

struct worker {
	int id;
	struct v4 s;
	char owner[64];
	/* seq: this thread's file */
	nfs_fh4 fh;
	stateid4 sid;
};

static struct {
	const char *label;
	const char *host;
	int port;
	char export[256];
	int threads;
	uint32_t nfiles;
	uint64_t seq_bytes; /* total over the threads */
	int readdir_repeats;
	const char *workloads;
	struct worker w[MAX_THREADS];
	nfs_fh4 dir;  /* the run's directory */
	nfs_fh4 *fhs; /* per file, from create */
	char dirname[64];
	char *io_buf;
	struct {
		char workload[32];
		double value;
		const char *unit;
	} results[MAX_RESULTS];
	int nresults;
} B;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "v4bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SEQUENCE for an idempotent compound: like the Linux client, it does not
 * ask the server to keep the reply (sa_cachethis), which would bound it by
 * the small cached-reply size. */
static void seq_nocache(struct v4 *s)
{
	v4_seq(s, 0);
	s->ops[s->nops - 1].nfs_argop4_u.opsequence.sa_cachethis = FALSE;
}

/* Sends the compound built in s; every op must succeed. */
static void call(struct v4 *s, const char *what)
{
	enum clnt_stat st = v4_send(s);
	if (st != RPC_SUCCESS)
		die("%s: RPC failed: %s", what, clnt_sperrno(st));
	for (u_int i = 0; i < s->nops; i++) {
		int r = v4_status(s, i);
		if (r != NFS4_OK)
			die("%s: op %u (opnum %d) status %d (compound status %d)", what, i, (int)s->ops[i].argop, r,
			    (int)s->res.status);
	}
}

static nfs_resop4 *res(struct v4 *s, u_int i)
{
	return &s->res.resarray.resarray_val[i];
}

static void name_of(char *buf, size_t size, uint32_t i)
{
	snprintf(buf, size, "f%06" PRIu32, i);
}

static void put_result(const char *workload, double value, const char *unit, const char *detail)
{
	printf("%-18s %12.1f %-6s %s\n", workload, value, unit, detail);
	fflush(stdout);
	if (B.nresults == MAX_RESULTS)
		return;
	snprintf(B.results[B.nresults].workload, sizeof(B.results[0].workload), "%s", workload);
	B.results[B.nresults].value = value;
	B.results[B.nresults++].unit = unit;
}

static void add_open(struct v4 *s, const char *owner, const char *name, uint32_t access, fattr4 *attrs)
{
	OPEN4args *o = &v4_add(s, OP_OPEN)->nfs_argop4_u.opopen;
	o->share_access = access;
	o->share_deny = OPEN4_SHARE_DENY_NONE;
	o->owner.clientid = s->clientid;
	o->owner.owner.owner_val = (char *)owner;
	o->owner.owner.owner_len = (u_int)strlen(owner);
	o->openhow.opentype = OPEN4_CREATE;
	o->openhow.openflag4_u.how.mode = UNCHECKED4;
	o->openhow.openflag4_u.how.createhow4_u.createattrs = *attrs;
	o->claim.claim = CLAIM_NULL;
	o->claim.open_claim4_u.file.utf8string_val = (char *)name;
	o->claim.open_claim4_u.file.utf8string_len = (u_int)strlen(name);
}

/* ---- metadata workloads: file i is done by thread i % threads ---------- */

typedef void (*op_fn)(struct worker *w, uint32_t i);

static void op_create(struct worker *w, uint32_t i)
{
	struct v4 *s = &w->s;
	char name[32];
	uint8_t buf[16];
	fattr4 attrs;
	name_of(name, sizeof(name), i);
	v4_sattr_mode(&attrs, buf, 0644, false, 0);
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, &B.dir);
	add_open(s, w->owner, name, OPEN4_SHARE_ACCESS_BOTH, &attrs);
	v4_add(s, OP_GETFH);
	/* The current stateid (RFC 8881 16.2.3.1.2): the OPEN's, without a
	 * round trip. */
	CLOSE4args *c = &v4_add(s, OP_CLOSE)->nfs_argop4_u.opclose;
	c->open_stateid.seqid = 1;
	call(s, "create");
	v4_fh_copy(&B.fhs[i], &res(s, 3)->nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object);
}

static void op_lookup(struct worker *w, uint32_t i)
{
	struct v4 *s = &w->s;
	char name[32];
	name_of(name, sizeof(name), i);
	v4_begin(s);
	seq_nocache(s);
	v4_putfh(s, &B.dir);
	v4_lookup(s, name);
	v4_add(s, OP_GETFH);
	call(s, "lookup");
}

static void op_getattr(struct worker *w, uint32_t i)
{
	struct v4 *s = &w->s;
	v4_begin(s);
	seq_nocache(s);
	v4_putfh(s, &B.fhs[i]);
	GETATTR4args *a = &v4_add(s, OP_GETATTR)->nfs_argop4_u.opgetattr;
	a->attr_request.bitmap4_val = stat_attrs;
	a->attr_request.bitmap4_len = 2;
	call(s, "getattr");
}

static void op_unlink(struct worker *w, uint32_t i)
{
	struct v4 *s = &w->s;
	char name[32];
	name_of(name, sizeof(name), i);
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, &B.dir);
	REMOVE4args *r = &v4_add(s, OP_REMOVE)->nfs_argop4_u.opremove;
	r->target.utf8string_val = name;
	r->target.utf8string_len = (u_int)strlen(name);
	call(s, "unlink");
	v4_begin(s); /* the result must not point at name after return */
}

struct job {
	struct worker *w;
	op_fn op;
	void (*fn)(struct worker *w);
};

static void *meta_thread(void *arg)
{
	struct job *j = arg;
	for (uint32_t i = (uint32_t)j->w->id; i < B.nfiles; i += (uint32_t)B.threads)
		j->op(j->w, i);
	return NULL;
}

static void *fn_thread(void *arg)
{
	struct job *j = arg;
	j->fn(j->w);
	return NULL;
}

/* Runs one job per thread and returns the wall time of the slowest. */
static double run_threads(op_fn op, void (*fn)(struct worker *w))
{
	pthread_t t[MAX_THREADS];
	struct job jobs[MAX_THREADS];
	double t0 = now();
	for (int i = 0; i < B.threads; i++) {
		jobs[i] = (struct job){&B.w[i], op, fn};
		if (pthread_create(&t[i], NULL, op ? meta_thread : fn_thread, &jobs[i]) != 0)
			die("pthread_create failed");
	}
	for (int i = 0; i < B.threads; i++)
		pthread_join(t[i], NULL);
	return now() - t0;
}

static void meta_op(const char *op, op_fn fn)
{
	char workload[32], detail[64];
	double secs = run_threads(fn, NULL);
	snprintf(workload, sizeof(workload), "%s_qd%d", op, B.threads);
	snprintf(detail, sizeof(detail), "(%" PRIu32 " ops in %.2f s)", B.nfiles, secs);
	put_result(workload, B.nfiles / secs, "ops/s", detail);
}

/* One full listing of the run's directory; returns the entry count. */
static uint32_t list_dir(struct v4 *s)
{
	uint64_t cookie = 0;
	verifier4 verf = {0};
	uint32_t entries = 0;
	for (;;) {
		v4_begin(s);
		seq_nocache(s);
		v4_putfh(s, &B.dir);
		READDIR4args *a = &v4_add(s, OP_READDIR)->nfs_argop4_u.opreaddir;
		a->cookie = cookie;
		memcpy(a->cookieverf, verf, sizeof(verf));
		a->dircount = READDIR_MAXCOUNT;
		a->maxcount = READDIR_MAXCOUNT;
		a->attr_request.bitmap4_val = readdir_attrs;
		a->attr_request.bitmap4_len = 2;
		call(s, "readdir");
		READDIR4resok *ok = &res(s, 2)->nfs_resop4_u.opreaddir.READDIR4res_u.resok4;
		memcpy(verf, ok->cookieverf, sizeof(verf));
		for (entry4 *e = ok->reply.entries; e; e = e->nextentry) {
			if (e->attrs.attr_vals.attrlist4_len == 0)
				die("readdir: entry without attributes");
			cookie = e->cookie;
			entries++;
		}
		if (ok->reply.eof)
			break;
		if (!ok->reply.entries)
			die("readdir: empty reply without eof");
	}
	return entries;
}

static void readdir_bench(void)
{
	double best = 0;
	for (int r = 0; r < B.readdir_repeats; r++) {
		double t0 = now();
		uint32_t n = list_dir(&B.w[0].s);
		double ms = (now() - t0) * 1000;
		if (n != B.nfiles)
			die("readdir: %" PRIu32 " entries, expected %" PRIu32, n, B.nfiles);
		if (r == 0 || ms < best)
			best = ms;
	}
	char detail[96];
	snprintf(detail, sizeof(detail), "(%" PRIu32 " entries, best of %d; lower is better)", B.nfiles,
		 B.readdir_repeats);
	put_result("readdir_ms", best, "ms", detail);
}

static void meta_group(void)
{
	B.fhs = calloc(B.nfiles, sizeof(*B.fhs));
	if (!B.fhs)
		die("out of memory");
	meta_op("create", op_create);
	meta_op("lookup", op_lookup);
	meta_op("getattr", op_getattr);
	readdir_bench();
	meta_op("unlink", op_unlink);
	for (uint32_t i = 0; i < B.nfiles; i++)
		free(B.fhs[i].nfs_fh4_val);
	free(B.fhs);
}

/* ---- sequential I/O: one file per thread ------------------------------- */

static uint64_t per_thread_bytes(void)
{
	uint64_t n = B.seq_bytes / (uint64_t)B.threads / IO_SIZE * IO_SIZE;
	return n ? n : IO_SIZE;
}

static void seq_open(struct worker *w)
{
	struct v4 *s = &w->s;
	char name[32];
	uint8_t buf[16];
	fattr4 attrs;
	snprintf(name, sizeof(name), "seq%02d", w->id);
	v4_sattr_mode(&attrs, buf, 0644, false, 0);
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, &B.dir);
	add_open(s, w->owner, name, OPEN4_SHARE_ACCESS_BOTH, &attrs);
	v4_add(s, OP_GETFH);
	call(s, "seq open");
	w->sid = res(s, 2)->nfs_resop4_u.opopen.OPEN4res_u.resok4.stateid;
	v4_fh_copy(&w->fh, &res(s, 3)->nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object);
}

static void seq_write(struct worker *w)
{
	struct v4 *s = &w->s;
	uint64_t size = per_thread_bytes();
	for (uint64_t off = 0; off < size; off += IO_SIZE) {
		v4_begin(s);
		seq_nocache(s);
		v4_putfh(s, &w->fh);
		WRITE4args *a = &v4_add(s, OP_WRITE)->nfs_argop4_u.opwrite;
		a->stateid = w->sid;
		a->offset = off;
		a->stable = UNSTABLE4;
		a->data.data_val = B.io_buf;
		a->data.data_len = IO_SIZE;
		call(s, "write");
		if (res(s, 2)->nfs_resop4_u.opwrite.WRITE4res_u.resok4.count != IO_SIZE)
			die("write: short write");
	}
	v4_begin(s);
	seq_nocache(s);
	v4_putfh(s, &w->fh);
	v4_add(s, OP_COMMIT); /* offset 0, count 0: the whole file */
	call(s, "commit");
}

static void seq_read(struct worker *w)
{
	struct v4 *s = &w->s;
	uint64_t size = per_thread_bytes();
	for (uint64_t off = 0; off < size; off += IO_SIZE) {
		v4_begin(s);
		seq_nocache(s);
		v4_putfh(s, &w->fh);
		READ4args *a = &v4_add(s, OP_READ)->nfs_argop4_u.opread;
		a->stateid = w->sid;
		a->offset = off;
		a->count = IO_SIZE;
		call(s, "read");
		if (res(s, 2)->nfs_resop4_u.opread.READ4res_u.resok4.data.data_len != IO_SIZE)
			die("read: short read at %" PRIu64, off);
	}
}

static void seq_close(struct worker *w)
{
	struct v4 *s = &w->s;
	char name[32];
	snprintf(name, sizeof(name), "seq%02d", w->id);
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, &w->fh);
	v4_add(s, OP_CLOSE)->nfs_argop4_u.opclose.open_stateid = w->sid;
	v4_putfh(s, &B.dir);
	REMOVE4args *r = &v4_add(s, OP_REMOVE)->nfs_argop4_u.opremove;
	r->target.utf8string_val = name;
	r->target.utf8string_len = (u_int)strlen(name);
	call(s, "seq close");
	v4_begin(s);
	free(w->fh.nfs_fh4_val);
}

static void seq_group(void)
{
	char workload[32], detail[64];
	double mib = (double)(per_thread_bytes() * (uint64_t)B.threads) / (1 << 20);
	B.io_buf = malloc(IO_SIZE);
	if (!B.io_buf)
		die("out of memory");
	for (uint32_t i = 0; i < IO_SIZE; i++)
		B.io_buf[i] = (char)(i * 2654435761u >> 24);
	run_threads(NULL, seq_open);
	double secs = run_threads(NULL, seq_write);
	snprintf(workload, sizeof(workload), "seq_write_qd%d", B.threads);
	snprintf(detail, sizeof(detail), "(%.0f MiB in %.2f s, UNSTABLE + COMMIT)", mib, secs);
	put_result(workload, mib / secs, "MiB/s", detail);
	secs = run_threads(NULL, seq_read);
	snprintf(workload, sizeof(workload), "seq_read_qd%d", B.threads);
	snprintf(detail, sizeof(detail), "(%.0f MiB in %.2f s, just written)", mib, secs);
	put_result(workload, mib / secs, "MiB/s", detail);
	run_threads(NULL, seq_close);
	free(B.io_buf);
}

/* ---- setup ------------------------------------------------------------- */

static void parse_url(const char *url)
{
	char host[128];
	if (strncmp(url, "nfs4://", 7) != 0 || sscanf(url + 7, "%127[^:/]:%d", host, &B.port) != 2)
		die("bad URL %s (nfs4://HOST:PORT/EXPORT)", url);
	const char *slash = strchr(url + 7, '/');
	snprintf(B.export, sizeof(B.export), "%s", slash ? slash : "/");
	B.host = strdup(host);
	if (strcmp(B.host, "127.0.0.1") != 0)
		die("only 127.0.0.1 is supported (the v4 client connects to loopback)");
}

/* The export's handle, then the run's directory under it. */
static void make_dir(struct v4 *s)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", B.export);
	v4_begin(s);
	v4_seq(s, 0);
	v4_add(s, OP_PUTROOTFH);
	for (char *save = NULL, *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save))
		v4_lookup(s, c);
	snprintf(B.dirname, sizeof(B.dirname), "v4bench.%d", (int)getpid());
	CREATE4args *c = &v4_add(s, OP_CREATE)->nfs_argop4_u.opcreate;
	uint8_t buf[16];
	v4_sattr_mode(&c->createattrs, buf, 0755, false, 0);
	c->objtype.type = NF4DIR;
	c->objname.utf8string_val = B.dirname;
	c->objname.utf8string_len = (u_int)strlen(B.dirname);
	v4_add(s, OP_GETFH);
	call(s, "mkdir");
	v4_fh_copy(&B.dir, &res(s, s->nops - 1)->nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object);
}

static void remove_dir(struct v4 *s)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", B.export);
	v4_begin(s);
	v4_seq(s, 0);
	v4_add(s, OP_PUTROOTFH);
	for (char *save = NULL, *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save))
		v4_lookup(s, c);
	REMOVE4args *r = &v4_add(s, OP_REMOVE)->nfs_argop4_u.opremove;
	r->target.utf8string_val = B.dirname;
	r->target.utf8string_len = (u_int)strlen(B.dirname);
	call(s, "rmdir");
	v4_begin(s);
}

static bool wanted(const char *group)
{
	if (!B.workloads)
		return true;
	size_t n = strlen(group);
	for (const char *p = B.workloads; (p = strstr(p, group)); p += n)
		if ((p == B.workloads || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int opt;
	B.label = "server";
	B.threads = 16;
	B.nfiles = 10000;
	B.seq_bytes = 512u << 20;
	B.readdir_repeats = 3;
	while ((opt = getopt(argc, argv, "l:q:n:s:R:w:")) != -1) {
		switch (opt) {
		case 'l':
			B.label = optarg;
			break;
		case 'q':
			B.threads = atoi(optarg);
			break;
		case 'n':
			B.nfiles = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			B.seq_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'R':
			B.readdir_repeats = atoi(optarg);
			break;
		case 'w':
			B.workloads = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: v4bench [-l label] [-q threads] [-n files] [-s MiB] [-R n] [-w meta,seq] "
				"nfs4://127.0.0.1:PORT/EXPORT\n");
			return 2;
		}
	}
	if (optind != argc - 1 || B.threads < 1 || B.threads > MAX_THREADS || B.nfiles < 1 || B.readdir_repeats < 1)
		die("bad arguments (-h for usage)");
	parse_url(argv[optind]);
	for (int i = 0; i < B.threads; i++) {
		B.w[i].id = i;
		snprintf(B.w[i].owner, sizeof(B.w[i].owner), "v4bench.%d.%d", (int)getpid(), i);
		if (v4_open_session(&B.w[i].s, B.port, 0, 0, B.w[i].owner) != 0)
			die("session %d: EXCHANGE_ID/CREATE_SESSION on port %d failed", i, B.port);
		/* Records of one fragment, as the Linux client sends them (not
		 * libtirpc's 64 KiB fragments, which every server must join). */
		B.w[i].s.one_fragment = true;
		/* As a client does after CREATE_SESSION: ganesha answers a v4.1
		 * client's OPEN with NFS4ERR_GRACE until it has sent this. */
		struct v4 *s = &B.w[i].s;
		v4_begin(s);
		v4_seq(s, 0);
		v4_add(s, OP_RECLAIM_COMPLETE)->nfs_argop4_u.opreclaim_complete.rca_one_fs = FALSE;
		call(s, "reclaim_complete");
		if (i == 0)
			printf("session: max request %u, max response %u bytes\n", s->max_request, s->max_response);
	}
	make_dir(&B.w[0].s);
	if (wanted("seq"))
		seq_group();
	if (wanted("meta"))
		meta_group();
	remove_dir(&B.w[0].s);
	for (int i = 0; i < B.nresults; i++)
		printf("RESULT\t%s\t%s\t%.3f\t%s\n", B.label, B.results[i].workload, B.results[i].value,
		       B.results[i].unit);
	for (int i = 0; i < B.threads; i++)
		v4_close(&B.w[i].s);
	free(B.dir.nfs_fh4_val);
	return 0;
}
