/*
 * serve_embedded.c - the private redis-server and first-start formatting
 * of the embedded default (see serve_embedded.h and docs/CONFIG.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data_dir.h"
#include "log.h"
#include "serve_embedded.h"
#include "vfs_admin.h"

#define REDIS_START_TIMEOUT_MS 15000

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[1024];

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

static bool socket_accepts(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

int embedded_redis_start(const char *data_dir, int lock_fd, struct embedded_redis *r, char *err, size_t errlen)
{
	char redis_dir[1024], log_path[1100];
	int rc;

	memset(r, 0, sizeof(*r));
	r->pid = -1;
	if (snprintf(r->socket_path, sizeof(r->socket_path), "%s/redis.sock", data_dir) >=
	    (int)sizeof(r->socket_path)) {
		snprintf(err, errlen, "data directory %s is too long for a unix socket path", data_dir);
		return -ENAMETOOLONG;
	}
	snprintf(redis_dir, sizeof(redis_dir), "%s/redis", data_dir);
	snprintf(log_path, sizeof(log_path), "%s/redis.log", data_dir);
	rc = mkdir_p(redis_dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create %s: %s", redis_dir, strerror(-rc));
		return rc;
	}
	/* Safe only because the caller holds the data directory's lock: no
	 * other redis-server serves this socket. */
	unlink(r->socket_path);

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return rc;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Its own process group: a terminal's ^C reaches gatefs only, which
		 * flushes before it stops redis.  If gatefs dies, redis follows. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* gatefs may have died before prctl took effect; then nobody
		 * would ever stop this redis-server. */
		if (getppid() != parent)
			_exit(1);
		/* redis holds the lock too: until it has written its AOF and
		 * exited, no other gatefs starts one on the same files. */
		if (lock_fd >= 0 && data_dir_lock_inherit(lock_fd) < 0)
			_exit(1);
		/* appendfsync always: Redis fsyncs each change before it replies,
		 * so a COMMIT or FILE_SYNC reply means stable even if the host
		 * loses power (docs/OPERATIONS.md). */
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->socket_path,
		       "--unixsocketperm", "700", "--dir", redis_dir, "--appendonly", "yes", "--appendfsync", "always",
		       "--maxmemory-policy", "noeviction", "--save", "", "--daemonize", "no", "--logfile", log_path,
		       (char *)NULL);
		fprintf(stderr, "gatefs: cannot run redis-server: %s\n", strerror(errno));
		_exit(127);
	}
	r->pid = pid;
	for (int waited = 0; waited < REDIS_START_TIMEOUT_MS; waited += 20) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			r->pid = -1;
			snprintf(err, errlen, "redis-server exited at start (see %s; is redis-server installed?)",
				 log_path);
			return -EIO;
		}
		if (socket_accepts(r->socket_path)) {
			snprintf(r->meta_url, sizeof(r->meta_url), "unix://%s?db=0", r->socket_path);
			log_info("embedded redis-server pid %d on %s", (int)pid, r->socket_path);
			return 0;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	embedded_redis_stop(r);
	snprintf(err, errlen, "redis-server did not open %s within %d s", r->socket_path,
		 REDIS_START_TIMEOUT_MS / 1000);
	return -ETIMEDOUT;
}

void embedded_redis_stop(struct embedded_redis *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	for (int waited = 0; waited < 30000; waited += 20) {
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = -1;
			return;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	log_warn("embedded redis-server pid %d did not stop; killing it", (int)r->pid);
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = -1;
}

int embedded_volume_prepare(const char *meta_url, const char *data_dir, char *err, size_t errlen)
{
	struct gfs_admin *a = NULL;
	struct gfs_volume_settings s;
	int rc = gfs_admin_open(meta_url, &a, err, errlen);

	if (rc < 0)
		return rc;
	rc = gfs_admin_settings(a, &s, err, errlen);
	if (rc == 0)
		rc = data_dir_check_objects(data_dir, s.storage_url, err, errlen);
	if (rc != -ENOENT) {
		gfs_admin_close(a);
		return rc;
	}

	char objects[1100], storage[1200];
	snprintf(objects, sizeof(objects), "%s/objects", data_dir);
	snprintf(storage, sizeof(storage), "file://%s", objects);
	struct gfs_format_request req = {.name = "gatefs", .storage_url = storage};
	rc = mkdir_p(objects, 0700);
	if (rc == 0)
		rc = gfs_admin_format(a, &req, &s, err, errlen);
	if (rc == 0)
		log_info("formatted embedded volume %s (uuid %s, objects in %s)", s.name, s.uuid, s.storage_url);
	gfs_admin_close(a);
	return rc;
}
