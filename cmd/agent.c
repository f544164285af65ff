/* agent.c: `signet agent`, the sidecar that keeps an SVID, its key, the trust
 * bundle and the CRLs in a folder for a proxy (api/agent.c does the work). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <sys/prctl.h>

#include "api.h"
#include "ca.h"
#include "cmd.h"

static const char agent_usage[] =
    "usage: signet agent --server URL --ca F --token-file F --out DIR [--key-type T] [--once]\n"
    "                    [--crl-refresh 5m] [--ttl D]\n"
    "\n"
    "Keeps an X.509-SVID in DIR for a proxy to read: svid.pem (certificate and chain),\n"
    "svid.key (0600), bundle.pem (trust bundle) and crl.pem (the server's CRLs). It makes\n"
    "a fresh key in memory for every certificate, gets the first with the bearer token and\n"
    "renews over mTLS, at the server's renew_after. svid.pem, svid.key and bundle.pem are\n"
    "symlinks through DIR/current, which is swapped atomically, so that the key and the\n"
    "certificate always change together. Logs are JSON lines on stderr. SIGTERM or SIGINT\n"
    "stops it (exit 0).\n"
    "\n"
    "  --server URL       the signet server, https://host:port\n"
    "  --ca F             PEM roots the server's certificate must chain to\n"
    "  --token-file F     bearer token (a projected service-account token), re-read on\n"
    "                     every attempt\n"
    "  --out DIR          output folder (created if missing)\n"
    "  --key-type T       ec-p256 (default), ec-p384, ed25519 or rsa-3072\n"
    "  --once             get one SVID and exit: 0 on success, 1 otherwise (init containers)\n"
    "  --crl-refresh D    how often to fetch crl.pem (default 5m)\n"
    "  --ttl D            lifetime to ask for, e.g. 1h (default: the server's); the server\n"
    "                     clamps it\n"
    "  --help             show this help\n";

int cmd_agent(int argc, char **argv)
{
    static const char cmd[] = "agent";
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'c'},
        {"token-file", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"key-type", required_argument, NULL, 'k'},
        {"once", no_argument, NULL, '1'},
        {"crl-refresh", required_argument, NULL, 'r'},
        {"ttl", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct api_agent_config cfg = {.key_type = CA_KEY_EC_P256, .crl_refresh_s = 300};
    struct ca_error cerr = {0};
    enum ca_key_type kt;
    int64_t secs = 0;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
            case 's':
                cfg.server = optarg;
                break;
            case 'c':
                cfg.ca_file = optarg;
                break;
            case 't':
                cfg.token_file = optarg;
                break;
            case 'o':
                cfg.out_dir = optarg;
                break;
            case 'k':
                if (ca_key_type_parse(optarg, &kt, &cerr) != CA_OK) {
                    return cmd_usage_fail(cmd, "unknown --key-type '%s'", optarg);
                }
                cfg.key_type = (int)kt;
                break;
            case '1':
                cfg.once = 1;
                break;
            case 'r':
                if (cmd_duration_parse(optarg, &secs) != 0) {
                    return cmd_usage_fail(cmd, "--crl-refresh: not a duration like 5m");
                }
                cfg.crl_refresh_s = secs;
                break;
            case 'l':
                if (cmd_duration_parse(optarg, &secs) != 0) {
                    return cmd_usage_fail(cmd, "--ttl: not a duration like 1h");
                }
                cfg.ttl = optarg;
                break;
            case 'h':
                fputs(agent_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail(cmd, c, argv);
        }
    }
    if (optind < argc) {
        return cmd_usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (cfg.server == NULL || cfg.ca_file == NULL || cfg.token_file == NULL ||
        cfg.out_dir == NULL) {
        return cmd_usage_fail(cmd, "--server, --ca, --token-file and --out are required");
    }
    if (strncasecmp(cfg.server, "https://", 8) != 0) {
        return cmd_usage_fail(cmd, "--server must be an https:// URL");
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return cmd_fail(cmd, "cannot turn off core dumps");
    }
    /* The agent waits for these with sigtimedwait and checks for them during
     * requests; SIGPIPE stays blocked so a closed connection is just an error. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return cmd_fail(cmd, "cannot block signals");
    }

    struct api_error err = {0};
    if (api_agent_run(&cfg, &err) != API_OK) {
        return cmd_fail(cmd, "%s", err.msg);
    }
    return CMD_EXIT_OK;
}
