/*
 * vfs.c - the vfs.h API: opening a volume (metadata engine, object store,
 * write buffer, cache, background threads), name validation and
 * forwarding of namespace operations to the metadata engine, and the data
 * operations on top of the write buffer and the read path.
 *
 * Environment overrides of the data layer's tuning (for tests/operators):
 *   GATEFS_FLUSH_IDLE_MS      commit a file this long after its last write (3000)
 *   GATEFS_DELETE_DELAY       seconds before dead slices' objects are deleted (60)
 *   GATEFS_GC_INTERVAL_MS     how often the deleter runs (1000)
 *   GATEFS_COMPACT_THRESHOLD  records per chunk that trigger compaction (20)
 *   GATEFS_STORAGE_RETRY_MS   object store retry budget (driver default)
 *   GATEFS_FETCH_WAIT_MS      longest wait of a read for a block fetch (5000)
 */
#include "vfs.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "blockbuf.h"
#include "cache.h"
#include "data.h"
#include "data_metrics.h"
#include "data_pool.h"
#include "gc.h"
#include "log.h"
#include "meta.h"
#include "meta_perm.h"
#include "slice_view.h"
#include "writebuf.h"

#define DEFAULT_BUFFER_BYTES (256ull << 20)
#define DEFAULT_CACHE_BYTES (256ull << 20)
#define DEFAULT_DISK_CACHE_BYTES (10ull << 30)
#define DEFAULT_UPLOAD_THREADS 8
#define FETCH_THREADS 8
/* Idle block buffers kept for reuse (blockbuf.h): enough to absorb the
 * hand-over between a commit and the next writes or loads. */
#define BLOCKBUF_IDLE_BYTES (64ull << 20)

static long long env_num(const char *name, long long dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	long long n = strtoll(v, &end, 10);
	return *end ? dflt : n;
}

/* ---- open / close ---- */

static void volume_id_of(const char *uuid, uint64_t *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(uuid, strlen(uuid), md, &mdlen, EVP_sha256(), NULL);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | md[i];
	*out = v;
}

static int start_engine(struct gfs_vfs *vfs, const struct gfs_vfs_config *cfg)
{
	unsigned up = cfg->upload_threads ? cfg->upload_threads : DEFAULT_UPLOAD_THREADS;
	size_t bs = vfs->info.block_size;
	int rc = blockbuf_pool_create(bs, BLOCKBUF_IDLE_BYTES / bs ? BLOCKBUF_IDLE_BYTES / bs : 1, &vfs->bufs);
	if (rc == 0)
		rc = data_pool_create("upload", up, &vfs->upload_pool);
	if (rc == 0)
		rc = data_pool_create("fetch", FETCH_THREADS, &vfs->fetch_pool);
	if (rc == 0)
		rc =
		    cache_create(vfs, cfg->cache_mem_bytes ? cfg->cache_mem_bytes : DEFAULT_CACHE_BYTES, cfg->cache_dir,
				 cfg->cache_disk_bytes ? cfg->cache_disk_bytes : DEFAULT_DISK_CACHE_BYTES,
				 cfg->cache_disk_free_bytes, vfs->tuning.fetch_wait_ms, &vfs->cache);
	if (rc == 0)
		rc = data_read_init(vfs);
	if (rc == 0)
		rc = writebuf_create(vfs, cfg->buffer_bytes ? cfg->buffer_bytes : DEFAULT_BUFFER_BYTES, &vfs->wb);
	if (rc == 0)
		rc = gc_start(vfs, &vfs->gc);
	return rc;
}

static void stop_engine(struct gfs_vfs *vfs)
{
	writebuf_shutdown(vfs->wb); /* commits what it can, uses the upload pool */
	gc_stop(vfs->gc);
	vfs->gc = NULL;
	data_pool_destroy(vfs->upload_pool); /* waits for the last upload jobs */
	writebuf_destroy(vfs->wb);
	vfs->wb = NULL;
	data_pool_destroy(vfs->fetch_pool); /* runs queued prefetches into the cache */
	vfs->upload_pool = vfs->fetch_pool = NULL;
	cache_destroy(vfs->cache);
	vfs->cache = NULL;
	blockbuf_pool_destroy(vfs->bufs);
	vfs->bufs = NULL;
	data_read_fini(vfs);
}

int gfs_vfs_open(const struct gfs_vfs_config *cfg, struct gfs_vfs **out, char *err, size_t errlen)
{
	struct gfs_vfs *vfs = calloc(1, sizeof(*vfs));
	if (!vfs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	data_metrics_register();
	pthread_mutex_init(&vfs->id_lock, NULL);
	pthread_cond_init(&vfs->id_cond, NULL);
	vfs->read_only = cfg->read_only;
	vfs->tuning = (struct data_tuning){
	    .flush_idle_ms = (uint32_t)env_num("GATEFS_FLUSH_IDLE_MS", 3000),
	    .delete_delay_sec = env_num("GATEFS_DELETE_DELAY", 60),
	    .gc_interval_ms = (uint32_t)env_num("GATEFS_GC_INTERVAL_MS", 1000),
	    .compact_threshold = (uint32_t)env_num("GATEFS_COMPACT_THRESHOLD", 20),
	    .readahead_max = 32u << 20,
	    .fetch_wait_ms = (uint32_t)env_num("GATEFS_FETCH_WAIT_MS", 5000),
	};

	struct gfs_volume_settings st;
	int rc = meta_open(cfg->meta_url, &vfs->meta, err, errlen);
	if (rc == 0)
		rc = meta_load_settings(vfs->meta, &st, err, errlen);
	if (rc < 0)
		goto fail;
	if (st.chunk_size && st.chunk_size != META_CHUNK_SIZE) {
		snprintf(err, errlen, "volume chunk size %u is not supported (only %u)", st.chunk_size,
			 META_CHUNK_SIZE);
		rc = -EINVAL;
		goto fail;
	}
	struct gfs_volume_info *vi = &vfs->info;
	snprintf(vi->name, sizeof(vi->name), "%s", st.name);
	snprintf(vi->uuid, sizeof(vi->uuid), "%s", st.uuid);
	volume_id_of(vi->uuid, &vi->volume_id);
	memcpy(vi->secret, st.secret, sizeof(vi->secret));
	vi->block_size = st.block_size ? st.block_size : META_DEFAULT_BLOCK_SIZE;
	vi->chunk_size = META_CHUNK_SIZE;
	vi->format_version = st.format_version;
	if (getrandom(&vi->write_verifier, sizeof(vi->write_verifier), 0) != sizeof(vi->write_verifier)) {
		snprintf(err, errlen, "getrandom failed");
		rc = -EIO;
		goto fail;
	}

	const char *url = cfg->storage_url && *cfg->storage_url ? cfg->storage_url : st.storage_url;
	struct object_credentials cred = {
	    .access_key = cfg->access_key,
	    .secret_key = cfg->secret_key,
	    .region = cfg->region,
	    .max_retry_ms = (uint32_t)env_num("GATEFS_STORAGE_RETRY_MS", 0),
	};
	rc = object_store_open(url, &cred, &vfs->store, err, errlen);
	if (rc == 0 && cfg->attr_cache_entries)
		rc = meta_cache_start(vfs->meta, cfg->attr_cache_entries, err, errlen);
	if (rc < 0)
		goto fail;
	rc = start_engine(vfs, cfg);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the data engine: %s", strerror(-rc));
		stop_engine(vfs);
		goto fail;
	}
	*out = vfs;
	return 0;
fail:
	object_store_close(vfs->store);
	if (vfs->meta)
		meta_close(vfs->meta);
	pthread_mutex_destroy(&vfs->id_lock);
	pthread_cond_destroy(&vfs->id_cond);
	free(vfs);
	return rc;
}

int gfs_vfs_close(struct gfs_vfs *vfs)
{
	if (!vfs)
		return 0;
	int rc = vfs->wb ? writebuf_flush_all(vfs->wb) : 0;
	stop_engine(vfs);
	object_store_close(vfs->store);
	meta_close(vfs->meta);
	pthread_mutex_destroy(&vfs->id_lock);
	pthread_cond_destroy(&vfs->id_cond);
	free(vfs);
	return rc;
}

const struct gfs_volume_info *gfs_vfs_info(const struct gfs_vfs *vfs)
{
	return &vfs->info;
}

/* ---- names ---- */

static int check_name(const char *name, int allow_dots)
{
	if (!name || !*name)
		return -EINVAL;
	size_t len = strnlen(name, GFS_NAME_MAX + 1);
	if (len > GFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!allow_dots && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return -EINVAL;
	if (memchr(name, '/', len))
		return -EINVAL;
	return 0;
}

#define CHECK_NAME(name, dots)                                                                                         \
	do {                                                                                                           \
		int name_rc_ = check_name(name, dots);                                                                 \
		if (name_rc_)                                                                                          \
			return name_rc_;                                                                               \
	} while (0)

#define CHECK_WRITABLE(vfs)                                                                                            \
	do {                                                                                                           \
		if ((vfs)->read_only)                                                                                  \
			return -EROFS;                                                                                 \
	} while (0)

/* Buffered data of this gateway is newer than what Redis says. */
static void overlay_pending(struct gfs_vfs *vfs, struct gfs_attr *a)
{
	uint64_t end;
	struct gfs_time mtime;
	if (a->type != GFS_REG || !writebuf_pending_attr(vfs->wb, a->ino, &end, &mtime))
		return;
	if (end > a->size)
		a->size = end;
	if (mtime.sec > a->mtime.sec || (mtime.sec == a->mtime.sec && mtime.nsec > a->mtime.nsec))
		a->mtime = a->ctime = mtime;
}

/* ---- namespace ---- */

int gfs_lookup(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	       struct gfs_attr *out)
{
	CHECK_NAME(name, 1);
	int rc = meta_lookup(vfs->meta, cred, dir, name, out);
	if (rc == 0)
		overlay_pending(vfs, out);
	return rc;
}

int gfs_getattr(struct gfs_vfs *vfs, struct gfs_ref ref, struct gfs_attr *out)
{
	int rc = meta_getattr(vfs->meta, ref, out);
	if (rc == 0)
		overlay_pending(vfs, out);
	return rc;
}

int gfs_setattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const struct gfs_setattr *sa,
		const struct gfs_time *guard_ctime, struct gfs_wcc *wcc)
{
	CHECK_WRITABLE(vfs);
	if (sa->valid & GFS_SET_SIZE) {
		/* Buffered writes happened before the truncate: commit them first
		 * so the truncate's zero record is newer than they are. */
		int rc = writebuf_flush(vfs->wb, ref.ino);
		if (rc < 0)
			return rc;
	}
	int rc = meta_setattr(vfs->meta, cred, ref, sa, guard_ctime, wcc);
	if (rc == 0 && (sa->valid & GFS_SET_SIZE))
		atomic_fetch_add(&vfs->commit_epoch, 1);
	if (rc == 0 && wcc && wcc->has_post)
		overlay_pending(vfs, &wcc->post);
	return rc;
}

int gfs_access(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint32_t want, uint32_t *granted,
	       struct gfs_attr *attr_out)
{
	int rc = meta_access(vfs->meta, cred, ref, want, granted, attr_out);
	if (rc == 0 && attr_out)
		overlay_pending(vfs, attr_out);
	if (rc == 0 && vfs->read_only)
		*granted &= ~(uint32_t)(GFS_ACCESS_MODIFY | GFS_ACCESS_EXTEND | GFS_ACCESS_DELETE);
	return rc;
}

int gfs_readlink(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		 size_t *len)
{
	return meta_readlink(vfs->meta, cred, ref, buf, bufsize, len);
}

int gfs_statfs(struct gfs_vfs *vfs, struct gfs_statfs *out)
{
	return meta_statfs(vfs->meta, out);
}

int gfs_create(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
	       enum gfs_create_how how, const uint8_t verifier[8], struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	return meta_create(vfs->meta, cred, dir, name, mode, how, verifier, out, dir_wcc);
}

int gfs_mkdir(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name, uint32_t mode,
	      struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	return meta_mkdir(vfs->meta, cred, dir, name, mode, out, dir_wcc);
}

int gfs_symlink(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
		const char *target, uint32_t mode, struct gfs_attr *out, struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	if (!target || strnlen(target, GFS_PATH_MAX + 1) > GFS_PATH_MAX)
		return -ENAMETOOLONG;
	return meta_symlink(vfs->meta, cred, dir, name, target, mode, out, dir_wcc);
}

int gfs_mknod(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	      enum gfs_ftype type, uint32_t mode, uint32_t rdev_major, uint32_t rdev_minor, struct gfs_attr *out,
	      struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	return meta_mknod(vfs->meta, cred, dir, name, type, mode, rdev_major, rdev_minor, out, dir_wcc);
}

int gfs_link(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref target, struct gfs_ref dir,
	     const char *name, struct gfs_attr *target_out, struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	int rc = meta_link(vfs->meta, cred, target, dir, name, target_out, dir_wcc);
	if (rc == 0 && target_out)
		overlay_pending(vfs, target_out);
	return rc;
}

/* A removed file's buffered data needs no special care: its commit fails
 * with -ESTALE and the metadata engine queues the slice for deletion. */
int gfs_remove(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	       struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	return meta_remove(vfs->meta, cred, dir, name, dir_wcc);
}

int gfs_rmdir(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, const char *name,
	      struct gfs_wcc *dir_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(name, 0);
	return meta_rmdir(vfs->meta, cred, dir, name, dir_wcc);
}

int gfs_rename(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref src_dir, const char *src_name,
	       struct gfs_ref dst_dir, const char *dst_name, struct gfs_wcc *src_wcc, struct gfs_wcc *dst_wcc)
{
	CHECK_WRITABLE(vfs);
	CHECK_NAME(src_name, 0);
	CHECK_NAME(dst_name, 0);
	return meta_rename(vfs->meta, cred, src_dir, src_name, dst_dir, dst_name, src_wcc, dst_wcc);
}

int gfs_readdir(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref dir, uint64_t cookie,
		uint64_t cookie_verifier, int plus, uint32_t max_entries, gfs_readdir_cb cb, void *arg, int *eof,
		uint64_t *verifier_out, struct gfs_attr *dir_attr)
{
	return meta_readdir(vfs->meta, cred, dir, cookie, cookie_verifier, plus, max_entries, cb, arg, eof,
			    verifier_out, dir_attr);
}

/* ---- data ---- */

/* The checks and size clamp of a read: *n is how many bytes to read. */
static int read_prepare(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset,
			size_t count, struct gfs_attr *a, size_t *n)
{
	int rc = gfs_getattr(vfs, ref, a);
	if (rc < 0)
		return rc;
	if (a->type == GFS_DIR)
		return -EISDIR;
	if (a->type != GFS_REG)
		return -EINVAL;
	if (!meta_permit(cred, a, META_PERM_READ_DATA))
		return -EACCES;
	*n = offset < a->size ? (a->size - offset < count ? (size_t)(a->size - offset) : count) : 0;
	return 0;
}

int gfs_read(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
	     void *buf, size_t *nread, int *eof, struct gfs_attr *attr)
{
	struct gfs_attr a;
	size_t n;
	int rc = read_prepare(vfs, cred, ref, offset, count, &a, &n);
	if (rc == 0 && n > 0)
		rc = data_read_range(vfs, ref.ino, a.change, offset, n, buf);
	if (rc < 0)
		return rc;
	*nread = n;
	*eof = offset + n >= a.size;
	if (attr)
		*attr = a;
	return 0;
}

int gfs_read_lend(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
		  struct gfs_lent *lent, size_t *nread, int *eof, struct gfs_attr *attr)
{
	struct gfs_attr a;
	size_t n;
	struct data_lent l = {0};
	*lent = (struct gfs_lent){0};
	int rc = read_prepare(vfs, cred, ref, offset, count, &a, &n);
	if (rc == 0 && n > 0)
		rc = data_read_lend(vfs, ref.ino, a.change, offset, n, &l);
	if (rc < 0)
		return rc;
	*lent = (struct gfs_lent){.data = l.data, .block = l.block, .buf = l.buf};
	*nread = n;
	*eof = offset + n >= a.size;
	if (attr)
		*attr = a;
	return 0;
}

void gfs_read_release(struct gfs_vfs *vfs, struct gfs_lent *lent)
{
	struct data_lent l = {.data = lent->data, .block = lent->block, .buf = lent->buf};
	data_lent_release(vfs, &l);
	*lent = (struct gfs_lent){0};
}

/* A write by anyone but uid 0 drops S_ISUID (and S_ISGID with S_IXGRP).
 * It is done in Redis before the data is buffered: an UNSTABLE write is
 * acknowledged before its slice commits, and the bit must be gone by then.
 * Only a mode that has the bits costs the round trip; the script drops them
 * from the mode it reads, so a chmod racing with this loses nothing. */
static int drop_suid_before_write(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref,
				  struct gfs_attr *a)
{
	if (meta_mode_after_write(cred, a->type, a->mode) == a->mode)
		return 0;
	const struct gfs_setattr drop = {.valid = GFS_SET_DROP_SUID};
	struct gfs_wcc w = {0};
	int rc = meta_setattr(vfs->meta, cred, ref, &drop, NULL, &w);
	if (rc == 0 && w.has_post)
		*a = w.post;
	return rc;
}

static int do_write(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
		    const void *buf, enum gfs_stable stable, enum gfs_stable *committed, struct gfs_wcc *wcc)
{
	CHECK_WRITABLE(vfs);
	struct gfs_attr a;
	int rc = gfs_getattr(vfs, ref, &a);
	if (rc < 0)
		return rc;
	if (a.type == GFS_DIR)
		return -EISDIR;
	if (a.type != GFS_REG)
		return -EINVAL;
	if (!meta_permit(cred, &a, META_PERM_WRITE_DATA))
		return -EACCES;
	/* Refused before buffering: data the engine can never commit must not
	 * be acknowledged (it would fail every later COMMIT of the file). */
	if (offset > GFS_MAX_FILE_SIZE || count > GFS_MAX_FILE_SIZE - offset)
		return -EFBIG;
	if (wcc) {
		wcc->has_pre = 1;
		wcc->pre_size = a.size;
		wcc->pre_mtime = a.mtime;
		wcc->pre_ctime = a.ctime;
		wcc->pre_change = a.change;
		wcc->has_post = 0;
	}
	rc = drop_suid_before_write(vfs, cred, ref, &a);
	if (rc < 0)
		return rc;
	rc = writebuf_write(vfs->wb, (struct gfs_ref){ref.ino, ref.gen ? ref.gen : a.gen}, offset, buf, count);
	if (rc == 0 && stable != GFS_UNSTABLE)
		rc = writebuf_flush(vfs->wb, ref.ino);
	if (rc < 0)
		return rc;
	if (committed)
		*committed = stable == GFS_UNSTABLE ? GFS_UNSTABLE : GFS_FILE_SYNC;
	if (!wcc)
		return 0;
	if (stable != GFS_UNSTABLE) {
		wcc->has_post = gfs_getattr(vfs, ref, &wcc->post) == 0;
		return 0;
	}
	/* Buffered: the result is known without another Redis round trip. */
	uint64_t end;
	struct gfs_time mtime;
	wcc->post = a;
	if (writebuf_pending_attr(vfs->wb, ref.ino, &end, &mtime)) {
		wcc->post.size = end > a.size ? end : a.size;
		wcc->post.mtime = wcc->post.ctime = mtime;
	}
	if (offset + count > wcc->post.size)
		wcc->post.size = offset + count;
	wcc->has_post = 1;
	return 0;
}

int gfs_write(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, size_t count,
	      const void *buf, enum gfs_stable stable, enum gfs_stable *committed, struct gfs_wcc *wcc)
{
	CHECK_WRITABLE(vfs);
	struct writebuf_writer w;
	writebuf_writer_enter(vfs->wb, ref.ino, offset, count, &w);
	int rc = do_write(vfs, cred, ref, offset, count, buf, stable, committed, wcc);
	writebuf_writer_leave(vfs->wb, &w);
	return rc;
}

uint64_t gfs_write_verifier(struct gfs_vfs *vfs)
{
	return vfs->info.write_verifier ^ meta_redis_restarts(vfs->meta) * 0x9E3779B97F4A7C15ULL;
}

int gfs_commit(struct gfs_vfs *vfs, struct gfs_ref ref, struct gfs_attr *attr)
{
	int rc = writebuf_flush(vfs->wb, ref.ino);
	/* Talk to Redis before the verifier is read, even when there was
	 * nothing left to commit: data the flusher committed earlier may be
	 * gone with a restarted Redis, and only a connection to the new one
	 * notices (gfs_write_verifier). */
	if (rc == 0)
		rc = meta_ping(vfs->meta);
	if (rc < 0)
		return rc;
	if (attr)
		return gfs_getattr(vfs, ref, attr);
	return 0;
}

/* ---- holes ---- */

int gfs_seek(struct gfs_vfs *vfs, struct gfs_ref ref, uint64_t offset, int want_data, uint64_t *out, int *eof)
{
	int rc = writebuf_flush(vfs->wb, ref.ino);
	struct gfs_attr a;
	if (rc == 0)
		rc = gfs_getattr(vfs, ref, &a);
	if (rc < 0)
		return rc;
	if (a.type != GFS_REG)
		return a.type == GFS_DIR ? -EISDIR : -EINVAL;
	rc = data_seek(vfs, ref.ino, a.size, offset, want_data, out);
	if (rc == 0)
		*eof = *out >= a.size;
	return rc;
}

int gfs_allocate(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset, uint64_t length,
		 struct gfs_wcc *wcc)
{
	CHECK_WRITABLE(vfs);
	if (offset > GFS_MAX_FILE_SIZE || length > GFS_MAX_FILE_SIZE - offset)
		return -EFBIG;
	struct gfs_attr a;
	int rc = gfs_getattr(vfs, ref, &a);
	if (rc < 0)
		return rc;
	if (a.type != GFS_REG)
		return a.type == GFS_DIR ? -EISDIR : -EINVAL;
	if (offset + length <= a.size) {
		/* Nothing to do, but only for a caller who could have done it. */
		rc = meta_permit(cred, &a, META_PERM_WRITE_DATA) ? 0 : -EACCES;
		if (rc == 0 && wcc) {
			wcc->has_pre = wcc->has_post = 1;
			wcc->pre_size = a.size;
			wcc->pre_mtime = a.mtime;
			wcc->pre_ctime = a.ctime;
			wcc->pre_change = a.change;
			wcc->post = a;
		}
		return rc;
	}
	struct gfs_setattr sa = {.valid = GFS_SET_SIZE, .size = offset + length};
	return gfs_setattr(vfs, cred, ref, &sa, NULL, wcc);
}

int gfs_deallocate(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, uint64_t offset,
		   uint64_t length, struct gfs_wcc *wcc)
{
	CHECK_WRITABLE(vfs);
	if (length > UINT64_MAX - offset)
		return -EINVAL;
	/* Buffered writes happened before the punch: commit them first so the
	 * zero records are newer than they are. */
	int rc = writebuf_flush(vfs->wb, ref.ino);
	if (rc < 0)
		return rc;
	rc = meta_punch(vfs->meta, cred, ref, offset, length, wcc);
	if (rc == 0)
		atomic_fetch_add(&vfs->commit_epoch, 1);
	if (rc == 0 && wcc && wcc->has_post)
		overlay_pending(vfs, &wcc->post);
	return rc;
}

int gfs_clone(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref src, struct gfs_ref dst,
	      uint64_t src_off, uint64_t dst_off, uint64_t count, uint64_t *copied, struct gfs_wcc *wcc)
{
	CHECK_WRITABLE(vfs);
	/* The source's buffered writes are part of what it reads; the
	 * destination's happened before the clone and must not land over it
	 * later. */
	int rc = writebuf_flush(vfs->wb, src.ino);
	if (rc == 0 && dst.ino != src.ino)
		rc = writebuf_flush(vfs->wb, dst.ino);
	if (rc < 0)
		return rc;
	rc = meta_clone(vfs->meta, cred, src, dst, src_off, dst_off, count, wcc, copied);
	if (rc == 0)
		atomic_fetch_add(&vfs->commit_epoch, 1);
	if (rc == 0 && wcc && wcc->has_post)
		overlay_pending(vfs, &wcc->post);
	return rc;
}

/* ---- xattrs ---- */

int gfs_getxattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const char *name, void *buf,
		 size_t bufsize, size_t *len)
{
	return meta_getxattr(vfs->meta, cred, ref, name, buf, bufsize, len);
}

int gfs_setxattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const char *name,
		 const void *value, size_t len, int flags)
{
	CHECK_WRITABLE(vfs);
	return meta_setxattr(vfs->meta, cred, ref, name, value, len, flags);
}

int gfs_listxattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, char *buf, size_t bufsize,
		  size_t *len)
{
	return meta_listxattr(vfs->meta, cred, ref, buf, bufsize, len);
}

int gfs_removexattr(struct gfs_vfs *vfs, const struct gfs_cred *cred, struct gfs_ref ref, const char *name)
{
	CHECK_WRITABLE(vfs);
	return meta_removexattr(vfs->meta, cred, ref, name);
}

/* ---- errors ---- */

const char *gfs_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case EBADCOOKIE:
		return "readdir cookie is no longer valid";
	case GFS_ENOTSYNC:
		return "attribute guard did not match";
	case EAGAIN:
		return "backend temporarily unreachable, retry later";
	default:
		return strerror(err);
	}
}

int gfs_lock_set(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		 enum gfs_lock_type type, uint64_t start, uint64_t len, uint32_t lease_ms,
		 struct gfs_lock_conflict *conflict)
{
	return meta_lock_set(vfs->meta, ino, client, owner, owner_len, type, start, len, lease_ms, conflict);
}

int gfs_lock_test(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		  enum gfs_lock_type type, uint64_t start, uint64_t len, struct gfs_lock_conflict *conflict)
{
	return meta_lock_test(vfs->meta, ino, client, owner, owner_len, type, start, len, conflict);
}

int gfs_lock_unlock(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		    uint64_t start, uint64_t len)
{
	return meta_lock_unlock(vfs->meta, ino, client, owner, owner_len, start, len);
}

int gfs_lock_count(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		   uint32_t *count)
{
	return meta_lock_count(vfs->meta, ino, client, owner, owner_len, count);
}

int gfs_lock_release_owner(struct gfs_vfs *vfs, const char *client, const void *owner, size_t owner_len)
{
	return meta_lock_release_owner(vfs->meta, client, owner, owner_len);
}

int gfs_lock_release_client(struct gfs_vfs *vfs, const char *client)
{
	return meta_lock_release_client(vfs->meta, client);
}

int gfs_lock_release_expired(struct gfs_vfs *vfs, const char *client, int *released)
{
	return meta_lock_release_expired(vfs->meta, client, released);
}

int gfs_lock_watch_start(struct gfs_vfs *vfs, void (*released)(void *arg, gfs_ino_t ino), void *arg,
			 struct gfs_lock_watch **out)
{
	struct meta_lock_watch *w = NULL;
	int rc = meta_lock_watch_start(vfs->meta, released, arg, &w);
	*out = (struct gfs_lock_watch *)w;
	return rc;
}

void gfs_lock_watch_stop(struct gfs_lock_watch *w)
{
	meta_lock_watch_stop((struct meta_lock_watch *)w);
}

int gfs_lease_renew(struct gfs_vfs *vfs, const char *client, uint32_t lease_ms)
{
	return meta_lease_renew(vfs->meta, client, lease_ms);
}

int gfs_share_acquire(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		      uint32_t access, uint32_t deny, uint32_t lease_ms)
{
	return meta_share_acquire(vfs->meta, ino, client, owner, owner_len, access, deny, lease_ms);
}

int gfs_share_set(struct gfs_vfs *vfs, gfs_ino_t ino, const char *client, const void *owner, size_t owner_len,
		  uint32_t access, uint32_t deny)
{
	return meta_share_set(vfs->meta, ino, client, owner, owner_len, access, deny);
}
