/* cmd.h: the subcommands of the signet binary. Each takes argv starting at the
 * subcommand's name and returns an exit code. */
#ifndef SIGNET_CMD_H
#define SIGNET_CMD_H

#define CMD_EXIT_OK      0
#define CMD_EXIT_FAILURE 1
#define CMD_EXIT_USAGE   2

/* cmd_version prints "signet <version>" and the OpenSSL version. */
int cmd_version(int argc, char **argv);

#endif
