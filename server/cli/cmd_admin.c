/*
 * cmd_admin.c - the administration subcommands: format, status, fsck, gc.
 * Options and output only: the work is done through the volume
 * administration API (backend/vfs/vfs_admin.h), and none of them needs a
 * running gateway.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vfs_admin.h"
#include "commands.h"
#include "config.h"
#include "data_dir.h"
#include "serve_embedded.h"

static const char format_help[] = "usage: gatefs format --meta URL --storage URL [OPTIONS] NAME\n"
				  "\n"
				  "Creates volume NAME in the Redis database at URL: its settings (uuid,\n"
				  "block size, format version, a random secret for file handles) and its root\n"
				  "directory.  Before that it checks that the object store is reachable by\n"
				  "writing, reading back and deleting a probe object.\n"
				  "\n"
				  "  --meta URL          redis://[:PASSWORD@]HOST:PORT/DB or unix:///PATH?db=N\n"
				  "                      (default: $GATEFS_META_URL)\n"
				  "  --storage URL       file:///DIR, s3://BUCKET/PREFIX?endpoint=URL or\n"
				  "                      http(s)://HOST:PORT/BUCKET/PREFIX\n"
				  "  --block-size BYTES  largest object size (default 4 MiB; 64 KiB to 16 MiB,\n"
				  "                      a power of two); fixed for the life of the volume\n"
				  "  --capacity BYTES    size reported to clients (default: unlimited)\n"
				  "  --inodes N          inode limit reported to clients (default: unlimited)\n"
				  "  --data-dir DIR      instead of --meta: the embedded volume in DIR (the\n"
				  "                      running gateway's redis, or a private one)\n"
				  "  --force             update the settings of an existing volume: never\n"
				  "                      its uuid, secret or block size.  Refused when the\n"
				  "                      existing settings cannot be read, and a new\n"
				  "                      --storage is refused unless that store already\n"
				  "                      holds objects of this volume's uuid\n"
				  "\n"
				  "S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and\n"
				  "AWS_REGION.  Exit status: 0 formatted, 1 error, 2 usage.\n";

static const char status_help[] = "usage: gatefs status [--meta URL | --data-dir DIR]\n"
				  "       gatefs status --watch [--metrics HOST:PORT | --config FILE]\n"
				  "\n"
				  "Prints the volume's settings (without its secret), usage and counts.\n"
				  "--data-dir DIR reads the embedded volume in DIR.  With --watch, shows a\n"
				  "running gateway's live figures instead ('gatefs status --watch --help').\n"
				  "Exit status: 0 ok, 1 error, 2 usage.\n";

static const char fsck_help[] = "usage: gatefs fsck [--meta URL | --data-dir DIR] [--objects]\n"
				"\n"
				"Checks the namespace: every entry points to a live inode of the right\n"
				"type, link counts match the entries, directories know their parents, no\n"
				"inode is unreachable, chunk records are in range.  With --objects it also\n"
				"checks that every block object that metadata references exists in the\n"
				"object store with the right size.  Prints one line per problem.\n"
				"Exit status: 0 clean, 1 problems found, 2 usage, 3 could not run or\n"
				"finish the check (Redis or the object store unreachable, no volume).\n";

static const char gc_help[] = "usage: gatefs gc [--meta URL | --data-dir DIR] [--delete] [--min-age TIME]\n"
			      "\n"
			      "Lists the objects of the volume and reports those that no slice in the\n"
			      "metadata references (leaked by a crash between upload and commit).  With\n"
			      "--delete it removes them.  Safe while gateways run: an object counts as\n"
			      "leaked only if its slice id was handed out before the scan began and the\n"
			      "object is older than --min-age (default 1h; 90s, 30m, 2h, 1d or seconds),\n"
			      "so an upload in flight, a slice committed during the run or a compaction\n"
			      "result is never taken.\n"
			      "Exit status: 0 ok, 1 error, 2 usage.\n";

struct admin_opts {
	const char *meta_url;
	const char *storage_url;
	uint32_t block_size;
	uint64_t capacity;
	uint64_t inodes;
	const char *data_dir;
	int64_t min_age_sec;
	int force;
	int objects;
	int delete;
};

#define GC_DEFAULT_MIN_AGE_SEC 3600
#define FSCK_COULD_NOT_RUN 3

/* "90", "90s", "30m", "2h", "1d" -> seconds; -1 if malformed. */
static int64_t parse_duration(const char *text)
{
	static const struct {
		const char *suffix;
		long long seconds;
	} units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	for (size_t i = 0; !errno && i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0 && v <= INT64_MAX / units[i].seconds)
			return (int64_t)(v * units[i].seconds);
	return -1;
}

/* Returns the index of the first positional argument, or -1 (usage printed). */
static int parse_admin_opts(int argc, char **argv, const char *help, struct admin_opts *o)
{
	static const struct option longopts[] = {
	    {"meta", required_argument, NULL, 'm'},
	    {"storage", required_argument, NULL, 's'},
	    {"block-size", required_argument, NULL, 'b'},
	    {"capacity", required_argument, NULL, 'c'},
	    {"inodes", required_argument, NULL, 'i'},
	    {"force", no_argument, NULL, 'f'},
	    {"objects", no_argument, NULL, 'o'},
	    {"delete", no_argument, NULL, 'd'},
	    {"data-dir", required_argument, NULL, 'D'},
	    {"min-age", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->meta_url = getenv("GATEFS_META_URL");
	o->block_size = 0; /* the volume default */
	o->min_age_sec = GC_DEFAULT_MIN_AGE_SEC;
	const char *meta_flag = NULL;
	optind = 1;
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			meta_flag = optarg;
			break;
		case 'D':
			o->data_dir = optarg;
			break;
		case 'a':
			o->min_age_sec = parse_duration(optarg);
			if (o->min_age_sec < 0) {
				fprintf(stderr, "gatefs: bad --min-age '%s' (like 3600, 90s, 30m, 2h, 1d)\n", optarg);
				return -1;
			}
			break;
		case 's':
			o->storage_url = optarg;
			break;
		case 'b':
			if (config_parse_size(optarg, &v) < 0 || v < (64u << 10) || v > (16u << 20) || (v & (v - 1))) {
				fprintf(stderr, "gatefs: --block-size must be a power of two from 64K to 16M\n");
				return -1;
			}
			o->block_size = (uint32_t)v;
			break;
		case 'c':
			if (config_parse_size(optarg, &o->capacity) < 0) {
				fprintf(stderr, "gatefs: bad --capacity '%s'\n", optarg);
				return -1;
			}
			break;
		case 'i':
			if (config_parse_size(optarg, &o->inodes) < 0) {
				fprintf(stderr, "gatefs: bad --inodes '%s'\n", optarg);
				return -1;
			}
			break;
		case 'f':
			o->force = 1;
			break;
		case 'o':
			o->objects = 1;
			break;
		case 'd':
			o->delete = 1;
			break;
		case 'h':
			fputs(help, stdout);
			exit(0);
		default:
			fputs(help, stderr);
			return -1;
		}
	}
	if (meta_flag && o->data_dir) {
		fprintf(stderr, "gatefs: give --meta or --data-dir, not both\n");
		return -1;
	}
	if (meta_flag)
		o->meta_url = meta_flag;
	if (o->data_dir)
		o->meta_url = NULL; /* found by admin_begin */
	else if (!o->meta_url) {
		fprintf(stderr, "gatefs: no metadata URL: give --meta or --data-dir, or set GATEFS_META_URL\n");
		return -1;
	}
	return optind;
}

/*
 * --data-dir: the embedded volume of `gatefs serve --data-dir DIR`.  If a
 * gateway holds the directory, its redis-server is used through its socket;
 * never a second one on the same files.  Otherwise a private redis-server
 * runs for the length of the command, under the same lock, so that a
 * gateway started meanwhile refuses instead.
 */
struct admin_volume {
	char dir[1024];
	char url[1200];
	int lock_fd;
	struct embedded_redis redis;
};

static int admin_begin(struct admin_opts *o, struct admin_volume *v)
{
	char err[1024] = "";
	int holder, rc = data_dir_absolute(o->data_dir, v->dir, sizeof(v->dir));

	if (rc < 0) {
		fprintf(stderr, "gatefs: data directory %s: %s\n", o->data_dir, strerror(-rc));
		return rc;
	}
	rc = data_dir_lock(v->dir, &holder, err, sizeof(err));
	if (rc == -EBUSY) {
		snprintf(v->url, sizeof(v->url), "unix://%s/redis.sock?db=0", v->dir);
		o->meta_url = v->url;
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "gatefs: %s\n", err);
		return rc;
	}
	v->lock_fd = rc;
	rc = embedded_redis_start(v->dir, v->lock_fd, &v->redis, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "gatefs: embedded redis under %s: %s\n", v->dir, err);
		return rc;
	}
	o->meta_url = v->redis.meta_url;
	return 0;
}

static void admin_end(struct admin_volume *v)
{
	embedded_redis_stop(&v->redis);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
}

static int admin_run(int argc, char **argv, const char *help, int (*body)(struct admin_opts, int, int, char **),
		     int fail_status)
{
	struct admin_opts o;
	struct admin_volume v = {.lock_fd = -1, .redis = {.pid = -1}};
	int first = parse_admin_opts(argc, argv, help, &o);

	if (first < 0)
		return 2;
	if (o.data_dir && admin_begin(&o, &v) < 0) {
		admin_end(&v);
		return fail_status;
	}
	int rc = body(o, first, argc, argv);
	admin_end(&v);
	return rc;
}

static int open_volume(const char *url, struct gfs_admin **a)
{
	char err[512] = "";
	int rc = gfs_admin_open(url, a, err, sizeof(err));
	if (rc < 0) {
		char shown[1100];
		gfs_admin_redact_url(url, shown, sizeof(shown));
		fprintf(stderr, "gatefs: cannot use metadata engine %s: %s\n", shown, err[0] ? err : strerror(-rc));
	}
	return rc;
}

static int load_settings(struct gfs_admin *a, struct gfs_volume_settings *s)
{
	char err[512] = "";
	int rc = gfs_admin_settings(a, s, err, sizeof(err));
	if (rc == -ENOENT)
		fprintf(stderr, "gatefs: no volume here; create one with 'gatefs format'\n");
	else if (rc < 0)
		fprintf(stderr, "gatefs: cannot read the volume settings: %s\n", err[0] ? err : strerror(-rc));
	return rc;
}

static void print_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

static int format_body(struct admin_opts o, int first, int argc, char **argv)
{
	if (first != argc - 1 || !o.storage_url) {
		fputs(format_help, stderr);
		return 2;
	}
	const char *name = argv[first];
	if (strlen(name) == 0 || strlen(name) >= sizeof(((struct gfs_volume_settings *)0)->name)) {
		fprintf(stderr, "gatefs: the volume name must be 1 to 63 bytes\n");
		return 2;
	}
	struct gfs_admin *a;
	if (open_volume(o.meta_url, &a) < 0)
		return 1;
	struct gfs_format_request req = {
	    .name = name,
	    .storage_url = o.storage_url,
	    .block_size = o.block_size,
	    .capacity_bytes = o.capacity,
	    .capacity_inodes = o.inodes,
	    .force = o.force,
	};
	struct gfs_volume_settings now;
	char err[2048] = "";
	int rc = gfs_admin_format(a, &req, &now, err, sizeof(err));
	if (rc == 0)
		printf("volume %s formatted: uuid %s, block size %u, storage %s\n", now.name, now.uuid, now.block_size,
		       now.storage_url);
	else
		fprintf(stderr, "gatefs: %s\n", err[0] ? err : strerror(-rc));
	gfs_admin_close(a);
	return rc == 0 ? 0 : 1;
}

static int status_body(struct admin_opts o, int first, int argc, char **argv)
{
	(void)argv;
	if (first != argc) {
		fputs(status_help, stderr);
		return 2;
	}
	struct gfs_admin *a;
	if (open_volume(o.meta_url, &a) < 0)
		return 1;
	struct gfs_volume_settings s;
	int rc = load_settings(a, &s);
	struct gfs_volume_usage u;
	if (rc == 0) {
		rc = gfs_admin_usage(a, &u);
		if (rc < 0)
			fprintf(stderr, "gatefs: cannot read usage: %s\n", strerror(-rc));
	}
	if (rc == 0) {
		char created[64] = "?";
		time_t t = (time_t)s.created_sec;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("name:            %s\n", s.name);
		printf("uuid:            %s\n", s.uuid);
		printf("format version:  %u\n", s.format_version);
		printf("created:         %s\n", created);
		printf("storage:         %s\n", s.storage_url);
		printf("block size:      %u\n", s.block_size);
		printf("chunk size:      %u\n", s.chunk_size);
		if (s.capacity_bytes)
			printf("capacity:        %" PRIu64 " bytes\n", s.capacity_bytes);
		else
			printf("capacity:        unlimited\n");
		if (s.capacity_inodes)
			printf("inode limit:     %" PRIu64 "\n", s.capacity_inodes);
		else
			printf("inode limit:     unlimited\n");
		printf("inodes:          %" PRIu64 "\n", u.inodes);
		printf("used bytes:      %" PRIu64 "\n", u.bytes);
		printf("pending deletes: %" PRIu64 " slices\n", u.dead_slices);
		printf("failing deletes: %" PRIu64 " slices (retried with backoff)\n", u.dead_slices_failing);
	}
	gfs_admin_close(a);
	return rc == 0 ? 0 : 1;
}

static int fsck_body(struct admin_opts o, int first, int argc, char **argv)
{
	(void)argv;
	if (first != argc) {
		fputs(fsck_help, stderr);
		return 2;
	}
	struct gfs_admin *a;
	if (open_volume(o.meta_url, &a) < 0)
		return FSCK_COULD_NOT_RUN;
	struct gfs_volume_settings s;
	uint64_t problems = 0;
	int rc = load_settings(a, &s);
	if (rc == 0) {
		rc = gfs_admin_fsck_namespace(a, print_line, NULL);
		if (rc < 0)
			fprintf(stderr, "gatefs: fsck could not finish: %s\n", strerror(-rc));
		else if (rc == 0)
			printf("namespace: clean\n");
		else
			printf("namespace: %d problem%s\n", rc, rc == 1 ? "" : "s");
		if (rc > 0)
			problems += (uint64_t)rc;
	}
	if (rc >= 0 && o.objects) {
		uint64_t slices, bad;
		char err[1024] = "";
		rc = gfs_admin_fsck_objects(a, print_line, NULL, &slices, &bad, err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "gatefs: %s\n", err);
		else
			printf("objects: %" PRIu64 " slices checked, %" PRIu64 " problem%s\n", slices, bad,
			       bad == 1 ? "" : "s");
		problems += bad;
	}
	gfs_admin_close(a);
	if (rc < 0)
		return FSCK_COULD_NOT_RUN; /* an unfinished check proves nothing either way */
	return problems == 0 ? 0 : 1;
}

static int gc_body(struct admin_opts o, int first, int argc, char **argv)
{
	(void)argv;
	if (first != argc) {
		fputs(gc_help, stderr);
		return 2;
	}
	struct gfs_admin *a;
	if (open_volume(o.meta_url, &a) < 0)
		return 1;
	struct gfs_volume_settings s;
	struct gfs_gc_request req = {.delete = o.delete, .min_age_sec = o.min_age_sec};
	int rc = load_settings(a, &s);
	if (rc == 0) {
		char err[1024] = "";
		rc = gfs_admin_gc(a, &req, print_line, NULL, err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "gatefs: %s\n", err);
		printf("gc: %" PRIu64 " objects, %" PRIu64 " leaked (%" PRIu64 " bytes), %" PRIu64 " deleted, %" PRIu64
		       " unreferenced but too new to judge\n",
		       req.objects, req.leaked, req.leaked_bytes, req.deleted, req.too_new);
	}
	gfs_admin_close(a);
	return rc == 0 ? 0 : 1;
}

int cmd_format(int argc, char **argv)
{
	return admin_run(argc, argv, format_help, format_body, 1);
}

int cmd_status(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--watch") == 0)
			return cmd_status_watch(argc, argv);
	return admin_run(argc, argv, status_help, status_body, 1);
}

int cmd_fsck(int argc, char **argv)
{
	return admin_run(argc, argv, fsck_help, fsck_body, FSCK_COULD_NOT_RUN);
}

int cmd_gc(int argc, char **argv)
{
	return admin_run(argc, argv, gc_help, gc_body, 1);
}
