/*
 * host.h - the core's side of tb_host_api: one tb_host per plugin instance.
 *
 * Two modes.  In the runner process (backends and compressors) logs go to
 * the console.  In a cell's child process (benchmarks) everything a plugin
 * reports travels to the runner over the cell's pipe (wire.h), and the
 * backend calls go to the session the runner opened before forking.
 */
#ifndef TB_HOST_H
#define TB_HOST_H

#include <signal.h>
#include <stdint.h>

#include "console.h"
#include "model_io.h"
#include "trustbench/plugin.h"

struct tb_host {
    const char *plugin;         /* name, for log prefixes */
    tb_console *console;        /* runner mode; NULL in a child */
    int wire_fd;                /* child mode: the pipe; -1 otherwise */
    volatile sig_atomic_t *cancel; /* nonzero once cancelled; may be NULL */
    uint64_t seed;
    int threads;
    uint64_t limit;
    /* Benchmarks: the backend under test. */
    const tb_backend_vtable *backend;
    void *backend_self;         /* its instance, for session_open */
    void *session;
    struct tb_host *parent;     /* set on handles from session_open */
    /* How plugins that open models themselves open them (tokenizer and
     * chat template overrides of the matrix's model entry); may be NULL. */
    const tb_model_open_opts *model_opts;
    /* Compressors: where report_layer lines go (NULL: dropped). */
    void (*on_report)(void *ctx, const tb_layer_report *r);
    void *report_ctx;
    /* The cache of bought scores: read from the results database (its own
     * read-only connection, opened on first use), written through the
     * runner (child mode) or straight to `cache_store` (runner mode). */
    const char *db_path;
    struct tb_store *cache_store;
    struct tb_store *cache_ro;
    struct tb_host_memo *memo;  /* entries put by this instance */
    char *cache_value;          /* the last value returned */
    /* Progress throttling in child mode. */
    double last_progress;
    int wire_broken;
};

/* The function table handed to every plugin. */
const tb_host_api *tb_host_api_table(void);

/* A host in runner mode. */
void tb_host_init_local(tb_host *h, const char *plugin, tb_console *console,
                        uint64_t seed, int threads);
/* The capabilities an open session of backend b offers: the backend's
 * session_caps (ABI 1.2) when it has one, else its declared caps. */
uint32_t tb_session_caps(const tb_backend_vtable *b, void *session);

/* The first capability in `caps` as words ("log-likelihoods"), or NULL. */
const char *tb_cap_name(uint32_t caps);

/* Frees what the host opened or kept for its plugin (the cache). */
void tb_host_release(tb_host *h);

#endif
