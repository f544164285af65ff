/* cmd.h: the subcommands of the signet binary. Each takes argv starting at the
 * subcommand's name and returns an exit code. */
#ifndef SIGNET_CMD_H
#define SIGNET_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"

#define CMD_EXIT_OK      0
#define CMD_EXIT_FAILURE 1
#define CMD_EXIT_USAGE   2

/* cmd_version prints "signet <version>" and the OpenSSL version. */
int cmd_version(int argc, char **argv);

/* ---- The offline ceremony (cmd/root.c, cmd/intermediate.c, cmd/provisioner.c) ---- */

/* cmd_root runs `signet root <init|sign-intermediate|crl> ...`. */
int cmd_root(int argc, char **argv);

/* cmd_root_crl runs `signet root crl --dir D --out F [--revoke SERIAL]...`,
 * argv starting at "crl": the root's CRL of revoked intermediates. (cmd/rootcrl.c) */
int cmd_root_crl(int argc, char **argv);

/* cmd_intermediate runs `signet intermediate init ...`. */
int cmd_intermediate(int argc, char **argv);

/* cmd_provisioner runs `signet provisioner init ...`. */
int cmd_provisioner(int argc, char **argv);

/* ---- Shared argument helpers (cmd/args.c) ---- */

/* cmd_duration_parse reads a duration "<integer><s|m|h|d>" (e.g. "8760h") into
 * |*out_seconds|: a positive count, at most 100 years. Returns 0, or -1 when
 * |text| is anything else. */
int cmd_duration_parse(const char *text, int64_t *out_seconds);

/* cmd_fail prints "signet <cmd>: <message>" as one line on stderr and returns
 * CMD_EXIT_FAILURE. */
int cmd_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cmd_usage_fail prints "signet <cmd>: <message> (see --help)" as one line on
 * stderr and returns CMD_EXIT_USAGE. */
int cmd_usage_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* struct cmd_sub is one subcommand of a family ("root init"). */
struct cmd_sub {
    const char *name;
    int (*run)(int argc, char **argv);
};

/* cmd_family_dispatch runs the subcommand of |family| named by argv[1], from
 * the |num_subs| entries of |subs|; --help, -h and help print |usage|.
 * Returns the subcommand's exit code, or CMD_EXIT_USAGE when it is missing or
 * unknown. */
int cmd_family_dispatch(const char *family, const char *usage, const struct cmd_sub *subs,
                        size_t num_subs, int argc, char **argv);

/* cmd_key_args_check checks the flags `root init` and `intermediate init`
 * share: --dir and --trust-domain present, the trust domain valid, the key
 * type known (into |*out_type|). On a problem it prints the usage error and
 * returns -1; 0 otherwise. */
int cmd_key_args_check(const char *cmd, const char *dir, const char *td, const char *key_type,
                       enum ca_key_type *out_type);

/* cmd_getopt_fail reports what getopt_long's return |c| ('?' or ':') means for
 * argv[optind - 1] and returns CMD_EXIT_USAGE. Call getopt_long with opterr = 0
 * and an optstring starting with "+:". */
int cmd_getopt_fail(const char *cmd, int c, char **argv);

/* cmd_path_join writes "<dir>/<name>" into |out| (|out_len| bytes); returns 0,
 * or -1 (with a message for |cmd|) when it does not fit. */
int cmd_path_join(const char *cmd, char *out, size_t out_len, const char *dir, const char *name);

/* cmd_paths_absent returns 0 when none of the |num_paths| paths exists (not
 * even as a dangling symlink); otherwise it prints which one exists and returns
 * -1, so that a command refuses before it creates anything. */
int cmd_paths_absent(const char *cmd, const char *const *paths, size_t num_paths);

/* cmd_dir_ensure creates |dir| (and any missing parent, as mkdir -p) with
 * mode 0700 when it does not exist; an existing directory is used as it is.
 * Returns 0, or -1 with a message. */
int cmd_dir_ensure(const char *cmd, const char *dir);

/* cmd_dir_private_check returns 0 when |dir| (followed if a symlink) is a
 * directory owned by the effective user and writable by neither group nor
 * others, as a directory of keys and what is trusted beside them must be
 * (root, intermediate and provisioner init): otherwise it prints why, naming
 * the directory and its owner or mode, and returns -1. A missing |dir| is
 * accepted when |missing_ok| (root init creates it 0700). */
int cmd_dir_private_check(const char *cmd, const char *dir, int missing_ok);

/* ---- Provisioner tokens (cmd/token.c) ---- */

/* cmd_token runs `signet token --key F --provisioner NAME --spiffe-id ID ...`:
 * it prints a one-time ES256 provisioner token on stdout. */
int cmd_token(int argc, char **argv);

/* ---- The server (cmd/serve.c) ---- */

/* cmd_serve runs `signet serve --config F` until SIGTERM or SIGINT, then
 * stops gracefully and returns 0. */
int cmd_serve(int argc, char **argv);

/* ---- The root passphrase (cmd/passphrase.c) ---- */

#define CMD_PASSPHRASE_MAX 1024

/* cmd_passphrase_get obtains the root key's passphrase, never from the command
 * line: from |file| when non-NULL (one line end stripped: "\r\n", "\n" or
 * "\r"; what remains must be a single line without CR, LF or NUL), else from
 * the environment variable SIGNET_ROOT_PASSPHRASE, else by prompting on
 * /dev/tty with echo off (twice when |confirm|, refused if they differ). An
 * empty passphrase is refused. On success |*out| is a buffer the caller
 * releases with cmd_passphrase_free() and |*out_len| its length; on failure a
 * message for |cmd| has been printed and -1 is returned. */
int cmd_passphrase_get(const char *cmd, const char *file, int confirm, char **out, size_t *out_len);

/* cmd_passphrase_free cleanses and frees a buffer from cmd_passphrase_get();
 * NULL is allowed. */
void cmd_passphrase_free(char *passphrase);

/* ---- The sidecar and admin clients (cmd/agent.c, cmd/revoke.c, cmd/certs.c) ---- */

/* cmd_agent runs `signet agent --server URL --ca F --token-file F --out DIR ...`
 * until SIGTERM or SIGINT (exit 0), or once with --once. */
int cmd_agent(int argc, char **argv);

/* cmd_revoke runs `signet revoke SERIAL [--reason R] --server URL --cert F
 * --key F --ca F [--json]`. */
int cmd_revoke(int argc, char **argv);

/* cmd_certs runs `signet certs list ...` and `signet certs show SERIAL ...`. */
int cmd_certs(int argc, char **argv);

/* struct cmd_admin holds the flags that the admin commands share; the
 * strings are borrowed from argv. */
struct cmd_admin {
    const char *server;
    const char *cert;
    const char *key;
    const char *ca;
    int json;
};

/* CMD_ADMIN_OPTIONS ends a getopt_long option array: the entries of struct
 * cmd_admin's flags, --help ('h') and the terminating entry. (clang-format 14
 * would split the last brace of the macro over three lines.) */
/* clang-format off */
#define CMD_ADMIN_OPTIONS                                                                          \
    {"server", required_argument, NULL, 'S'}, {"cert", required_argument, NULL, 'C'},              \
    {"key", required_argument, NULL, 'K'}, {"ca", required_argument, NULL, 'A'},                   \
    {"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
/* clang-format on */

/* cmd_admin_option stores getopt_long's |c| and |arg| in |a| when it is one of
 * CMD_ADMIN_OPTIONS and returns 1; 0 otherwise. (cmd/revoke.c) */
int cmd_admin_option(struct cmd_admin *a, int c, const char *arg);

struct api_client;

/* cmd_admin_client checks |a| (usage errors return CMD_EXIT_USAGE) and makes
 * an mTLS client for it (failures print one line and return
 * CMD_EXIT_FAILURE). On CMD_EXIT_OK the caller frees |*out| with
 * api_client_free(). (cmd/revoke.c) */
int cmd_admin_client(const char *cmd, const struct cmd_admin *a, struct api_client **out);

#endif
