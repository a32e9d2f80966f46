/* mock_host.c - see mock_host.h. */
#include "mock_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "util.h"

void tb_mock_init(tb_host *h, const char *plugin)
{
    memset(h, 0, sizeof *h);
    h->plugin = plugin;
    h->seed = 42;
    h->threads = 1;
    h->cancel_after = -1;
}

void tb_mock_free(tb_host *h)
{
    for (size_t i = 0; i < h->n_items; i++) {
        tb_mock_item *it = &h->items[i];
        free(it->id); free(it->metric); free(it->group);
        free(it->input); free(it->output); free(it->expected);
    }
    free(h->items);
    for (size_t i = 0; i < h->n_metrics; i++) {
        free(h->metrics[i].name);
        free(h->metrics[i].label);
    }
    free(h->metrics);
    h->items = NULL;
    h->metrics = NULL;
    h->n_items = h->n_metrics = h->cap_items = h->cap_metrics = 0;
    for (size_t i = 0; i < h->n_cache; i++) {
        free(h->cache[i].ns);
        free(h->cache[i].key);
        free(h->cache[i].value);
    }
    free(h->cache);
    h->cache = NULL;
    h->n_cache = h->cap_cache = 0;
}

/* What a session_open handle shares with the host it came from. */
static tb_host *root(tb_host *h)
{
    while (h->parent)
        h = h->parent;
    return h;
}

const tb_mock_item *tb_mock_find_item(const tb_host *h, const char *id,
                                      const char *metric)
{
    for (size_t i = 0; i < h->n_items; i++)
        if (tb_str_eq(h->items[i].id, id) && tb_str_eq(h->items[i].metric, metric))
            return &h->items[i];
    return NULL;
}

const tb_mock_metric *tb_mock_find_metric(const tb_host *h, const char *name)
{
    for (size_t i = 0; i < h->n_metrics; i++)
        if (tb_str_eq(h->metrics[i].name, name))
            return &h->metrics[i];
    return NULL;
}

static void mock_log(tb_host *h, tb_log_level level, const char *fmt, ...)
{
    (void)level;
    h = root(h);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_log, sizeof h->last_log, fmt, ap);
    va_end(ap);
    h->n_logs++;
}

static void mock_errorf(tb_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void mock_progress(tb_host *h, uint64_t done, uint64_t total)
{
    h = root(h);
    h->n_progress++;
    h->last_done = done;
    h->last_total = total;
}

static int mock_cancelled(tb_host *h)
{
    h = root(h);
    return h->cancel_after >= 0 && (long)h->n_progress >= h->cancel_after;
}

static uint64_t mock_seed(tb_host *h) { return root(h)->seed; }
static int mock_threads(tb_host *h) { return root(h)->threads; }
static uint64_t mock_limit(tb_host *h) { return root(h)->limit; }

static void *mock_alloc_aligned(size_t alignment, size_t size)
{
    void *p = NULL;
    if (alignment < sizeof(void *))
        alignment = sizeof(void *);
    return posix_memalign(&p, alignment, size ? size : 1) == 0 ? p : NULL;
}

static void mock_free_aligned(void *p) { free(p); }

static tb_status mock_report_item(tb_host *h, const tb_item *item, tb_error *err)
{
    h = root(h);
    if (!item || !item->id || !item->metric) {
        mock_errorf(err, "%s: an item needs an id and a metric", h->plugin);
        return TB_ERR_INVALID;
    }
    void *p = h->items;
    tb_grow(&p, &h->cap_items, h->n_items + 1, sizeof *h->items);
    h->items = p;
    tb_mock_item *it = &h->items[h->n_items++];
    it->id = tb_xstrdup(item->id);
    it->metric = tb_xstrdup(item->metric);
    it->group = tb_xstrdup(item->group);
    it->input = tb_xstrdup(item->input);
    it->output = tb_xstrdup(item->output);
    it->expected = tb_xstrdup(item->expected);
    it->score = item->score;
    return TB_OK;
}

static tb_status mock_report_metric(tb_host *h, const tb_metric *m, tb_error *err)
{
    h = root(h);
    if (!m || !m->name) {
        mock_errorf(err, "%s: a metric needs a name", h->plugin);
        return TB_ERR_INVALID;
    }
    void *p = h->metrics;
    tb_grow(&p, &h->cap_metrics, h->n_metrics + 1, sizeof *h->metrics);
    h->metrics = p;
    tb_mock_metric *mm = &h->metrics[h->n_metrics++];
    mm->name = tb_xstrdup(m->name);
    mm->label = tb_xstrdup(m->label);
    mm->value = m->value;
    mm->n = m->n;
    mm->flags = m->flags;
    mm->ci_low = m->ci_low;
    mm->ci_high = m->ci_high;
    return TB_OK;
}

/* As the real host: the open session's caps (ABI 1.2) when it tells them. */
static uint32_t mock_caps(tb_host *h)
{
    if (!h->backend)
        return 0;
    if (TB_HAS_MEMBER(h->backend, tb_backend_vtable, session_caps) && h->backend->session_caps &&
        h->session)
        return h->backend->caps & h->backend->session_caps(h->session);
    return h->backend->caps;
}

static tb_status unsupported(tb_host *h, const char *what, tb_error *err)
{
    mock_errorf(err, "%s: the mock host's backend offers no %s", h->plugin, what);
    return TB_ERR_UNSUPPORTED;
}

static tb_status mock_generate(tb_host *h, const tb_gen_request *const *reqs, size_t n,
                               tb_gen_result *const *out, tb_error *err)
{
    if (!h->backend || !h->backend->generate)
        return unsupported(h, "text generation", err);
    return h->backend->generate(h->session, reqs, n, out, err);
}

static tb_status mock_ll(tb_host *h, const tb_ll_request *const *reqs, size_t n,
                         tb_ll_result *const *out, tb_error *err)
{
    if (!h->backend || !h->backend->loglikelihood)
        return unsupported(h, "log-likelihoods", err);
    return h->backend->loglikelihood(h->session, reqs, n, out, err);
}

static tb_status mock_rolling(tb_host *h, const tb_rolling_request *const *reqs, size_t n,
                              tb_rolling_result *const *out, tb_error *err)
{
    if (!h->backend || !h->backend->loglikelihood_rolling)
        return unsupported(h, "rolling log-likelihoods", err);
    return h->backend->loglikelihood_rolling(h->session, reqs, n, out, err);
}

static tb_status mock_tokenize(tb_host *h, const char *text, size_t len, int add_bos,
                               int32_t *ids, size_t cap, size_t *n_ids, tb_error *err)
{
    if (!h->backend || !h->backend->tokenize)
        return unsupported(h, "tokenizer", err);
    return h->backend->tokenize(h->session, text, len, add_bos, ids, cap, n_ids, err);
}

static tb_status mock_chat(tb_host *h, const tb_message *const *messages, size_t n,
                           int add_generation_prompt, char *buf, size_t cap, size_t *len,
                           tb_error *err)
{
    if (!h->backend || !h->backend->chat_format)
        return unsupported(h, "chat template", err);
    return h->backend->chat_format(h->session, messages, n, add_generation_prompt, buf,
                                   cap, len, err);
}

/* The mock loads no weights: an in-process backend must fail cleanly. */
static tb_status mock_model_open(tb_host *h, const char *path, tb_model **out,
                                 tb_error *err)
{
    (void)path;
    *out = NULL;
    mock_errorf(err, "%s: the mock host loads no models", h->plugin);
    return TB_ERR_UNSUPPORTED;
}

static void mock_model_close(tb_host *h, tb_model *m)
{
    (void)h;
    (void)m;
}

static tb_status mock_cache_get(tb_host *h, const char *ns, const char *key,
                                const char **value, tb_error *err)
{
    h = root(h);
    h->n_cache_gets++;
    if (!ns || !key || !value) {
        mock_errorf(err, "%s: cache_get needs a namespace, a key and a value pointer",
                    h->plugin);
        return TB_ERR_INVALID;
    }
    for (size_t i = 0; i < h->n_cache; i++)
        if (tb_str_eq(h->cache[i].ns, ns) && tb_str_eq(h->cache[i].key, key)) {
            *value = h->cache[i].value;
            h->n_cache_hits++;
            return TB_OK;
        }
    return TB_ERR_NOT_FOUND;
}

/* A put replaces the entry in place, so values a get handed out earlier
 * are freed only then (the ABI keeps them until the next cache call). */
static tb_status mock_cache_put(tb_host *h, const char *ns, const char *key,
                                const char *value, tb_error *err)
{
    h = root(h);
    h->n_cache_puts++;
    if (!ns || !key || !value) {
        mock_errorf(err, "%s: a cache entry needs a namespace, a key and a value",
                    h->plugin);
        return TB_ERR_INVALID;
    }
    for (size_t i = 0; i < h->n_cache; i++)
        if (tb_str_eq(h->cache[i].ns, ns) && tb_str_eq(h->cache[i].key, key)) {
            free(h->cache[i].value);
            h->cache[i].value = tb_xstrdup(value);
            return TB_OK;
        }
    void *p = h->cache;
    tb_grow(&p, &h->cap_cache, h->n_cache + 1, sizeof *h->cache);
    h->cache = p;
    tb_mock_cache_entry *e = &h->cache[h->n_cache++];
    e->ns = tb_xstrdup(ns);
    e->key = tb_xstrdup(key);
    e->value = tb_xstrdup(value);
    return TB_OK;
}

static tb_status mock_session_open(tb_host *h, const char *model_path, tb_host **out,
                                   tb_error *err)
{
    *out = NULL;
    if (!h->backend || !h->backend_self) {
        mock_errorf(err, "%s: the mock host has no backend to open %s on", h->plugin,
                    model_path ? model_path : "a model");
        return TB_ERR_UNSUPPORTED;
    }
    if (!model_path || !model_path[0]) {
        mock_errorf(err, "%s: session_open needs a model path", h->plugin);
        return TB_ERR_INVALID;
    }
    tb_host *sub = tb_xcalloc(1, sizeof *sub);
    sub->plugin = h->plugin;
    sub->backend = h->backend;
    sub->backend_self = h->backend_self;
    sub->parent = h;
    tb_backend_open_args args = {sizeof args, model_path, model_path, NULL};
    tb_status st = h->backend->open(h->backend_self, &args, &sub->session, err);
    if (st != TB_OK) {
        free(sub);
        return st;
    }
    tb_host *r = root(h);
    r->sessions_open++;
    r->n_sessions++;
    snprintf(r->last_session_model, sizeof r->last_session_model, "%s", model_path);
    *out = sub;
    return TB_OK;
}

static void mock_session_close(tb_host *sub)
{
    if (!sub || !sub->parent)
        return;
    sub->backend->close(sub->backend_self, sub->session);
    root(sub)->sessions_open--;
    free(sub);
}

/* Members a later header adds stay NULL: designated initialisers. */
static const tb_host_api mock_api = {
    .struct_size = sizeof(tb_host_api),
    .abi_major = TB_ABI_MAJOR,
    .abi_minor = TB_ABI_MINOR,
    .log = mock_log,
    .errorf = mock_errorf,
    .progress = mock_progress,
    .cancelled = mock_cancelled,
    .seed = mock_seed,
    .threads = mock_threads,
    .limit = mock_limit,
    .config_bool = tb_config_get_bool,
    .config_int = tb_config_get_int,
    .config_float = tb_config_get_float,
    .config_string = tb_config_get_string,
    .config_list_len = tb_config_get_list_len,
    .config_list_item = tb_config_get_list_item,
    .alloc_aligned = mock_alloc_aligned,
    .free_aligned = mock_free_aligned,
    .report_item = mock_report_item,
    .report_metric = mock_report_metric,
    .backend_caps = mock_caps,
    .generate = mock_generate,
    .loglikelihood = mock_ll,
    .loglikelihood_rolling = mock_rolling,
    .tokenize = mock_tokenize,
    .chat_format = mock_chat,
    .model_open = mock_model_open,
    .model_close = mock_model_close,
    .cache_get = mock_cache_get,
    .cache_put = mock_cache_put,
    .session_open = mock_session_open,
    .session_close = mock_session_close,
};

const tb_host_api *tb_mock_api(void)
{
    return &mock_api;
}
