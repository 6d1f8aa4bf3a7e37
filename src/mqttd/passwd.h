/*
 * `mqttd passwd`: creates and updates password files in Mosquitto's format (as
 * mosquitto_passwd does), and writes mqttd's SCRAM-SHA-256 entries.
 */
#ifndef MQTTD_MQTTD_PASSWD_H
#define MQTTD_MQTTD_PASSWD_H

/* Runs the subcommand; argv[0] is "passwd". Returns the process exit status. */
int passwd_main(int argc, char **argv);

#endif
