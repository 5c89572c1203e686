/*
 * gk_lock.c - a static lock helper for kernel-test guests (busybox has no
 * flock applet).  Takes a whole-file lock with flock(2) or fcntl(F_SETLK[W]),
 * then runs a command while holding it, like flock(1):
 *
 *   gk-lock flock|fcntl ex|sh [-n] FILE COMMAND [ARG...]
 *
 * -n: do not wait; exit 75 (EX_TEMPFAIL) if another holder conflicts.
 * Exit status: the command's, or 64 usage, 71 lock error, 75 would block.
 * It is linked statically so the initramfs needs no C library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_USAGE = 64, EXIT_LOCK_ERROR = 71, EXIT_WOULD_BLOCK = 75 };

static int usage(void)
{
	fprintf(stderr, "usage: gk-lock flock|fcntl ex|sh [-n] FILE COMMAND [ARG...]\n");
	return EXIT_USAGE;
}

/* Returns 0, or -errno; -EAGAIN means another holder conflicts. */
static int take_lock(int fd, bool use_flock, bool exclusive, bool wait)
{
	if (use_flock) {
		int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
		if (flock(fd, op) == 0)
			return 0;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	struct flock whole_file = {.l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, wait ? F_SETLKW : F_SETLK, &whole_file) == 0)
		return 0;
	return (errno == EACCES || errno == EAGAIN) ? -EAGAIN : -errno;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return usage();
	bool use_flock = strcmp(argv[1], "flock") == 0;
	if (!use_flock && strcmp(argv[1], "fcntl") != 0)
		return usage();
	bool exclusive = strcmp(argv[2], "ex") == 0;
	if (!exclusive && strcmp(argv[2], "sh") != 0)
		return usage();
	int next = 3;
	bool wait = true;
	if (strcmp(argv[next], "-n") == 0) {
		wait = false;
		next++;
	}
	if (argc - next < 2)
		return usage();
	const char *path = argv[next++];

	/* fcntl write locks need a descriptor open for writing. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		fprintf(stderr, "gk-lock: open %s: %s\n", path, strerror(errno));
		return EXIT_LOCK_ERROR;
	}
	int err = take_lock(fd, use_flock, exclusive, wait);
	if (err == -EAGAIN)
		return EXIT_WOULD_BLOCK;
	if (err) {
		fprintf(stderr, "gk-lock: %s %s: %s\n", argv[1], path, strerror(-err));
		return EXIT_LOCK_ERROR;
	}

	/* The child inherits nothing of the lock (O_CLOEXEC): the lock is held
	 * by this process until the command exits. */
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "gk-lock: fork: %s\n", strerror(errno));
		return EXIT_LOCK_ERROR;
	}
	if (child == 0) {
		execvp(argv[next], argv + next);
		fprintf(stderr, "gk-lock: exec %s: %s\n", argv[next], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_LOCK_ERROR;
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
