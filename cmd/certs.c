/* certs.c: `signet certs list` and `signet certs show SERIAL`, admin reads of
 * the issuance records over mTLS, printed as a table or as JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cmd.h"

static const char certs_usage[] =
    "usage: signet certs list [--spiffe-id ID] [--status valid|revoked|expired]\n"
    "                         [--renewed-from SERIAL] [--limit N]\n"
    "                         --server URL --cert F --key F --ca F [--json]\n"
    "       signet certs show SERIAL --server URL --cert F --key F --ca F [--json]\n"
    "\n"
    "Lists the certificates the server issued (following its pagination), or shows one.\n"
    "\n"
    "  --spiffe-id ID  only this identity\n"
    "  --status S      only valid, revoked or expired certificates\n"
    "  --renewed-from SERIAL\n"
    "                  only the renewals made with certificate SERIAL (POST /v1/renew)\n"
    "  --limit N       at most N records (default: all)\n"
    "  --server URL    the signet server, https://host:port\n"
    "  --cert F        admin client certificate (PEM, with its chain)\n"
    "  --key F         its private key (PEM PKCS#8, unencrypted)\n"
    "  --ca F          PEM roots the server's certificate must chain to\n"
    "  --json          print JSON (list: an array of records)\n"
    "  --help          show this help\n";

struct printer {
    int json;
    size_t num;
};

static void print_header(void)
{
    printf("%-40s  %-8s  %-20s  %-30s  %s\n", "SERIAL", "STATUS", "NOT AFTER", "REVOKED",
           "SPIFFE ID");
}

static void print_row(const struct api_cert_info *info)
{
    char revoked[80] = "-";

    if (info->revoked_at[0] != '\0') {
        snprintf(revoked, sizeof(revoked), "%s (%s)", info->revoked_at,
                 info->reason[0] != '\0' ? info->reason : "unspecified");
    }
    printf("%-40s  %-8s  %-20s  %-30s  %s\n", info->serial, info->status[0] ? info->status : "-",
           info->not_after[0] ? info->not_after : "-", revoked,
           info->spiffe_id[0] ? info->spiffe_id : "-");
}

static int print_one(const struct api_cert_info *info, const char *json, void *ctx)
{
    struct printer *p = ctx;

    if (p->json) {
        printf("%s%s", p->num == 0 ? "[\n" : ",\n", json);
    } else {
        if (p->num == 0) {
            print_header();
        }
        print_row(info);
    }
    p->num++;
    return 0;
}

static int parse_limit(const char *text, size_t *out)
{
    char *end = NULL;

    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || n > 1000000) {
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

int cmd_certs(int argc, char **argv)
{
    static const char cmd[] = "certs";
    static const struct option opts[] = {
        {"spiffe-id", required_argument, NULL, 'i'},
        {"status", required_argument, NULL, 's'},
        {"renewed-from", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'n'},
        CMD_ADMIN_OPTIONS,
    };
    struct cmd_admin a = {0};
    struct api_certs_query q = {0};
    char renewed_from[API_CLIENT_SERIAL_MAX];
    struct api_error err = {0};
    int c;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(certs_usage, stdout);
        return CMD_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "show") != 0)) {
        return cmd_usage_fail(cmd, "expected 'list' or 'show'");
    }
    int show = strcmp(argv[1], "show") == 0;
    opterr = 0;
    optind = 1;
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cmd_admin_option(&a, c, optarg)) {
            continue;
        }
        switch (c) {
            case 'i':
                q.spiffe_id = optarg;
                break;
            case 's':
                if (strcmp(optarg, "valid") != 0 && strcmp(optarg, "revoked") != 0 &&
                    strcmp(optarg, "expired") != 0) {
                    return cmd_usage_fail(cmd, "--status must be valid, revoked or expired");
                }
                q.status = optarg;
                break;
            case 'r':
                if (api_serial_normalize(optarg, renewed_from, &err) != API_OK) {
                    return cmd_usage_fail(cmd, "--renewed-from: %s", err.msg);
                }
                q.renewed_from = renewed_from;
                break;
            case 'n':
                if (parse_limit(optarg, &q.limit) != 0) {
                    return cmd_usage_fail(cmd, "--limit must be a number from 1 to 1000000");
                }
                break;
            case 'h':
                fputs(certs_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }
    if (show && (optind != argc - 1 || q.spiffe_id != NULL || q.status != NULL ||
                 q.renewed_from != NULL || q.limit != 0)) {
        return cmd_usage_fail(cmd, "certs show takes one SERIAL and no filters");
    }
    if (!show && optind != argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    char serial[API_CLIENT_SERIAL_MAX];
    if (show && api_serial_normalize(argv[optind], serial, &err) != API_OK) {
        return cmd_usage_fail(cmd, "%s", err.msg);
    }

    struct api_client *client = NULL;
    int rc = cmd_admin_client(cmd, &a, &client);
    if (rc != CMD_EXIT_OK) {
        return rc;
    }
    enum api_err arc;
    if (show) {
        struct api_cert_info *info = malloc(sizeof(*info));
        char *json = NULL;
        arc = info == NULL ? api_fail(&err, API_ERR_INTERNAL, "out of memory")
                           : api_client_cert_show(client, serial, info, &json, &err);
        if (arc == API_OK && a.json) {
            printf("%s\n", json);
        } else if (arc == API_OK) {
            print_header();
            print_row(info);
        }
        free(json);
        free(info);
    } else {
        struct printer p = {.json = a.json};
        arc = api_client_certs_list(client, &q, print_one, &p, &err);
        if (arc == API_OK && a.json) {
            printf("%s]\n", p.num == 0 ? "[" : "\n");
        } else if (arc == API_OK && p.num == 0) {
            fprintf(stderr, "no certificates match\n");
        }
    }
    api_client_free(client);
    if (arc != API_OK) {
        fflush(stdout);
        return cmd_fail(cmd, "%s", err.msg);
    }
    return fflush(stdout) == 0 ? CMD_EXIT_OK : cmd_fail(cmd, "cannot write to stdout");
}
