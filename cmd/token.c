/* token.c: `signet token`, which mints a one-time provisioner token (ES256)
 * that a workload presents to POST /v1/sign. The token goes to stdout only. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "api.h"
#include "cmd.h"

#define MAX_DNS 32

static const char token_usage[] =
    "usage: signet token --key F --provisioner NAME --spiffe-id ID [--dns NAME]... [--ttl 5m]\n"
    "\n"
    "Prints a one-time provisioner token (ES256 JWT) on stdout. The server accepts it\n"
    "once, before it expires, for a certificate for ID (and the DNS names given).\n"
    "\n"
    "  --key F            the provisioner's private key (from 'signet provisioner init')\n"
    "  --provisioner NAME the provisioner's name in the server's config (the token's iss)\n"
    "  --spiffe-id ID     the identity to authorise; its trust domain picks the audience\n"
    "  --dns NAME         a DNS name to authorise as well (repeatable, at most 32)\n"
    "  --ttl D            token lifetime, e.g. 90s or 5m; at most 1h (default 5m)\n"
    "  --help             show this help\n";

int cmd_token(int argc, char **argv)
{
    static const char cmd[] = "token";
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"provisioner", required_argument, NULL, 'p'},
        {"spiffe-id", required_argument, NULL, 's'},
        {"dns", required_argument, NULL, 'd'},
        {"ttl", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dns[MAX_DNS];
    struct api_token_params params = {.dns_names = dns};
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
            case 'k':
                params.key_path = optarg;
                break;
            case 'p':
                params.provisioner = optarg;
                break;
            case 's':
                params.spiffe_id = optarg;
                break;
            case 'd':
                if (params.num_dns_names == MAX_DNS) {
                    return cmd_usage_fail(cmd, "at most %d --dns names", MAX_DNS);
                }
                dns[params.num_dns_names++] = optarg;
                break;
            case 't':
                params.ttl = optarg;
                break;
            case 'h':
                fputs(token_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (params.key_path == NULL || params.provisioner == NULL || params.spiffe_id == NULL) {
        return cmd_usage_fail(cmd, "--key, --provisioner and --spiffe-id are required");
    }

    struct api_error err = {0};
    char *token = NULL;
    params.now = (int64_t)time(NULL);
    if (api_token_mint(&params, &token, &err) != API_OK) {
        return cmd_fail(cmd, "%s", err.msg);
    }
    int ok = printf("%s\n", token) > 0 && fflush(stdout) == 0;
    api_token_free(token);
    return ok ? CMD_EXIT_OK : cmd_fail(cmd, "cannot write the token to stdout");
}
