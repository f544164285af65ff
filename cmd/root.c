/* root.c: `signet root init` and `signet root sign-intermediate`, the offline
 * root's side of the ceremony. Other `root` subcommands join the table below. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca.h"
#include "cmd.h"

#define DEFAULT_ROOT_TTL_S         (87600LL * 3600)
#define DEFAULT_INTERMEDIATE_TTL_S (8760LL * 3600)
#define MAX_PERMIT_DNS             64
#define PATH_LEN                   4096

static const char root_usage[] =
    "usage: signet root <command> [options]\n"
    "\n"
    "The offline root of the PKI. Run these on the machine that holds root.key.\n"
    "\n"
    "commands:\n"
    "  init               make the root key and self-signed certificate\n"
    "  sign-intermediate  sign the intermediate's CSR\n"
    "  crl                sign the root's CRL of revoked intermediates\n"
    "\n"
    "'signet root <command> --help' describes a command.\n";

static const char init_usage[] =
    "usage: signet root init --dir D --trust-domain TD [--key-type TYPE] [--ttl 87600h]\n"
    "                        [--passphrase-file F]\n"
    "\n"
    "Makes the root key and its self-signed certificate: D/root.key (encrypted PKCS#8,\n"
    "mode 0600) and D/root.crt. D is created (mode 0700) if absent; an existing D must\n"
    "be yours and writable by neither group nor others. Existing files are never\n"
    "overwritten.\n"
    "\n"
    "  --dir D               directory for root.key and root.crt\n"
    "  --trust-domain TD     SPIFFE trust domain, e.g. example.org ([a-z0-9.-_], recorded\n"
    "                        in the root as the URI SAN spiffe://TD)\n"
    "  --key-type TYPE       ec-p256 (default), ec-p384, ed25519 or rsa-3072\n"
    "  --ttl DURATION        validity, an integer with s, m, h or d (default 87600h)\n"
    "  --passphrase-file F   read the key's passphrase from F: one line, whose line\n"
    "                        end (\\n, \\r\\n or \\r) is ignored\n"
    "  --help                show this help\n"
    "\n"
    "Without --passphrase-file the passphrase comes from SIGNET_ROOT_PASSPHRASE, else\n"
    "it is asked twice on the terminal. It is never taken from the command line, and\n"
    "an empty one is refused.\n";

static const char sign_usage[] =
    "usage: signet root sign-intermediate --dir D --csr F --out F [--ttl 8760h]\n"
    "                                     [--permit-dns SUFFIX]... [--passphrase-file F]\n"
    "\n"
    "Signs the intermediate's CSR (from 'signet intermediate init') with the root in\n"
    "D (root.crt, root.key) and writes the intermediate certificate to --out. Only\n"
    "the CSR's public key is used: its subject and extensions are ignored. The\n"
    "trust domain is the root's (its URI SAN spiffe://TD).\n"
    "\n"
    "  --dir D               directory holding root.crt and root.key (yours, and\n"
    "                        writable by neither group nor others)\n"
    "  --csr F               the intermediate's CSR (PEM)\n"
    "  --out F               where to write the intermediate certificate (must not exist)\n"
    "  --ttl DURATION        validity (default 8760h), never past the root's\n"
    "  --permit-dns SUFFIX   a DNS suffix the intermediate may certify (repeatable)\n"
    "  --passphrase-file F   read root.key's passphrase from F (else\n"
    "                        SIGNET_ROOT_PASSPHRASE, else the terminal)\n"
    "  --help                show this help\n"
    "\n"
    "Name constraints: the intermediate carries critical nameConstraints permitting\n"
    "the URI host TD, so it cannot certify SPIFFE IDs of another trust domain, plus\n"
    "each --permit-dns SUFFIX (SUFFIX and any name below it). RFC 5280 constrains\n"
    "only the name types listed: with one or more --permit-dns, verifiers reject any\n"
    "DNS name outside them, so list every DNS suffix that workloads and the server's\n"
    "own TLS certificate (config tls.dns_names, e.g. localhost) will carry. With no\n"
    "--permit-dns, DNS names are not constrained by the certificate (only by the\n"
    "server's policy). IP addresses are never constrained.\n";

static int print_cert_summary(const char *path, X509 *cert)
{
    BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (out == NULL) {
        return -1;
    }
    BIO_printf(out, "wrote %s\n  subject: ", path);
    X509_NAME_print_ex(out, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE);
    BIO_printf(out, "\n  not after: ");
    ASN1_TIME_print(out, X509_get0_notAfter(cert));
    BIO_printf(out, "\n  SHA-256 fingerprint: ");
    if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
        for (unsigned int i = 0; i < md_len; i++) {
            BIO_printf(out, "%02X%s", md[i], i + 1 < md_len ? ":" : "");
        }
    }
    BIO_printf(out, "\n");
    BIO_free(out);
    return 0;
}

static int root_init(int argc, char **argv)
{
    static const char cmd[] = "root init";
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"trust-domain", required_argument, NULL, 't'},
        {"key-type", required_argument, NULL, 'k'},
        {"ttl", required_argument, NULL, 'T'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    const char *td = NULL;
    const char *key_type = "ec-p256";
    const char *ttl_text = NULL;
    const char *pass_file = NULL;
    int64_t ttl_s = DEFAULT_ROOT_TTL_S;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                dir = optarg;
                break;
            case 't':
                td = optarg;
                break;
            case 'k':
                key_type = optarg;
                break;
            case 'T':
                ttl_text = optarg;
                break;
            case 'p':
                pass_file = optarg;
                break;
            case 'h':
                fputs(init_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }

    struct ca_error err = {0};
    enum ca_key_type type;
    char key_path[PATH_LEN];
    char crt_path[PATH_LEN];
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (cmd_key_args_check(cmd, dir, td, key_type, &type) != 0) {
        return CMD_EXIT_USAGE;
    }
    if (ttl_text != NULL && cmd_duration_parse(ttl_text, &ttl_s) != 0) {
        return cmd_usage_fail(cmd, "--ttl: '%s' is not a duration like 87600h", ttl_text);
    }
    if (cmd_path_join(cmd, key_path, sizeof(key_path), dir, "root.key") != 0 ||
        cmd_path_join(cmd, crt_path, sizeof(crt_path), dir, "root.crt") != 0) {
        return CMD_EXIT_FAILURE;
    }
    const char *const outputs[] = {key_path, crt_path};
    if (cmd_dir_private_check(cmd, dir, 1) != 0 || cmd_paths_absent(cmd, outputs, 2) != 0) {
        return CMD_EXIT_FAILURE;
    }

    int rc = CMD_EXIT_FAILURE;
    char *pass = NULL;
    size_t pass_len = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int key_written = 0;
    /* Everything that can fail on the input comes before the prompt. */
    if (ca_key_generate(type, &key, &err) != CA_OK ||
        ca_root_create(key, td, (int64_t)time(NULL), ttl_s, &cert, &err) != CA_OK) {
        cmd_fail(cmd, "%s", err.msg);
        goto out;
    }
    /* Checked again once made: a new D is 0700, but another user may have
     * created it meanwhile. */
    if (cmd_passphrase_get(cmd, pass_file, 1, &pass, &pass_len) != 0 ||
        cmd_dir_ensure(cmd, dir) != 0 || cmd_dir_private_check(cmd, dir, 0) != 0) {
        goto out;
    }
    if (ca_key_write(key_path, key, pass, pass_len, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", key_path, err.msg);
        goto out;
    }
    key_written = 1;
    if (ca_cert_write(crt_path, cert, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", crt_path, err.msg);
        goto out;
    }
    key_written = 0;
    printf("wrote %s (encrypted)\n", key_path);
    print_cert_summary(crt_path, cert);
    rc = CMD_EXIT_OK;
out:
    if (key_written) {
        unlink(key_path); /* ours, made a moment ago with O_EXCL: leave no half a root */
    }
    cmd_passphrase_free(pass);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* read_root reads D/root.crt (exactly one certificate) and its trust domain. */
static int read_root(const char *cmd, const char *path, X509 **out_root, char *td, size_t td_len)
{
    struct ca_error err = {0};
    STACK_OF(X509) *certs = NULL;

    if (ca_certs_read(path, &certs, &err) != CA_OK) {
        return cmd_fail(cmd, "cannot read %s: %s", path, err.msg), -1;
    }
    if (sk_X509_num(certs) != 1) {
        sk_X509_pop_free(certs, X509_free);
        return cmd_fail(cmd, "%s must hold exactly one certificate", path), -1;
    }
    X509 *root = sk_X509_shift(certs);
    sk_X509_free(certs);
    if (ca_cert_trust_domain(root, td, td_len, &err) != CA_OK) {
        X509_free(root);
        return cmd_fail(cmd, "%s: %s", path, err.msg), -1;
    }
    *out_root = root;
    return 0;
}

/* warn_csr_domain warns when the CSR was made for another trust domain (its
 * CN is not "<td> intermediate"): the subject is never copied, so signing goes
 * on, but the operator has probably mixed up two directories. */
static void warn_csr_domain(const char *cmd, X509_REQ *csr, const char *td)
{
    char cn[128];
    char want[300];

    if (X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(csr), NID_commonName, cn, sizeof(cn)) <=
        0) {
        return;
    }
    snprintf(want, sizeof(want), "%s intermediate", td);
    if (strcmp(cn, want) != 0 && strcmp(cn, "signet intermediate") != 0) {
        fprintf(stderr,
                "signet %s: warning: the CSR names \"%s\"; the certificate is for trust "
                "domain %s\n",
                cmd, cn, td);
    }
}

static int root_sign_intermediate(int argc, char **argv)
{
    static const char cmd[] = "root sign-intermediate";
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"csr", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"ttl", required_argument, NULL, 'T'},
        {"permit-dns", required_argument, NULL, 'D'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    const char *csr_path = NULL;
    const char *out_path = NULL;
    const char *ttl_text = NULL;
    const char *pass_file = NULL;
    const char *permit_dns[MAX_PERMIT_DNS];
    size_t num_permit_dns = 0;
    int64_t ttl_s = DEFAULT_INTERMEDIATE_TTL_S;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                dir = optarg;
                break;
            case 'c':
                csr_path = optarg;
                break;
            case 'o':
                out_path = optarg;
                break;
            case 'T':
                ttl_text = optarg;
                break;
            case 'D':
                if (num_permit_dns == MAX_PERMIT_DNS) {
                    return cmd_usage_fail(cmd, "at most %d --permit-dns", MAX_PERMIT_DNS);
                }
                permit_dns[num_permit_dns++] = optarg;
                break;
            case 'p':
                pass_file = optarg;
                break;
            case 'h':
                fputs(sign_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (dir == NULL || csr_path == NULL || out_path == NULL || dir[0] == '\0') {
        return cmd_usage_fail(cmd, "--dir, --csr and --out are required");
    }
    if (ttl_text != NULL && cmd_duration_parse(ttl_text, &ttl_s) != 0) {
        return cmd_usage_fail(cmd, "--ttl: '%s' is not a duration like 8760h", ttl_text);
    }

    struct ca_error err = {0};
    char key_path[PATH_LEN];
    char crt_path[PATH_LEN];
    char td[256];
    int rc = CMD_EXIT_FAILURE;
    char *pass = NULL;
    size_t pass_len = 0;
    X509 *root = NULL;
    EVP_PKEY *root_key = NULL;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    const char *const outputs[] = {out_path};
    if (cmd_dir_private_check(cmd, dir, 0) != 0 ||
        cmd_path_join(cmd, key_path, sizeof(key_path), dir, "root.key") != 0 ||
        cmd_path_join(cmd, crt_path, sizeof(crt_path), dir, "root.crt") != 0 ||
        cmd_paths_absent(cmd, outputs, 1) != 0 ||
        read_root(cmd, crt_path, &root, td, sizeof(td)) != 0) {
        goto out;
    }
    if (ca_csr_read(csr_path, &csr, &err) != CA_OK) {
        cmd_fail(cmd, "cannot use %s: %s", csr_path, err.msg);
        goto out;
    }
    warn_csr_domain(cmd, csr, td);
    if (cmd_passphrase_get(cmd, pass_file, 0, &pass, &pass_len) != 0) {
        goto out;
    }
    if (ca_key_read(key_path, pass, pass_len, &root_key, &err) != CA_OK) {
        cmd_fail(cmd, "cannot read %s: %s", key_path, err.msg);
        goto out;
    }
    cmd_passphrase_free(pass);
    pass = NULL;
    struct ca_intermediate_params params = {
        .trust_domain = td,
        .permit_dns = permit_dns,
        .num_permit_dns = num_permit_dns,
        .now = (int64_t)time(NULL),
        .ttl_s = ttl_s,
    };
    if (ca_intermediate_sign(root, root_key, csr, &params, &cert, &err) != CA_OK) {
        cmd_fail(cmd, "%s", err.msg);
        goto out;
    }
    if (ca_cert_write(out_path, cert, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", out_path, err.msg);
        goto out;
    }
    print_cert_summary(out_path, cert);
    rc = CMD_EXIT_OK;
out:
    cmd_passphrase_free(pass);
    X509_free(cert);
    X509_REQ_free(csr);
    EVP_PKEY_free(root_key);
    X509_free(root);
    return rc;
}

static const struct cmd_sub root_commands[] = {
    {"init", root_init},
    {"sign-intermediate", root_sign_intermediate},
    {"crl", cmd_root_crl},
};

int cmd_root(int argc, char **argv)
{
    return cmd_family_dispatch("root", root_usage, root_commands,
                               sizeof(root_commands) / sizeof(root_commands[0]), argc, argv);
}
