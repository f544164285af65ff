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
    "usage: signet revoke SERIAL [--reason R] [--with-renewals]\n"
    "                     --server URL --cert F --key F --ca F [--json]\n"
    "\n"
    "Revokes the certificate with serial SERIAL (hex; colons and either case accepted).\n"
    "Revoking twice returns the first revocation. The CRL and OCSP answers reflect it\n"
    "within a second.\n"
    "\n"
    "  --with-renewals  then revoke, with the same reason, every valid certificate\n"
    "                 renewed from it over mTLS, and their renewals in turn\n"
    "                 (GET /v1/certs?renewed_from=): what a holder of a stolen key\n"
    "                 may have renewed before the revocation\n"
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

/* MAX_LINEAGE bounds the certificates --with-renewals visits: a renewal
 * every minute for a week is about 10,000. */
#define MAX_LINEAGE 100000

/* struct lineage is the breadth-first walk of --with-renewals: serials
 * visited, in order, and how far the walk has got. */
struct lineage {
    char (*serials)[API_CLIENT_SERIAL_MAX];
    unsigned char *valid; /* 1 where the record was valid when listed */
    size_t num;
    size_t cap;
    int full;
};

static int lineage_add(const struct api_cert_info *info, const char *json, void *ctx)
{
    struct lineage *l = ctx;

    (void)json;
    if (l->num == MAX_LINEAGE) {
        l->full = 1;
        return 1;
    }
    if (l->num == l->cap) {
        size_t cap = l->cap == 0 ? 64 : l->cap * 2;
        cap = cap < MAX_LINEAGE ? cap : MAX_LINEAGE;
        void *s = realloc(l->serials, cap * sizeof(*l->serials));
        if (s != NULL) {
            l->serials = s;
        }
        unsigned char *v = s != NULL ? realloc(l->valid, cap) : NULL;
        if (v == NULL) {
            l->full = 1;
            return 1;
        }
        l->valid = v;
        l->cap = cap;
    }
    snprintf(l->serials[l->num], sizeof(l->serials[0]), "%s", info->serial);
    l->valid[l->num] = strcmp(info->status, "valid") == 0;
    l->num++;
    return 0;
}

static void print_revocation(const struct api_revocation *rev, const char *json, int as_json,
                             size_t num)
{
    if (as_json) {
        printf("%s%s", num == 0 ? "" : ",\n", json);
    } else {
        printf("revoked %s at %s (%s)\n", rev->serial, rev->revoked_at,
               rev->reason[0] != '\0' ? rev->reason : "unspecified");
    }
}

/* revoke_renewals revokes, breadth first, every valid certificate renewed
 * from |root| (already revoked) and from those renewals in turn. Each
 * certificate is revoked before its own renewals are listed: the server
 * refuses a renewal with a revoked certificate from the moment the
 * revocation answers, so none can slip in after the listing. */
static int revoke_renewals(struct api_client *client, const char *root, const char *reason,
                           int as_json, struct api_error *err)
{
    struct lineage l = {0};
    struct api_revocation rev;
    int rc = -1;
    size_t printed = 1; /* the root's answer */

    struct api_cert_info info = {0};
    snprintf(info.serial, sizeof(info.serial), "%s", root);
    if (lineage_add(&info, NULL, &l) != 0) {
        api_fail(err, API_ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t next = 0; next < l.num; next++) {
        if (next > 0 && l.valid[next]) {
            char *json = NULL;
            if (api_client_revoke(client, l.serials[next], reason, &rev, as_json ? &json : NULL,
                                  err) != API_OK) {
                goto out;
            }
            print_revocation(&rev, json, as_json, printed++);
            free(json);
        }
        char parent[API_CLIENT_SERIAL_MAX]; /* l.serials moves as the listing adds to it */
        memcpy(parent, l.serials[next], sizeof(parent));
        struct api_certs_query q = {.renewed_from = parent};
        if (api_client_certs_list(client, &q, lineage_add, &l, err) != API_OK) {
            goto out;
        }
        if (l.full) {
            api_fail(err, API_ERR_INTERNAL, "more than %d renewals, or out of memory; stopped",
                     MAX_LINEAGE);
            goto out;
        }
    }
    rc = 0;
out:
    free(l.serials);
    free(l.valid);
    return rc;
}

int cmd_revoke(int argc, char **argv)
{
    static const char cmd[] = "revoke";
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"with-renewals", no_argument, NULL, 'w'},
        CMD_ADMIN_OPTIONS,
    };
    struct cmd_admin a = {0};
    const char *reason = NULL;
    int renewals = 0;
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
            case 'w':
                renewals = 1;
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
    /* With --with-renewals, --json prints an array of the server's answers. */
    if (a.json && renewals) {
        printf("[\n");
    }
    print_revocation(&rev, json, a.json, 0);
    free(json);
    /* The renewals get the reason given, else the one the root has. */
    const char *walk_reason = reason != NULL ? reason : rev.reason[0] != '\0' ? rev.reason : NULL;
    int walked = renewals ? revoke_renewals(client, rev.serial, walk_reason, a.json, &err) : 0;
    api_client_free(client);
    if (a.json) {
        printf(renewals ? "\n]\n" : "\n");
    }
    if (walked != 0) {
        fflush(stdout);
        return cmd_fail(cmd, "%s", err.msg);
    }
    return fflush(stdout) == 0 ? CMD_EXIT_OK : cmd_fail(cmd, "cannot write to stdout");
}
