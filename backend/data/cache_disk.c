/*
 * cache_disk.c - the disk tier of cache_disk.h.  One mutex guards the
 * index; file I/O happens outside it.  A new block is written to a temp
 * file and renamed into place, so readers never see a partial block.
 *
 * Blocks live under a directory named by the volume's uuid, so a cache_dir
 * shared with, or left over from, another volume (or a re-created one with
 * the same name) never serves that volume's blocks.  Each file ends with a
 * SHA-256 of the block's identity and bytes; a block that does not match
 * (a bad disk, a truncated file, an edit) is deleted and fetched again,
 * never served.  The hash costs about 2 ms per 4 MiB block on a hit, much
 * less than a fetch from the store.  Before each write the filesystem
 * must keep min_free bytes free after it: the tier evicts its own blocks
 * to get there, or does not cache, so that it never fills a disk shared
 * with the embedded Redis AOF.
 */
#include "cache_disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"

#include <openssl/evp.h>

#define DC_BUCKETS 4096
#define DC_SUM_LEN 32 /* SHA-256 trailer */
#define DC_FREE_MIN_DEFAULT (1ull << 30)

struct dc_entry {
	uint64_t id;
	uint32_t idx, len;
	struct dc_entry *hnext, *lprev, *lnext;
};

struct disk_cache {
	char dir[PATH_MAX / 2];	   /* <cache_dir>/<uuid> */
	uint64_t max_bytes, bytes; /* bytes: of the files, trailers included */
	uint64_t min_free;	   /* free bytes the filesystem keeps */
	uint64_t corrupt, no_room; /* blocks dropped by the checksum; writes skipped for free space */
	pthread_mutex_t lock;
	struct dc_entry *buckets[DC_BUCKETS];
	struct dc_entry *lru_head, *lru_tail; /* head = most recent */
	unsigned temp_counter;
};

static size_t dc_bucket(uint64_t id, uint32_t idx)
{
	return (size_t)(((id * 0x9E3779B97F4A7C15ULL) ^ idx) >> 20) % DC_BUCKETS;
}

static void dc_path(const struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%02x/%" PRIu64 "_%u_%u", dc->dir, (unsigned)(id % 256), id, idx, len);
}

static void lru_unlink(struct disk_cache *dc, struct dc_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		dc->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		dc->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_front(struct disk_cache *dc, struct dc_entry *e)
{
	e->lprev = NULL;
	e->lnext = dc->lru_head;
	if (dc->lru_head)
		dc->lru_head->lprev = e;
	dc->lru_head = e;
	if (!dc->lru_tail)
		dc->lru_tail = e;
}

static struct dc_entry *dc_find(struct disk_cache *dc, uint64_t id, uint32_t idx)
{
	for (struct dc_entry *e = dc->buckets[dc_bucket(id, idx)]; e; e = e->hnext)
		if (e->id == id && e->idx == idx)
			return e;
	return NULL;
}

static void dc_remove(struct disk_cache *dc, struct dc_entry *e)
{
	struct dc_entry **pp = &dc->buckets[dc_bucket(e->id, e->idx)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(dc, e);
	dc->bytes -= (uint64_t)e->len + DC_SUM_LEN;
}

/* Adds an entry (lock held); returns 0 if it already existed. */
static int dc_add(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len)
{
	if (dc_find(dc, id, idx))
		return 0;
	struct dc_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return 0;
	*e = (struct dc_entry){.id = id, .idx = idx, .len = len};
	size_t b = dc_bucket(id, idx);
	e->hnext = dc->buckets[b];
	dc->buckets[b] = e;
	lru_front(dc, e);
	dc->bytes += (uint64_t)len + DC_SUM_LEN;
	return 1;
}

/* Unlinks the coldest block (lock held); 0 if there was none. */
static int dc_evict_one(struct disk_cache *dc)
{
	char path[PATH_MAX];
	struct dc_entry *e = dc->lru_tail;
	if (!e)
		return 0;
	dc_path(dc, e->id, e->idx, e->len, path, sizeof(path));
	unlink(path);
	dc_remove(dc, e);
	free(e);
	return 1;
}

/* Unlinks cold blocks until under the limit (lock held). */
static void dc_evict(struct disk_cache *dc)
{
	while (dc->bytes > dc->max_bytes && dc_evict_one(dc))
		;
}

static uint64_t fs_free(const struct disk_cache *dc)
{
	struct statvfs sv;
	if (statvfs(dc->dir, &sv) < 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Evicts until the filesystem would keep min_free after writing `need`
 * more bytes; 0 if it will, -ENOSPC if not even an empty tier does (lock
 * held). */
static int dc_make_room(struct disk_cache *dc, uint64_t need)
{
	for (;;) {
		if (fs_free(dc) >= dc->min_free + need)
			return 0;
		if (!dc_evict_one(dc))
			return -ENOSPC;
	}
}

/* SHA-256 of the block's identity and bytes. */
static void dc_sum(uint64_t id, uint32_t idx, uint32_t len, const void *buf, unsigned char out[DC_SUM_LEN])
{
	char ident[64];
	int n = snprintf(ident, sizeof(ident), "%" PRIu64 "_%u_%u:", id, idx, len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outlen = 0;
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, ident, (size_t)n) != 1 ||
	    EVP_DigestUpdate(ctx, buf, len) != 1 || EVP_DigestFinal_ex(ctx, out, &outlen) != 1)
		memset(out, 0, DC_SUM_LEN); /* never matches a real file's sum by chance */
	EVP_MD_CTX_free(ctx);
}

static void dc_scan(struct disk_cache *dc)
{
	char sub[PATH_MAX];
	for (unsigned s = 0; s < 256; s++) {
		snprintf(sub, sizeof(sub), "%s/%02x", dc->dir, s);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			uint64_t id;
			uint32_t idx, len;
			char tail;
			if (de->d_name[0] == '.')
				continue;
			if (sscanf(de->d_name, "%" SCNu64 "_%u_%u%c", &id, &idx, &len, &tail) == 3)
				dc_add(dc, id, idx, len);
			else if (strncmp(de->d_name, "tmp-", 4) == 0) {
				char p[PATH_MAX + 300];
				snprintf(p, sizeof(p), "%s/%s", sub, de->d_name);
				unlink(p); /* left by a crash mid-write */
			}
		}
		closedir(d);
	}
	dc_evict(dc);
}

/* Blocks of the layout before volume namespacing (<cache_dir>/<xx>/...)
 * carry no checksum and no volume: they go. */
static void remove_legacy(const char *dir)
{
	char sub[PATH_MAX];
	for (unsigned s = 0; s < 256; s++) {
		snprintf(sub, sizeof(sub), "%s/%02x", dir, s);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char p[PATH_MAX + 300];
			snprintf(p, sizeof(p), "%s/%s", sub, de->d_name);
			unlink(p);
		}
		closedir(d);
		rmdir(sub);
	}
}

int disk_cache_open(const char *dir, const char *volume_uuid, uint64_t max_bytes, uint64_t min_free,
		    struct disk_cache **out)
{
	struct disk_cache *dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	int len = snprintf(dc->dir, sizeof(dc->dir), "%s/%s", dir, volume_uuid);
	if (len < 0 || (size_t)len >= sizeof(dc->dir) || !*volume_uuid || strchr(volume_uuid, '/')) {
		free(dc);
		return -ENAMETOOLONG;
	}
	dc->max_bytes = max_bytes;
	pthread_mutex_init(&dc->lock, NULL);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || (mkdir(dc->dir, 0700) < 0 && errno != EEXIST)) {
		int rc = -errno;
		log_error("cache: cannot create %s: %s", dc->dir, strerror(errno));
		pthread_mutex_destroy(&dc->lock);
		free(dc);
		return rc;
	}
	if (!min_free) {
		/* 5% of the filesystem, at least 1 GiB */
		struct statvfs sv;
		uint64_t size = statvfs(dc->dir, &sv) == 0 ? (uint64_t)sv.f_blocks * sv.f_frsize : 0;
		min_free = size / 20 > DC_FREE_MIN_DEFAULT ? size / 20 : DC_FREE_MIN_DEFAULT;
	}
	dc->min_free = min_free;
	remove_legacy(dir);
	char sub[PATH_MAX];
	for (unsigned s = 0; s < 256; s++) {
		snprintf(sub, sizeof(sub), "%s/%02x", dc->dir, s);
		mkdir(sub, 0700);
	}
	dc_scan(dc);
	pthread_mutex_lock(&dc->lock);
	dc_make_room(dc, 0);
	pthread_mutex_unlock(&dc->lock);
	*out = dc;
	return 0;
}

void disk_cache_close(struct disk_cache *dc)
{
	if (!dc)
		return;
	for (size_t b = 0; b < DC_BUCKETS; b++) {
		struct dc_entry *e = dc->buckets[b];
		while (e) {
			struct dc_entry *n = e->hnext;
			free(e);
			e = n;
		}
	}
	pthread_mutex_destroy(&dc->lock);
	free(dc);
}

/* Forgets and unlinks a block whose file failed its checksum. */
static void dc_drop(struct disk_cache *dc, uint64_t id, uint32_t idx, const char *path)
{
	pthread_mutex_lock(&dc->lock);
	struct dc_entry *e = dc_find(dc, id, idx);
	if (e) {
		dc_remove(dc, e);
		free(e);
	}
	unlink(path);
	dc->corrupt++;
	pthread_mutex_unlock(&dc->lock);
}

int disk_cache_get(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, void *buf)
{
	char path[PATH_MAX];
	pthread_mutex_lock(&dc->lock);
	struct dc_entry *e = dc_find(dc, id, idx);
	if (e) {
		lru_unlink(dc, e);
		lru_front(dc, e);
	}
	pthread_mutex_unlock(&dc->lock);
	if (!e)
		return -ENOENT;
	dc_path(dc, id, idx, len, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT; /* evicted meanwhile */
	unsigned char want[DC_SUM_LEN], have[DC_SUM_LEN];
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ssize_t sum_n = got == len ? pread(fd, want, sizeof(want), (off_t)len) : -1;
	char extra;
	ssize_t tail = sum_n == DC_SUM_LEN ? pread(fd, &extra, 1, (off_t)len + DC_SUM_LEN) : -1;
	close(fd);
	if (tail == 0)
		dc_sum(id, idx, len, buf, have);
	if (tail != 0 || memcmp(want, have, DC_SUM_LEN) != 0) {
		log_warn("cache: %s is corrupt (size or checksum); fetching the block again", path);
		dc_drop(dc, id, idx, path);
		return -ENOENT;
	}
	return 0;
}

void disk_cache_put(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, const void *buf)
{
	char path[PATH_MAX], temp[PATH_MAX];
	uint64_t need = (uint64_t)len + DC_SUM_LEN;
	pthread_mutex_lock(&dc->lock);
	int have = dc_find(dc, id, idx) != NULL;
	unsigned n = dc->temp_counter++;
	int room = have || need > dc->max_bytes ? 0 : dc_make_room(dc, need) == 0;
	if (!have && !room)
		dc->no_room++;
	pthread_mutex_unlock(&dc->lock);
	if (!room)
		return;
	unsigned char sum[DC_SUM_LEN];
	dc_sum(id, idx, len, buf, sum);
	dc_path(dc, id, idx, len, path, sizeof(path));
	snprintf(temp, sizeof(temp), "%s/%02x/tmp-%d-%u", dc->dir, (unsigned)(id % 256), (int)getpid(), n);
	int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	size_t done = 0;
	while (done < need) {
		const char *src = done < len ? (const char *)buf + done : (const char *)sum + (done - len);
		size_t chunk = done < len ? len - done : need - done;
		ssize_t w = write(fd, src, chunk);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (close(fd) < 0 || done != need || rename(temp, path) < 0) {
		unlink(temp);
		return;
	}
	pthread_mutex_lock(&dc->lock);
	dc_add(dc, id, idx, len);
	dc_evict(dc);
	pthread_mutex_unlock(&dc->lock);
}

void disk_cache_counters(struct disk_cache *dc, uint64_t *corrupt, uint64_t *no_room)
{
	pthread_mutex_lock(&dc->lock);
	*corrupt = dc->corrupt;
	*no_room = dc->no_room;
	pthread_mutex_unlock(&dc->lock);
}

uint64_t disk_cache_bytes(struct disk_cache *dc)
{
	pthread_mutex_lock(&dc->lock);
	uint64_t b = dc->bytes;
	pthread_mutex_unlock(&dc->lock);
	return b;
}
