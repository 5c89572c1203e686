/*
 * cmd_admin.c - the administration subcommands: format, status, fsck, gc.
 * They talk to the backend only (metadata engine and object store) and never
 * need a running gateway.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
				  "  --force             update the settings of an existing volume (never\n"
				  "                      changes its uuid, secret or block size)\n"
				  "\n"
				  "S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and\n"
				  "AWS_REGION.  Exit status: 0 formatted, 1 error, 2 usage.\n";

static const char status_help[] = "usage: gatefs status [--meta URL]\n"
				  "       gatefs status --watch [--metrics HOST:PORT | --config FILE]\n"
				  "\n"
				  "Prints the volume's settings (without its secret), usage and counts.\n"
				  "With --watch, shows a running gateway's live figures instead (see\n"
				  "'gatefs status --watch --help').\n"
				  "Exit status: 0 ok, 1 error, 2 usage.\n";

static const char fsck_help[] = "usage: gatefs fsck [--meta URL] [--objects]\n"
				"\n"
				"Checks the namespace: every entry points to a live inode of the right\n"
				"type, link counts match the entries, directories know their parents, no\n"
				"inode is unreachable, chunk records are in range.  With --objects it also\n"
				"checks that every block object that metadata references exists in the\n"
				"object store with the right size.  Prints one line per problem.\n"
				"Exit status: 0 clean, 1 problems found or error, 2 usage.\n";

static const char gc_help[] = "usage: gatefs gc [--meta URL] [--delete]\n"
			      "\n"
			      "Lists the objects of the volume and reports those that no slice in the\n"
			      "metadata references (leaked by a crash between upload and commit).  With\n"
			      "--delete it removes them; only do that while no gateway is writing, since\n"
			      "an upload in progress looks leaked until its slice is committed.\n"
			      "Exit status: 0 ok, 1 error, 2 usage.\n";

struct admin_opts {
	const char *meta_url;
	const char *storage_url;
	uint32_t block_size;
	uint64_t capacity;
	uint64_t inodes;
	int force;
	int objects;
	int delete;
};

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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->meta_url = getenv("GATEFS_META_URL");
	o->block_size = META_DEFAULT_BLOCK_SIZE;
	optind = 1;
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->meta_url = optarg;
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
	if (!o->meta_url) {
		fprintf(stderr, "gatefs: no metadata URL: give --meta or set GATEFS_META_URL\n");
		return -1;
	}
	return optind;
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
	if (rc < 0)
		fprintf(stderr, "gatefs: cannot use metadata engine %s: %s\n", url, err[0] ? err : strerror(-rc));
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

int cmd_format(int argc, char **argv)
{
	struct admin_opts o;
	int first = parse_admin_opts(argc, argv, format_help, &o);
	if (first < 0)
		return 2;
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
		/* Clients hold handles MACed with the secret, and objects are
		 * named by uuid and cut by block size: an existing volume keeps
		 * them, whatever else --force changes. */
		struct meta_settings old;
		char lerr[512];
		if (meta_load_settings(m, &old, lerr, sizeof(lerr)) == 0) {
			memcpy(s.uuid, old.uuid, sizeof(s.uuid));
			memcpy(s.secret, old.secret, sizeof(s.secret));
			s.block_size = old.block_size;
			s.chunk_size = old.chunk_size;
			s.created_sec = old.created_sec;
		}
	}
	rc = meta_format(m, &s, o.force, err, sizeof(err));
	if (rc == 0) {
		struct meta_settings now;
		rc = load_settings(m, &now);
		if (rc == 0)
			printf("volume %s formatted: uuid %s, block size %u, storage %s\n", now.name, now.uuid,
			       now.block_size, now.storage_url);
	} else if (rc == -EEXIST) {
		fprintf(stderr, "gatefs: a volume already exists at %s (%s); use --force to update its settings\n",
			o.meta_url, err);
	} else {
		fprintf(stderr, "gatefs: format failed: %s\n", err[0] ? err : strerror(-rc));
	}
	meta_close(m);
	return rc == 0 ? 0 : 1;
}

int cmd_status(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--watch") == 0)
			return cmd_status_watch(argc, argv);
	struct admin_opts o;
	int first = parse_admin_opts(argc, argv, status_help, &o);
	if (first < 0)
		return 2;
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
	snprintf(out, outlen, "%s/chunks/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "_%u_%u", s->uuid, slice_id / 1000000,
		 slice_id / 1000, slice_id, index, len);
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

int cmd_fsck(int argc, char **argv)
{
	struct admin_opts o;
	int first = parse_admin_opts(argc, argv, fsck_help, &o);
	if (first < 0)
		return 2;
	if (first != argc) {
		fputs(fsck_help, stderr);
		return 2;
	}
	struct meta *m;
	if (open_meta(o.meta_url, &m) < 0)
		return 1;
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
	return rc >= 0 && problems == 0 ? 0 : 1;
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
	uint64_t objects, leaked, leaked_bytes, deleted;
	int delete;
	int error;
};

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

int cmd_gc(int argc, char **argv)
{
	struct admin_opts o;
	int first = parse_admin_opts(argc, argv, gc_help, &o);
	if (first < 0)
		return 2;
	if (first != argc) {
		fputs(gc_help, stderr);
		return 2;
	}
	struct meta *m;
	if (open_meta(o.meta_url, &m) < 0)
		return 1;
	struct meta_settings s;
	struct id_set live = {0};
	struct gc_walk w = {.live = &live, .delete = o.delete};
	int rc = load_settings(m, &s);
	if (rc == 0) {
		/* Slices queued for delayed deletion are still owned by the
		 * deleter; count them as live so gc and the deleter never race. */
		rc = meta_scan_slices(m, collect_id, &live);
		struct meta_dead_slice *dead = NULL;
		size_t ndead = 0;
		if (rc == 0)
			rc = meta_dead_slices(m, INT64_MAX, SIZE_MAX, &dead, &ndead);
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
		rc = w.store->ops->list(w.store, prefix, NULL, gc_visit, &w);
		object_store_close(w.store);
		if (rc < 0 && !w.error)
			fprintf(stderr, "gatefs: cannot list objects: %s\n", strerror(-rc));
		printf("gc: %" PRIu64 " objects, %" PRIu64 " leaked (%" PRIu64 " bytes), %" PRIu64 " deleted\n",
		       w.objects, w.leaked, w.leaked_bytes, w.deleted);
	}
	free(live.ids);
	meta_close(m);
	return rc == 0 ? 0 : 1;
}
