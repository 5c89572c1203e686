/*
 * nfsbench: an NFSv3 load generator built on libnfs's raw async RPC layer.
 *
 * It owns the workloads (sequential write/read, create/lookup/getattr/unlink,
 * READDIRPLUS and READDIR listings), the event loop that keeps N calls outstanding on one TCP
 * connection, and the result lines. It talks to the server with raw NFS3
 * procedures rather than libnfs's POSIX-like layer so that one benchmark
 * operation is exactly one RPC (no path walks, no client-side dircache), which
 * makes the figures comparable between servers.
 *
 * Usage: nfsbench [-l label] [-s MiB] [-b KiB] [-n files] [-r bytes] [-R n] [-t s] [-w list] [-p pids] URL
 *   URL is nfs://HOST/EXPORT?nfsport=P&mountport=M&version=3
 * Output: one human line per workload, then one "RESULT" line per workload
 * (label, workload, value, unit) and one "JSON" line, for scripts.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "proc_cost.h"

#define MAX_RESULTS 32

struct result {
	char workload[32];
	double value;
	const char *unit;
};

struct bench {
	struct rpc_context *nfs; /* connection to the NFS program */
	nfs_fh3 root;		 /* export root (owned copy) */
	nfs_fh3 workdir;	 /* per-run directory under the root (owned copy) */
	char workdir_name[64];
	const char *label;
	uint64_t file_size;
	uint32_t io_size;
	uint32_t nfiles;
	uint32_t readdir_maxcount;
	int readdir_repeats;   /* listings of the directory; the best one is reported */
	int stall_limit_ms;    /* a server silent this long with calls outstanding has failed */
	const char *workloads; /* comma list of groups, NULL = all */
	struct proc_cost cost; /* -p: server processes whose cost per op is printed */

	int inflight;
	int failed; /* first error wins; the run stops */
	char error[256];

	char *io_buf; /* write payload, io_size bytes */

	struct result results[MAX_RESULTS];
	int nresults;
};

/*
 * One outstanding call. Pipelined calls are heap-allocated and freed by their
 * callback; a call waited for at once (wait_one) lives on the caller's stack.
 */
struct call {
	struct bench *b;
	uint64_t index;
	void *out;	  /* where a callback stores what it returns (handle, ...) */
	const char *proc; /* for messages, when the callback serves several procedures */
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct bench *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->error, sizeof(b->error), fmt, ap);
	va_end(ap);
	b->failed = 1;
}

static int fh_copy(nfs_fh3 *dst, const nfs_fh3 *src)
{
	dst->data.data_len = src->data.data_len;
	dst->data.data_val = malloc(src->data.data_len ? src->data.data_len : 1);
	if (!dst->data.data_val)
		return -ENOMEM;
	memcpy(dst->data.data_val, src->data.data_val, src->data.data_len);
	return 0;
}

static void fh_free(nfs_fh3 *fh)
{
	free(fh->data.data_val);
	fh->data.data_val = NULL;
	fh->data.data_len = 0;
}

/* ---- event loop ---------------------------------------------------------- */

/* Waits for one round of socket events and lets libnfs run the callbacks. */
static int service_once(struct bench *b, struct rpc_context *rpc, int *idle_ms)
{
	struct pollfd pfd = {.fd = rpc_get_fd(rpc), .events = rpc_which_events(rpc)};
	int rc = poll(&pfd, 1, 100);
	if (rc < 0) {
		int err = errno;
		if (err == EINTR)
			return 0;
		fail(b, "poll: %s", strerror(err));
		return -err;
	}
	*idle_ms = rc == 0 ? *idle_ms + 100 : 0;
	if (*idle_ms >= b->stall_limit_ms) {
		fail(b, "server sent nothing for %d s with %d calls outstanding", b->stall_limit_ms / 1000,
		     b->inflight);
		return -ETIMEDOUT;
	}
	if (rpc_service(rpc, pfd.revents) < 0) {
		fail(b, "rpc_service: %s", rpc_get_error(rpc));
		return -EIO;
	}
	return 0;
}

static int drain(struct bench *b, struct rpc_context *rpc)
{
	int idle_ms = 0;
	while (b->inflight > 0)
		if (service_once(b, rpc, &idle_ms) < 0)
			return -EIO;
	return b->failed ? -EIO : 0;
}

/*
 * Waits for the single call just queued on rpc; `queued` is what the libnfs
 * *_async function returned (libnfs never runs a callback from inside it).
 */
static int wait_one(struct bench *b, struct rpc_context *rpc, int queued, const char *what)
{
	if (queued < 0) {
		fail(b, "%s: %s", what, rpc_get_error(rpc));
		return -EIO;
	}
	b->inflight++;
	return drain(b, rpc);
}

typedef int (*issue_fn)(struct bench *b, struct call *c);

/*
 * Issues calls 0..count-1 with at most `depth` outstanding, refilling as
 * replies arrive, and waits for the last one.
 */
static int run_pipeline(struct bench *b, uint64_t count, int depth, issue_fn issue, void *out)
{
	uint64_t next = 0;
	int idle_ms = 0;
	while (next < count && !b->failed) {
		while (next < count && b->inflight < depth && !b->failed) {
			struct call *c = calloc(1, sizeof(*c));
			if (!c) {
				fail(b, "out of memory");
				break;
			}
			c->b = b;
			c->index = next++;
			c->out = out;
			if (issue(b, c) < 0) {
				free(c);
				fail(b, "queueing call: %s", rpc_get_error(b->nfs));
				break;
			}
			b->inflight++;
		}
		if (service_once(b, b->nfs, &idle_ms) < 0)
			break;
	}
	return drain(b, b->nfs);
}

/*
 * Common head of every callback: accounts for the finished call and turns an
 * RPC-level failure into a run failure. Returns the reply or NULL.
 */
static void *call_reply(struct call *c, int status, void *data, const char *proc)
{
	struct bench *b = c->b;
	b->inflight--;
	if (status != RPC_STATUS_SUCCESS) {
		fail(b, "%s #%" PRIu64 ": rpc status %d: %s", proc, c->index, status,
		     status == RPC_STATUS_ERROR && data ? (const char *)data : "");
		return NULL;
	}
	return data;
}

static int check_nfs(struct call *c, int nfsstat, const char *proc)
{
	if (nfsstat == NFS3_OK)
		return 0;
	fail(c->b, "%s #%" PRIu64 ": %s", proc, c->index, nfsstat3_to_str(nfsstat));
	return -EIO;
}

/* ---- connect and mount --------------------------------------------------- */

struct url {
	char host[256];
	char export_path[1024];
	int nfsport;
	int mountport;
};

static int parse_url(const char *text, struct url *u)
{
	const char *p = text;
	if (strncmp(p, "nfs://", 6) != 0)
		return -EINVAL;
	p += 6;
	size_t hostlen = strcspn(p, "/");
	if (hostlen == 0 || hostlen >= sizeof(u->host) || p[hostlen] != '/')
		return -EINVAL;
	memcpy(u->host, p, hostlen);
	u->host[hostlen] = 0;
	p += hostlen;
	size_t pathlen = strcspn(p, "?");
	if (pathlen >= sizeof(u->export_path))
		return -EINVAL;
	memcpy(u->export_path, p, pathlen);
	u->export_path[pathlen] = 0;
	p += pathlen;
	u->nfsport = 2049;
	u->mountport = 0;
	while (*p == '?' || *p == '&') {
		p++;
		int value;
		if (sscanf(p, "nfsport=%d", &value) == 1)
			u->nfsport = value;
		else if (sscanf(p, "mountport=%d", &value) == 1)
			u->mountport = value;
		else if (sscanf(p, "version=%d", &value) == 1 && value != 3)
			return -EPROTONOSUPPORT;
		p += strcspn(p, "&");
	}
	return u->mountport > 0 ? 0 : -EDESTADDRREQ;
}

static void on_connect(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	call_reply(priv, status, data, "connect");
}

static struct rpc_context *connect_to(struct bench *b, const char *host, int port)
{
	struct rpc_context *rpc = rpc_init_context();
	if (!rpc) {
		fail(b, "rpc_init_context failed");
		return NULL;
	}
	struct call c = {.b = b};
	if (wait_one(b, rpc, rpc_connect_async(rpc, host, port, on_connect, &c), "connect") < 0) {
		rpc_destroy_context(rpc);
		return NULL;
	}
	return rpc;
}

static void on_mnt(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	mountres3 *res = call_reply(c, status, data, "MNT");
	if (!res)
		return;
	if (res->fhs_status != MNT3_OK) {
		fail(c->b, "MNT: mount status %d", res->fhs_status);
		return;
	}
	fhandle3 *fh = &res->mountres3_u.mountinfo.fhandle;
	nfs_fh3 view = {.data = {fh->fhandle3_len, fh->fhandle3_val}};
	if (fh_copy(&c->b->root, &view) < 0)
		fail(c->b, "out of memory");
}

/* Asks the MOUNT program for the export's root handle, then drops that connection. */
static int mount_export(struct bench *b, const struct url *u)
{
	struct rpc_context *mnt = connect_to(b, u->host, u->mountport);
	if (!mnt)
		return -EIO;
	struct call c = {.b = b};
	char *path = strdup(u->export_path);
	if (!path)
		fail(b, "out of memory");
	else
		wait_one(b, mnt, rpc_mount3_mnt_async(mnt, on_mnt, path, &c), "MNT");
	free(path);
	if (b->failed)
		return -EIO; /* see main() on why a failed context is not destroyed */
	rpc_destroy_context(mnt);
	return 0;
}

/* ---- single namespace calls used by setup and cleanup --------------------- */

static void on_dir_handle(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	MKDIR3res *res = call_reply(c, status, data, "MKDIR");
	if (!res || check_nfs(c, res->status, "MKDIR") < 0)
		return;
	post_op_fh3 *obj = &res->MKDIR3res_u.resok.obj;
	if (!obj->handle_follows) {
		fail(c->b, "MKDIR returned no handle");
		return;
	}
	if (fh_copy(c->out, &obj->post_op_fh3_u.handle) < 0)
		fail(c->b, "out of memory");
}

static int make_dir(struct bench *b, nfs_fh3 *parent, const char *name, nfs_fh3 *out)
{
	MKDIR3args args = {0};
	args.where.dir = *parent;
	args.where.name = (char *)name;
	args.attributes.mode.set_it = 1;
	args.attributes.mode.set_mode3_u.mode = 0755;
	struct call c = {.b = b, .out = out};
	return wait_one(b, b->nfs, rpc_nfs3_mkdir_async(b->nfs, on_dir_handle, &args, &c), "MKDIR");
}

static void on_status_only(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	/* Every NFSv3 result starts with its nfsstat3. */
	nfsstat3 *res = call_reply(c, status, data, c->proc);
	if (res)
		check_nfs(c, *res, c->proc);
}

static int remove_dir(struct bench *b, nfs_fh3 *parent, const char *name)
{
	RMDIR3args args = {.object = {.dir = *parent, .name = (char *)name}};
	struct call c = {.b = b, .proc = "RMDIR"};
	return wait_one(b, b->nfs, rpc_nfs3_rmdir_async(b->nfs, on_status_only, &args, &c), "RMDIR");
}

static void on_create(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	CREATE3res *res = call_reply(c, status, data, "CREATE");
	if (!res || check_nfs(c, res->status, "CREATE") < 0)
		return;
	post_op_fh3 *obj = &res->CREATE3res_u.resok.obj;
	if (!obj->handle_follows)
		fail(c->b, "CREATE #%" PRIu64 " returned no handle", c->index);
	else if (fh_copy(c->out, &obj->post_op_fh3_u.handle) < 0)
		fail(c->b, "out of memory");
}

/* Creates one file and returns its handle; used for the sequential files. */
static int create_file(struct bench *b, nfs_fh3 *dir, const char *name, nfs_fh3 *out)
{
	CREATE3args args = {0};
	args.where.dir = *dir;
	args.where.name = (char *)name;
	args.how.mode = UNCHECKED;
	args.how.createhow3_u.obj_attributes.mode.set_it = 1;
	args.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	struct call c = {.b = b, .out = out};
	return wait_one(b, b->nfs, rpc_nfs3_create_async(b->nfs, on_create, &args, &c), "CREATE");
}

static int remove_file(struct bench *b, nfs_fh3 *dir, const char *name)
{
	REMOVE3args args = {.object = {.dir = *dir, .name = (char *)name}};
	struct call c = {.b = b, .proc = "REMOVE"};
	return wait_one(b, b->nfs, rpc_nfs3_remove_async(b->nfs, on_status_only, &args, &c), "REMOVE");
}

/* ---- results ------------------------------------------------------------- */

static void record(struct bench *b, const char *workload, double value, const char *unit, const char *detail)
{
	printf("%-18s %12.1f %-6s %s\n", workload, value, unit, detail);
	fflush(stdout);
	if (b->nresults == MAX_RESULTS)
		return;
	struct result *r = &b->results[b->nresults++];
	snprintf(r->workload, sizeof(r->workload), "%s", workload);
	r->value = value;
	r->unit = unit;
}

/* Whether a workload group ("seq", "meta") was asked for with -w. */
static bool wanted(const struct bench *b, const char *group)
{
	if (!b->workloads)
		return true;
	size_t len = strlen(group);
	for (const char *p = b->workloads; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, group, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* ---- sequential data ----------------------------------------------------- */

struct seq_job {
	nfs_fh3 fh;
	char verf[NFS3_WRITEVERFSIZE];
	bool have_verf;
	bool verf_changed;
};

/* Each I/O carries its own offset in its first 8 bytes so reads can check it. */
static void stamp(char *buf, uint64_t offset)
{
	memcpy(buf, &offset, sizeof(offset));
}

static void on_write(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	struct seq_job *job = c->out;
	WRITE3res *res = call_reply(c, status, data, "WRITE");
	if (res && check_nfs(c, res->status, "WRITE") == 0) {
		WRITE3resok *ok = &res->WRITE3res_u.resok;
		if (ok->count != c->b->io_size)
			fail(c->b, "WRITE #%" PRIu64 ": short write %u", c->index, ok->count);
		if (job->have_verf && memcmp(job->verf, ok->verf, sizeof(job->verf)) != 0)
			job->verf_changed = true;
		memcpy(job->verf, ok->verf, sizeof(job->verf));
		job->have_verf = true;
	}
	free(c);
}

static int issue_write(struct bench *b, struct call *c)
{
	struct seq_job *job = c->out;
	uint64_t offset = c->index * b->io_size;
	stamp(b->io_buf, offset);
	WRITE3args args = {.file = job->fh, .offset = offset, .count = b->io_size, .stable = UNSTABLE};
	args.data.data_len = b->io_size;
	args.data.data_val = b->io_buf;
	/* libnfs 4.0 encodes the payload into the call's own buffer here, so
	 * io_buf may be restamped for the next call at once. */
	return rpc_nfs3_write_async(b->nfs, on_write, &args, c);
}

static void on_commit(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	struct seq_job *job = c->out;
	COMMIT3res *res = call_reply(c, status, data, "COMMIT");
	if (res && check_nfs(c, res->status, "COMMIT") == 0 &&
	    memcmp(job->verf, res->COMMIT3res_u.resok.verf, sizeof(job->verf)) != 0)
		job->verf_changed = true;
	free(c);
}

static int issue_commit(struct bench *b, struct call *c)
{
	struct seq_job *job = c->out;
	COMMIT3args args = {.file = job->fh, .offset = 0, .count = 0};
	return rpc_nfs3_commit_async(b->nfs, on_commit, &args, c);
}

static void on_read(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	READ3res *res = call_reply(c, status, data, "READ");
	if (res && check_nfs(c, res->status, "READ") == 0) {
		READ3resok *ok = &res->READ3res_u.resok;
		uint64_t want = c->index * c->b->io_size, got;
		if (ok->count != c->b->io_size || ok->data.data_len < sizeof(got))
			fail(c->b, "READ #%" PRIu64 ": short read %u", c->index, ok->count);
		else if (memcpy(&got, ok->data.data_val, sizeof(got)), got != want)
			fail(c->b, "READ at %" PRIu64 ": data written at %" PRIu64 " came back", want, got);
	}
	free(c);
}

static int issue_read(struct bench *b, struct call *c)
{
	struct seq_job *job = c->out;
	READ3args args = {.file = job->fh, .offset = c->index * b->io_size, .count = b->io_size};
	return rpc_nfs3_read_async(b->nfs, on_read, &args, c);
}

static void report_throughput(struct bench *b, const char *workload, uint64_t bytes, double seconds)
{
	char detail[128];
	snprintf(detail, sizeof(detail), "(%" PRIu64 " MiB in %.2f s)", bytes >> 20, seconds);
	record(b, workload, bytes / 1048576.0 / seconds, "MiB/s", detail);
}

static int seq_write(struct bench *b, struct seq_job *job, int depth)
{
	char workload[32];
	snprintf(workload, sizeof(workload), "seq_write_qd%d", depth);
	uint64_t count = b->file_size / b->io_size;
	double start = now_seconds();
	if (run_pipeline(b, count, depth, issue_write, job) < 0 || run_pipeline(b, 1, 1, issue_commit, job) < 0)
		return -EIO;
	double seconds = now_seconds() - start;
	if (job->verf_changed)
		fprintf(stderr, "nfsbench: %s: write verifier changed; a real client would resend\n", workload);
	report_throughput(b, workload, count * b->io_size, seconds);
	return 0;
}

static int seq_read(struct bench *b, struct seq_job *job, int depth)
{
	char workload[32];
	snprintf(workload, sizeof(workload), "seq_read_qd%d", depth);
	uint64_t count = b->file_size / b->io_size;
	double start = now_seconds();
	if (run_pipeline(b, count, depth, issue_read, job) < 0)
		return -EIO;
	report_throughput(b, workload, count * b->io_size, now_seconds() - start);
	return 0;
}

/*
 * Writes seq.qdD at QD1 and QD8, then reads each back at the same depth.
 * Each depth has its own file so that no run overwrites another's data.
 */
static int sequential_workloads(struct bench *b)
{
	static const int depths[] = {1, 8};
	struct seq_job jobs[2] = {0};
	char names[2][16];
	int rc = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(names[i], sizeof(names[i]), "seq.qd%d", depths[i]);
		rc = create_file(b, &b->workdir, names[i], &jobs[i].fh);
		if (rc == 0)
			rc = seq_write(b, &jobs[i], depths[i]);
	}
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = seq_read(b, &jobs[i], depths[i]);
	for (int i = 0; i < 2; i++) {
		if (!jobs[i].fh.data.data_val)
			continue;
		if (rc == 0)
			rc = remove_file(b, &b->workdir, names[i]);
		fh_free(&jobs[i].fh);
	}
	return rc;
}

/* ---- metadata ------------------------------------------------------------ */

/* One directory of nfiles files, worked on at one queue depth. */
struct meta_set {
	int depth;
	char name[16];
	nfs_fh3 dir;
	nfs_fh3 *handles; /* filled by the create run, used by getattr */
};

static void file_name(char *buf, size_t size, uint64_t index)
{
	snprintf(buf, size, "f%06" PRIu64, index);
}

static void on_create_in_set(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct call *c = priv;
	struct meta_set *set = c->out;
	c->out = &set->handles[c->index];
	on_create(rpc, status, data, priv);
	free(c);
}

static int issue_create(struct bench *b, struct call *c)
{
	struct meta_set *set = c->out;
	char name[32];
	file_name(name, sizeof(name), c->index);
	CREATE3args args = {0};
	args.where.dir = set->dir;
	args.where.name = name;
	/* GUARDED, so a leftover file from an earlier run is an error, not a no-op. */
	args.how.mode = GUARDED;
	args.how.createhow3_u.g_obj_attributes.mode.set_it = 1;
	args.how.createhow3_u.g_obj_attributes.mode.set_mode3_u.mode = 0644;
	return rpc_nfs3_create_async(b->nfs, on_create_in_set, &args, c);
}

static void on_lookup(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	LOOKUP3res *res = call_reply(c, status, data, "LOOKUP");
	if (res && check_nfs(c, res->status, "LOOKUP") == 0 && res->LOOKUP3res_u.resok.object.data.data_len == 0)
		fail(c->b, "LOOKUP #%" PRIu64 " returned an empty handle", c->index);
	free(c);
}

static int issue_lookup(struct bench *b, struct call *c)
{
	struct meta_set *set = c->out;
	char name[32];
	file_name(name, sizeof(name), c->index);
	LOOKUP3args args = {.what = {.dir = set->dir, .name = name}};
	return rpc_nfs3_lookup_async(b->nfs, on_lookup, &args, c);
}

static void on_getattr(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	GETATTR3res *res = call_reply(c, status, data, "GETATTR");
	if (res && check_nfs(c, res->status, "GETATTR") == 0 && res->GETATTR3res_u.resok.obj_attributes.type != NF3REG)
		fail(c->b, "GETATTR #%" PRIu64 ": not a regular file", c->index);
	free(c);
}

static int issue_getattr(struct bench *b, struct call *c)
{
	struct meta_set *set = c->out;
	GETATTR3args args = {.object = set->handles[c->index]};
	return rpc_nfs3_getattr_async(b->nfs, on_getattr, &args, c);
}

static void on_remove(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	REMOVE3res *res = call_reply(c, status, data, "REMOVE");
	if (res)
		check_nfs(c, res->status, "REMOVE");
	free(c);
}

static int issue_unlink(struct bench *b, struct call *c)
{
	struct meta_set *set = c->out;
	char name[32];
	file_name(name, sizeof(name), c->index);
	REMOVE3args args = {.object = {.dir = set->dir, .name = name}};
	return rpc_nfs3_remove_async(b->nfs, on_remove, &args, c);
}

static int run_meta_op(struct bench *b, struct meta_set *set, const char *op, issue_fn issue)
{
	char workload[32], detail[64];
	snprintf(workload, sizeof(workload), "%s_qd%d", op, set->depth);
	proc_cost_begin(&b->cost);
	double start = now_seconds();
	if (run_pipeline(b, b->nfiles, set->depth, issue, set) < 0)
		return -EIO;
	double seconds = now_seconds() - start;
	proc_cost_end(&b->cost, b->label, workload, b->nfiles);
	snprintf(detail, sizeof(detail), "(%u ops in %.2f s)", b->nfiles, seconds);
	record(b, workload, b->nfiles / seconds, "ops/s", detail);
	return 0;
}

/* ---- readdir ------------------------------------------------------------- */

struct listing {
	cookie3 cookie;
	cookieverf3 verf;
	bool eof;
	uint64_t entries; /* not counting "." and ".." */
	uint64_t calls;
};

/*
 * libnfs 4.0's decoder packs entryplus3 records at 4-byte alignment, so
 * walking them trips UBSan's alignment check; x86 does not care.
 */
__attribute__((no_sanitize("alignment"))) static void on_readdirplus(struct rpc_context *rpc, int status, void *data,
								     void *priv)
{
	(void)rpc;
	struct call *c = priv;
	struct listing *l = c->out;
	READDIRPLUS3res *res = call_reply(c, status, data, "READDIRPLUS");
	if (!res || check_nfs(c, res->status, "READDIRPLUS") < 0)
		return;
	READDIRPLUS3resok *ok = &res->READDIRPLUS3res_u.resok;
	entryplus3 *last = NULL;
	for (entryplus3 *e = ok->reply.entries; e; e = e->nextentry) {
		if (strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0)
			l->entries++;
		last = e;
	}
	memcpy(l->verf, ok->cookieverf, sizeof(l->verf));
	l->eof = ok->reply.eof;
	if (last)
		l->cookie = last->cookie;
	else if (!l->eof)
		fail(c->b, "READDIRPLUS returned no entries and no eof");
	l->calls++;
}

static void on_readdir(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct call *c = priv;
	struct listing *l = c->out;
	READDIR3res *res = call_reply(c, status, data, "READDIR");
	if (!res || check_nfs(c, res->status, "READDIR") < 0)
		return;
	READDIR3resok *ok = &res->READDIR3res_u.resok;
	entry3 *last = NULL;
	for (entry3 *e = ok->reply.entries; e; e = e->nextentry) {
		if (strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0)
			l->entries++;
		last = e;
	}
	memcpy(l->verf, ok->cookieverf, sizeof(l->verf));
	l->eof = ok->reply.eof;
	if (last)
		l->cookie = last->cookie;
	else if (!l->eof)
		fail(c->b, "READDIR returned no entries and no eof");
	l->calls++;
}

/* Lists a directory once, one READDIRPLUS (or READDIR) after the other as a
 * client must. */
static int list_directory(struct bench *b, nfs_fh3 *dir, int plus, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	while (!l->eof && !b->failed) {
		struct call c = {.b = b, .index = l->calls, .out = l};
		if (plus) {
			READDIRPLUS3args args = {.dir = *dir, .cookie = l->cookie};
			memcpy(args.cookieverf, l->verf, sizeof(args.cookieverf));
			args.dircount = b->readdir_maxcount / 4;
			args.maxcount = b->readdir_maxcount;
			wait_one(b, b->nfs, rpc_nfs3_readdirplus_async(b->nfs, on_readdirplus, &args, &c),
				 "READDIRPLUS");
		} else {
			READDIR3args args = {.dir = *dir, .cookie = l->cookie, .count = b->readdir_maxcount / 4};
			memcpy(args.cookieverf, l->verf, sizeof(args.cookieverf));
			wait_one(b, b->nfs, rpc_nfs3_readdir_async(b->nfs, on_readdir, &args, &c), "READDIR");
		}
	}
	return b->failed ? -EIO : 0;
}

/* Best of several listings: the figure is a latency, so the noise floor
 * matters.  READDIR (count = dircount of the READDIRPLUS listing) is the
 * listing without attributes or handles. */
static int readdir_workload(struct bench *b, struct meta_set *set, int plus)
{
	const char *proc = plus ? "READDIRPLUS" : "READDIR";
	double best = 1e30;
	struct listing l;
	for (int i = 0; i < b->readdir_repeats; i++) {
		double start = now_seconds();
		if (list_directory(b, &set->dir, plus, &l) < 0)
			return -EIO;
		double seconds = now_seconds() - start;
		if (l.entries != b->nfiles) {
			fail(b, "%s listed %" PRIu64 " entries, expected %u", proc, l.entries, b->nfiles);
			return -EIO;
		}
		best = seconds < best ? seconds : best;
	}
	char detail[96];
	snprintf(detail, sizeof(detail), "(%u entries, %" PRIu64 " calls, best of %d; lower is better)", b->nfiles,
		 l.calls, b->readdir_repeats);
	record(b, plus ? "readdirplus_ms" : "readdir_ms", best * 1000, "ms", detail);
	return 0;
}

/*
 * create, lookup and getattr in a fresh directory per depth, then READDIRPLUS
 * and READDIR of the QD16 directory, then unlink everything.
 */
static int metadata_workloads(struct bench *b)
{
	static const struct {
		const char *name;
		issue_fn issue;
	} before_listing[] = {{"create", issue_create}, {"lookup", issue_lookup}, {"getattr", issue_getattr}};
	struct meta_set sets[2] = {{.depth = 1}, {.depth = 16}};
	int rc = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(sets[i].name, sizeof(sets[i].name), "meta.qd%d", sets[i].depth);
		sets[i].handles = calloc(b->nfiles, sizeof(nfs_fh3));
		if (!sets[i].handles)
			rc = -ENOMEM;
		else
			rc = make_dir(b, &b->workdir, sets[i].name, &sets[i].dir);
	}
	for (size_t op = 0; op < sizeof(before_listing) / sizeof(before_listing[0]); op++)
		for (int i = 0; i < 2 && rc == 0; i++)
			rc = run_meta_op(b, &sets[i], before_listing[op].name, before_listing[op].issue);
	if (rc == 0)
		rc = readdir_workload(b, &sets[1], 1);
	if (rc == 0)
		rc = readdir_workload(b, &sets[1], 0);
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = run_meta_op(b, &sets[i], "unlink", issue_unlink);
	for (int i = 0; i < 2; i++) {
		if (rc == 0 && sets[i].dir.data.data_val)
			rc = remove_dir(b, &b->workdir, sets[i].name);
		fh_free(&sets[i].dir);
		for (uint32_t f = 0; sets[i].handles && f < b->nfiles; f++)
			fh_free(&sets[i].handles[f]);
		free(sets[i].handles);
	}
	return rc;
}

/* ---- main ---------------------------------------------------------------- */

static void print_summary(const struct bench *b)
{
	for (int i = 0; i < b->nresults; i++)
		printf("RESULT\t%s\t%s\t%.3f\t%s\n", b->label, b->results[i].workload, b->results[i].value,
		       b->results[i].unit);
	printf("JSON {\"label\":\"%s\",\"ok\":%s", b->label, b->failed ? "false" : "true");
	for (int i = 0; i < b->nresults; i++)
		printf(",\"%s\":{\"value\":%.3f,\"unit\":\"%s\"}", b->results[i].workload, b->results[i].value,
		       b->results[i].unit);
	printf("}\n");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: nfsbench [-l label] [-s file_MiB] [-b io_KiB] [-n files] [-r readdir_maxcount]\n"
		     "                [-R readdir_repeats] [-t stall_seconds] [-w seq,meta] "
		     "nfs://HOST/EXPORT?nfsport=P&mountport=M&version=3\n"
		     "defaults: -s 1024 -b 1024 -n 10000 -r 65536 -R 3 -t 60, all workloads\n"
		     "-p: after each metadata workload, print the CPU and context switches per op of these\n"
		     "    server processes (COST label workload name pid cpu_us/op switches/op)\n");
}

static int parse_args(struct bench *b, int argc, char **argv, struct url *u)
{
	int opt;
	while ((opt = getopt(argc, argv, "l:s:b:n:r:R:t:w:p:h")) != -1) {
		switch (opt) {
		case 'l':
			b->label = optarg;
			break;
		case 's':
			b->file_size = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'b':
			b->io_size = strtoul(optarg, NULL, 10) << 10;
			break;
		case 'n':
			b->nfiles = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			b->readdir_maxcount = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			b->readdir_repeats = atoi(optarg);
			break;
		case 't':
			b->stall_limit_ms = atoi(optarg) * 1000;
			break;
		case 'w':
			b->workloads = optarg;
			break;
		case 'p':
			if (proc_cost_parse(&b->cost, optarg) < 0)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc - 1 || b->io_size == 0 || b->file_size < b->io_size || b->nfiles == 0 ||
	    b->readdir_maxcount < 1024 || b->stall_limit_ms <= 0 || b->readdir_repeats < 1)
		return -EINVAL;
	int rc = parse_url(argv[optind], u);
	if (rc < 0)
		fprintf(stderr, "nfsbench: bad URL %s: %s (need nfs://HOST/EXPORT?nfsport=P&mountport=M)\n",
			argv[optind], strerror(-rc));
	return rc;
}

static int run(struct bench *b, const struct url *u)
{
	if (mount_export(b, u) < 0)
		return -EIO;
	b->nfs = connect_to(b, u->host, u->nfsport);
	if (!b->nfs)
		return -EIO;
	snprintf(b->workdir_name, sizeof(b->workdir_name), "nfsbench.%s.%d", b->label, (int)getpid());
	if (make_dir(b, &b->root, b->workdir_name, &b->workdir) < 0)
		return -EIO;
	int rc = 0;
	if (wanted(b, "seq"))
		rc = sequential_workloads(b);
	if (rc == 0 && wanted(b, "meta"))
		rc = metadata_workloads(b);
	if (rc == 0)
		rc = remove_dir(b, &b->root, b->workdir_name);
	return rc;
}

int main(int argc, char **argv)
{
	struct bench b = {
	    .label = "server",
	    .file_size = 1024ull << 20,
	    .io_size = 1 << 20,
	    .nfiles = 10000,
	    .readdir_maxcount = 65536,
	    .stall_limit_ms = 60000,
	    .readdir_repeats = 3,
	};
	struct url u;
	if (parse_args(&b, argc, argv, &u) < 0) {
		usage(stderr);
		return 2;
	}
	b.io_buf = malloc(b.io_size);
	if (!b.io_buf)
		return 1;
	/* Incompressible payload, so no layer can win by compressing or deduplicating. */
	unsigned int seed = 12345;
	for (uint32_t i = 0; i < b.io_size; i++)
		b.io_buf[i] = (char)rand_r(&seed);

	printf("nfsbench %s: %s:%s nfsport=%d mountport=%d, file %" PRIu64 " MiB, io %u KiB, %u files\n", b.label,
	       u.host, u.export_path, u.nfsport, u.mountport, b.file_size >> 20, b.io_size >> 10, b.nfiles);
	run(&b, &u);
	print_summary(&b);
	if (b.failed)
		fprintf(stderr, "nfsbench %s: FAILED: %s\n", b.label, b.error);
	/* After a failure calls may still be queued whose callbacks would run
	 * from rpc_destroy_context() on stack frames long gone: just exit. */
	if (b.nfs && !b.failed)
		rpc_destroy_context(b.nfs);
	fh_free(&b.root);
	fh_free(&b.workdir);
	free(b.io_buf);
	return b.failed ? 1 : 0;
}
