/*
 * gatefs.c - the gatefs command: dispatches to a subcommand by name.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the NFS gateway in the foreground"},
    {"format", cmd_format, "create a volume in Redis and check its object store"},
    {"status", cmd_status, "print a volume's settings, usage and counts"},
    {"fsck", cmd_fsck, "check the namespace and object references"},
    {"gc", cmd_gc, "delete objects that no metadata references"},
    {"health", cmd_health, "check that a running gateway answers NFS and reaches Redis"},
};

#ifdef __SANITIZE_ADDRESS__
/*
 * LeakSanitizer's built-in suppressions for this program.  libntirpc 4.3
 * sometimes leaves the transport of a connection that was still open at
 * shutdown (about 1.2 KiB, allocated inside libntirpc) unfreed.  Only
 * allocations made inside libntirpc are suppressed; every leak of ours
 * still fails the tests.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libntirpc.so\n";
}
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: gatefs COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'gatefs COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "gatefs: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
