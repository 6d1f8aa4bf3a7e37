/*
 * The --help text of mqttc pub and mqttc sub. Kept apart from the parser so the parser stays
 * readable; the option list mirrors parse_valued()/parse_switch() in options.c.
 */
#include <stdio.h>

#include "options.h"

static const char common_text[] =
    "Connection:\n"
    "  -h HOST        broker host (default localhost)\n"
    "  -p PORT        broker port (default 1883, with TLS 8883)\n"
    "  -L URL         mqtt://[user[:pass]@]host[:port]/topic, mqtts:// for TLS, quic:// for\n"
    "                 MQTT over QUIC (UDP port 14567; --cafile/--insecure apply)\n"
    "                 ws:// and wss:// for MQTT over WebSocket (path /mqtt; ports 8080, 8443)\n"
    "  --cafile FILE  TLS: trust the CAs in FILE (PEM; default: the system's trust store)\n"
    "  --cert FILE, --key FILE\n"
    "                 TLS: client certificate and key (PEM) for mutual TLS\n"
    "  --insecure     TLS: do not check the server certificate's host name\n"
    "  --quic-timeout MS\n"
    "                 quic://: fall back to TCP when the QUIC handshake takes longer\n"
    "                 (default 1000)\n"
    "  --fallback mqtt://HOST[:PORT]\n"
    "                 quic://: where to fall back to (default: the same host, port 1883)\n"
    "  --quic-ticket FILE\n"
    "                 quic://: keep the server's session ticket in FILE and, once it holds one,\n"
    "                 send CONNECT in 0-RTT (half a round trip sooner)\n"
    "  --quic-migrate-after N\n"
    "                 quic://: move to a new UDP socket (new local address) after N PUBLISH\n"
    "                 packets sent or received, as a phone changing networks does\n"
    "  -V VERSION     mqttv5 (5, the default: note mosquitto's clients default to 3.1.1),\n"
    "                 mqttv311 (311) or mqttv31 (31)\n"
    "  -i ID          client identifier (default: assigned by a v5 server, else mqttc-*-PID)\n"
    "  -I PREFIX      client identifier PREFIX followed by the process id\n"
    "  -u USER        user name\n"
    "  -P PASS        password\n"
    "  -k SECONDS     keep-alive (default 60, 0 disables)\n"
    "  -c             persistent session: no clean start (needs -i or -I); with v5 the session\n"
    "                 never expires unless -x says otherwise\n"
    "  -x SECONDS     session expiry interval (v5); -1 means never\n"
    "  -q QOS         quality of service 0, 1 or 2 (default 0)\n"
    "  -D COMMAND PROPERTY VALUE\n"
    "                 a v5 property; COMMAND is connect, publish, subscribe, unsubscribe,\n"
    "                 disconnect or will; user-property takes KEY VALUE. Properties:\n"
    "                 payload-format-indicator, message-expiry-interval, content-type,\n"
    "                 response-topic, correlation-data, subscription-identifier,\n"
    "                 session-expiry-interval, authentication-method, authentication-data,\n"
    "                 request-problem-information, request-response-information,\n"
    "                 will-delay-interval, receive-maximum, topic-alias-maximum, topic-alias,\n"
    "                 maximum-packet-size, user-property\n"
    "  --will-topic TOPIC, --will-payload TEXT, --will-qos QOS, --will-retain\n"
    "                 the will message the broker sends if we vanish\n"
    "  -d             print every packet sent and received\n"
    "  --help, --version\n";

static const char pub_text[] =
    "Usage: mqttc pub [options] -t TOPIC (-m MESSAGE | -f FILE | -l | -n | -s)\n"
    "Publishes one message, or one per line of standard input with -l.\n"
    "\n"
    "Message:\n"
    "  -t TOPIC       topic to publish to\n"
    "  -m MESSAGE     the message text\n"
    "  -f FILE        the contents of FILE as the message\n"
    "  -l             one message per line of standard input (blank lines are skipped)\n"
    "  -s             all of standard input as one message\n"
    "  -n             an empty (null) message\n"
    "  -r             retain the message\n"
    "\n";

static const char sub_text[] =
    "Usage: mqttc sub [options] -t FILTER [-t FILTER ...]\n"
    "Subscribes and prints each message received.\n"
    "\n"
    "Subscription and output:\n"
    "  -t FILTER      topic filter to subscribe to (repeatable)\n"
    "  -U FILTER      unsubscribe from FILTER (repeatable; useful with -c)\n"
    "  -T FILTER      do not print messages whose topic matches FILTER (repeatable)\n"
    "  -C COUNT       exit after COUNT messages\n"
    "  -W SECONDS     exit after SECONDS with status 27\n"
    "  -R             do not print stale (retained) messages\n"
    "  -v             print \"topic payload\"\n"
    "  -N             no newline after each message\n"
    "  -F FORMAT      print with FORMAT: %t topic, %p payload, %x/%X payload in hex, %l length,\n"
    "                 %q qos, %r retain, %m message id, %I ISO 8601 time, %U Unix time,\n"
    "                 %C content type, %D correlation data, %E message expiry,\n"
    "                 %F payload format, %R response topic, %S subscription identifier,\n"
    "                 %P user properties (key:value ...), %% a percent sign;\n"
    "                 \\n \\t \\\\ escapes\n"
    "  --no-local     do not receive our own messages (v5)\n"
    "  --retain-as-published\n"
    "                 keep the retain flag as the publisher set it (v5)\n"
    "\n"
    "Exit status: 0 success, 1 error (refusal messages name the reason code), 27 -W timeout.\n"
    "\n";

void options_help(enum options_mode mode)
{
    fputs(mode == OPTIONS_PUB ? pub_text : sub_text, stdout);
    fputs(common_text, stdout);
}
