/*
 * cache_disk.c - the disk tier of cache_disk.h.  One mutex guards the
 * index; file I/O happens outside it.  A new block is written to a temp
 * file and renamed into place, so readers never see a partial block.
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
#include <unistd.h>

#include "log.h"

#define DC_BUCKETS 4096

struct dc_entry {
	uint64_t id;
	uint32_t idx, len;
	struct dc_entry *hnext, *lprev, *lnext;
};

struct disk_cache {
	char dir[PATH_MAX / 2];
	uint64_t max_bytes, bytes;
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
	dc->bytes -= e->len;
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
	dc->bytes += len;
	return 1;
}

/* Unlinks cold blocks until under the limit (lock held). */
static void dc_evict(struct disk_cache *dc)
{
	char path[PATH_MAX];
	while (dc->bytes > dc->max_bytes && dc->lru_tail) {
		struct dc_entry *e = dc->lru_tail;
		dc_path(dc, e->id, e->idx, e->len, path, sizeof(path));
		unlink(path);
		dc_remove(dc, e);
		free(e);
	}
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

int disk_cache_open(const char *dir, uint64_t max_bytes, struct disk_cache **out)
{
	struct disk_cache *dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	if (strlen(dir) >= sizeof(dc->dir)) {
		free(dc);
		return -ENAMETOOLONG;
	}
	snprintf(dc->dir, sizeof(dc->dir), "%s", dir);
	dc->max_bytes = max_bytes;
	pthread_mutex_init(&dc->lock, NULL);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		log_error("cache: cannot create %s: %s", dir, strerror(errno));
		pthread_mutex_destroy(&dc->lock);
		free(dc);
		return rc;
	}
	char sub[PATH_MAX];
	for (unsigned s = 0; s < 256; s++) {
		snprintf(sub, sizeof(sub), "%s/%02x", dir, s);
		mkdir(sub, 0700);
	}
	dc_scan(dc);
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
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return got == len ? 0 : -ENOENT;
}

void disk_cache_put(struct disk_cache *dc, uint64_t id, uint32_t idx, uint32_t len, const void *buf)
{
	char path[PATH_MAX], temp[PATH_MAX];
	pthread_mutex_lock(&dc->lock);
	int have = dc_find(dc, id, idx) != NULL;
	unsigned n = dc->temp_counter++;
	pthread_mutex_unlock(&dc->lock);
	if (have || len > dc->max_bytes)
		return;
	dc_path(dc, id, idx, len, path, sizeof(path));
	snprintf(temp, sizeof(temp), "%s/%02x/tmp-%d-%u", dc->dir, (unsigned)(id % 256), (int)getpid(), n);
	int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, (const char *)buf + done, len - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (close(fd) < 0 || done != len || rename(temp, path) < 0) {
		unlink(temp);
		return;
	}
	pthread_mutex_lock(&dc->lock);
	dc_add(dc, id, idx, len);
	dc_evict(dc);
	pthread_mutex_unlock(&dc->lock);
}

uint64_t disk_cache_bytes(struct disk_cache *dc)
{
	pthread_mutex_lock(&dc->lock);
	uint64_t b = dc->bytes;
	pthread_mutex_unlock(&dc->lock);
	return b;
}
