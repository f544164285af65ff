/* args.c: helpers shared by the subcommands: durations, one-line errors,
 * getopt diagnostics, output paths that must not exist yet, directories. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

#define MAX_DURATION_S (100LL * 366 * 86400)

int cmd_duration_parse(const char *text, int64_t *out_seconds)
{
    static const struct {
        char unit;
        long long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char *end = NULL;

    /* Digits only: strtoll alone would also take blanks, signs and "0x". */
    if (text == NULL || text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || end == text || n <= 0 || end[0] == '\0' || end[1] != '\0') {
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (end[0] != units[i].unit) {
            continue;
        }
        if (n > MAX_DURATION_S / units[i].seconds) {
            return -1;
        }
        *out_seconds = (int64_t)(n * units[i].seconds);
        return 0;
    }
    return -1;
}

static void vreport(const char *cmd, const char *suffix, const char *fmt, va_list ap)
{
    char msg[512];

    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0) {
        msg[0] = '\0';
    }
    fprintf(stderr, "signet %s: %s%s\n", cmd, msg, suffix);
}

int cmd_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(cmd, "", fmt, ap);
    va_end(ap);
    return CMD_EXIT_FAILURE;
}

int cmd_usage_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(cmd, " (see --help)", fmt, ap);
    va_end(ap);
    return CMD_EXIT_USAGE;
}

int cmd_getopt_fail(const char *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";

    if (c == ':') {
        return cmd_usage_fail(cmd, "option '%s' needs a value", arg);
    }
    return cmd_usage_fail(cmd, "unknown option '%s'", arg);
}

int cmd_path_join(const char *cmd, char *out, size_t out_len, const char *dir, const char *name)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= out_len) {
        cmd_fail(cmd, "path '%s/%s' is too long", dir, name);
        return -1;
    }
    return 0;
}

int cmd_paths_absent(const char *cmd, const char *const *paths, size_t num_paths)
{
    struct stat st;

    for (size_t i = 0; i < num_paths; i++) {
        if (lstat(paths[i], &st) == 0) {
            cmd_fail(cmd, "%s already exists; refusing to overwrite it", paths[i]);
            return -1;
        }
        if (errno != ENOENT) {
            cmd_fail(cmd, "cannot check %s: %s", paths[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

int cmd_dir_ensure(const char *cmd, const char *dir)
{
    char path[4096];
    struct stat st;
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        cmd_fail(cmd, "directory name '%s' is empty or too long", dir);
        return -1;
    }
    memcpy(path, dir, len + 1);
    /* Like mkdir -p, each missing level is made 0700: the ceremony's keys
     * live below it. */
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            cmd_fail(cmd, "cannot create directory %s: %s", path, strerror(errno));
            return -1;
        }
        path[i] = saved;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cmd_fail(cmd, "%s exists and is not a directory", dir);
        return -1;
    }
    return 0;
}

int cmd_dir_private_check(const char *cmd, const char *dir, int missing_ok)
{
    struct stat st;

    /* stat, not lstat: what matters is the directory the files are in, also
     * behind a symlink (a root kept on removable media, say). */
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT && missing_ok) {
            return 0;
        }
        cmd_fail(cmd, "cannot use --dir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        cmd_fail(cmd, "--dir %s is not a directory", dir);
        return -1;
    }
    /* Whoever may write to the directory may rename, replace or remove the
     * files in it under their holder: put a root.crt of their own beside the
     * root key, swap the CSR the root is about to sign, or the provisioner's
     * public key the server will trust. */
    if (st.st_uid != geteuid()) {
        cmd_fail(cmd,
                 "--dir %s is owned by uid %u, not by you (uid %u): refusing a directory "
                 "another user controls",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        cmd_fail(cmd, "--dir %s has mode %04o: group or others may write to it (chmod go-w %s)",
                 dir, (unsigned)(st.st_mode & 07777), dir);
        return -1;
    }
    return 0;
}

int cmd_key_args_check(const char *cmd, const char *dir, const char *td, const char *key_type,
                       enum ca_key_type *out_type)
{
    struct ca_error err = {0};

    if (dir == NULL || td == NULL || dir[0] == '\0') {
        cmd_usage_fail(cmd, "--dir and --trust-domain are required");
        return -1;
    }
    if (ca_trust_domain_check(td, strlen(td), &err) != CA_OK) {
        cmd_usage_fail(cmd, "--trust-domain: %s", err.msg);
        return -1;
    }
    if (ca_key_type_parse(key_type, out_type, &err) != CA_OK) {
        cmd_usage_fail(cmd, "--key-type: %s", err.msg);
        return -1;
    }
    return 0;
}

int cmd_family_dispatch(const char *family, const char *usage, const struct cmd_sub *subs,
                        size_t num_subs, int argc, char **argv)
{
    if (argc < 2) {
        return cmd_usage_fail(family, "missing command");
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return CMD_EXIT_OK;
    }
    for (size_t i = 0; i < num_subs; i++) {
        if (strcmp(argv[1], subs[i].name) == 0) {
            return subs[i].run(argc - 1, argv + 1);
        }
    }
    return cmd_usage_fail(family, "unknown command '%s'", argv[1]);
}
