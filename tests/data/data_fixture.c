/*
 * data_fixture.c - see data_fixture.h.
 */
#include "data_fixture.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "meta.h"

int volume_setup(struct volume *v, uint32_t block_size, const char *s3_url, int on_shm)
{
	memset(v, 0, sizeof(*v));
	char err[256] = "";
	if (tl_redis_start(&v->redis) < 0)
		return -1;
	const char *saved = getenv("TMPDIR");
	char saved_copy[256] = "";
	if (saved)
		snprintf(saved_copy, sizeof(saved_copy), "%s", saved);
	struct stat st;
	if (on_shm && stat("/dev/shm", &st) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	int rc = tl_tmpdir("gatefs-data", v->dir, sizeof(v->dir));
	if (saved)
		setenv("TMPDIR", saved_copy, 1);
	else
		unsetenv("TMPDIR");
	if (rc < 0)
		return -1;
	snprintf(v->store_dir, sizeof(v->store_dir), "%s/store", v->dir);
	mkdir(v->store_dir, 0755);
	if (s3_url)
		snprintf(v->storage_url, sizeof(v->storage_url), "%s", s3_url);
	else
		snprintf(v->storage_url, sizeof(v->storage_url), "file://%s", v->store_dir);

	struct meta *m;
	rc = meta_open(v->redis.url, &m, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "meta_open: %s\n", err);
		return rc;
	}
	struct gfs_volume_settings s = {0};
	snprintf(s.name, sizeof(s.name), "test");
	uint64_t r = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
	snprintf(s.uuid, sizeof(s.uuid), "%08x-0000-4000-8000-%012llx", (unsigned)(r & 0xffffffff),
		 (unsigned long long)(r & 0xffffffffffffULL));
	snprintf(s.storage_url, sizeof(s.storage_url), "%s", v->storage_url);
	s.block_size = block_size;
	s.chunk_size = META_CHUNK_SIZE;
	s.format_version = META_FORMAT_VERSION;
	for (int i = 0; i < 32; i++)
		s.secret[i] = (uint8_t)(i * 7 + 1);
	rc = meta_format(m, &s, 0, err, sizeof(err));
	meta_close(m);
	if (rc < 0) {
		fprintf(stderr, "meta_format: %s\n", err);
		return rc;
	}
	v->cfg.meta_url = v->redis.url;
	rc = gfs_vfs_open(&v->cfg, &v->vfs, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "gfs_vfs_open: %s\n", err);
	return rc;
}

int volume_reopen(struct volume *v)
{
	char err[256] = "";
	int rc = gfs_vfs_close(v->vfs);
	v->vfs = NULL;
	if (rc < 0)
		return rc;
	rc = gfs_vfs_open(&v->cfg, &v->vfs, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "gfs_vfs_open: %s\n", err);
	return rc;
}

void volume_teardown(struct volume *v)
{
	if (v->vfs)
		gfs_vfs_close(v->vfs);
	v->vfs = NULL;
	tl_redis_stop(&v->redis);
	if (v->dir[0])
		tl_rm_rf(v->dir);
}

int volume_create_file(struct volume *v, const char *name, struct gfs_ref *ref)
{
	struct gfs_attr a;
	int rc = gfs_create(v->vfs, &v->root, (struct gfs_ref){GFS_ROOT_INO, 0}, name, 0644, GFS_CREATE_GUARDED, NULL,
			    &a, NULL);
	if (rc == 0)
		*ref = (struct gfs_ref){a.ino, a.gen};
	return rc;
}

static long object_count;

static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (flag == FTW_F && strncmp(path + ftw->base, ".gatefs-tmp-", 12) != 0)
		object_count++;
	return 0;
}

long volume_count_objects(struct volume *v)
{
	object_count = 0;
	if (nftw(v->store_dir, count_one, 16, FTW_PHYS) < 0)
		return -1;
	return object_count;
}

const char *s3_url_from_env_file(void)
{
	static char url[1024];
	const char *path = getenv("GATEFS_TEST_S3_ENV");
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f)
		return NULL;
	char line[1024];
	url[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		if (strcmp(line, "GATEFS_TEST_S3_URL") == 0)
			snprintf(url, sizeof(url), "%s", eq + 1);
		else
			setenv(line, eq + 1, 1);
	}
	fclose(f);
	return url[0] ? url : NULL;
}
