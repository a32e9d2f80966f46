/* host.c - the host function table given to plugins. */
#include "host.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "params.h"
#include "store.h"
#include "util.h"
#include "wire.h"

void tb_host_init_local(tb_host *h, const char *plugin, tb_console *console,
                        uint64_t seed, int threads)
{
    memset(h, 0, sizeof *h);
    h->plugin = plugin;
    h->console = console;
    h->wire_fd = -1;
    h->seed = seed;
    h->threads = threads > 0 ? threads : 1;
}

static void host_log(tb_host *h, tb_log_level level, const char *fmt, ...)
{
    tb_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    tb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (h->wire_fd >= 0) {
        if (!h->wire_broken && tb_wire_send_log(h->wire_fd, (int)level, tb_buf_str(&b)) != 0)
            h->wire_broken = 1;
    } else if (h->console) {
        tb_console_log(h->console, level, h->plugin, "%s", tb_buf_str(&b));
    }
    tb_buf_free(&b);
}

static void host_errorf(tb_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tb_verrorf(err, fmt, ap);
    va_end(ap);
}

static void host_progress(tb_host *h, uint64_t done, uint64_t total)
{
    if (h->wire_fd < 0 || h->wire_broken)
        return;
    /* Ten updates a second are plenty for a human and keep the pipe quiet
     * when a benchmark scores thousands of items per second. */
    double now = tb_now_monotonic();
    if (now - h->last_progress < 0.1 && done != total)
        return;
    h->last_progress = now;
    if (tb_wire_send_progress(h->wire_fd, done, total) != 0)
        h->wire_broken = 1;
}

static int host_cancelled(tb_host *h)
{
    return (h->cancel && *h->cancel) || h->wire_broken;
}

static uint64_t host_seed(tb_host *h) { return h->seed; }
static int host_threads(tb_host *h) { return h->threads; }
static uint64_t host_limit(tb_host *h) { return h->limit; }

static void *host_alloc_aligned(size_t alignment, size_t size)
{
    if (alignment < sizeof(void *))
        alignment = sizeof(void *);
    if (alignment & (alignment - 1))
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, alignment, size ? size : 1) != 0)
        return NULL;
    return p;
}

static void host_free_aligned(void *p)
{
    free(p);
}

static tb_status need_wire(tb_host *h, const char *what, tb_error *err)
{
    if (h->wire_fd < 0) {
        tb_errorf(err, "%s: only a benchmark running in a cell can report %s",
                  h->plugin, what);
        return TB_ERR_INVALID;
    }
    if (h->wire_broken) {
        tb_errorf(err, "%s: the runner is gone; results cannot be delivered",
                  h->plugin);
        return TB_ERR_IO;
    }
    return TB_OK;
}

static tb_status host_report_item(tb_host *h, const tb_item *item, tb_error *err)
{
    tb_status st = need_wire(h, "items", err);
    if (st != TB_OK)
        return st;
    if (!item || !item->id || !item->metric) {
        tb_errorf(err, "%s: an item needs an id and a metric name", h->plugin);
        return TB_ERR_INVALID;
    }
    if (tb_wire_send_item(h->wire_fd, item) != 0) {
        h->wire_broken = 1;
        tb_errorf(err, "%s: lost the pipe to the runner", h->plugin);
        return TB_ERR_IO;
    }
    return TB_OK;
}

static tb_status host_report_metric(tb_host *h, const tb_metric *m, tb_error *err)
{
    tb_status st = need_wire(h, "metrics", err);
    if (st != TB_OK)
        return st;
    if (!m || !m->name || !*m->name) {
        tb_errorf(err, "%s: a metric needs a name", h->plugin);
        return TB_ERR_INVALID;
    }
    tb_metric copy = *m;
    if (!(copy.flags & TB_METRIC_HAS_CI)) {
        copy.ci_low = NAN;
        copy.ci_high = NAN;
    }
    if (tb_wire_send_metric(h->wire_fd, &copy) != 0) {
        h->wire_broken = 1;
        tb_errorf(err, "%s: lost the pipe to the runner", h->plugin);
        return TB_ERR_IO;
    }
    return TB_OK;
}

static uint32_t host_backend_caps(tb_host *h)
{
    return h->backend ? tb_session_caps(h->backend, h->session) : 0;
}

uint32_t tb_session_caps(const tb_backend_vtable *b, void *session)
{
    if (TB_HAS_MEMBER(b, tb_backend_vtable, session_caps) && b->session_caps && session)
        return b->caps & b->session_caps(session);
    return b->caps;
}

const char *tb_cap_name(uint32_t caps)
{
    static const struct {
        uint32_t cap;
        const char *name;
    } names[] = {{TB_CAP_GENERATE, "generation"},
                 {TB_CAP_LOGLIKELIHOOD, "log-likelihoods"},
                 {TB_CAP_ROLLING, "rolling log-likelihoods"},
                 {TB_CAP_TOKENIZE, "tokenization"},
                 {TB_CAP_CHAT, "chat templates"},
                 {TB_CAP_CAPTURE, "calibration capture"},
                 {TB_CAP_TOKEN_LOGPROBS, "per-token log-probabilities"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (caps & names[i].cap)
            return names[i].name;
    return NULL;
}

/* Every backend call checks the capability first, so a benchmark gets a
 * sentence instead of a NULL function pointer. */
static tb_status no_backend(tb_host *h, const char *what, tb_error *err)
{
    tb_errorf(err, "%s: the backend offers no %s", h->plugin, what);
    return TB_ERR_UNSUPPORTED;
}

static tb_status host_generate(tb_host *h, const tb_gen_request *const *reqs,
                               size_t n, tb_gen_result *const *out, tb_error *err)
{
    if (!h->backend || !h->backend->generate || !(h->backend->caps & TB_CAP_GENERATE))
        return no_backend(h, "text generation", err);
    return h->backend->generate(h->session, reqs, n, out, err);
}

static tb_status host_loglikelihood(tb_host *h, const tb_ll_request *const *reqs,
                                    size_t n, tb_ll_result *const *out,
                                    tb_error *err)
{
    if (!h->backend || !h->backend->loglikelihood ||
        !(h->backend->caps & TB_CAP_LOGLIKELIHOOD))
        return no_backend(h, "log-likelihoods", err);
    return h->backend->loglikelihood(h->session, reqs, n, out, err);
}

static tb_status host_rolling(tb_host *h, const tb_rolling_request *const *reqs,
                              size_t n, tb_rolling_result *const *out,
                              tb_error *err)
{
    if (!h->backend || !h->backend->loglikelihood_rolling ||
        !(h->backend->caps & TB_CAP_ROLLING))
        return no_backend(h, "rolling log-likelihoods", err);
    return h->backend->loglikelihood_rolling(h->session, reqs, n, out, err);
}

static tb_status host_tokenize(tb_host *h, const char *text, size_t len,
                               int add_bos, int32_t *ids, size_t cap,
                               size_t *n_ids, tb_error *err)
{
    if (!h->backend || !h->backend->tokenize || !(h->backend->caps & TB_CAP_TOKENIZE))
        return no_backend(h, "tokenizer", err);
    return h->backend->tokenize(h->session, text, len, add_bos, ids, cap, n_ids, err);
}

static tb_status host_chat_format(tb_host *h, const tb_message *const *messages,
                                  size_t n, int add_generation_prompt, char *buf,
                                  size_t cap, size_t *len, tb_error *err)
{
    if (!h->backend || !h->backend->chat_format || !(h->backend->caps & TB_CAP_CHAT))
        return no_backend(h, "chat template", err);
    return h->backend->chat_format(h->session, messages, n, add_generation_prompt,
                                   buf, cap, len, err);
}

static tb_status host_model_open(tb_host *h, const char *path, tb_model **out,
                                 tb_error *err)
{
    return tb_model_open(path, h->model_opts, out, err);
}

static void host_model_close(tb_host *h, tb_model *m)
{
    (void)h;
    tb_model_close(m);
}

static int32_t host_calib_layers(tb_host *h, tb_calibration *c)
{
    (void)h;
    return c ? tb_calib_layers(c) : 0;
}

static tb_status no_calib(tb_host *h, tb_error *err)
{
    tb_errorf(err, "%s: no calibration service: the compressor must declare "
                   "TB_COMPRESS_CALIBRATED and the matrix give calibration data", h->plugin);
    return TB_ERR_INVALID;
}

static tb_status host_calib_collect(tb_host *h, tb_calibration *c, int32_t layer,
                                    uint32_t sites, uint32_t what, tb_error *err)
{
    return c ? tb_calib_collect(c, layer, sites, what, err) : no_calib(h, err);
}

static tb_status host_calib_stats(tb_host *h, tb_calibration *c, tb_site site,
                                  tb_calib_stats *out, tb_error *err)
{
    return c ? tb_calib_get_stats(c, site, out, err) : no_calib(h, err);
}

static tb_status host_calib_advance(tb_host *h, tb_calibration *c, int32_t layer,
                                    int original, tb_error *err)
{
    return c ? tb_calib_advance(c, layer, original, err) : no_calib(h, err);
}

static tb_status host_report_layer(tb_host *h, const tb_layer_report *r, tb_error *err)
{
    if (!r || !r->tensor) {
        tb_errorf(err, "%s: a layer report needs a tensor name", h->plugin);
        return TB_ERR_INVALID;
    }
    if (h->on_report)
        h->on_report(h->report_ctx, r);
    return TB_OK;
}

/* Entries this instance put, seen by its own later gets before the runner
 * has stored them. */
typedef struct tb_host_memo {
    char *ns, *key, *value;
    struct tb_host_memo *next;
} tb_host_memo;

static tb_status host_cache_get(tb_host *h, const char *ns, const char *key,
                                const char **value, tb_error *err)
{
    for (tb_host_memo *m = h->memo; m; m = m->next)
        if (!strcmp(m->ns, ns) && !strcmp(m->key, key)) {
            *value = m->value;
            return TB_OK;
        }
    tb_store *s = h->cache_store;
    if (!s && h->db_path && !h->cache_ro && tb_path_is_file(h->db_path)) {
        if (tb_store_open(h->db_path, 0, &h->cache_ro, err) != TB_OK)
            return TB_ERR_IO;
    }
    if (!s)
        s = h->cache_ro;
    if (!s)
        return TB_ERR_NOT_FOUND;
    free(h->cache_value);
    h->cache_value = NULL;
    tb_status st = tb_store_cache_get(s, ns, key, &h->cache_value, err);
    if (st == TB_OK)
        *value = h->cache_value;
    return st;
}

static tb_status host_cache_put(tb_host *h, const char *ns, const char *key,
                                const char *value, tb_error *err)
{
    if (!ns || !key || !value) {
        tb_errorf(err, "%s: a cache entry needs a namespace, a key and a value", h->plugin);
        return TB_ERR_INVALID;
    }
    tb_host_memo *m = tb_xcalloc(1, sizeof *m);
    m->ns = tb_xstrdup(ns);
    m->key = tb_xstrdup(key);
    m->value = tb_xstrdup(value);
    m->next = h->memo;
    h->memo = m;
    if (h->wire_fd >= 0) {
        if (!h->wire_broken && tb_wire_send_cache(h->wire_fd, ns, key, value) != 0)
            h->wire_broken = 1;
        return TB_OK;
    }
    return h->cache_store ? tb_store_cache_put(h->cache_store, ns, key, value, err) : TB_OK;
}

void tb_host_release(tb_host *h)
{
    while (h->memo) {
        tb_host_memo *m = h->memo;
        h->memo = m->next;
        free(m->ns);
        free(m->key);
        free(m->value);
        free(m);
    }
    tb_store_close(h->cache_ro);
    h->cache_ro = NULL;
    free(h->cache_value);
    h->cache_value = NULL;
}

static tb_status host_session_open(tb_host *h, const char *model_path, tb_host **out,
                                   tb_error *err)
{
    *out = NULL;
    if (!h->backend || !h->backend_self) {
        tb_errorf(err, "%s: there is no backend to open %s on", h->plugin,
                  model_path ? model_path : "a model");
        return TB_ERR_UNSUPPORTED;
    }
    if (!model_path || !model_path[0]) {
        tb_errorf(err, "%s: session_open needs a model path", h->plugin);
        return TB_ERR_INVALID;
    }
    tb_host *sub = tb_xcalloc(1, sizeof *sub);
    *sub = *h;
    sub->parent = h;
    sub->session = NULL;
    sub->memo = NULL;
    sub->cache_ro = NULL;
    sub->cache_value = NULL;
    tb_backend_open_args args = {sizeof args, model_path, model_path, NULL};
    tb_status st = h->backend->open(h->backend_self, &args, &sub->session, err);
    if (st != TB_OK) {
        free(sub);
        return st;
    }
    *out = sub;
    return TB_OK;
}

static void host_session_close(tb_host *sub)
{
    if (!sub || !sub->parent)
        return;
    sub->backend->close(sub->backend_self, sub->session);
    tb_host_release(sub);
    free(sub);
}

static const tb_host_api host_api = {
    .struct_size = sizeof(tb_host_api),
    .abi_major = TB_ABI_MAJOR,
    .abi_minor = TB_ABI_MINOR,
    .log = host_log,
    .errorf = host_errorf,
    .progress = host_progress,
    .cancelled = host_cancelled,
    .seed = host_seed,
    .threads = host_threads,
    .limit = host_limit,
    .config_bool = tb_config_get_bool,
    .config_int = tb_config_get_int,
    .config_float = tb_config_get_float,
    .config_string = tb_config_get_string,
    .config_list_len = tb_config_get_list_len,
    .config_list_item = tb_config_get_list_item,
    .alloc_aligned = host_alloc_aligned,
    .free_aligned = host_free_aligned,
    .report_item = host_report_item,
    .report_metric = host_report_metric,
    .backend_caps = host_backend_caps,
    .generate = host_generate,
    .loglikelihood = host_loglikelihood,
    .loglikelihood_rolling = host_rolling,
    .tokenize = host_tokenize,
    .chat_format = host_chat_format,
    .model_open = host_model_open,
    .model_close = host_model_close,
    .calib_layers = host_calib_layers,
    .calib_collect = host_calib_collect,
    .calib_stats = host_calib_stats,
    .calib_advance = host_calib_advance,
    .report_layer = host_report_layer,
    .cache_get = host_cache_get,
    .cache_put = host_cache_put,
    .session_open = host_session_open,
    .session_close = host_session_close,
};

const tb_host_api *tb_host_api_table(void)
{
    return &host_api;
}
