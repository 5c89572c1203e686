/*
 * bench_backend.c - the storage engine driven in-process through the vfs
 * API, against peers measured in the same run on the same machine:
 *   metadata: create, lookup, getattr, unlink ops/s of one thread divided by
 *             `redis-benchmark -c 1 -P 1 -t get` GET ops/s on the same Redis
 *             (one round trip each: the ceiling for one-script-per-op);
 *   data:     sequential 1 GiB write (1 MiB UNSTABLE writes + COMMIT) and
 *             cold read MB/s on a file:// store on tmpfs, divided by plain
 *             `dd` of the same size on the same tmpfs.
 * Usage: bench_backend [files=20000] [mib=1024]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meta.h"
#include "testlib.h"
#include "vfs.h"

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double redis_get_ops(int port)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "redis-benchmark -h 127.0.0.1 -p %d -c 1 -P 1 -t get -n 100000 -q 2>&1 | tr '\\r' '\\n'", port);
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	char line[512];
	double ops = 0;
	while (fgets(line, sizeof(line), p)) {
		/* "GET: 41152.26 requests per second, p50=0.023 msec" (after \r progress lines) */
		char *g = NULL, *next = line;
		while ((next = strstr(next, "GET: ")) != NULL)
			g = next++;
		if (g && strstr(g, "requests per second"))
			ops = atof(g + 5);
	}
	pclose(p);
	return ops;
}

/* MB/s of a dd command (bytes / wall time measured here). */
static double dd_mbps(const char *cmd, double bytes)
{
	double t0 = now_sec();
	if (system(cmd) != 0)
		return 0;
	return bytes / 1e6 / (now_sec() - t0);
}

static int open_vfs(const char *url, struct gfs_vfs **vfs)
{
	struct gfs_vfs_config cfg = {.meta_url = url};
	char err[256];
	int rc = gfs_vfs_open(&cfg, vfs, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "gfs_vfs_open: %s\n", err);
	return rc;
}

int main(int argc, char **argv)
{
	int nfiles = argc > 1 ? atoi(argv[1]) : 20000;
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024;
	setenv("TMPDIR", "/dev/shm", 0);
	struct tl_redis r;
	char dir[256], err[256];
	if (tl_redis_start(&r) < 0 || tl_tmpdir("gatefs-bench", dir, sizeof(dir)) < 0) {
		fprintf(stderr, "cannot start redis or make a temp dir\n");
		return 1;
	}
	struct meta *m;
	struct gfs_volume_settings s = {0};
	snprintf(s.name, sizeof(s.name), "bench");
	snprintf(s.uuid, sizeof(s.uuid), "00000000-0000-4000-8000-00000000be7c");
	snprintf(s.storage_url, sizeof(s.storage_url), "file://%s", dir);
	s.block_size = META_DEFAULT_BLOCK_SIZE;
	s.chunk_size = META_CHUNK_SIZE;
	s.format_version = META_FORMAT_VERSION;
	if (meta_open(r.url, &m, err, sizeof(err)) < 0 || meta_format(m, &s, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "format: %s\n", err);
		return 1;
	}
	meta_close(m);
	struct gfs_vfs *vfs;
	if (open_vfs(r.url, &vfs) < 0)
		return 1;

	struct gfs_cred root = {0};
	struct gfs_ref dir_ref = {GFS_ROOT_INO, 0};
	struct gfs_attr a;
	gfs_ino_t *inos = calloc((size_t)nfiles, sizeof(*inos));
	char name[64];
	double t0 = now_sec();
	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%07d", i);
		if (gfs_create(vfs, &root, dir_ref, name, 0644, GFS_CREATE_GUARDED, NULL, &a, NULL) < 0)
			return fprintf(stderr, "create failed\n"), 1;
		inos[i] = a.ino;
	}
	double t1 = now_sec();
	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%07d", i);
		if (gfs_lookup(vfs, &root, dir_ref, name, &a) < 0)
			return fprintf(stderr, "lookup failed\n"), 1;
	}
	double t2 = now_sec();
	for (int i = 0; i < nfiles; i++)
		if (gfs_getattr(vfs, (struct gfs_ref){inos[i], 0}, &a) < 0)
			return fprintf(stderr, "getattr failed\n"), 1;
	double t3 = now_sec();
	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%07d", i);
		if (gfs_remove(vfs, &root, dir_ref, name, NULL) < 0)
			return fprintf(stderr, "remove failed\n"), 1;
	}
	double t4 = now_sec();
	double get_ops = redis_get_ops(r.port);
	double ops[4] = {nfiles / (t1 - t0), nfiles / (t2 - t1), nfiles / (t3 - t2), nfiles / (t4 - t3)};
	const char *names[4] = {"create", "lookup", "getattr", "unlink"};
	printf("redis-benchmark GET (c=1, P=1): %.0f ops/s\n", get_ops);
	for (int i = 0; i < 4; i++)
		printf("%-8s %9.0f ops/s  ratio to GET %.2f  (target >= 0.5)\n", names[i], ops[i],
		       get_ops > 0 ? ops[i] / get_ops : 0);

	/* sequential data */
	uint64_t total = mib << 20;
	size_t io = 1 << 20;
	uint8_t *buf = malloc(io);
	tl_fill_random(buf, io, 1);
	if (gfs_create(vfs, &root, dir_ref, "big", 0644, GFS_CREATE_GUARDED, NULL, &a, NULL) < 0)
		return 1;
	struct gfs_ref big = {a.ino, a.gen};
	double w0 = now_sec();
	for (uint64_t off = 0; off < total; off += io) {
		enum gfs_stable how;
		buf[0] = (uint8_t)off;
		if (gfs_write(vfs, &root, big, off, io, buf, GFS_UNSTABLE, &how, NULL) < 0)
			return fprintf(stderr, "write failed\n"), 1;
	}
	if (gfs_commit(vfs, big, NULL) < 0)
		return fprintf(stderr, "commit failed\n"), 1;
	double w1 = now_sec();
	gfs_vfs_close(vfs); /* a cold cache for the read */
	if (open_vfs(r.url, &vfs) < 0)
		return 1;
	double r0 = now_sec();
	for (uint64_t off = 0; off < total; off += io) {
		size_t n;
		int eof;
		if (gfs_read(vfs, &root, big, off, io, buf, &n, &eof, NULL) < 0 || n != io)
			return fprintf(stderr, "read failed\n"), 1;
	}
	double r1 = now_sec();
	double wmb = total / 1e6 / (w1 - w0), rmb = total / 1e6 / (r1 - r0);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "dd if=/dev/zero of=%s/dd.bin bs=1M count=%llu conv=fsync status=none", dir,
		 (unsigned long long)mib);
	double dd_w = dd_mbps(cmd, (double)total);
	snprintf(cmd, sizeof(cmd), "dd if=%s/dd.bin of=/dev/null bs=1M status=none", dir);
	double dd_r = dd_mbps(cmd, (double)total);
	printf("seq write %llu MiB: %6.0f MB/s  dd %6.0f MB/s  ratio %.2f  (target >= 0.5)\n", (unsigned long long)mib,
	       wmb, dd_w, dd_w > 0 ? wmb / dd_w : 0);
	printf("seq read  %llu MiB: %6.0f MB/s  dd %6.0f MB/s  ratio %.2f  (target >= 0.5)\n", (unsigned long long)mib,
	       rmb, dd_r, dd_r > 0 ? rmb / dd_r : 0);

	gfs_vfs_close(vfs);
	free(buf);
	free(inos);
	tl_redis_stop(&r);
	tl_rm_rf(dir);
	return 0;
}
