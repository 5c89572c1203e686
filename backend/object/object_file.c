/*
 * object_file.c - the file:// object driver: a local directory where key
 * "a/b/c" is the file DIR/a/b/c.  A put writes a temporary file in the
 * target directory, fsyncs it, renames it over the key and fsyncs the
 * directory, so a reader sees the old object or the new one, never half of
 * one, and a crash after put returns loses nothing.  Objects are 0600 and
 * directories 0700: file data is for gatefs, not for local users.  Opening
 * the store removes temporary files whose writer has died.
 *
 * Limits of the mapping: a key cannot be both an object and a "directory"
 * of other keys ("a" and "a/b"), and components "." and ".." and empty ones
 * are refused.  list() walks and sorts everything under the prefix in
 * memory, which suits tests and single-node use, not billions of objects.
 */
#include "object_driver.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_PREFIX ".gatefs-tmp-"

struct file_store {
	struct object_store base;
	char root[PATH_MAX];
	atomic_uint temp_counter;
};

static struct file_store *fs_of(struct object_store *st)
{
	return (struct file_store *)st;
}

/* Keys are relative paths of non-empty components other than "." and "..",
 * and none may look like our temporary files. */
static int key_valid(const char *key)
{
	if (!key || !*key)
		return 0;
	const char *p = key;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    strncmp(p, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0)
			return 0;
		if (!p[n])
			return 1;
		p += n + 1;
	}
}

static int key_path(struct file_store *fs, const char *key, char *path, size_t cap)
{
	if (!key_valid(key))
		return -EINVAL;
	int n = snprintf(path, cap, "%s/%s", fs->root, key);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return fsync_path(dir);
}

/* Creates every missing directory on the way to path's last component,
 * 0700 so that local users cannot read file data.  The entry of each new
 * directory is made durable in its parent: fsyncing the object's own
 * directory after the rename does not make the directory itself reachable
 * after a crash. */
static int make_parents(const char *path, size_t root_len)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + root_len + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0700) == 0) {
			int rc = fsync_dir_of(buf);
			if (rc)
				return rc;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Opens a new temporary file next to path; temp receives its name. */
static int open_temp(struct file_store *fs, const char *path, char *temp, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int dirlen = (int)(slash - path);
	for (int attempt = 0; attempt < 8; attempt++) {
		unsigned n = atomic_fetch_add(&fs->temp_counter, 1);
		int len = snprintf(temp, cap, "%.*s/" TEMP_PREFIX "%d-%u", dirlen, path, (int)getpid(), n);
		if (len < 0 || (size_t)len >= cap)
			return -ENAMETOOLONG;
		int rc = make_parents(path, strlen(fs->root));
		if (rc == -ENOENT)
			continue; /* a concurrent delete pruned a parent between mkdir and fsync */
		if (rc)
			return rc;
		int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		/* ENOENT: a concurrent delete pruned the directory we just made; make it again. */
		if (errno != ENOENT && errno != EEXIST)
			return -errno;
	}
	return -EIO;
}

static int file_put(struct object_store *st, const char *key, const void *data, size_t len)
{
	struct file_store *fs = fs_of(st);
	char path[PATH_MAX], temp[PATH_MAX];
	int rc = key_path(fs, key, path, sizeof(path));
	if (rc)
		return rc;
	int fd = open_temp(fs, path, temp, sizeof(temp));
	if (fd < 0) {
		object_set_cause("create %s: %s", path, strerror(-fd));
		log_error("%s: put %s: %s", st->description, key, object_last_cause());
		return fd;
	}
	rc = write_all(fd, data, len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(temp, path) < 0)
		rc = -errno;
	if (!rc)
		rc = fsync_dir_of(path);
	if (rc) {
		unlink(temp);
		object_set_cause("write %s: %s", path, strerror(-rc));
		log_error("%s: put %s: %s", st->description, key, object_last_cause());
	}
	return rc;
}

static int file_get(struct object_store *st, const char *key, uint64_t offset, size_t len, void *buf, size_t *got)
{
	struct file_store *fs = fs_of(st);
	char path[PATH_MAX];
	*got = 0;
	int rc = key_path(fs, key, path, sizeof(path));
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -ENOENT;
		rc = -errno;
		object_set_cause("open %s: %s", path, strerror(errno));
		log_error("%s: get %s: %s", st->description, key, object_last_cause());
		return rc;
	}
	struct stat sb;
	if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			object_set_cause("read %s: %s", path, strerror(errno));
			log_error("%s: get %s: %s", st->description, key, object_last_cause());
			break;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	*got = done;
	return rc;
}

static int file_head(struct object_store *st, const char *key, uint64_t *size)
{
	struct file_store *fs = fs_of(st);
	char path[PATH_MAX];
	int rc = key_path(fs, key, path, sizeof(path));
	if (rc)
		return rc;
	struct stat sb;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -ENOENT;
		return -errno;
	}
	if (!S_ISREG(sb.st_mode))
		return -ENOENT;
	*size = (uint64_t)sb.st_size;
	return 0;
}

/* Removes now-empty directories from path's parent up to (not including) the root. */
static void prune_empty_parents(struct file_store *fs, char *path)
{
	size_t root_len = strlen(fs->root);
	for (;;) {
		char *slash = strrchr(path, '/');
		if (!slash || (size_t)(slash - path) <= root_len)
			return;
		*slash = '\0';
		if (rmdir(path) < 0)
			return; /* ENOTEMPTY is the normal stop */
	}
}

static int file_del(struct object_store *st, const char *key)
{
	struct file_store *fs = fs_of(st);
	char path[PATH_MAX];
	int rc = key_path(fs, key, path, sizeof(path));
	if (rc)
		return rc;
	if (unlink(path) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		rc = -errno;
		object_set_cause("unlink %s: %s", path, strerror(errno));
		log_error("%s: delete %s: %s", st->description, key, object_last_cause());
		return rc;
	}
	prune_empty_parents(fs, path);
	return 0;
}

static int file_del_many(struct object_store *st, const char *const *keys, size_t n)
{
	int first_error = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = file_del(st, keys[i]);
		if (rc && !first_error)
			first_error = rc;
	}
	return first_error;
}

struct listing {
	struct object_info *items;
	size_t n, cap;
};

static int listing_add(struct listing *l, const char *key, const struct stat *sb)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct object_info *items = realloc(l->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	char *copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	l->items[l->n].key = copy;
	l->items[l->n].size = (uint64_t)sb->st_size;
	l->items[l->n].mtime_sec = (int64_t)sb->st_mtim.tv_sec;
	l->n++;
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->items[i].key);
	free(l->items);
}

static int info_cmp(const void *a, const void *b)
{
	return strcmp(((const struct object_info *)a)->key, ((const struct object_info *)b)->key);
}

/* Adds every regular file under dir (whose key prefix is rel) that starts with prefix. */
static int walk(const char *dir, const char *rel, const char *prefix, struct listing *l)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0)
			continue;
		char key[PATH_MAX], path[PATH_MAX];
		int kn = snprintf(key, sizeof(key), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		int pn = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (kn < 0 || (size_t)kn >= sizeof(key) || pn < 0 || (size_t)pn >= sizeof(path))
			continue;
		/* Skip subtrees that cannot hold a key with this prefix. */
		size_t common = strlen(key) < strlen(prefix) ? strlen(key) : strlen(prefix);
		if (strncmp(key, prefix, common) != 0)
			continue;
		struct stat sb;
		if (lstat(path, &sb) < 0)
			continue; /* deleted while we walked */
		if (S_ISDIR(sb.st_mode))
			rc = walk(path, key, prefix, l);
		else if (S_ISREG(sb.st_mode) && strncmp(key, prefix, strlen(prefix)) == 0)
			rc = listing_add(l, key, &sb);
	}
	closedir(d);
	return rc;
}

static int file_list(struct object_store *st, const char *prefix, const char *start_after, object_list_cb cb, void *arg)
{
	struct file_store *fs = fs_of(st);
	struct listing l = {0};
	prefix = prefix ? prefix : "";
	int rc = walk(fs->root, "", prefix, &l);
	if (rc) {
		object_set_cause("walk %s: %s", fs->root, strerror(-rc));
		log_error("%s: list %s: %s", st->description, prefix, object_last_cause());
		listing_free(&l);
		return rc;
	}
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), info_cmp);
	for (size_t i = 0; i < l.n && !rc; i++) {
		if (start_after && strcmp(l.items[i].key, start_after) <= 0)
			continue;
		rc = cb(arg, &l.items[i]);
	}
	listing_free(&l);
	return rc;
}

/* A temporary file is stale when the process that named it (its pid is in
 * the name) is gone: a put that crashed between create and rename.  Another
 * process's put in progress (a gateway while gc runs) is left alone. */
static bool temp_is_stale(const char *name)
{
	char *end;
	long pid = strtol(name + strlen(TEMP_PREFIX), &end, 10);
	if (end == name + strlen(TEMP_PREFIX) || *end != '-' || pid <= 0 || pid > INT_MAX)
		return true; /* not a name of ours: nobody will finish it */
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Removes the stale temporary files under dir; returns how many. */
static unsigned remove_stale_temps(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned removed = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) || lstat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			removed += remove_stale_temps(path);
		else if (S_ISREG(sb.st_mode) && strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0 &&
			 temp_is_stale(e->d_name) && unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

static void file_destroy(struct object_store *st)
{
	free(st);
}

static const struct object_ops file_ops = {
    .scheme = "file",
    .put = file_put,
    .get = file_get,
    .head = file_head,
    .del = file_del,
    .del_many = file_del_many,
    .list = file_list,
    .destroy = file_destroy,
};

int object_file_open(const char *dir, struct object_store **out, char *err, size_t errlen)
{
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	struct file_store *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	if (len >= sizeof(fs->root)) {
		free(fs);
		snprintf(err, errlen, "file store path too long");
		return -EINVAL;
	}
	memcpy(fs->root, dir, len);
	fs->root[len] = '\0';
	if (mkdir(fs->root, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, errlen, "file store %s: cannot create: %s", fs->root, strerror(errno));
		free(fs);
		return rc;
	}
	struct stat sb;
	if (stat(fs->root, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "file store %s: not a directory", fs->root);
		free(fs);
		return -EINVAL;
	}
	fs->base.ops = &file_ops;
	snprintf(fs->base.description, sizeof(fs->base.description), "file %.240s", fs->root);
	unsigned stale = remove_stale_temps(fs->root);
	if (stale)
		log_info("%s: removed %u temporary file(s) left by an interrupted put", fs->base.description, stale);
	*out = &fs->base;
	return 0;
}
