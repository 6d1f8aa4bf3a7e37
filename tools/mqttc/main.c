/*
 * mqttc: the mqttd project's command-line MQTT client. Dispatches to `mqttc pub` and
 * `mqttc sub`; everything else lives in those and in client.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "commands.h"

#ifndef MQTTD_VERSION
#define MQTTD_VERSION "unknown"
#endif

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

const volatile sig_atomic_t *signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return &stop_requested;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: mqttc pub [options]   publish messages\n"
               "       mqttc sub [options]   subscribe and print messages\n"
               "       mqttc bench SCENARIO  load generator (fanin, p2p, fanout, pub, sub, conn)\n"
               "       mqttc COMMAND --help  the options of COMMAND\n"
               "       mqttc --version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "pub") == 0)
        return pub_main(argc - 1, argv + 1);
    if (strcmp(cmd, "sub") == 0)
        return sub_main(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return bench_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("mqttc %s (MQTT 5.0, 3.1.1, 3.1)\n", MQTTD_VERSION);
        return 0;
    }
    fprintf(stderr, "Error: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 1;
}
