/* provisioner.c: `signet provisioner init`, which makes the EC P-256 key pair
 * a provisioner signs its tokens with (`signet token`); the server is given
 * only the public half. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ca.h"
#include "cmd.h"

#define PATH_LEN     4096
#define MAX_NAME_LEN 64

static const char provisioner_usage[] =
    "usage: signet provisioner <command> [options]\n"
    "\n"
    "commands:\n"
    "  init   make a provisioner's token-signing key pair\n"
    "\n"
    "'signet provisioner <command> --help' describes a command.\n";

static const char init_usage[] =
    "usage: signet provisioner init --dir D --name NAME\n"
    "\n"
    "Makes a provisioner's EC P-256 key pair: D/NAME.key (PKCS#8, mode 0600), which\n"
    "'signet token' signs with, and D/NAME.pub (SubjectPublicKeyInfo PEM), which the\n"
    "server's auth.provisioners[].public_key names. D is created (mode 0700) if\n"
    "absent. Existing files are never overwritten.\n"
    "\n"
    "  --dir D       directory for NAME.key and NAME.pub\n"
    "  --name NAME   the provisioner's name: 1..64 of [A-Za-z0-9._-]\n"
    "  --help        show this help\n";

static int name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > MAX_NAME_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int provisioner_init(int argc, char **argv)
{
    static const char cmd[] = "provisioner init";
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    const char *name = NULL;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                dir = optarg;
                break;
            case 'n':
                name = optarg;
                break;
            case 'h':
                fputs(init_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }

    struct ca_error err = {0};
    char key_path[PATH_LEN];
    char pub_path[PATH_LEN];
    char file[MAX_NAME_LEN + 8];
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (dir == NULL || name == NULL || dir[0] == '\0') {
        return cmd_usage_fail(cmd, "--dir and --name are required");
    }
    if (!name_valid(name)) {
        return cmd_usage_fail(cmd, "--name must be 1..%d of [A-Za-z0-9._-]", MAX_NAME_LEN);
    }
    snprintf(file, sizeof(file), "%s.key", name); /* fits: name is at most 64 bytes */
    if (cmd_path_join(cmd, key_path, sizeof(key_path), dir, file) != 0) {
        return CMD_EXIT_FAILURE;
    }
    snprintf(file, sizeof(file), "%s.pub", name);
    if (cmd_path_join(cmd, pub_path, sizeof(pub_path), dir, file) != 0) {
        return CMD_EXIT_FAILURE;
    }
    const char *const outputs[] = {key_path, pub_path};
    if (cmd_paths_absent(cmd, outputs, 2) != 0) {
        return CMD_EXIT_FAILURE;
    }

    int rc = CMD_EXIT_FAILURE;
    EVP_PKEY *key = NULL;
    int key_written = 0;
    if (ca_key_generate(CA_KEY_EC_P256, &key, &err) != CA_OK) {
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
    if (ca_pubkey_write(pub_path, key, &err) != CA_OK) {
        cmd_fail(cmd, "cannot write %s: %s", pub_path, err.msg);
        goto out;
    }
    key_written = 0;
    printf("wrote %s\nwrote %s\n", key_path, pub_path);
    rc = CMD_EXIT_OK;
out:
    if (key_written) {
        unlink(key_path); /* ours, made a moment ago with O_EXCL */
    }
    EVP_PKEY_free(key);
    return rc;
}

int cmd_provisioner(int argc, char **argv)
{
    static const struct cmd_sub subs[] = {{"init", provisioner_init}};

    return cmd_family_dispatch("provisioner", provisioner_usage, subs, 1, argc, argv);
}
