/*
 * Fuzz target for the configuration parser (src/server/config.c, listener_url.c). The first
 * input byte picks the entry point, the rest is its text:
 *   0: a config file, loaded with config_load_file from a memory file (memfd);
 *   1: NUL-separated key, value, key, value ... given to config_set one pair at a time;
 *   2: newline-separated listener URLs given to config_add_listener_url.
 * Inputs naming include_dir are skipped: it would read whatever directory the fuzzer invents.
 * Checked: no crash, no leak after config_free, err always NUL-terminated, and the settings the
 * header promises never to be 0 are not 0 whatever was accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/config.h"
#include "server/log.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "config invariant broken: %s\n", what);
        abort();
    }
}

static void check_err(const char *err, size_t cap)
{
    check(memchr(err, '\0', cap) != NULL, "error message not terminated");
}

static void load_file(struct mq_config *config, const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_config", 0);
    check(fd >= 0, "memfd_create");
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        check(n > 0, "write to memfd");
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char err[256];
    memset(err, 'x', sizeof err);
    if (config_load_file(config, path, err, sizeof err) != 0)
        check_err(err, sizeof err);
    close(fd);
}

/* text[0..size) holds NUL-terminated pieces (two more NULs follow): key, value, key, ... */
static void set_pairs(struct mq_config *config, char *text, size_t size)
{
    char *end = text + size;
    char *at = text;
    while (at < end) {
        char *key = at;
        char *value = key + strlen(key) + 1;
        if (value > end)
            value = end;
        at = value + strlen(value) + 1;
        char err[256];
        memset(err, 'x', sizeof err);
        if (config_set(config, key, value, err, sizeof err) != 0)
            check_err(err, sizeof err);
    }
}

static void add_urls(struct mq_config *config, char *text)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char err[256];
        memset(err, 'x', sizeof err);
        if (config_add_listener_url(config, line, err, sizeof err) != 0)
            check_err(err, sizeof err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (memmem(data, size, "include_dir", 11))
        return 0;
    log_max_level = LOG_ERROR;
    uint8_t mode = data[0] % 3u;
    data++;
    size--;

    /* The text with separators kept: NULs become the pair separator in mode 1. */
    char *text = malloc(size + 2);
    check(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';

    struct mq_config config;
    check(config_init(&config) == 0, "config_init");
    if (mode == 0) {
        load_file(&config, data, size);
    } else if (mode == 1) {
        for (size_t i = 0; i < size; i++)
            if (text[i] == '\n')
                text[i] = '\0';
        set_pairs(&config, text, size);
    } else {
        for (size_t i = 0; i < size; i++)
            if (text[i] == '\0')
                text[i] = '\n';
        add_urls(&config, text);
    }
    check(config.max_packet_size != 0, "max_packet_size became 0");
    check(config.max_keepalive != 0, "max_keepalive became 0");
    for (size_t i = 0; i < config.listener_count; i++)
        check(config.listeners[i].path != NULL, "a listener without a path");
    config_free(&config);
    free(text);
    return 0;
}
