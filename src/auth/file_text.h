/*
 * Reading the password and ACL files: the whole file into memory, then line by line with line
 * numbers for "FILE:LINE: message" errors. Both parsers work on a buffer, so they can be fuzzed
 * and tested without files.
 */
#ifndef MQTTD_AUTH_FILE_TEXT_H
#define MQTTD_AUTH_FILE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Files larger than this are refused: a credential file that big is a mistake. */
#define FILE_TEXT_MAX (64u * 1024u * 1024u)

/* One line: text[0..len) without the line end (LF or CRLF) and without surrounding blanks. */
struct file_line {
    const char *text;
    size_t len;
    unsigned number; /* from 1 */
};

/* Reads the file at `path` (borrowed). Returns the bytes (caller frees; NUL-terminated for
 * convenience) and their count in *len, or NULL with "PATH: reason" in err. */
char *file_text_read(const char *path, size_t *len, char *err, size_t errlen);

/* The next line of text[0..len) from *pos (start at 0, leave *pos to the function). Returns
 * false after the last line. `line->number` counts from the start when *pos began at 0. */
bool file_text_next_line(const char *text, size_t len, size_t *pos, struct file_line *line);

#endif
