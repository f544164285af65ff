/* revoke.c: `signet revoke SERIAL`, an admin call over mTLS, and the flags it
 * shares with `signet certs` (--server, --cert, --key, --ca). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "ca.h"
#include "cmd.h"

static const char revoke_usage[] =
    "usage: signet revoke SERIAL [--reason R] --server URL --cert F --key F --ca F [--json]\n"
    "\n"
    "Revokes the certificate with serial SERIAL (hex; colons and either case accepted).\n"
    "Revoking twice returns the first revocation. The CRL and OCSP answers reflect it\n"
    "within a second.\n"
    "\n"
    "  --reason R     an RFC 5280 reason: unspecified, keyCompromise, cACompromise,\n"
    "                 affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
    "                 privilegeWithdrawn, aACompromise (default: the server's)\n"
    "  --server URL   the signet server, https://host:port\n"
    "  --cert F       admin client certificate (PEM, with its chain)\n"
    "  --key F        its private key (PEM PKCS#8, unencrypted)\n"
    "  --ca F         PEM roots the server's certificate must chain to\n"
    "  --json         print the server's JSON answer\n"
    "  --help         show this help\n";

int cmd_admin_option(struct cmd_admin *a, int c, const char *arg)
{
    switch (c) {
        case 'S':
            a->server = arg;
            return 1;
        case 'C':
            a->cert = arg;
            return 1;
        case 'K':
            a->key = arg;
            return 1;
        case 'A':
            a->ca = arg;
            return 1;
        case 'J':
            a->json = 1;
            return 1;
        default:
            return 0;
    }
}

int cmd_admin_client(const char *cmd, const struct cmd_admin *a, struct api_client **out)
{
    struct api_error err = {0};
    struct api_client *client = NULL;

    if (a->server == NULL || a->cert == NULL || a->key == NULL || a->ca == NULL) {
        return cmd_usage_fail(cmd, "--server, --cert, --key and --ca are required");
    }
    if (strncasecmp(a->server, "https://", 8) != 0) {
        return cmd_usage_fail(cmd, "--server must be an https:// URL");
    }
    if (api_client_new(a->server, a->ca, &client, &err) != API_OK ||
        api_client_identity_files(client, a->cert, a->key, &err) != API_OK) {
        api_client_free(client);
        return cmd_fail(cmd, "%s", err.msg);
    }
    *out = client;
    return CMD_EXIT_OK;
}

int cmd_revoke(int argc, char **argv)
{
    static const char cmd[] = "revoke";
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        CMD_ADMIN_OPTIONS,
    };
    struct cmd_admin a = {0};
    const char *reason = NULL;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cmd_admin_option(&a, c, optarg)) {
            continue;
        }
        switch (c) {
            case 'r':
                reason = optarg;
                break;
            case 'h':
                fputs(revoke_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }
    if (optind != argc - 1) {
        return cmd_usage_fail(cmd, "expected one SERIAL");
    }
    char serial[API_CLIENT_SERIAL_MAX];
    struct api_error err = {0};
    struct ca_error cerr = {0};
    enum ca_crl_reason code;
    if (api_serial_normalize(argv[optind], serial, &err) != API_OK) {
        return cmd_usage_fail(cmd, "%s", err.msg);
    }
    if (reason != NULL && ca_crl_reason_parse(reason, &code, &cerr) != CA_OK) {
        return cmd_usage_fail(cmd, "unknown --reason '%s'", reason);
    }

    struct api_client *client = NULL;
    int rc = cmd_admin_client(cmd, &a, &client);
    if (rc != CMD_EXIT_OK) {
        return rc;
    }
    struct api_revocation rev;
    char *json = NULL;
    if (api_client_revoke(client, serial, reason, &rev, a.json ? &json : NULL, &err) != API_OK) {
        api_client_free(client);
        return cmd_fail(cmd, "%s", err.msg);
    }
    api_client_free(client);
    if (a.json) {
        printf("%s\n", json);
    } else {
        printf("revoked %s at %s (%s)\n", rev.serial, rev.revoked_at,
               rev.reason[0] != '\0' ? rev.reason : "unspecified");
    }
    free(json);
    return fflush(stdout) == 0 ? CMD_EXIT_OK : cmd_fail(cmd, "cannot write to stdout");
}
