/* intermediate.c: `signet intermediate init`, which makes the online
 * intermediate's key and the CSR that the offline root signs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca.h"
#include "cmd.h"

#define PATH_LEN 4096

static const char intermediate_usage[] =
    "usage: signet intermediate <command> [options]\n"
    "\n"
    "commands:\n"
    "  init   make the intermediate's key and CSR\n"
    "\n"
    "'signet intermediate <command> --help' describes a command.\n";

static const char init_usage[] =
    "usage: signet intermediate init --dir D --trust-domain TD [--key-type TYPE]\n"
    "\n"
    "Makes the online intermediate's key, D/intermediate.key (unencrypted PKCS#8,\n"
    "mode 0600, for 'signet serve' to read), and its certificate request,\n"
    "D/intermediate.csr. D is created (mode 0700) if absent. Existing files are never\n"
    "overwritten. Then sign the CSR on the root's machine:\n"
    "  signet root sign-intermediate --dir ROOTDIR --csr D/intermediate.csr \\\n"
    "      --out D/intermediate.crt [--permit-dns SUFFIX]...\n"
    "\n"
    "  --dir D             directory for intermediate.key and intermediate.csr\n"
    "  --trust-domain TD   SPIFFE trust domain, e.g. example.org (the root's)\n"
    "  --key-type TYPE     ec-p256 (default), ec-p384, ed25519 or rsa-3072\n"
    "  --help              show this help\n";

static int intermediate_init(int argc, char **argv)
{
    static const char cmd[] = "intermediate init";
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"trust-domain", required_argument, NULL, 't'},
        {"key-type", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    const char *td = NULL;
    const char *key_type = "ec-p256";
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
    char csr_path[PATH_LEN];
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (cmd_key_args_check(cmd, dir, td, key_type, &type) != 0) {
        return CMD_EXIT_USAGE;
    }
    if (cmd_path_join(cmd, key_path, sizeof(key_path), dir, "intermediate.key") != 0 ||
        cmd_path_join(cmd, csr_path, sizeof(csr_path), dir, "intermediate.csr") != 0) {
        return CMD_EXIT_FAILURE;
    }
    const char *const outputs[] = {key_path, csr_path};
    if (cmd_paths_absent(cmd, outputs, 2) != 0) {
        return CMD_EXIT_FAILURE;
    }

    int rc = CMD_EXIT_FAILURE;
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    int key_written = 0;
    if (ca_key_generate(type, &key, &err) != CA_OK ||
        ca_intermediate_csr_create(key, td, &csr, &err) != CA_OK) {
        cmd_fail(cmd, "%s", err.msg);
        goto out;
    }
    /* As for the root: whoever may write to the folder may swap what it
     * holds (the CSR the root signs, the public key the server trusts). */
    if (cmd_dir_ensure(cmd, dir) != 0 || cmd_dir_private_check(cmd, dir, 0) != 0) {
        goto out;
    }
    if (ca_key_write(key_path, key, NULL, 0, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", key_path, err.msg);
        goto out;
    }
    key_written = 1;
    if (ca_csr_write(csr_path, csr, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", csr_path, err.msg);
        goto out;
    }
    key_written = 0;
    printf("wrote %s\nwrote %s\n", key_path, csr_path);
    rc = CMD_EXIT_OK;
out:
    if (key_written) {
        unlink(key_path); /* ours, made a moment ago with O_EXCL */
    }
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return rc;
}

int cmd_intermediate(int argc, char **argv)
{
    static const struct cmd_sub subs[] = {{"init", intermediate_init}};

    return cmd_family_dispatch("intermediate", intermediate_usage, subs, 1, argc, argv);
}
