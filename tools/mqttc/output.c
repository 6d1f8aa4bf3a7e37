/*
 * Message printing for mqttc sub (see output.h). Payloads are written as raw bytes (they may be
 * binary); only %x/%X turn them into text.
 */
#include "output.h"

#include <time.h>

static void put_bytes(FILE *f, mq_bytes b)
{
    if (b.len > 0)
        fwrite(b.data, 1, b.len, f);
}

static void put_hex(FILE *f, mq_bytes b, bool upper)
{
    for (uint32_t i = 0; i < b.len; i++)
        fprintf(f, upper ? "%02X" : "%02x", b.data[i]);
}

static void put_time(FILE *f, bool iso)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!iso) {
        fprintf(f, "%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
        return;
    }
    struct tm tm;
    char buf[64];
    localtime_r(&ts.tv_sec, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
    fputs(buf, f);
}

static void put_user_properties(FILE *f, const mq_props *p)
{
    uint32_t cursor = 0;
    mq_user_property up;
    bool first = true;
    while (mq_props_next_user_property(p, &cursor, &up) == 1) {
        if (!first)
            fputc(' ', f);
        first = false;
        put_bytes(f, up.key);
        fputc(':', f);
        put_bytes(f, up.value);
    }
}

static void put_subscription_ids(FILE *f, const mq_props *p)
{
    uint32_t cursor = 0, id;
    bool first = true;
    while (mq_props_next_subscription_id(p, &cursor, &id) == 1) {
        fprintf(f, first ? "%u" : ",%u", id);
        first = false;
    }
}

/* Prints one %-field; returns false for an unknown letter. */
static bool put_field(FILE *f, char field, const struct mqttc_message *m)
{
    const mq_props *p = m->props;
    switch (field) {
    case 't':
        put_bytes(f, m->topic);
        break;
    case 'p':
        put_bytes(f, m->payload);
        break;
    case 'x':
    case 'X':
        put_hex(f, m->payload, field == 'X');
        break;
    case 'l':
        fprintf(f, "%u", m->payload.len);
        break;
    case 'q':
        fprintf(f, "%u", m->qos);
        break;
    case 'r':
        fprintf(f, "%d", m->retain ? 1 : 0);
        break;
    case 'm':
        fprintf(f, "%u", m->packet_id);
        break;
    case 'I':
    case 'U':
        put_time(f, field == 'I');
        break;
    case 'C':
        if (p->present & MQ_PROP_BIT(MQ_PROP_CONTENT_TYPE))
            put_bytes(f, p->content_type);
        break;
    case 'D':
        if (p->present & MQ_PROP_BIT(MQ_PROP_CORRELATION_DATA))
            put_bytes(f, p->correlation_data);
        break;
    case 'E':
        if (p->present & MQ_PROP_BIT(MQ_PROP_MESSAGE_EXPIRY_INTERVAL))
            fprintf(f, "%u", p->message_expiry_interval);
        break;
    case 'F':
        if (p->present & MQ_PROP_BIT(MQ_PROP_PAYLOAD_FORMAT_INDICATOR))
            fprintf(f, "%u", p->payload_format_indicator);
        break;
    case 'R':
        if (p->present & MQ_PROP_BIT(MQ_PROP_RESPONSE_TOPIC))
            put_bytes(f, p->response_topic);
        break;
    case 'S':
        put_subscription_ids(f, p);
        break;
    case 'P':
        put_user_properties(f, p);
        break;
    case '%':
        fputc('%', f);
        break;
    default:
        return false;
    }
    return true;
}

static char escape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case '\\':
        return '\\';
    default:
        return 0;
    }
}

static void put_format(FILE *f, const char *format, const struct mqttc_message *m)
{
    for (const char *s = format; *s; s++) {
        if (*s == '%' && s[1] && put_field(f, s[1], m)) {
            s++;
        } else if (*s == '\\' && s[1] && escape(s[1])) {
            fputc(escape(s[1]), f);
            s++;
        } else {
            fputc(*s, f);
        }
    }
}

void output_message(FILE *f, const char *format, bool verbose, bool no_eol,
                    const struct mqttc_message *m)
{
    if (format) {
        put_format(f, format, m);
    } else {
        if (verbose) {
            put_bytes(f, m->topic);
            fputc(' ', f);
        }
        put_bytes(f, m->payload);
    }
    if (!no_eol)
        fputc('\n', f);
    fflush(f);
}
