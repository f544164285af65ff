/* main.c: the signet binary. Dispatches to one cmd_* function per subcommand
 * family; each maps library errors to exit codes 0 (ok), 1 (failure), 2 (usage). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"version", cmd_version, "print the version"},
    {"root", cmd_root, "offline root: init, sign-intermediate, crl"},
    {"intermediate", cmd_intermediate, "make the intermediate's key and CSR"},
    {"provisioner", cmd_provisioner, "make a provisioner's token-signing key pair"},
    {"serve", cmd_serve, "run the CA server (HTTPS API)"},
    {"token", cmd_token, "mint a one-time provisioner token"},
    {"agent", cmd_agent, "sidecar: keep an SVID, key, bundle and CRLs in a folder"},
    {"revoke", cmd_revoke, "revoke a certificate (admin, over mTLS)"},
    {"certs", cmd_certs, "list or show issued certificates (admin, over mTLS)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: signet <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\n'signet <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CMD_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CMD_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "signet: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CMD_EXIT_USAGE;
}
