/*
 * data_dir.c - the embedded default's data directory: absolute path, the
 * one-instance lock (DIR/lock) and the objects-belong-here check.  See
 * data_dir.h and docs/OPERATIONS.md ("One gateway per data directory").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_dir.h"

int data_dir_absolute(const char *dir, char *out, size_t outlen)
{
	char cwd[4096];
	int n;

	if (!*dir)
		return -EINVAL;
	if (dir[0] == '/')
		n = snprintf(out, outlen, "%s", dir);
	else if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	else
		n = snprintf(out, outlen, "%s/%s", strcmp(cwd, "/") ? cwd : "", dir);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	/* "DIR/" and "DIR" are one directory: keep one spelling */
	for (size_t len = strlen(out); len > 1 && out[len - 1] == '/'; len--)
		out[len - 1] = 0;
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int read_holder(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	return n > 0 ? atoi(buf) : 0;
}

int data_dir_lock(const char *dir, int *holder, char *err, size_t errlen)
{
	char path[4200];
	int rc = mkdir_p(dir, 0700);

	*holder = 0;
	if (rc < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY)
			*holder = read_holder(fd);
		snprintf(err, errlen, "%s is in use by another gatefs (pid %d)", dir, *holder);
		if (rc != -EBUSY)
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	/* The pid is for the message of the next one to try; the lock itself
	 * is the flock, which the kernel drops when the holder dies. */
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int data_dir_lock_inherit(int lock_fd)
{
	int flags = fcntl(lock_fd, F_GETFD);
	if (flags < 0 || fcntl(lock_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int data_dir_check_objects(const char *dir, const char *storage_url, char *err, size_t errlen)
{
	char own[4200];
	struct stat mine, theirs;

	if (strncmp(storage_url, "file://", 7) != 0)
		return 0; /* an administrator moved the volume to another store on purpose */
	const char *recorded = storage_url + 7;
	snprintf(own, sizeof(own), "%s/objects", dir);
	if (stat(own, &mine) == 0 && stat(recorded, &theirs) == 0 && mine.st_dev == theirs.st_dev &&
	    mine.st_ino == theirs.st_ino)
		return 0;
	snprintf(err, errlen,
		 "the volume in %s keeps its objects in %s, not in %s: this data directory was copied or moved. "
		 "Writing there would mix two volumes in one store.  If this copy is to live on its own, point it at "
		 "its own objects: gatefs format --meta unix://%s/redis.sock?db=0 --storage file://%s --force NAME "
		 "(with this gateway stopped)",
		 dir, recorded, own, dir, own);
	return -EXDEV;
}
