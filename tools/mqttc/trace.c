/*
 * Packet trace lines for -d (see trace.h). The wording follows mosquitto_pub/mosquitto_sub so
 * that scripts and eyes trained on those keep working.
 */
#include "trace.h"

#include <stdio.h>

static void print_publish(const struct mq_publish *p)
{
    printf(" (d%d, q%d, r%d, m%u, '", p->dup, p->qos, p->retain, p->packet_id);
    if (p->topic.len == 0 && (p->props.present & MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS)))
        printf("(alias %u)", p->props.topic_alias);
    else
        fwrite(p->topic.data, 1, p->topic.len, stdout);
    printf("', ... (%u bytes))", p->payload.len);
}

/* One line per filter, as mosquitto's clients print them. */
static void print_subscribe(const char *id, const struct mq_subscribe *s, bool unsubscribe)
{
    for (uint32_t i = 0; i < s->entries_len; i++) {
        const mq_topic_request *e = &s->entries[i];
        if (i > 0)
            printf("\nClient %s sending %s", id, unsubscribe ? "UNSUBSCRIBE" : "SUBSCRIBE");
        printf(" (Mid: %u, Topic: %.*s", s->packet_id, (int)e->filter.len,
               (const char *)e->filter.data);
        if (!unsubscribe)
            printf(", QoS: %u, Options: 0x%02x", e->options & MQ_SUBOPT_QOS_MASK,
                   e->options & ~MQ_SUBOPT_QOS_MASK);
        printf(")");
    }
}

void trace_packet(const char *client_id, bool sending, const struct mq_packet *pkt)
{
    const char *id = client_id && client_id[0] ? client_id : "(null)";
    printf("Client %s %s %s", id, sending ? "sending" : "received", mq_packet_type_name(pkt->type));
    switch (pkt->type) {
    case MQ_CONNACK:
        printf(" (%u)", pkt->u.connack.reason_code);
        break;
    case MQ_PUBLISH:
        print_publish(&pkt->u.publish);
        break;
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        if (sending)
            printf(" (m%u, rc%u)", pkt->u.ack.packet_id, pkt->u.ack.reason_code);
        else
            printf(" (Mid: %u, RC:%u)", pkt->u.ack.packet_id, pkt->u.ack.reason_code);
        break;
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        print_subscribe(id, &pkt->u.subscribe, pkt->type == MQ_UNSUBSCRIBE);
        break;
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        printf(" (Mid: %u)", pkt->u.suback.packet_id);
        break;
    case MQ_DISCONNECT:
        if (!sending || pkt->u.disconnect.reason_code != 0)
            printf(" (%u)", pkt->u.disconnect.reason_code);
        break;
    default:
        break;
    }
    printf("\n");
    fflush(stdout);
}
