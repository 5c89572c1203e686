/*
 * commands.h - the subcommands of the gatefs command.  Each takes the
 * arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit status.  gatefs.c holds the table that dispatches to them.
 */
#ifndef GATEFS_COMMANDS_H
#define GATEFS_COMMANDS_H

int cmd_serve(int argc, char **argv);  /* cmd_serve.c */
int cmd_format(int argc, char **argv); /* cmd_admin.c */
int cmd_status(int argc, char **argv); /* cmd_admin.c */
int cmd_fsck(int argc, char **argv);   /* cmd_admin.c */
int cmd_gc(int argc, char **argv);     /* cmd_admin.c */
int cmd_health(int argc, char **argv); /* cmd_health.c */
/* "status --watch": the live view from a gateway's metrics (status_watch.c). */
int cmd_status_watch(int argc, char **argv);

#endif
