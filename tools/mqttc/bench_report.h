/*
 * The result printer of `mqttc bench`: a list of named values, printed as text or JSON.
 */
#ifndef MQTTC_BENCH_REPORT_H
#define MQTTC_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>

enum bench_field_kind { BENCH_FIELD_NULL, BENCH_FIELD_NUM, BENCH_FIELD_STR, BENCH_FIELD_BOOL };

struct bench_field {
    const char *key;
    int kind;         /* enum bench_field_kind */
    double num;       /* NUM and BOOL */
    const char *str;  /* STR (borrowed) */
    const char *unit; /* text output only, may be NULL */
};

#define BF_NUM(k, v, u) ((struct bench_field){(k), BENCH_FIELD_NUM, (double)(v), NULL, (u)})
#define BF_STR(k, s) ((struct bench_field){(k), BENCH_FIELD_STR, 0, (s), NULL})
#define BF_BOOL(k, b) ((struct bench_field){(k), BENCH_FIELD_BOOL, (b) ? 1 : 0, NULL, NULL})
#define BF_NULL(k) ((struct bench_field){(k), BENCH_FIELD_NULL, 0, NULL, NULL})

/* Prints the n fields to stdout: one JSON object on one line when json, else text lines. */
void bench_report(bool json, const struct bench_field *f, size_t n);

#endif
