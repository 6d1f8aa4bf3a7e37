/*
 * What the store's own files share beyond store.h: the SQLite connection, for the restore at
 * start-up (which runs before the store thread has anything to do, and before it begins its
 * periodic upkeep on the same connection).
 */
#ifndef MQTTD_STORE_INTERNAL_H
#define MQTTD_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* The store's connection (owned by the store) and its file name. */
sqlite3 *store_db(struct mq_store *st);
const char *store_path(const struct mq_store *st);
/* Lets the store thread begin its upkeep (pruning, vacuum): the restore is done with the
 * connection. The first commit begins it too. */
void store_start_upkeep(struct mq_store *st);

#endif
