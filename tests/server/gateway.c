/*
 * gateway.c - a real gateway process for the server tests (gateway.h).
 */
#include "gateway.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *gw_binary(void)
{
	const char *env = getenv("GATEFS_BIN");
	return env && *env ? env : GATEFS_BIN;
}

static int port_open(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int run_logged(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void gw_print_log(const struct gateway *gw)
{
	FILE *f = fopen(gw->log, "r");
	char line[1024];

	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", gw->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

int gw_log_count(const struct gateway *gw, const char *text)
{
	return tl_count_lines(gw->log, &text, 1);
}

int gw_start(struct gateway *gw, const char *extra)
{
	char objects[400], storage[450];

	memset(gw, 0, sizeof(*gw));
	if (tl_redis_start(&gw->redis) != 0)
		return -1;
	if (tl_tmpdir("server", gw->dir, sizeof(gw->dir)) != 0)
		return -1;
	snprintf(gw->config, sizeof(gw->config), "%s/gatefs.conf", gw->dir);
	snprintf(gw->log, sizeof(gw->log), "%s/gatefs.log", gw->dir);
	snprintf(objects, sizeof(objects), "%s/objects", gw->dir);
	mkdir(objects, 0755);
	snprintf(storage, sizeof(storage), "file://%s", objects);
	gw->nfs_port = tl_free_port(); /* never the same port twice */
	gw->mount_port = tl_free_port();
	gw->pmap_port = tl_free_port();

	FILE *f = fopen(gw->config, "w");
	if (!f)
		return -1;
	fprintf(f,
		"meta_url = %s\n"
		"data_dir = %s\n"
		"listen = 127.0.0.1\n"
		"nfs_port = %d\n"
		"mount_port = %d\n"
		"portmap_port = %d\n"
		"portmapper = builtin\n"
		"threads = 4\n"
		"log_level = debug\n"
		"%s\n",
		gw->redis.url, gw->dir, gw->nfs_port, gw->mount_port, gw->pmap_port, extra ? extra : "");
	fclose(f);

	char *fmt[] = {(char *)gw_binary(), "format", "--meta", gw->redis.url, "--storage", storage, "srvtest", NULL};
	if (run_logged(fmt, gw->log) != 0) {
		fprintf(stderr, "gatefs format failed\n");
		gw_print_log(gw);
		return -1;
	}

	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(gw->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(gw_binary(), gw_binary(), "serve", "--config", gw->config, (char *)NULL);
		_exit(127);
	}
	gw->pid = pid;
	for (int i = 0; i < 600; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			gw->pid = 0;
			fprintf(stderr, "gateway exited during start\n");
			gw_print_log(gw);
			return -1;
		}
		if (port_open(gw->nfs_port) && port_open(gw->mount_port) && port_open(gw->pmap_port))
			return 0;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "gateway did not listen within 30 s\n");
	gw_print_log(gw);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	gw->pid = 0;
	return -1;
}

int gw_alive(struct gateway *gw)
{
	int st;
	return gw->pid > 0 && waitpid(gw->pid, &st, WNOHANG) == 0;
}

int gw_stop(struct gateway *gw)
{
	int status = -1, st;

	if (gw->pid > 0) {
		kill(gw->pid, SIGTERM);
		for (int i = 0; i < 600; i++) {
			if (waitpid(gw->pid, &st, WNOHANG) == gw->pid) {
				status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				break;
			}
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (status == -1) {
			kill(gw->pid, SIGKILL);
			waitpid(gw->pid, NULL, 0);
		}
		gw->pid = 0;
	}
	if (status != 0)
		gw_print_log(gw);
	tl_redis_stop(&gw->redis);
	tl_rm_rf(gw->dir);
	return status;
}
