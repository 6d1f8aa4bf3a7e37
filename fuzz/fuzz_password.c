/*
 * Fuzz target for the password file parser (src/auth/password_file.c): the input is the file.
 * Whatever parses is then looked up by the username on its first line, and that entry is
 * checked against a wrong password, unless its iteration count would make one run take
 * seconds (the parser accepts up to PW_MAX_ITERATIONS).
 *
 * Checked beyond memory safety: errors are terminated strings; a file holds no more entries
 * than it has lines; the first line's user is found when the file parsed and that line is an
 * entry (when that line is plainly one: a name of letters, digits, '_', '-', '.', then ':').
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password_file.h"

/* Iterations above this are parsed but not verified here: a run must stay short. */
#define FUZZ_MAX_VERIFY_ITERATIONS 2000u

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "password file invariant broken: %s\n", what);
        abort();
    }
}

static bool plain_name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *text = (const char *)data;
    struct pw_file *f = NULL;
    char err[256];
    memset(err, 'x', sizeof err);
    if (pw_file_parse(text, size, "fuzz", &f, err, sizeof err) != 0) {
        check(memchr(err, '\0', sizeof err) != NULL, "error message not terminated");
        return 0;
    }
    check(f != NULL, "parse succeeded without a file");
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    check(pw_file_count(f) <= lines, "more entries than lines");

    /* A first line made of a plain name, ':' and a hash is an entry in any reading of the
     * format, so that user must be there. */
    size_t name_len = 0;
    while (name_len < size && plain_name_char(data[name_len]))
        name_len++;
    if (name_len > 0 && name_len < size && data[name_len] == ':') {
        const struct pw_entry *e = pw_file_find(f, text, name_len);
        check(e != NULL, "the first line's user is not found");
        check(strlen(e->username) == name_len && memcmp(e->username, text, name_len) == 0,
              "found the wrong user");
        if (e->iterations <= FUZZ_MAX_VERIFY_ITERATIONS)
            pw_entry_verify(e, (const uint8_t *)"", 0);
    }
    pw_file_free(f);
    return 0;
}
