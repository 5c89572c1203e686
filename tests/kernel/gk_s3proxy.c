/*
 * gk_s3proxy.c - the fault-injecting S3 proxy (tests/support/s3proxy.c) as
 * a process of its own, for run.sh: the kernel groups run gatefs on
 * radosgw through it and turn faults on and off from the host hook while
 * the guests load the gateway.
 *
 * usage: gk-s3proxy UPSTREAM_PORT PORT_FILE
 * Writes the proxy's loopback port to PORT_FILE once it listens, then reads
 * one command per line from standard input until EOF:
 *   off                   clear the fault (releases stalled requests)
 *   status HTTP CODE      answer every request with HTTP and S3 code CODE
 *   reset-before | reset-mid | stall | trickle | truncate | ignore-range |
 *   expired-token         the proxy's other faults, on every request
 *   stats                 print "requests N faulted N held N"
 * Every command is answered with one line on standard output ("ok ..." or
 * "error ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3proxy.h"

static const struct {
	const char *name;
	enum s3proxy_fault_kind kind;
} kinds[] = {
    {"reset-before", S3F_RESET_BEFORE},
    {"reset-mid", S3F_RESET_MID},
    {"stall", S3F_STALL},
    {"trickle", S3F_TRICKLE},
    {"truncate", S3F_TRUNCATE},
    {"ignore-range", S3F_IGNORE_RANGE},
    {"expired-token", S3F_EXPIRED_TOKEN},
};

/* Carries out one command line; 0, or -1 for a line it does not know. */
static int command(struct s3proxy *p, char *line)
{
	char word[32] = "", code[64] = "";
	int status = 0;
	if (sscanf(line, "%31s", word) != 1)
		return 0; /* blank line */
	if (strcmp(word, "off") == 0) {
		s3proxy_set_fault(p, NULL);
		return 0;
	}
	if (strcmp(word, "stats") == 0) {
		struct s3proxy_stats st;
		s3proxy_get_stats(p, &st);
		printf("requests %llu faulted %llu held %llu\n", (unsigned long long)st.requests,
		       (unsigned long long)st.faulted, (unsigned long long)st.held);
		return 0;
	}
	if (strcmp(word, "status") == 0) {
		if (sscanf(line, "%*s %d %63s", &status, code) != 2 || status < 400 || status > 599)
			return -1;
		s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = S3F_STATUS, .status = status, .code = code});
		return 0;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(word, kinds[i].name) == 0) {
			s3proxy_set_fault(p, &(struct s3proxy_fault){.kind = kinds[i].kind});
			return 0;
		}
	return -1;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: gk-s3proxy UPSTREAM_PORT PORT_FILE\n");
		return 2;
	}
	struct s3proxy *p;
	if (s3proxy_start(atoi(argv[1]), &p) != 0) {
		fprintf(stderr, "gk-s3proxy: cannot start the proxy\n");
		return 1;
	}
	/* Written whole under a temp name, so a reader never sees half a port. */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", s3proxy_port(p)) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) != 0) {
		fprintf(stderr, "gk-s3proxy: cannot write %s\n", argv[2]);
		s3proxy_stop(p);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("listening on 127.0.0.1:%d, upstream port %s\n", s3proxy_port(p), argv[1]);
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (command(p, line) == 0)
			printf("ok %s\n", line);
		else
			printf("error: unknown command '%s'\n", line);
	}
	s3proxy_stop(p);
	return 0;
}
