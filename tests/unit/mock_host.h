/*
 * mock_host.h - a stand-in for trustbench's side of tb_host_api, for
 * testing plugins without the runner: it records what a plugin reports,
 * answers run settings from fields the test sets, and forwards backend
 * calls to a backend session the test opened (or refuses them).
 *
 * It keeps a cache (cache_get/cache_put) in memory, and session_open opens
 * a second session on the same backend when the test set backend_self:
 * the handle it returns forwards backend calls to that session and
 * everything else (reports, logs, progress, cancellation, cache) to the
 * host it came from.
 *
 * It is also the pattern a third party follows to unit-test a plugin (see
 * doc/plugin-guide.md); this one uses the core's tb_config for parameters.
 */
#ifndef TB_MOCK_HOST_H
#define TB_MOCK_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "trustbench/plugin.h"

typedef struct tb_mock_item {
    char *id, *metric, *group, *input, *output, *expected;
    double score;
} tb_mock_item;

typedef struct tb_mock_metric {
    char *name, *label;
    double value;
    int64_t n;
    uint32_t flags;
    double ci_low, ci_high; /* as reported; meaningful with TB_METRIC_HAS_CI */
} tb_mock_metric;

typedef struct tb_mock_cache_entry {
    char *ns, *key, *value;
} tb_mock_cache_entry;

struct tb_host {
    const char *plugin;
    /* Settings the test chooses. */
    uint64_t seed, limit;
    int threads;
    long cancel_after; /* cancelled() turns true after this many progress
                          calls; -1: never */
    const tb_backend_vtable *backend; /* NULL: no backend */
    void *session;
    void *backend_self; /* the backend instance; NULL: session_open refuses */
    struct tb_host *parent; /* a session_open handle: the host it came from */
    /* What the plugin did. */
    tb_mock_item *items;
    size_t n_items, cap_items;
    tb_mock_metric *metrics;
    size_t n_metrics, cap_metrics;
    size_t n_logs, n_progress;
    uint64_t last_done, last_total;
    char last_log[512];
    tb_mock_cache_entry *cache;
    size_t n_cache, cap_cache;
    size_t n_cache_gets, n_cache_puts, n_cache_hits;
    int sessions_open;  /* session_open handles not yet closed */
    size_t n_sessions;  /* session_open calls that succeeded */
    char last_session_model[512];
};

/* The function table; the config getters are the core's. */
const tb_host_api *tb_mock_api(void);
void tb_mock_init(tb_host *h, const char *plugin);
void tb_mock_free(tb_host *h); /* frees what was recorded */
/* The recorded item with this id and metric, or NULL. */
const tb_mock_item *tb_mock_find_item(const tb_host *h, const char *id,
                                      const char *metric);
const tb_mock_metric *tb_mock_find_metric(const tb_host *h, const char *name);

#endif
