/* rootcrl.c: `signet root crl`, the offline root's CRL of revoked
 * intermediates. Relying parties that check every CA in the chain (nginx
 * ssl_crl, `openssl verify -crl_check_all`) need it next to the
 * intermediate's own CRL; the server publishes it from pki.root_crl. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca.h"
#include "cmd.h"

#define DEFAULT_CRL_TTL_S   (720LL * 3600) /* CONTRACT section 4: 30 days */
#define MAX_REVOKED         256
#define ROOT_CRL_BACKDATE_S 60 /* as leaves and intermediates are backdated */
#define PATH_LEN            4096

static const char crl_usage[] =
    "usage: signet root crl --dir D --out F [--revoke SERIAL[:REASON]]... [--ttl 720h]\n"
    "                       [--passphrase-file F]\n"
    "\n"
    "Signs the root's CRL with the root in D (root.crt, root.key) and writes it, PEM,\n"
    "to --out (which must not exist). It lists every intermediate revoked so far:\n"
    "give all of them on each run, as the new CRL replaces the old one.\n"
    "\n"
    "  --dir D               directory holding root.crt and root.key (yours, and\n"
    "                        writable by neither group nor others)\n"
    "  --out F               where to write the CRL (must not exist)\n"
    "  --revoke SERIAL       serial of an intermediate to list, in hex as\n"
    "                        'openssl x509 -noout -serial' prints it (repeatable);\n"
    "                        ':REASON' adds an RFC 5280 reason such as cACompromise,\n"
    "                        keyCompromise, superseded or cessationOfOperation\n"
    "  --ttl DURATION        time until nextUpdate (default 720h): sign and publish a\n"
    "                        new CRL before then, or relying parties will refuse the\n"
    "                        chain\n"
    "  --passphrase-file F   read root.key's passphrase from F (else\n"
    "                        SIGNET_ROOT_PASSPHRASE, else the terminal)\n"
    "  --help                show this help\n"
    "\n"
    "The CRL number is the signing time in Unix milliseconds, so each new CRL\n"
    "has a larger one without any state kept in D (keep the machine's clock\n"
    "right). thisUpdate and each entry's revocation date are the signing time\n"
    "less 60 s, for relying parties whose clocks run behind. Publish the file\n"
    "as the server's pki.root_crl.\n";

/* parse_revoke reads "SERIAL" or "SERIAL:REASON" into |out|; returns 0 or -1. */
static int parse_revoke(const char *cmd, const char *arg, struct ca_crl_entry *out)
{
    struct ca_error err = {0};
    const char *colon = strchr(arg, ':');
    size_t hex_len = colon != NULL ? (size_t)(colon - arg) : strlen(arg);

    memset(out, 0, sizeof(*out));
    if (ca_serial_from_hex(arg, hex_len, out->serial, &out->serial_len, &err) != CA_OK) {
        cmd_usage_fail(cmd, "--revoke '%s': %s", arg, err.msg);
        return -1;
    }
    out->reason = CA_REASON_UNSPECIFIED;
    if (colon != NULL && ca_crl_reason_parse(colon + 1, &out->reason, &err) != CA_OK) {
        cmd_usage_fail(cmd, "--revoke '%s': %s", arg, err.msg);
        return -1;
    }
    return 0;
}

static int check_no_duplicates(const char *cmd, const struct ca_crl_entry *entries, size_t num,
                               char **args)
{
    for (size_t i = 0; i < num; i++) {
        for (size_t j = 0; j < i; j++) {
            if (entries[i].serial_len == entries[j].serial_len &&
                memcmp(entries[i].serial, entries[j].serial, entries[i].serial_len) == 0) {
                cmd_usage_fail(cmd, "--revoke '%s' repeats '%s'", args[i], args[j]);
                return -1;
            }
        }
    }
    return 0;
}

/* read_root_cert reads D/root.crt, which holds exactly one certificate. */
static int read_root_cert(const char *cmd, const char *path, X509 **out_root)
{
    struct ca_error err = {0};
    STACK_OF(X509) *certs = NULL;

    if (ca_certs_read(path, &certs, &err) != CA_OK) {
        cmd_fail(cmd, "cannot read %s: %s", path, err.msg);
        return -1;
    }
    if (sk_X509_num(certs) != 1) {
        sk_X509_pop_free(certs, X509_free);
        cmd_fail(cmd, "%s must hold exactly one certificate", path);
        return -1;
    }
    *out_root = sk_X509_shift(certs);
    sk_X509_free(certs);
    return 0;
}

static void print_summary(const char *path, size_t num, uint64_t number, int64_t next_update)
{
    char when[32];
    time_t t = (time_t)next_update;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        when[0] = '\0';
    }
    printf("wrote %s\n  revoked intermediates: %zu\n  CRL number: %llu\n  next update: %s\n", path,
           num, (unsigned long long)number, when);
}

/* sign_and_write reads the root key, signs the CRL and writes it. */
static int sign_and_write(const char *cmd, const char *dir, const char *out_path,
                          const char *pass_file, const struct ca_crl_entry *entries, size_t num,
                          uint64_t number, int64_t this_update, int64_t ttl_s)
{
    struct ca_error err = {0};
    char key_path[PATH_LEN];
    char crt_path[PATH_LEN];
    int rc = CMD_EXIT_FAILURE;
    char *pass = NULL;
    size_t pass_len = 0;
    X509 *root = NULL;
    EVP_PKEY *root_key = NULL;
    unsigned char *der = NULL;
    size_t der_len = 0;
    const char *const outputs[] = {out_path};

    if (cmd_dir_private_check(cmd, dir, 0) != 0 ||
        cmd_path_join(cmd, key_path, sizeof(key_path), dir, "root.key") != 0 ||
        cmd_path_join(cmd, crt_path, sizeof(crt_path), dir, "root.crt") != 0 ||
        cmd_paths_absent(cmd, outputs, 1) != 0 || read_root_cert(cmd, crt_path, &root) != 0) {
        goto out;
    }
    if (cmd_passphrase_get(cmd, pass_file, 0, &pass, &pass_len) != 0) {
        goto out;
    }
    if (ca_key_read(key_path, pass, pass_len, &root_key, &err) != CA_OK) {
        cmd_fail(cmd, "cannot read %s: %s", key_path, err.msg);
        goto out;
    }
    if (ca_crl_build(root, root_key, entries, num, number, this_update, this_update + ttl_s, &der,
                     &der_len, &err) != CA_OK) {
        cmd_fail(cmd, "%s", err.msg);
        goto out;
    }
    if (ca_crl_write(out_path, der, der_len, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", out_path, err.msg);
        goto out;
    }
    print_summary(out_path, num, number, this_update + ttl_s);
    rc = CMD_EXIT_OK;
out:
    OPENSSL_free(der);
    EVP_PKEY_free(root_key);
    X509_free(root);
    cmd_passphrase_free(pass);
    return rc;
}

int cmd_root_crl(int argc, char **argv)
{
    static const char cmd[] = "root crl";
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"revoke", required_argument, NULL, 'r'},
        {"ttl", required_argument, NULL, 'T'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    const char *out_path = NULL;
    const char *ttl_text = NULL;
    const char *pass_file = NULL;
    struct ca_crl_entry entries[MAX_REVOKED];
    char *revoke_args[MAX_REVOKED];
    size_t num = 0;
    int64_t ttl_s = DEFAULT_CRL_TTL_S;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                dir = optarg;
                break;
            case 'o':
                out_path = optarg;
                break;
            case 'r':
                if (num == MAX_REVOKED) {
                    return cmd_usage_fail(cmd, "at most %d --revoke", MAX_REVOKED);
                }
                if (parse_revoke(cmd, optarg, &entries[num]) != 0) {
                    return CMD_EXIT_USAGE;
                }
                revoke_args[num++] = optarg;
                break;
            case 'T':
                ttl_text = optarg;
                break;
            case 'p':
                pass_file = optarg;
                break;
            case 'h':
                fputs(crl_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (dir == NULL || out_path == NULL) {
        return cmd_usage_fail(cmd, "--dir and --out are required");
    }
    if (ttl_text != NULL && cmd_duration_parse(ttl_text, &ttl_s) != 0) {
        return cmd_usage_fail(cmd, "--ttl: '%s' is not a duration like 720h", ttl_text);
    }
    if (check_no_duplicates(cmd, entries, num, revoke_args) != 0) {
        return CMD_EXIT_USAGE;
    }
    /* The root keeps no state between runs: the number is the time in
     * milliseconds (two CRLs signed within a second still differ, and it
     * stays above the seconds earlier versions used), and every entry is
     * revoked as of thisUpdate. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t number = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    int64_t this_update = (int64_t)ts.tv_sec - ROOT_CRL_BACKDATE_S;
    for (size_t i = 0; i < num; i++) {
        entries[i].revoked_at = this_update;
    }
    return sign_and_write(cmd, dir, out_path, pass_file, entries, num, number, this_update, ttl_s);
}
