/*
 * Output of `mqttc bench`: one list of named values printed either as aligned text lines for
 * people or as one JSON object on one line for scripts (bench/compare.py reads it).
 */
#include <math.h>
#include <stdio.h>

#include "bench_report.h"

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void print_number(double v)
{
    if (isnan(v) || isinf(v))
        printf("null");
    else if ((v == floor(v) && fabs(v) < 1e15) || fabs(v) >= 1e5)
        printf("%.0f", v);
    else
        printf("%.4f", v);
}

void bench_report(bool json, const struct bench_field *f, size_t n)
{
    if (json)
        putchar('{');
    for (size_t i = 0; i < n; i++) {
        if (json) {
            if (i)
                putchar(',');
            json_string(f[i].key);
            putchar(':');
        } else {
            printf("%-28s ", f[i].key);
        }
        switch (f[i].kind) {
        case BENCH_FIELD_NUM:
            print_number(f[i].num);
            break;
        case BENCH_FIELD_STR:
            if (json)
                json_string(f[i].str ? f[i].str : "");
            else
                printf("%s", f[i].str ? f[i].str : "");
            break;
        case BENCH_FIELD_BOOL:
            printf("%s", f[i].num != 0 ? "true" : "false");
            break;
        default:
            printf("null");
            break;
        }
        if (!json) {
            if (f[i].unit && f[i].kind != BENCH_FIELD_NULL)
                printf(" %s", f[i].unit);
            putchar('\n');
        }
    }
    if (json)
        printf("}\n");
    fflush(stdout);
}
