/* version.c: `signet version`. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cmd.h"

int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: signet version\n\nPrints signet's version and the OpenSSL it runs with.\n");
        return CMD_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "signet version: unexpected argument '%s'\n", argv[1]);
        return CMD_EXIT_USAGE;
    }
    printf("signet %s (%s)\n", SIGNET_VERSION, OpenSSL_version(OPENSSL_VERSION));
    return CMD_EXIT_OK;
}
