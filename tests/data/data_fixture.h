/*
 * data_fixture.h - a formatted volume for data-layer tests: a private
 * redis-server, a file:// store in a temp dir (or an S3 URL from the
 * radosgw fixture's env file), and helpers to open the vfs on it.
 */
#ifndef GATEFS_TEST_DATA_FIXTURE_H
#define GATEFS_TEST_DATA_FIXTURE_H

#include "data.h"
#include "testlib.h"
#include "vfs.h"

struct volume {
	struct tl_redis redis;
	char dir[256]; /* temp dir; the file store is dir/store */
	char store_dir[300];
	char storage_url[1024];
	struct gfs_vfs_config cfg;
	struct gfs_vfs *vfs;
	struct gfs_cred root;
};

/* Starts redis, formats a volume with block_size on the store (s3_url NULL:
 * a file:// store under $TMPDIR, or /dev/shm if on_shm), opens the vfs. */
int volume_setup(struct volume *v, uint32_t block_size, const char *s3_url, int on_shm);
void volume_teardown(struct volume *v);
/* Closes and reopens the vfs (a fresh gateway on the same volume). */
int volume_reopen(struct volume *v);

/* Creates a regular file in the root and returns its ref. */
int volume_create_file(struct volume *v, const char *name, struct gfs_ref *ref);
/* Regular files under the file store (objects), temp files excluded. */
long volume_count_objects(struct volume *v);

/* Reads the radosgw env file named by $GATEFS_TEST_S3_ENV, exports its
 * AWS_* lines and returns the S3 URL (static buffer) or NULL. */
const char *s3_url_from_env_file(void);

#endif
