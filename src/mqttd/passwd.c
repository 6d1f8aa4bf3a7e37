/*
 * `mqttd passwd [-c] [-b] [-H sha512-pbkdf2|scram-sha-256] [-I ITERATIONS] FILE USERNAME
 * [PASSWORD]` and `mqttd passwd -D FILE USERNAME`, with mosquitto_passwd's flags and meaning.
 * The file is rewritten through a temporary file and rename, so a reader (the broker on
 * SIGHUP) sees the old file or the new one, never half of one; other lines are kept as they
 * are.
 */
#include "mqttd/passwd.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/file_text.h"
#include "auth/password_file.h"

#define MAX_PASSWORD 65535

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: mqttd passwd [-c] [-H sha512-pbkdf2|scram-sha-256] [-I ITERATIONS] FILE USERNAME\n"
        "       mqttd passwd [-c] [-H ...] [-I ITERATIONS] -b FILE USERNAME PASSWORD\n"
        "       mqttd passwd -D FILE USERNAME\n"
        "\n"
        "Adds or updates USERNAME in the password FILE (Mosquitto's format).\n"
        "  -c            create FILE anew (overwrites it)\n"
        "  -b            take the password from the command line\n"
        "  -D            delete USERNAME\n"
        "  -H HASH       sha512-pbkdf2 (default: $7$, as mosquitto_passwd writes) or\n"
        "                scram-sha-256 (an mqttd entry usable by SCRAM-SHA-256 enhanced\n"
        "                authentication and plain passwords; Mosquitto skips it)\n"
        "  -I N          PBKDF2 iterations (default %d for sha512-pbkdf2, %d for\n"
        "                scram-sha-256)\n"
        "Without -b the password is asked twice on the terminal, or read as one line from\n"
        "standard input when that is not a terminal.\n",
        PW_DEFAULT_ITERATIONS, PW_SCRAM_DEFAULT_ITERATIONS);
}

/* Reads one line from stdin into buf (without its line end). */
static bool read_line(char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, stdin))
        return false;
    size_t n = strcspn(buf, "\r\n");
    buf[n] = 0;
    return true;
}

static bool prompt(const char *text, char *buf, size_t cap)
{
    struct termios old, quiet;
    fputs(text, stderr);
    fflush(stderr);
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = read_line(buf, cap);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return ok;
}

static int ask_password(char *buf, size_t cap)
{
    if (!isatty(STDIN_FILENO)) {
        if (!read_line(buf, cap)) {
            fprintf(stderr, "mqttd passwd: no password on standard input\n");
            return -1;
        }
        return 0;
    }
    char again[MAX_PASSWORD + 2];
    if (!prompt("Password: ", buf, cap) || !prompt("Reenter password: ", again, sizeof again))
        return -1;
    int same = strcmp(buf, again) == 0;
    memset(again, 0, sizeof again);
    if (!same) {
        fprintf(stderr, "mqttd passwd: passwords do not match\n");
        return -1;
    }
    return 0;
}

/* Whether the line (as in the file) is `username`'s entry. */
static bool line_is_user(const struct file_line *line, const char *username)
{
    size_t n = strlen(username);
    return line->len > n && line->text[n] == ':' && memcmp(line->text, username, n) == 0;
}

/* Writes `old` without username's line, plus `entry` (NULL when deleting), to path via a
 * temporary file and rename. *found tells whether the user was there. */
static int rewrite(const char *path, const char *old, size_t old_len, const char *username,
                   const char *entry, bool *found)
{
    size_t tmp_len = strlen(path) + 16;
    char *tmp = malloc(tmp_len);
    if (!tmp)
        return -1;
    snprintf(tmp, tmp_len, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "mqttd passwd: %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    struct stat st;
    fchmod(fd, stat(path, &st) == 0 ? st.st_mode & 07777 : 0600);
    FILE *out = fdopen(fd, "w");
    *found = false;
    struct file_line line;
    for (size_t pos = 0; out && file_text_next_line(old, old_len, &pos, &line);) {
        if (line_is_user(&line, username)) {
            *found = true;
            continue;
        }
        if (line.len)
            fprintf(out, "%.*s\n", (int)line.len, line.text);
    }
    if (out && entry)
        fputs(entry, out);
    bool ok = out && fflush(out) == 0 && fsync(fd) == 0;
    if (out)
        ok &= fclose(out) == 0;
    else
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "mqttd passwd: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int passwd_main(int argc, char **argv)
{
    bool create = false, batch = false, delete = false;
    enum pw_kind kind = PW_PBKDF2_SHA512;
    long iterations = 0;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "cbDH:I:h")) != -1) {
        switch (opt) {
        case 'c':
            create = true;
            break;
        case 'b':
            batch = true;
            break;
        case 'D':
            delete = true;
            break;
        case 'H':
            if (strcmp(optarg, "sha512-pbkdf2") == 0) {
                kind = PW_PBKDF2_SHA512;
            } else if (strcmp(optarg, "scram-sha-256") == 0) {
                kind = PW_SCRAM_SHA256;
            } else {
                fprintf(stderr, "mqttd passwd: -H: '%s' is not sha512-pbkdf2 or scram-sha-256\n",
                        optarg);
                return 2;
            }
            break;
        case 'I': {
            char *end;
            iterations = strtol(optarg, &end, 10);
            if (*end || iterations < 1 || iterations > (long)PW_MAX_ITERATIONS) {
                fprintf(stderr, "mqttd passwd: -I: '%s' is not a number between 1 and %u\n", optarg,
                        PW_MAX_ITERATIONS);
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    int want = delete ? 2 : batch ? 3 : 2;
    if (argc - optind != want || (delete &&(create || batch))) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind], *username = argv[optind + 1];
    if (!*username || strchr(username, ':') || strchr(username, '\n')) {
        fprintf(stderr, "mqttd passwd: a username is not empty and holds no ':'\n");
        return 1;
    }
    char *old = NULL;
    size_t old_len = 0;
    if (!create) {
        char err[512];
        if (!(old = file_text_read(path, &old_len, err, sizeof err))) {
            fprintf(stderr, "mqttd passwd: %s (use -c to create it)\n", err);
            return 1;
        }
    }
    char *entry = NULL;
    int status = 1;
    if (!delete) {
        static char password[MAX_PASSWORD + 2];
        if (batch) {
            snprintf(password, sizeof password, "%s", argv[optind + 2]);
        } else if (ask_password(password, sizeof password) != 0) {
            goto out;
        }
        if (!iterations)
            iterations =
                kind == PW_SCRAM_SHA256 ? PW_SCRAM_DEFAULT_ITERATIONS : PW_DEFAULT_ITERATIONS;
        entry = pw_entry_format(username, password, strlen(password), kind, (uint32_t)iterations);
        memset(password, 0, sizeof password);
        if (!entry) {
            fprintf(stderr, "mqttd passwd: cannot hash the password\n");
            goto out;
        }
    }
    bool found;
    if (rewrite(path, old ? old : "", old_len, username, entry, &found) != 0)
        goto out;
    if (delete &&!found) {
        fprintf(stderr, "mqttd passwd: user '%s' not found in %s\n", username, path);
        goto out;
    }
    status = 0;
out:
    free(old);
    free(entry);
    return status;
}
