/*
 * vfs_admin.c - volume administration (vfs_admin.h): format with the rules
 * that protect a volume's identity, settings and usage, fsck of the
 * namespace and of the objects, and gc of leaked objects.  The engine and
 * the store do the work; this file decides what is allowed.
 */
#include "vfs_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "data_admin.h"
#include "meta.h"
#include "object.h"

struct gfs_admin {
	struct meta *meta;
	char url_shown[1100]; /* redacted, for messages */
};

int gfs_admin_open(const char *meta_url, struct gfs_admin **out, char *err, size_t errlen)
{
	struct gfs_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	meta_url_redact(meta_url, a->url_shown, sizeof(a->url_shown));
	int rc = meta_open(meta_url, &a->meta, err, errlen);
	if (rc < 0) {
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void gfs_admin_close(struct gfs_admin *a)
{
	if (!a)
		return;
	meta_close(a->meta);
	free(a);
}

int gfs_admin_probe_meta(const char *meta_url, char *err, size_t errlen)
{
	return meta_probe_url(meta_url, err, errlen);
}

void gfs_admin_redact_url(const char *url, char *out, size_t outlen)
{
	meta_url_redact(url, out, outlen);
}

int gfs_admin_settings(struct gfs_admin *a, struct gfs_volume_settings *s, char *err, size_t errlen)
{
	return meta_load_settings(a->meta, s, err, errlen);
}

int gfs_admin_usage(struct gfs_admin *a, struct gfs_volume_usage *u)
{
	return meta_usage(a->meta, u);
}

static int random_fill(void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom((char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

int gfs_admin_new_uuid(char out[37])
{
	uint8_t b[16];
	int rc = random_fill(b, sizeof(b));
	if (rc < 0)
		return rc;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static int found_one(void *arg, const struct object_info *info)
{
	(void)info;
	*(int *)arg = 1;
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
static int keep_identity(struct gfs_admin *a, struct gfs_volume_settings *s, char *err, size_t errlen)
{
	struct gfs_volume_settings old;
	char why[512] = "";
	int rc = meta_load_settings(a->meta, &old, why, sizeof(why));

	if (rc == -ENOENT)
		return 0; /* nothing to keep: --force on an empty database formats it */
	if (rc < 0) {
		snprintf(err, errlen,
			 "refusing to format: the existing volume's settings cannot be read (%s); --force never "
			 "replaces a volume's identity",
			 why[0] ? why : strerror(-rc));
		return rc;
	}
	memcpy(s->uuid, old.uuid, sizeof(s->uuid));
	memcpy(s->secret, old.secret, sizeof(s->secret));
	s->block_size = old.block_size;
	s->chunk_size = old.chunk_size;
	s->created_sec = old.created_sec;
	if (strcmp(old.storage_url, s->storage_url) == 0)
		return 0;

	struct object_store *store = NULL;
	struct object_credentials cred = {0};
	int found = 0;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s/", old.uuid);
	rc = object_store_open(s->storage_url, &cred, &store, why, sizeof(why));
	if (rc == 0) {
		rc = store->ops->list(store, prefix, NULL, found_one, &found);
		rc = rc == 1 ? 0 : rc;
		object_store_close(store);
	}
	if (rc < 0) {
		snprintf(err, errlen, "refusing to change the storage: cannot list %s: %s", s->storage_url,
			 why[0] ? why : strerror(-rc));
		return rc;
	}
	if (!found) {
		snprintf(err, errlen,
			 "refusing to change the storage of volume %s from %s to %s: the new store holds no object "
			 "of this volume (copy the objects under %s first)",
			 old.uuid, old.storage_url, s->storage_url, prefix);
		return -EXDEV;
	}
	return 0;
}

static int probe_store(const char *url, char *err, size_t errlen)
{
	struct object_store *store = NULL;
	struct object_credentials cred = {0};
	char why[512] = "";
	int rc = object_store_open(url, &cred, &store, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "cannot open object store %s: %s", url, why);
		return rc;
	}
	rc = object_store_probe(store, why, sizeof(why));
	object_store_close(store);
	if (rc < 0)
		snprintf(err, errlen, "object store %s failed the probe: %s", url, why);
	return rc;
}

int gfs_admin_format(struct gfs_admin *a, const struct gfs_format_request *req, struct gfs_volume_settings *out,
		     char *err, size_t errlen)
{
	int rc = probe_store(req->storage_url, err, errlen);
	if (rc < 0)
		return rc;
	struct gfs_volume_settings s;
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", req->name);
	snprintf(s.storage_url, sizeof(s.storage_url), "%s", req->storage_url);
	s.block_size = req->block_size ? req->block_size : META_DEFAULT_BLOCK_SIZE;
	s.chunk_size = META_CHUNK_SIZE;
	s.format_version = META_FORMAT_VERSION;
	s.capacity_bytes = req->capacity_bytes;
	s.capacity_inodes = req->capacity_inodes;
	s.created_sec = (int64_t)time(NULL);
	if (gfs_admin_new_uuid(s.uuid) < 0 || random_fill(s.secret, sizeof(s.secret)) < 0) {
		snprintf(err, errlen, "cannot read random bytes");
		return -EIO;
	}
	if (req->force && (rc = keep_identity(a, &s, err, errlen)) < 0)
		return rc;
	char why[512] = "";
	rc = meta_format(a->meta, &s, req->force, why, sizeof(why));
	if (rc == -EEXIST && req->force)
		snprintf(err, errlen, "refusing to format: the volume changed identity while format ran");
	else if (rc == -EEXIST)
		snprintf(err, errlen, "a volume already exists at %s (%s); use --force to update its settings",
			 a->url_shown, why);
	else if (rc < 0)
		snprintf(err, errlen, "format failed: %s", why[0] ? why : strerror(-rc));
	if (rc == 0)
		rc = meta_load_settings(a->meta, out, err, errlen);
	return rc;
}

int gfs_admin_fsck_namespace(struct gfs_admin *a, gfs_report_fn report, void *arg)
{
	return meta_fsck(a->meta, report, arg);
}

/* The store the volume's settings name. */
static int open_volume_store(struct gfs_admin *a, struct gfs_volume_settings *s, struct object_store **store, char *err,
			     size_t errlen)
{
	int rc = meta_load_settings(a->meta, s, err, errlen);
	if (rc < 0)
		return rc;
	char why[512] = "";
	struct object_credentials cred = {0};
	rc = object_store_open(s->storage_url, &cred, store, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "cannot open object store %s: %s", s->storage_url, why);
	return rc;
}

int gfs_admin_fsck_objects(struct gfs_admin *a, gfs_report_fn report, void *arg, uint64_t *slices, uint64_t *problems,
			   char *err, size_t errlen)
{
	struct gfs_volume_settings s;
	struct object_store *store = NULL;
	*slices = *problems = 0;
	int rc = open_volume_store(a, &s, &store, err, errlen);
	if (rc < 0)
		return rc;
	rc = data_check_objects(a->meta, store, &s, report, arg, slices, problems);
	object_store_close(store);
	if (rc < 0)
		snprintf(err, errlen, "object check could not finish: %s", strerror(-rc));
	return rc;
}

int gfs_admin_gc(struct gfs_admin *a, struct gfs_gc_request *req, gfs_report_fn report, void *arg, char *err,
		 size_t errlen)
{
	struct gfs_volume_settings s;
	struct object_store *store = NULL;
	int rc = open_volume_store(a, &s, &store, err, errlen);
	if (rc < 0)
		return rc;
	struct data_leak_sweep sweep = {.delete = req->delete, .min_age_sec = req->min_age_sec};
	rc = data_sweep_leaks(a->meta, store, &s, &sweep, report, arg);
	object_store_close(store);
	req->objects = sweep.objects;
	req->leaked = sweep.leaked;
	req->leaked_bytes = sweep.leaked_bytes;
	req->deleted = sweep.deleted;
	req->too_new = sweep.too_new;
	if (rc < 0)
		snprintf(err, errlen, "gc could not finish: %s", strerror(-rc));
	return rc;
}
