/* serve.c: `signet serve --config F`. Turns off core dumps (the process holds
 * the intermediate's key), starts the server with the stop signals blocked in
 * every thread, and waits for SIGTERM or SIGINT in this one. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "api.h"
#include "cmd.h"

static const char serve_usage[] =
    "usage: signet serve --config FILE\n"
    "\n"
    "Runs the CA: the HTTPS API (listen.https) and the plain HTTP listener\n"
    "(listen.http) of the JSON configuration FILE, until SIGTERM or SIGINT, then\n"
    "finishes the requests in flight and exits 0. Logs are JSON lines on stderr.\n";

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:c:h", options, NULL)) != -1) {
        switch (c) {
            case 'c':
                config = optarg;
                break;
            case 'h':
                fputs(serve_usage, stdout);
                return CMD_EXIT_OK;
            default:
                return cmd_getopt_fail("serve", c, argv);
        }
    }
    if (optind < argc) {
        return cmd_usage_fail("serve", "unexpected argument '%s'", argv[optind]);
    }
    if (config == NULL) {
        return cmd_usage_fail("serve", "--config is required");
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return cmd_fail("serve", "cannot turn off core dumps");
    }

    /* Blocked before any thread starts, so that every thread inherits the mask
     * and the signals are taken here by sigwait(). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        return cmd_fail("serve", "cannot block signals");
    }

    struct api_server *srv = NULL;
    struct api_error err = {0};
    if (api_server_start(config, &srv, &err) != API_OK) {
        return cmd_fail("serve", "%s", err.msg);
    }
    sigdelset(&set, SIGPIPE);
    int sig = 0;
    do {
        if (sigwait(&set, &sig) != 0) {
            sig = SIGTERM;
        }
    } while (sig != SIGTERM && sig != SIGINT);
    api_server_stop(srv);
    return CMD_EXIT_OK;
}
