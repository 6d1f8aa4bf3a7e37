/*
 * The mqttd daemon: command line and config file over libmqttd, nothing more.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqttd.h"
#include "mqttd/passwd.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: mqttd [options]\n"
                 "       mqttd passwd [-c] [-b] [-D] [-H HASH] [-I N] FILE USERNAME [PASSWORD]\n"
                 "\n"
                 "An MQTT 5.0 / 3.1.1 / 3.1 broker. Without options it listens on every address,\n"
                 "port 1883, with the built-in defaults (docs/CONFIG.md lists them), and keeps\n"
                 "retained messages and persistent sessions in ./mqttd.db (`persistence false`\n"
                 "in a config file keeps everything in memory).\n"
                 "\n"
                 "Options:\n"
                 "  -c, --config FILE     load a Mosquitto-style config file (key value lines)\n"
                 "  -l, --listen URL      add a listener, e.g. mqtt://0.0.0.0:1883 or\n"
                 "                        mqtt://[::1]:1884 (repeatable; adds to the file's)\n"
                 "  -w, --workers N       worker threads (default: one per CPU)\n"
                 "  -v, --verbose         log more (repeat for debug)\n"
                 "  -h, --help            show this help and exit\n"
                 "  -V, --version         show the version and exit\n"
                 "\n"
                 "Signals: SIGTERM or SIGINT disconnect clients (v5 reason 0x8B) and stop;\n"
                 "SIGHUP reloads TLS certificates, the password file and the ACL file without\n"
                 "dropping connections (clients whose user was removed are disconnected).\n"
                 "\n"
                 "`mqttd passwd` manages password files as mosquitto_passwd does;\n"
                 "`mqttd passwd -h` tells more.\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "passwd") == 0)
        return passwd_main(argc - 1, argv + 1);
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    mqttd_app *app = mqttd_app_new();
    if (!app) {
        fprintf(stderr, "mqttd: out of memory\n");
        return 1;
    }
    char err[512];
    /* The daemon keeps its state across restarts unless told otherwise (`persistence false`);
     * an embedding application opts in. A config file or -c may override it. */
    mqttd_app_set(app, "persistence", "true", err, sizeof err);
    int verbosity = 0, opt, status = 0;
    const char *listen_urls[64];
    size_t listen_count = 0;
    const char *workers = NULL;
    while ((opt = getopt_long(argc, argv, "c:l:w:vhV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (mqttd_app_load_config(app, optarg, err, sizeof err) != 0) {
                fprintf(stderr, "mqttd: %s\n", err);
                status = 1;
                goto out;
            }
            break;
        case 'l':
            if (listen_count == sizeof listen_urls / sizeof *listen_urls) {
                fprintf(stderr, "mqttd: too many --listen options\n");
                status = 1;
                goto out;
            }
            listen_urls[listen_count++] = optarg;
            break;
        case 'w':
            workers = optarg;
            break;
        case 'v':
            verbosity++;
            break;
        case 'h':
            usage(stdout);
            goto out;
        case 'V':
            printf("mqttd %s\n", mqttd_version());
            goto out;
        default:
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mqttd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        status = 2;
        goto out;
    }
    for (size_t i = 0; i < listen_count; i++) {
        if (mqttd_app_listen(app, listen_urls[i], err, sizeof err) != 0) {
            fprintf(stderr, "mqttd: --listen %s: %s\n", listen_urls[i], err);
            status = 1;
            goto out;
        }
    }
    if (workers && mqttd_app_set(app, "workers", workers, err, sizeof err) != 0) {
        fprintf(stderr, "mqttd: --workers: %s\n", err);
        status = 1;
        goto out;
    }
    if (verbosity &&
        mqttd_app_set(app, "log_level", verbosity > 1 ? "debug" : "info", err, sizeof err) != 0) {
        fprintf(stderr, "mqttd: %s\n", err);
        status = 1;
        goto out;
    }
    mqttd_app_stop_on_signals(app);
    if (mqttd_app_run(app, err, sizeof err) != 0) {
        fprintf(stderr, "mqttd: %s\n", err);
        status = 1;
    }
out:
    mqttd_app_free(app);
    return status;
}
