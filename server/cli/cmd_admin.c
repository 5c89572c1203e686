/*
 * cmd_admin.c - the administration subcommands: format, status, fsck, gc.
 * They talk to the backend only (metadata engine and object store) and never
 * need a running gateway.
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
#include "meta.h"
#include "object.h"
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
	o->block_size = META_DEFAULT_BLOCK_SIZE;
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

static int random_bytes(void *buf, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

static int new_uuid(char out[37])
{
	uint8_t b[16];
	int rc = random_bytes(b, sizeof(b));
	if (rc < 0)
		return rc;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static int open_meta(const char *url, struct meta **m)
{
	char err[512] = "";
	int rc = meta_open(url, m, err, sizeof(err));
	if (rc < 0) {
		char shown[1100];
		meta_url_redact(url, shown, sizeof(shown));
		fprintf(stderr, "gatefs: cannot use metadata engine %s: %s\n", shown, err[0] ? err : strerror(-rc));
	}
	return rc;
}

static int load_settings(struct meta *m, struct meta_settings *s)
{
	char err[512] = "";
	int rc = meta_load_settings(m, s, err, sizeof(err));
	if (rc == -ENOENT)
		fprintf(stderr, "gatefs: no volume here; create one with 'gatefs format'\n");
	else if (rc < 0)
		fprintf(stderr, "gatefs: cannot read the volume settings: %s\n", err[0] ? err : strerror(-rc));
	return rc;
}

struct uuid_probe {
	int found;
};

static int found_one(void *arg, const struct object_info *info)
{
	(void)info;
	((struct uuid_probe *)arg)->found = 1;
	return 1; /* one is enough */
}

/*
 * format --force on an existing volume: the new settings keep its uuid,
 * secret, block size and creation time.  Clients hold handles MACed with
 * the secret, and objects are named by uuid and cut by block size, so a
 * fresh identity would turn every handle stale and every block unreadable.
 * Whatever stops us from reading the old identity is a refusal, never a
 * fresh start.  A new storage URL must already hold this volume's objects:
 * pointing a volume at an empty store loses every file.
 */
static int keep_identity(struct meta *m, struct meta_settings *s, const struct admin_opts *o)
{
	struct meta_settings old;
	char err[512] = "";
	int rc = meta_load_settings(m, &old, err, sizeof(err));

	if (rc == -ENOENT)
		return 0; /* nothing to keep: --force on an empty database formats it */
	if (rc < 0) {
		fprintf(stderr,
			"gatefs: refusing to format: the existing volume's settings cannot be read (%s); "
			"--force never replaces a volume's identity\n",
			err[0] ? err : strerror(-rc));
		return rc;
	}
	memcpy(s->uuid, old.uuid, sizeof(s->uuid));
	memcpy(s->secret, old.secret, sizeof(s->secret));
	s->block_size = old.block_size;
	s->chunk_size = old.chunk_size;
	s->created_sec = old.created_sec;
	if (strcmp(old.storage_url, o->storage_url) == 0)
		return 0;

	struct object_store *store = NULL;
	struct object_credentials cred = {0};
	struct uuid_probe probe = {0};
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s/", old.uuid);
	rc = object_store_open(o->storage_url, &cred, &store, err, sizeof(err));
	if (rc == 0) {
		rc = store->ops->list(store, prefix, NULL, found_one, &probe);
		rc = rc == 1 ? 0 : rc;
		object_store_close(store);
	}
	if (rc < 0) {
		fprintf(stderr, "gatefs: refusing to change the storage: cannot list %s: %s\n", o->storage_url,
			err[0] ? err : strerror(-rc));
		return rc;
	}
	if (!probe.found) {
		fprintf(stderr,
			"gatefs: refusing to change the storage of volume %s from %s to %s: the new store holds no "
			"object of this volume (copy the objects under %s first)\n",
			old.uuid, old.storage_url, o->storage_url, prefix);
		return -EXDEV;
	}
	return 0;
}

static int format_body(struct admin_opts o, int first, int argc, char **argv)
{
	if (first != argc - 1 || !o.storage_url) {
		fputs(format_help, stderr);
		return 2;
	}
	const char *name = argv[first];
	if (strlen(name) == 0 || strlen(name) >= sizeof(((struct meta_settings *)0)->name)) {
		fprintf(stderr, "gatefs: the volume name must be 1 to 63 bytes\n");
		return 2;
	}

	char err[512] = "";
	struct object_store *store = NULL;
	struct object_credentials cred = {0};
	int rc = object_store_open(o.storage_url, &cred, &store, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "gatefs: cannot open object store %s: %s\n", o.storage_url, err);
		return 1;
	}
	rc = object_store_probe(store, err, sizeof(err));
	object_store_close(store);
	if (rc < 0) {
		fprintf(stderr, "gatefs: object store %s failed the probe: %s\n", o.storage_url, err);
		return 1;
	}

	struct meta *m;
	if (open_meta(o.meta_url, &m) < 0)
		return 1;
	struct meta_settings s;
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.storage_url, sizeof(s.storage_url), "%s", o.storage_url);
	s.block_size = o.block_size;
	s.chunk_size = META_CHUNK_SIZE;
	s.format_version = META_FORMAT_VERSION;
	s.capacity_bytes = o.capacity;
	s.capacity_inodes = o.inodes;
	s.created_sec = (int64_t)time(NULL);
	if (new_uuid(s.uuid) < 0 || random_bytes(s.secret, sizeof(s.secret)) < 0) {
		fprintf(stderr, "gatefs: cannot read /dev/urandom\n");
		meta_close(m);
		return 1;
	}
	if (o.force) {
		rc = keep_identity(m, &s, &o);
		if (rc < 0) {
			meta_close(m);
			return 1;
		}
	}
	rc = meta_format(m, &s, o.force, err, sizeof(err));
	if (rc == 0) {
		struct meta_settings now;
		rc = load_settings(m, &now);
		if (rc == 0)
			printf("volume %s formatted: uuid %s, block size %u, storage %s\n", now.name, now.uuid,
			       now.block_size, now.storage_url);
	} else if (rc == -EEXIST && o.force) {
		fprintf(stderr, "gatefs: refusing to format: the volume changed identity while format ran\n");
	} else if (rc == -EEXIST) {
		char shown[1100];
		meta_url_redact(o.meta_url, shown, sizeof(shown));
		fprintf(stderr, "gatefs: a volume already exists at %s (%s); use --force to update its settings\n",
			shown, err);
	} else {
		fprintf(stderr, "gatefs: format failed: %s\n", err[0] ? err : strerror(-rc));
	}
	meta_close(m);
	return rc == 0 ? 0 : 1;
}

static int status_body(struct admin_opts o, int first, int argc, char **argv)
{
	(void)argv;
	if (first != argc) {
		fputs(status_help, stderr);
		return 2;
	}
	struct meta *m;
	if (open_meta(o.meta_url, &m) < 0)
		return 1;
	struct meta_settings s;
	int rc = load_settings(m, &s);
	struct meta_usage u;
	if (rc == 0) {
		rc = meta_usage(m, &u);
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
	}
	meta_close(m);
	return rc == 0 ? 0 : 1;
}

static void print_problem(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* The object key of block `index` of a slice; see docs/FORMAT.md. */
static void block_key(const struct meta_settings *s, uint64_t slice_id, uint32_t index, uint32_t len, char *out,
		      size_t outlen)
{
	uint64_t dir = meta_slice_counter(slice_id);
	snprintf(out, outlen, "%s/chunks/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "_%u_%u", s->uuid, dir / 1000000, dir / 1000,
		 slice_id, index, len);
}

struct object_check {
	struct object_store *store;
	const struct meta_settings *settings;
	uint64_t slices;
	uint64_t problems;
};

static int check_slice_objects(void *arg, uint64_t id, uint32_t size)
{
	struct object_check *oc = arg;
	uint32_t bs = oc->settings->block_size;
	oc->slices++;
	for (uint32_t i = 0; (uint64_t)i * bs < size; i++) {
		uint32_t len = size - i * bs < bs ? size - i * bs : bs;
		char key[256];
		block_key(oc->settings, id, i, len, key, sizeof(key));
		uint64_t have = 0;
		int rc = oc->store->ops->head(oc->store, key, &have);
		if (rc == -ENOENT) {
			printf("slice %" PRIu64 ": block %u missing (%s)\n", id, i, key);
			oc->problems++;
		} else if (rc < 0) {
			printf("slice %" PRIu64 ": block %u unreadable (%s): %s\n", id, i, key, strerror(-rc));
			return rc;
		} else if (have != len) {
			printf("slice %" PRIu64 ": block %u has %" PRIu64 " bytes, expected %u\n", id, i, have, len);
			oc->problems++;
		}
	}
	return 0;
}

static int open_volume_store(const struct meta_settings *s, struct object_store **store)
{
	char err[512] = "";
	struct object_credentials cred = {0};
	int rc = object_store_open(s->storage_url, &cred, store, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "gatefs: cannot open object store %s: %s\n", s->storage_url, err);
	return rc;
}

static int fsck_body(struct admin_opts o, int first, int argc, char **argv)
{
	(void)argv;
	if (first != argc) {
		fputs(fsck_help, stderr);
		return 2;
	}
	struct meta *m;
	if (open_meta(o.meta_url, &m) < 0)
		return FSCK_COULD_NOT_RUN;
	struct meta_settings s;
	int problems = 0;
	int rc = load_settings(m, &s);
	if (rc == 0) {
		rc = meta_fsck(m, print_problem, NULL);
		if (rc < 0)
			fprintf(stderr, "gatefs: fsck could not finish: %s\n", strerror(-rc));
		else if (rc == 0)
			printf("namespace: clean\n");
		else
			printf("namespace: %d problem%s\n", rc, rc == 1 ? "" : "s");
		if (rc > 0)
			problems += rc;
	}
	if (rc >= 0 && o.objects) {
		struct object_check oc = {.settings = &s};
		rc = open_volume_store(&s, &oc.store);
		if (rc == 0) {
			rc = meta_scan_slices(m, check_slice_objects, &oc);
			object_store_close(oc.store);
			if (rc < 0)
				fprintf(stderr, "gatefs: object check could not finish: %s\n", strerror(-rc));
			else
				printf("objects: %" PRIu64 " slices checked, %" PRIu64 " problem%s\n", oc.slices,
				       oc.problems, oc.problems == 1 ? "" : "s");
			problems += (int)oc.problems;
		}
	}
	meta_close(m);
	if (rc < 0)
		return FSCK_COULD_NOT_RUN; /* an unfinished check proves nothing either way */
	return problems == 0 ? 0 : 1;
}

/* gc: the set of live slice ids, as a sorted array for binary search. */
struct id_set {
	uint64_t *ids;
	size_t n, cap;
};

static int collect_id(void *arg, uint64_t id, uint32_t size)
{
	(void)size;
	struct id_set *set = arg;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 1024;
		uint64_t *ids = realloc(set->ids, cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		set->ids = ids;
		set->cap = cap;
	}
	set->ids[set->n++] = id;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct gc_walk {
	struct object_store *store;
	const struct id_set *live;
	uint64_t last_id_before_scan;
	int64_t min_age_sec, now_sec;
	uint64_t objects, leaked, leaked_bytes, deleted, too_new;
	int delete;
	int error;
};

/*
 * An unreferenced object is leaked only if it provably belongs to no slice
 * that may still be committed: its id was handed out before the scan began
 * (a later id may belong to an upload or a compaction whose commit the scan
 * missed), and it is older than the minimum age (an id reserved before the
 * scan may still be uploading, or committing just after the scan passed its
 * chunk).  An object whose age the store did not give is never old enough.
 */
static bool gc_may_take(const struct gc_walk *w, uint64_t id, const struct object_info *info)
{
	if (meta_slice_counter(id) >= w->last_id_before_scan) /* the counter: ids carry a tag (meta.h) */
		return false;
	if (w->min_age_sec == 0)
		return true;
	return info->mtime_sec > 0 && w->now_sec - info->mtime_sec >= w->min_age_sec;
}

static int gc_visit(void *arg, const struct object_info *info)
{
	struct gc_walk *w = arg;
	w->objects++;
	const char *base = strrchr(info->key, '/');
	base = base ? base + 1 : info->key;
	char *end;
	uint64_t id = strtoull(base, &end, 10);
	if (end == base || *end != '_')
		return 0; /* not a block object; gc never touches it */
	if (w->live->n && bsearch(&id, w->live->ids, w->live->n, sizeof(uint64_t), cmp_u64))
		return 0;
	if (!gc_may_take(w, id, info)) {
		w->too_new++;
		return 0;
	}
	w->leaked++;
	w->leaked_bytes += info->size;
	printf("leaked: %s (%" PRIu64 " bytes)\n", info->key, info->size);
	if (w->delete) {
		int rc = w->store->ops->del(w->store, info->key);
		if (rc < 0) {
			fprintf(stderr, "gatefs: cannot delete %s: %s\n", info->key, strerror(-rc));
			w->error = rc;
			return rc;
		}
		w->deleted++;
	}
	return 0;
}

static int gc_body(struct admin_opts o, int first, int argc, char **argv)
{
	(void)argv;
	if (first != argc) {
		fputs(gc_help, stderr);
		return 2;
	}
	struct meta *m;
	if (open_meta(o.meta_url, &m) < 0)
		return 1;
	struct meta_settings s;
	struct id_set live = {0};
	struct gc_walk w = {.live = &live, .delete = o.delete, .min_age_sec = o.min_age_sec};
	int rc = load_settings(m, &s);
	if (rc == 0) {
		/* Read before the scan: see gc_may_take. */
		rc = meta_last_slice_id(m, &w.last_id_before_scan);
		if (rc < 0)
			fprintf(stderr, "gatefs: cannot read the slice counter: %s\n", strerror(-rc));
	}
	if (rc == 0) {
		/* Slices queued for delayed deletion are still owned by the
		 * deleter; count them as live so gc and the deleter never race. */
		rc = meta_scan_slices(m, collect_id, &live);
		struct meta_dead_slice *dead = NULL;
		size_t ndead = 0;
		if (rc == 0)
			rc = meta_dead_slices(m, META_DEAD_ANY_AGE, SIZE_MAX, &dead, &ndead);
		for (size_t i = 0; rc == 0 && i < ndead; i++)
			rc = collect_id(&live, dead[i].id, dead[i].size);
		free(dead);
		if (rc < 0)
			fprintf(stderr, "gatefs: cannot read slice references: %s\n", strerror(-rc));
	}
	if (rc == 0) {
		if (live.n) /* qsort wants a real array even for none */
			qsort(live.ids, live.n, sizeof(uint64_t), cmp_u64);
		rc = open_volume_store(&s, &w.store);
	}
	if (rc == 0) {
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "%s/chunks/", s.uuid);
		w.now_sec = (int64_t)time(NULL);
		rc = w.store->ops->list(w.store, prefix, NULL, gc_visit, &w);
		object_store_close(w.store);
		if (rc < 0 && !w.error)
			fprintf(stderr, "gatefs: cannot list objects: %s\n", strerror(-rc));
		printf("gc: %" PRIu64 " objects, %" PRIu64 " leaked (%" PRIu64 " bytes), %" PRIu64 " deleted, %" PRIu64
		       " unreferenced but too new to judge\n",
		       w.objects, w.leaked, w.leaked_bytes, w.deleted, w.too_new);
	}
	free(live.ids);
	meta_close(m);
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
