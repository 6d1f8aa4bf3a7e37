/*
 * The public API (include/mqttd.h): an app owns the configuration, the broker and the workers;
 * mqttd_app_run opens the listeners, starts one worker thread per configured worker and waits
 * on a control loop for a stop request or a signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "auth/auth.h"
#include "auth/session_acl.h"
#include "broker/broker.h"
#include "broker/topic.h"
#include "mqttd.h"
#include "server/config.h"
#include "server/ip_table.h"
#include "server/listener.h"
#include "server/listener_url.h"
#include "server/log.h"
#include "server/quic_listener.h"
#include "server/worker.h"
#include "session/session.h"
#include "store/store.h"
#include "transport/tcp.h"
#include "transport/tls.h"
#include "transport/ws.h"

#define DEFAULT_GRACE_MS 2000

struct mqttd_app {
    struct mq_config config;
    struct broker broker;
    bool broker_ready;
    bool stop_on_signals;

    uv_loop_t control;
    uv_async_t stop_async;
    uv_signal_t sigterm, sigint, sighup;
    pthread_mutex_t stop_lock;
    bool running;
    bool stop_pending;
    unsigned stop_grace_ms;

    struct worker *workers;
    unsigned worker_count;
    struct listener *listeners; /* one per configured listener, while running */
};

const char *mqttd_version(void)
{
    return MQTTD_VERSION;
}

mqttd_app *mqttd_app_new(void)
{
    mqttd_app *app = calloc(1, sizeof *app);
    if (!app)
        return NULL;
    if (config_init(&app->config) != 0 || broker_init(&app->broker, &app->config) != 0) {
        config_free(&app->config);
        free(app);
        return NULL;
    }
    app->broker_ready = true;
    pthread_mutex_init(&app->stop_lock, NULL);
    return app;
}

void mqttd_app_free(mqttd_app *app)
{
    if (!app)
        return;
    /* Open here only when mqttd_app_run failed after opening it. */
    store_close(app->broker.store);
    app->broker.store = NULL;
    ip_table_free(app->broker.limits.ip_table);
    if (app->broker_ready)
        broker_destroy(&app->broker);
    config_free(&app->config);
    pthread_mutex_destroy(&app->stop_lock);
    free(app);
}

int mqttd_app_set(mqttd_app *app, const char *key, const char *value, char *err, size_t errlen)
{
    return config_set(&app->config, key, value, err, errlen);
}

int mqttd_app_load_config(mqttd_app *app, const char *path, char *err, size_t errlen)
{
    return config_load_file(&app->config, path, err, errlen);
}

int mqttd_app_listen(mqttd_app *app, const char *url, char *err, size_t errlen)
{
    return config_add_listener_url(&app->config, url, err, errlen);
}

static int add_handler(struct handler **list, const char *filter, void *fn, void *user)
{
    struct handler *h = calloc(1, sizeof *h);
    if (!h || !fn)
        goto fail;
    if (filter) {
        if (!topic_filter_valid((const uint8_t *)filter, strlen(filter), 0, 65535))
            goto fail;
        if (!(h->filter = strdup(filter)))
            goto fail;
    }
    h->fn = fn;
    h->user = user;
    while (*list)
        list = &(*list)->next; /* called in the order registered */
    *list = h;
    return 0;
fail:
    free(h);
    return -1;
}

int mqttd_on_connect(mqttd_app *app, mqttd_connect_handler fn, void *user)
{
    return add_handler(&app->broker.on_connect, NULL, (void *)fn, user);
}

int mqttd_on_publish(mqttd_app *app, const char *filter, mqttd_publish_handler fn, void *user)
{
    return filter ? add_handler(&app->broker.on_publish, filter, (void *)fn, user) : -1;
}

int mqttd_on_subscribe(mqttd_app *app, const char *filter, mqttd_subscribe_handler fn, void *user)
{
    return filter ? add_handler(&app->broker.on_subscribe, filter, (void *)fn, user) : -1;
}

int mqttd_on_disconnect(mqttd_app *app, mqttd_disconnect_handler fn, void *user)
{
    return add_handler(&app->broker.on_disconnect, NULL, (void *)fn, user);
}

int mqttd_on_auth(mqttd_app *app, const char *method, mqttd_auth_handler step,
                  mqttd_auth_end_handler end, void *user)
{
    return auth_add_method(app->broker.auth, method, step, end, user);
}

int mqttd_app_reload_auth(mqttd_app *app, char *err, size_t errlen)
{
    const struct mq_config *cfg = &app->config;
    if (auth_load(app->broker.auth, cfg->password_file, cfg->acl_file, err, errlen) != 0)
        return -1;
    unsigned gone = session_acl_reloaded(&app->broker);
    log_notice("password and ACL files reloaded%s%s; %u client%s disconnected",
               cfg->password_file ? ": " : "", cfg->password_file ? cfg->password_file : "", gone,
               gone == 1 ? "" : "s");
    return 0;
}

static struct message *server_message(const char *topic, const void *payload, size_t len, int qos,
                                      bool retain)
{
    size_t topic_len = topic ? strlen(topic) : 0;
    if (!topic_name_valid((const uint8_t *)topic, topic_len, 0, 65535) || qos < 0 || qos > 2 ||
        len > MQ_MAX_REMAINING_LENGTH)
        return NULL;
    return message_new((const uint8_t *)topic, (uint16_t)topic_len, NULL, 0, payload, (uint32_t)len,
                       (uint8_t)qos, retain, 0, broker_now_ms());
}

int mqttd_publish(mqttd_app *app, const char *topic, const void *payload, size_t len, int qos,
                  bool retain)
{
    struct message *m = server_message(topic, payload, len, qos, retain);
    if (!m)
        return -1;
    broker_publish(&app->broker, m, broker_now_ms());
    message_unref(m);
    return 0;
}

int mqttd_publish_to(mqttd_app *app, const char *client_id, const char *topic, const void *payload,
                     size_t len, int qos)
{
    if (!client_id || strlen(client_id) > 65535)
        return -2; /* no session can have it */
    struct message *m = server_message(topic, payload, len, qos, false);
    if (!m)
        return -1;
    struct broker *b = &app->broker;
    pthread_mutex_lock(&b->registry_lock);
    struct session *s = registry_get(b->registry, client_id, (uint16_t)strlen(client_id));
    if (s)
        session_ref(s);
    pthread_mutex_unlock(&b->registry_lock);
    if (!s) {
        message_unref(m);
        return -2;
    }
    session_deliver(s, m, (uint8_t)qos, false, NULL, 0, NULL, broker_now_ms());
    session_unref(s);
    message_unref(m);
    return 0;
}

void mqttd_app_stats(mqttd_app *app, struct mqttd_stats *out)
{
    broker_stats(&app->broker, out);
    limits_stats(&app->broker.limits, out);
}

void mqttd_app_stop_on_signals(mqttd_app *app)
{
    app->stop_on_signals = true;
}

void mqttd_app_stop(mqttd_app *app, unsigned grace_ms)
{
    pthread_mutex_lock(&app->stop_lock);
    app->stop_pending = true;
    app->stop_grace_ms = grace_ms;
    if (app->running)
        uv_async_send(&app->stop_async);
    pthread_mutex_unlock(&app->stop_lock);
}

static void close_control_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stop_workers(mqttd_app *app, unsigned grace_ms)
{
    log_notice("stopping: disconnecting clients (grace %u ms)", grace_ms);
    for (unsigned i = 0; i < app->worker_count; i++)
        worker_request_stop(&app->workers[i], grace_ms);
    uv_walk(&app->control, close_control_handle, NULL);
}

static void on_stop_async(uv_async_t *h)
{
    mqttd_app *app = h->data;
    pthread_mutex_lock(&app->stop_lock);
    unsigned grace = app->stop_grace_ms;
    pthread_mutex_unlock(&app->stop_lock);
    stop_workers(app, grace);
}

static void on_signal(uv_signal_t *h, int signum)
{
    mqttd_app *app = h->data;
    log_notice("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_workers(app, DEFAULT_GRACE_MS);
}

/* SIGHUP: TLS listeners read their certificate files again (open connections keep theirs), and
 * the password and ACL files are read again. */
static void on_sighup(uv_signal_t *h, int signum)
{
    mqttd_app *app = h->data;
    char auth_err[512];
    if ((app->config.password_file || app->config.acl_file) &&
        mqttd_app_reload_auth(app, auth_err, sizeof auth_err) != 0)
        log_warning("keeping the old password and ACL rules: %s", auth_err);
    for (size_t i = 0; i < app->config.listener_count; i++)
        for (unsigned j = 0; j < app->listeners[i].layer_count; j++) {
            if (app->listeners[i].layers[j] != tls_layer_new)
                continue;
            char err[512];
            if (tls_listener_reload(app->listeners[i].layer_states[j], err, sizeof err) == 0)
                log_notice("listener on port %u: certificates reloaded",
                           app->listeners[i].config->port);
            else
                log_warning("listener on port %u: keeping the old certificates: %s",
                            app->listeners[i].config->port, err);
        }
}

static void free_listeners(struct listener *listeners, size_t count)
{
    for (size_t i = 0; listeners && i < count; i++)
        for (unsigned j = 0; j < listeners[i].layer_count; j++)
            if (listeners[i].layer_state_free[j])
                listeners[i].layer_state_free[j](listeners[i].layer_states[j]);
    free(listeners);
}

/* Stacks TLS on a listener, below any layer added after it. */
static int add_tls_layer(struct listener *l, char *err, size_t errlen)
{
    struct tls_listener *tls;
    if (tls_listener_new(l->config, &tls, err, errlen) != 0)
        return -1;
    l->layer_states[l->layer_count] = tls;
    l->layers[l->layer_count] = tls_layer_new;
    l->layer_state_free[l->layer_count++] = tls_listener_free;
    return 0;
}

static int add_ws_layer(struct listener *l, char *err, size_t errlen)
{
    if ((l->layer_states[l->layer_count] = ws_settings_new(l->config)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->layers[l->layer_count] = ws_layer_new;
    l->layer_state_free[l->layer_count++] = ws_settings_free;
    return 0;
}

/* Prepares what every connection of each listener needs: its protocol layers, lowest first. */
static int prepare_listeners(mqttd_app *app, char *err, size_t errlen)
{
    size_t n = app->config.listener_count;
    app->listeners = calloc(n ? n : 1, sizeof *app->listeners);
    if (!app->listeners) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct mq_listener_config *c = &app->config.listeners[i];
        struct listener *l = &app->listeners[i];
        l->config = c;
        enum mq_transport_kind t = c->transport;
        if (t == MQ_TRANSPORT_QUIC) {
            if (quic_listener_check(c, err, errlen) != 0)
                return -1;
            continue;
        }
        if ((t == MQ_TRANSPORT_TLS || t == MQ_TRANSPORT_WSS) && add_tls_layer(l, err, errlen) != 0)
            return -1;
        if ((t == MQ_TRANSPORT_WS || t == MQ_TRANSPORT_WSS) && add_ws_layer(l, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Binds every listener once per worker (SO_REUSEPORT); fds[w * count + i]. */
static int open_listeners(mqttd_app *app, unsigned workers, int **out, char *err, size_t errlen)
{
    size_t n = app->config.listener_count;
    int *fds = malloc((n ? n : 1) * workers * sizeof *fds);
    if (!fds) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n * workers; i++)
        fds[i] = -1;
    for (size_t i = 0; i < n; i++) {
        struct mq_listener_config *l = &app->config.listeners[i];
        uint16_t port = l->port;
        for (unsigned w = 0; w < workers; w++) {
            uint16_t bound;
            bool quic = l->transport == MQ_TRANSPORT_QUIC;
            int fd = quic ? quic_listen_socket(l->host, port, w > 0, &bound, err, errlen)
                          : tcp_listen_socket(l->host, port, w > 0, &bound, err, errlen);
            if (fd < 0)
                goto fail;
            fds[w * n + i] = fd;
            port = bound; /* a port 0 listener: every worker joins the port the first got */
        }
        struct mq_listener_config shown = *l;
        shown.port = port;
        char url[300];
        listener_url_format(&shown, url, sizeof url);
        log_notice("listening on %s", url);
    }
    *out = fds;
    return 0;
fail:
    for (size_t i = 0; i < n * workers; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return -1;
}

/* Opens the store and loads it into the broker (persistence true). */
static int open_store(mqttd_app *app, char *err, size_t errlen)
{
    const struct mq_config *cfg = &app->config;
    const char *dir = cfg->persistence_location;
    size_t dir_len = dir ? strlen(dir) : 0;
    char *path = malloc(dir_len + strlen(cfg->persistence_file) + 2);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sprintf(path, "%s%s%s", dir_len ? dir : "", dir_len && dir[dir_len - 1] != '/' ? "/" : "",
            cfg->persistence_file);
    struct mq_store *st;
    int rc =
        store_open(&st, path, cfg->durability_relaxed ? MQ_DURABILITY_RELAXED : MQ_DURABILITY_FULL,
                   cfg->durability_interval_ms, err, errlen);
    if (rc == 0 && (rc = store_restore(st, &app->broker, broker_now_ms(), err, errlen)) != 0)
        store_close(st);
    if (rc == 0) {
        app->broker.store = st;
        log_notice("store %s: durability %s", path, cfg->durability_relaxed ? "relaxed" : "full");
    }
    free(path);
    return rc;
}

int mqttd_app_run(mqttd_app *app, char *err, size_t errlen)
{
    struct mq_config *cfg = &app->config;
    log_max_level = cfg->log_level;
    if ((cfg->password_file || cfg->acl_file) &&
        auth_load(app->broker.auth, cfg->password_file, cfg->acl_file, err, errlen) != 0)
        return -1;
    if (cfg->listener_count == 0) {
        struct mq_listener_config every_address = {
            .port = 1883, .transport = MQ_TRANSPORT_TCP, .allow_anonymous = -1};
        if (config_add_listener(cfg, &every_address, err, errlen) != 0)
            return -1;
    }
    if (cfg->persistence && !app->broker.store && open_store(app, err, errlen) != 0)
        return -1;
    unsigned workers = cfg->workers;
    if (!workers) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 0 ? (unsigned)cpus : 1;
    }
    /* Freed when the run ends, or by mqttd_app_free after a failed start. */
    if ((cfg->max_connections_per_ip || cfg->max_connection_rate_per_ip) &&
        !app->broker.limits.ip_table &&
        !(app->broker.limits.ip_table =
              ip_table_new(cfg->max_connections_per_ip, cfg->max_connection_rate_per_ip))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int *fds;
    if (prepare_listeners(app, err, errlen) != 0 ||
        open_listeners(app, workers, &fds, err, errlen) != 0) {
        free_listeners(app->listeners, cfg->listener_count);
        app->listeners = NULL;
        return -1;
    }
    app->workers = calloc(workers, sizeof *app->workers);
    if (!app->workers) {
        free(fds);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uv_loop_init(&app->control);
    uv_async_init(&app->control, &app->stop_async, on_stop_async);
    app->stop_async.data = app;
    if (app->stop_on_signals) {
        uv_signal_init(&app->control, &app->sigterm);
        uv_signal_init(&app->control, &app->sigint);
        app->sigterm.data = app->sigint.data = app;
        uv_signal_start(&app->sigterm, on_signal, SIGTERM);
        uv_signal_start(&app->sigint, on_signal, SIGINT);
        uv_signal_init(&app->control, &app->sighup);
        app->sighup.data = app;
        uv_signal_start(&app->sighup, on_sighup, SIGHUP);
    }
    int rc = 0;
    size_t n = cfg->listener_count;
    for (unsigned w = 0; w < workers; w++) {
        if (worker_init(&app->workers[w], w, &app->broker, app->listeners, fds + (size_t)w * n,
                        n) != 0 ||
            worker_start(&app->workers[w]) != 0) {
            snprintf(err, errlen, "cannot start worker %u", w);
            rc = -1;
            break;
        }
        app->worker_count++;
    }
    log_notice("mqttd %s running with %u worker%s", MQTTD_VERSION, app->worker_count,
               app->worker_count == 1 ? "" : "s");
    pthread_mutex_lock(&app->stop_lock);
    app->running = true;
    bool stop_now = app->stop_pending || rc != 0;
    pthread_mutex_unlock(&app->stop_lock);
    if (stop_now)
        stop_workers(app, app->stop_grace_ms);
    uv_run(&app->control, UV_RUN_DEFAULT);
    for (unsigned w = 0; w < app->worker_count; w++)
        worker_join(&app->workers[w]);
    for (unsigned w = 0; w < app->worker_count; w++)
        worker_destroy(&app->workers[w]);
    ip_table_free(app->broker.limits.ip_table);
    app->broker.limits.ip_table = NULL;
    /* Last: what the workers queued on the way out is committed too. */
    store_close(app->broker.store);
    app->broker.store = NULL;
    pthread_mutex_lock(&app->stop_lock);
    app->running = false;
    pthread_mutex_unlock(&app->stop_lock);
    uv_loop_close(&app->control);
    free(app->workers);
    app->workers = NULL;
    app->worker_count = 0;
    free(fds);
    free_listeners(app->listeners, cfg->listener_count);
    app->listeners = NULL;
    log_notice("stopped");
    return rc;
}
