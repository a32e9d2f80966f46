/*
 * trustbench/plugin.h - the stable C ABI between trustbench and its plugins.
 *
 * A plugin is a shared object that exports exactly one symbol:
 *
 *     const tb_plugin_descriptor *tb_plugin_v1(void);
 *
 * The descriptor names the plugin, declares its parameters (the host validates
 * matrix YAML against this table before any work starts) and points at the
 * vtable of its kind: backend, compressor or benchmark.  The host hands every
 * instance a table of host functions (tb_host_api) so plugins never link
 * against trustbench itself and can be unit-tested against a mock host.
 *
 * Versioning rules
 *   - The loader accepts a plugin whose abi_major equals TB_ABI_MAJOR and any
 *     abi_minor.  A minor bump only appends: new struct members at the end,
 *     new enum values, new host functions at the end of tb_host_api.
 *   - Every struct shared across the boundary starts with `size_t struct_size`
 *     set by whoever fills it in.  Readers check struct_size before touching a
 *     member that a later minor version added (TB_HAS_MEMBER below).
 *   - Arrays of such structs are passed as arrays of pointers, so the two
 *     sides never disagree about the stride.
 *
 * Ownership rules
 *   - Whoever allocates frees.  Pointers passed into a call are borrowed for
 *     the duration of that call only.
 *   - Strings a backend returns in a result struct stay valid until the next
 *     call on the same session, or until the session is closed.
 *   - The descriptor and everything it points at are static for the life of
 *     the process.  Plugins are never dlclose()d.
 *
 * Thread rules
 *   - One instance (and one backend session) is used by one thread at a time.
 *   - Inside a call a plugin may use OpenMP or its own threads, but never
 *     changes process-wide settings (omp_set_num_threads, oneDNN's global
 *     config, signal handlers, locale, environment).  The thread budget is
 *     host->threads().
 *
 * Errors
 *   - Every fallible call returns tb_status and, on failure, fills the
 *     caller-owned tb_error with a sentence a user can act on (what is wrong,
 *     and where: file:line or byte offset).  Plugins never exit(), abort() or
 *     assert() on input, and never print to stdout; they log through the host.
 *
 * This header includes only <stddef.h> and <stdint.h>.
 */
#ifndef TRUSTBENCH_PLUGIN_H
#define TRUSTBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_ABI_MAJOR 1
#define TB_ABI_MINOR 2

/* True when a struct filled in by the other side is large enough to hold
 * MEMBER, i.e. it was built against a header that already had it. */
#define TB_HAS_MEMBER(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

#if defined(__GNUC__) || defined(__clang__)
#define TB_EXPORT __attribute__((visibility("default")))
#define TB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TB_EXPORT
#define TB_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------ */
/* Status and errors                                                   */
/* ------------------------------------------------------------------ */

typedef enum tb_status {
    TB_OK = 0,
    TB_ERR_INVALID = 1,     /* bad argument or malformed input */
    TB_ERR_NOMEM = 2,       /* allocation failed */
    TB_ERR_IO = 3,          /* a file or socket could not be read/written */
    TB_ERR_FORMAT = 4,      /* a file is corrupt or not in the expected format */
    TB_ERR_UNSUPPORTED = 5, /* the request needs something this plugin lacks */
    TB_ERR_CANCELLED = 6,   /* host->cancelled() became true; stop quietly */
    TB_ERR_BACKEND = 7,     /* the inference backend failed */
    TB_ERR_NOT_FOUND = 8,   /* a named thing (file, key, tensor) is absent */
    TB_ERR_INTERNAL = 9     /* a bug: an invariant did not hold */
} tb_status;

/* Caller-owned error buffer, like libcurl's CURLOPT_ERRORBUFFER.  Its size is
 * part of the ABI and never changes within a major version. */
#define TB_ERROR_SIZE 1024
typedef struct tb_error {
    char message[TB_ERROR_SIZE];
} tb_error;

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

typedef enum tb_param_type {
    TB_PARAM_BOOL = 1,        /* true/false */
    TB_PARAM_INT = 2,         /* 64-bit signed integer */
    TB_PARAM_FLOAT = 3,       /* double */
    TB_PARAM_STRING = 4,      /* free text */
    TB_PARAM_ENUM = 5,        /* one of `choices` */
    TB_PARAM_PATH = 6,        /* a file or folder that must exist; relative
                                 paths resolve against the matrix file */
    TB_PARAM_STRING_LIST = 7  /* a YAML list of strings (a list of lists is
                                 then a sweep) */
} tb_param_type;

/* tb_param.flags */
#define TB_PARAM_HAS_MIN (1u << 0)  /* INT/FLOAT: value >= min */
#define TB_PARAM_HAS_MAX (1u << 1)  /* INT/FLOAT: value <= max */
#define TB_PARAM_OPTIONAL (1u << 2) /* PATH: an empty default means "not set" */
#define TB_PARAM_VOLATILE (1u << 3) /* does not change results (threads, batch
                                       size, cache folders): left out of the
                                       cell keys, so changing it resumes */

/* One row of a plugin's parameter table.  The host validates every matrix
 * entry against it and prints it in `trustbench plugins show NAME`.  The
 * element size of the table is recorded in the descriptor (param_size), so
 * this struct may grow. */
typedef struct tb_param {
    const char *name;          /* snake_case, unique within the plugin */
    tb_param_type type;
    const char *default_value; /* as it would be written in YAML; NULL means
                                  the parameter is required */
    double min, max;           /* see TB_PARAM_HAS_MIN / TB_PARAM_HAS_MAX */
    const char *choices;       /* ENUM only: "a|b|c" */
    const char *help;          /* one line */
    uint32_t flags;
} tb_param;

/* The resolved parameters of one instance (defaults filled in, sweeps
 * expanded, paths absolute).  Opaque: read it with the host's config_*
 * getters. */
typedef struct tb_config tb_config;

/* ------------------------------------------------------------------ */
/* Backend requests and results                                        */
/* ------------------------------------------------------------------ */

/* Backend capabilities (tb_backend_vtable.caps, tb_benchmark_vtable.needs). */
#define TB_CAP_GENERATE (1u << 0)      /* text generation */
#define TB_CAP_LOGLIKELIHOOD (1u << 1) /* log p(continuation | context) */
#define TB_CAP_ROLLING (1u << 2)       /* rolling log-likelihood (perplexity) */
#define TB_CAP_TOKENIZE (1u << 3)      /* access to the model's tokenizer */
#define TB_CAP_CHAT (1u << 4)          /* applies the model's chat template */
#define TB_CAP_CAPTURE (1u << 5)       /* layer-wise calibration capture */
#define TB_CAP_TOKEN_LOGPROBS (1u << 6) /* per-token log-probabilities of a
                                           token sequence (ABI 1.1) */

typedef struct tb_message {
    size_t struct_size;
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} tb_message;

typedef struct tb_gen_request {
    size_t struct_size;
    const char *prompt;           /* raw text; used when n_messages == 0 */
    const tb_message *const *messages; /* chat: the backend applies the
                                          model's template */
    size_t n_messages;
    int32_t max_tokens;           /* new tokens at most */
    int32_t min_tokens;           /* EOS is ignored before this many */
    float temperature;            /* 0 = greedy */
    float top_p;                  /* 1 = off */
    int32_t top_k;                /* 0 = off */
    uint64_t seed;                /* sampling seed; same seed, same text */
    const char *const *stop;      /* stop strings, not included in the text */
    size_t n_stop;
} tb_gen_request;

typedef enum tb_finish {
    TB_FINISH_LENGTH = 0, /* max_tokens reached */
    TB_FINISH_STOP = 1,   /* a stop string matched */
    TB_FINISH_EOS = 2     /* the model ended the text */
} tb_finish;

typedef struct tb_gen_result {
    size_t struct_size;
    const char *text; /* owned by the session, valid until its next call */
    size_t text_len;
    int32_t n_tokens;
    tb_finish finish;
} tb_gen_result;

typedef struct tb_ll_request {
    size_t struct_size;
    const char *context;      /* may be "" (then BOS alone conditions) */
    const char *continuation; /* scored; must not be empty */
} tb_ll_request;

typedef struct tb_ll_result {
    size_t struct_size;
    double logprob;     /* natural log, summed over continuation tokens */
    int32_t n_tokens;   /* continuation tokens scored */
    int32_t is_greedy;  /* 1 when every continuation token is the argmax */
} tb_ll_result;

/* Which tokens of each window a rolling request scores. */
typedef enum tb_rolling_score {
    TB_SCORE_NEW = 0,         /* tokens no earlier window scored
                                 (lm-evaluation-harness, overlapping strides) */
    TB_SCORE_SECOND_HALF = 1, /* the second half of each window (llama.cpp) */
    TB_SCORE_ALL = 2          /* every predicted token of each window
                                 (GPTQ: non-overlapping windows) */
} tb_rolling_score;

typedef struct tb_rolling_request {
    size_t struct_size;
    const char *text;
    size_t text_len;
    int32_t window;       /* tokens per window, including BOS if added */
    int32_t stride;       /* tokens the window advances; == window: disjoint */
    int32_t add_bos;      /* 0: no BOS; 1: BOS before each window's tokens;
                             2: BOS replaces each window's first token
                             (llama.cpp's perplexity) */
    tb_rolling_score score;
} tb_rolling_request;

typedef struct tb_rolling_result {
    size_t struct_size;
    double logprob;                /* summed over every scored token */
    int64_t n_scored;              /* tokens scored */
    int64_t n_tokens;              /* tokens in the text (no BOS) */
    size_t n_windows;
    const double *window_logprob;  /* per window; owned by the session */
    const int64_t *window_scored;  /* per window; owned by the session */
} tb_rolling_result;

/* ------------------------------------------------------------------ */
/* Benchmark results                                                   */
/* ------------------------------------------------------------------ */

/* One scored item.  A benchmark may report the same item id several times
 * under different metric names (e.g. "accuracy" and "refusal"). */
typedef struct tb_item {
    size_t struct_size;
    const char *id;       /* stable across runs: pairs items between variants */
    const char *metric;   /* the metric this score belongs to */
    const char *group;    /* group tag for per-group metrics, or NULL */
    const char *input;    /* prompt as sent, or NULL */
    const char *output;   /* model output or chosen answer, or NULL */
    const char *expected; /* reference answer, or NULL */
    double score;
} tb_item;

/* tb_metric.flags */
#define TB_METRIC_FROM_ITEMS (1u << 0)  /* value, n and 95% CI are computed by
                                           the host as the mean of the item
                                           scores reported under this name
                                           (seeded bootstrap) */
#define TB_METRIC_PER_GROUP (1u << 1)   /* with FROM_ITEMS: also one metric
                                           "name[group]" per item group */
#define TB_METRIC_HAS_CI (1u << 2)      /* ci_low/ci_high are set by the plugin */
#define TB_METRIC_HIGHER_BETTER (1u << 3)
#define TB_METRIC_LOWER_BETTER (1u << 4)
#define TB_METRIC_SUBSTITUTE (1u << 5)  /* made by an offline substitute
                                           scorer; `label` names it */
#define TB_METRIC_PRIMARY (1u << 6)     /* the benchmark's headline number:
                                           what a summary table shows for
                                           its trust dimension (e.g.
                                           DecodingTrust's 0-100 score) */
#define TB_METRIC_REFUSAL (1u << 7)     /* a refusal rate (fraction of
                                           answers that refused) */

typedef struct tb_metric {
    size_t struct_size;
    const char *name;  /* snake_case; unique within the cell */
    double value;      /* ignored with TB_METRIC_FROM_ITEMS */
    double ci_low, ci_high;
    int64_t n;         /* items behind the value */
    const char *label; /* scorer or protocol that made it, e.g.
                          "perspective", "lexicon(ldnoobw)", "window=2048" */
    uint32_t flags;
} tb_metric;

/* ------------------------------------------------------------------ */
/* The host function table                                             */
/* ------------------------------------------------------------------ */

typedef enum tb_log_level {
    TB_LOG_ERROR = 0,
    TB_LOG_WARN = 1,
    TB_LOG_INFO = 2,
    TB_LOG_DEBUG = 3
} tb_log_level;

/* The host's per-instance context; opaque to plugins. */
typedef struct tb_host tb_host;

/* In-memory model weights (trustbench/model.h); opaque here. */
typedef struct tb_model tb_model;

/* ------------------------------------------------------------------ */
/* Calibration (compressors)                                           */
/* ------------------------------------------------------------------ */

/* The layer-wise calibration service; opaque to plugins. */
typedef struct tb_calibration tb_calibration;

/* Where the service looks inside a block: the input of each group of
 * linear layers that share one, and two outputs for output-error searches.
 * Widths: QKV and GATE_UP n_embd, O heads * head_dim, DOWN n_ff, the two
 * outputs n_embd. */
typedef enum tb_site {
    TB_SITE_QKV = 0,      /* input of attn_q/k/v (after attn_norm) */
    TB_SITE_O = 1,        /* input of attn_output */
    TB_SITE_GATE_UP = 2,  /* input of ffn_gate/up (after ffn_norm) */
    TB_SITE_DOWN = 3,     /* input of ffn_down */
    TB_SITE_ATTN_OUT = 4, /* output of attn_output, before the residual */
    TB_SITE_MLP_OUT = 5   /* output of ffn_down, before the residual */
} tb_site;
#define TB_SITE_COUNT 6
#define TB_SITE_BIT(site) (1u << (site))

/* What calib_collect gathers at a site. */
#define TB_CALIB_XTX (1u << 0)   /* sum over rows of x x^T (f32) */
#define TB_CALIB_NORMS (1u << 1) /* per column: sum x^2 and sum |x| */
#define TB_CALIB_ROWS (1u << 2)  /* the rows themselves */

typedef struct tb_calib_stats {
    size_t struct_size;
    int64_t width;
    int64_t n_rows;       /* token rows seen */
    int32_t n_seqs;       /* calibration sequences */
    const float *xtx;     /* width x width, symmetric; NULL unless collected */
    const double *sq_sum; /* width; NULL unless collected */
    const double *abs_sum;
    const float *rows;    /* n_rows x width; NULL unless collected */
} tb_calib_stats;

/* One rewritten tensor, as a compressor reports it. */
typedef struct tb_layer_report {
    size_t struct_size;
    const char *tensor;   /* "blk.3.attn_q.weight" */
    double sparsity;      /* zero weights / weights, after compression */
    double rel_error;     /* |WX - W'X|^2 / |WX|^2 on the calibration
                             inputs; NaN when unknown */
    double seconds;
    const char *note;     /* e.g. "damping raised to 0.1"; may be NULL */
} tb_layer_report;

typedef struct tb_host_api {
    size_t struct_size;
    uint32_t abi_major, abi_minor; /* the host's ABI version */

    /* Diagnostics. */
    void (*log)(tb_host *h, tb_log_level level, const char *fmt, ...)
        TB_PRINTF(3, 4);
    void (*errorf)(tb_error *err, const char *fmt, ...) TB_PRINTF(2, 3);
    /* Items done of total (total 0: unknown).  Cheap; call it per item. */
    void (*progress)(tb_host *h, uint64_t done, uint64_t total);
    /* Nonzero once the user interrupted the run or the cell's time is up:
     * return TB_ERR_CANCELLED promptly. */
    int (*cancelled)(tb_host *h);

    /* Run settings. */
    uint64_t (*seed)(tb_host *h);   /* the matrix seed */
    int (*threads)(tb_host *h);     /* threads this call may use */
    uint64_t (*limit)(tb_host *h);  /* items to evaluate at most; 0: all */

    /* Typed parameter getters.  They fail only for a name the plugin did not
     * declare or a type mismatch (a plugin bug), with TB_ERR_NOT_FOUND /
     * TB_ERR_INVALID. Strings are owned by the config. */
    tb_status (*config_bool)(const tb_config *c, const char *name, int *out);
    tb_status (*config_int)(const tb_config *c, const char *name, int64_t *out);
    tb_status (*config_float)(const tb_config *c, const char *name, double *out);
    tb_status (*config_string)(const tb_config *c, const char *name,
                               const char **out); /* STRING, ENUM, PATH */
    tb_status (*config_list_len)(const tb_config *c, const char *name,
                                 size_t *out);
    tb_status (*config_list_item)(const tb_config *c, const char *name,
                                  size_t index, const char **out);

    /* Memory with a guaranteed alignment (power of two). */
    void *(*alloc_aligned)(size_t alignment, size_t size);
    void (*free_aligned)(void *p);

    /* Benchmarks: report results.  Strings are copied. */
    tb_status (*report_item)(tb_host *h, const tb_item *item, tb_error *err);
    tb_status (*report_metric)(tb_host *h, const tb_metric *m, tb_error *err);

    /* Benchmarks: the backend session of the variant under test.  Requests
     * are batched by the caller; the backend may reorder work internally but
     * fills out[i] for reqs[i]. */
    uint32_t (*backend_caps)(tb_host *h);
    tb_status (*generate)(tb_host *h, const tb_gen_request *const *reqs,
                          size_t n, tb_gen_result *const *out, tb_error *err);
    tb_status (*loglikelihood)(tb_host *h, const tb_ll_request *const *reqs,
                               size_t n, tb_ll_result *const *out,
                               tb_error *err);
    tb_status (*loglikelihood_rolling)(tb_host *h,
                                       const tb_rolling_request *const *reqs,
                                       size_t n,
                                       tb_rolling_result *const *out,
                                       tb_error *err);
    /* Token ids of text; *n_ids receives the count even when it exceeds cap. */
    tb_status (*tokenize)(tb_host *h, const char *text, size_t len,
                          int add_bos, int32_t *ids, size_t cap,
                          size_t *n_ids, tb_error *err);
    /* Render messages through the model's chat template into buf (NUL
     * terminated); *len receives the length needed. */
    tb_status (*chat_format)(tb_host *h, const tb_message *const *messages,
                             size_t n, int add_generation_prompt, char *buf,
                             size_t cap, size_t *len, tb_error *err);

    /* Backends that compute in process: open a model file or folder (GGUF,
     * Hugging Face folder, llama2.c checkpoint) into the shared view of
     * trustbench/model.h, and close it.  The host owns the model. */
    tb_status (*model_open)(tb_host *h, const char *path, tb_model **out,
                            tb_error *err);
    void (*model_close)(tb_host *h, tb_model *m);

    /* Compressors: the layer-wise calibration service (args->calib).
     * Blocks are walked in order.  For block `layer`: collect statistics
     * of the chosen sites (each call runs the block on its current inputs
     * with the model's current weights, so a compressor may collect again
     * after rewriting part of the block), read them, rewrite the block's
     * weights with model->ops->tensor_set_f32, then advance: the next
     * block's inputs become this block's outputs under its new weights
     * (original = 0: GPTQ, SparseGPT, Wanda) or under the weights it had
     * at its first collect (original = 1: AWQ). */
    int32_t (*calib_layers)(tb_host *h, tb_calibration *c);
    tb_status (*calib_collect)(tb_host *h, tb_calibration *c, int32_t layer,
                               uint32_t sites, uint32_t what, tb_error *err);
    tb_status (*calib_stats)(tb_host *h, tb_calibration *c, tb_site site,
                             tb_calib_stats *out, tb_error *err);
    tb_status (*calib_advance)(tb_host *h, tb_calibration *c, int32_t layer,
                               int original, tb_error *err);
    /* Compressors: one line of the per-layer report stored with the run. */
    tb_status (*report_layer)(tb_host *h, const tb_layer_report *r,
                              tb_error *err);

    /* A persistent key-value cache kept in the results database, for what
     * is bought from outside services (Perspective API scores ...) so a
     * rerun never pays twice.  `ns` names the cache ("perspective").
     * cache_get returns TB_ERR_NOT_FOUND on a miss; *value stays valid
     * until the next cache call of this instance. */
    tb_status (*cache_get)(tb_host *h, const char *ns, const char *key,
                           const char **value, tb_error *err);
    tb_status (*cache_put)(tb_host *h, const char *ns, const char *key,
                           const char *value, tb_error *err);

    /* Benchmarks: a second model on the backend under test, e.g. a judge or
     * a classifier that scores the outputs.  *out is a host handle whose
     * generate, loglikelihood, loglikelihood_rolling, tokenize and
     * chat_format calls go to that model; everything else behaves as on
     * `h`.  Close it before the instance is destroyed. */
    tb_status (*session_open)(tb_host *h, const char *model_path,
                              tb_host **out, tb_error *err);
    void (*session_close)(tb_host *session); /* accepts NULL */
} tb_host_api;

/* ------------------------------------------------------------------ */
/* The three kinds                                                     */
/* ------------------------------------------------------------------ */

typedef enum tb_plugin_kind {
    TB_KIND_BACKEND = 1,
    TB_KIND_COMPRESSOR = 2,
    TB_KIND_BENCHMARK = 3
} tb_plugin_kind;

/* Rows of one site during a calibration capture (rows x width floats). */
typedef void (*tb_capture_sink)(void *ctx, int32_t layer, tb_site site,
                                const float *rows, int64_t n_rows,
                                int64_t width);

/* What a capture runs: the model's current weights (re-read at every
 * capture_run) over n_seqs sequences of seq_len tokens. */
typedef struct tb_capture_args {
    size_t struct_size;
    tb_model *model;
    const int32_t *tokens; /* n_seqs x seq_len, borrowed for the capture */
    int32_t n_seqs;
    int32_t seq_len;
} tb_capture_args;

/* What a backend opens a session on. */
typedef struct tb_backend_open_args {
    size_t struct_size;
    const char *model_id;   /* the matrix's id for the model */
    const char *model_path; /* absolute path of the model file or folder */
    tb_model *model;        /* weights the host loaded and compressed, or
                               NULL: load model_path yourself */
} tb_backend_open_args;

typedef struct tb_backend_vtable {
    size_t struct_size;
    uint32_t caps; /* TB_CAP_* this backend offers */

    tb_status (*open)(void *self, const tb_backend_open_args *args,
                      void **session, tb_error *err);
    void (*close)(void *self, void *session); /* accepts NULL */

    /* Each may be NULL when the capability is absent. */
    tb_status (*generate)(void *session, const tb_gen_request *const *reqs,
                          size_t n, tb_gen_result *const *out, tb_error *err);
    tb_status (*loglikelihood)(void *session, const tb_ll_request *const *reqs,
                               size_t n, tb_ll_result *const *out,
                               tb_error *err);
    tb_status (*loglikelihood_rolling)(void *session,
                                       const tb_rolling_request *const *reqs,
                                       size_t n, tb_rolling_result *const *out,
                                       tb_error *err);
    tb_status (*tokenize)(void *session, const char *text, size_t len,
                          int add_bos, int32_t *ids, size_t cap, size_t *n_ids,
                          tb_error *err);
    tb_status (*chat_format)(void *session, const tb_message *const *messages,
                             size_t n, int add_generation_prompt, char *buf,
                             size_t cap, size_t *len, tb_error *err);

    /* TB_CAP_CAPTURE: layer-wise runs for the calibration service.  open
     * embeds the tokens as block 0's inputs; run evaluates block `layer`
     * on its inputs with the current weights, giving each site's rows to
     * the sink (sites_mask: TB_SITE_BIT of the wanted ones) and keeping the
     * block's outputs; advance makes the next block's inputs those kept
     * outputs (keep = 1) or a fresh run's (keep = 0). */
    tb_status (*capture_open)(void *self, const tb_capture_args *args,
                              void **cap, tb_error *err);
    tb_status (*capture_run)(void *cap, int32_t layer, uint32_t sites_mask,
                             tb_capture_sink sink, void *ctx, tb_error *err);
    tb_status (*capture_advance)(void *cap, int32_t layer, int keep,
                                 tb_error *err);
    void (*capture_close)(void *cap);

    /* ABI 1.1, TB_CAP_TOKEN_LOGPROBS (check TB_HAS_MEMBER first): one
     * forward pass over ids[0..n); for i >= 1, logprob[i] = log p(ids[i] |
     * ids[0..i)) and top_id/top_logprob[i * k .. i * k + k) the k most
     * likely tokens at position i, most likely first (k may be 0, then
     * both may be NULL).  Row 0 is left untouched.  What an OpenAI-style
     * server needs for echo + logprobs. */
    tb_status (*token_logprobs)(void *session, const int32_t *ids, size_t n,
                                int32_t k, double *logprob, int32_t *top_id,
                                double *top_logprob, tb_error *err);

    /* ABI 1.2 (check TB_HAS_MEMBER first; may be NULL): the TB_CAP_* an
     * open session really offers, a subset of `caps`.  A backend that
     * learns only at open time what its model or server can do (a server
     * without prompt log-probabilities) clears those bits here; the runner
     * then fails the cells whose benchmark needs them before they start,
     * and host->backend_caps gives benchmarks this answer. */
    uint32_t (*session_caps)(void *session);
} tb_backend_vtable;

/* tb_compressor_vtable.flags */
#define TB_COMPRESS_IDENTITY (1u << 0)    /* leaves the model as it is: its
                                             variant is the baseline that
                                             paired differences compare to */
#define TB_COMPRESS_CALIBRATED (1u << 1)  /* needs the matrix's calibration */

typedef struct tb_compress_args {
    size_t struct_size;
    tb_model *model;       /* rewritten in place */
    tb_calibration *calib; /* NULL unless TB_COMPRESS_CALIBRATED */
} tb_compress_args;

typedef struct tb_compressor_vtable {
    size_t struct_size;
    uint32_t flags;
    tb_status (*compress)(void *self, const tb_compress_args *args,
                          tb_error *err);
} tb_compressor_vtable;

typedef struct tb_benchmark_vtable {
    size_t struct_size;
    uint32_t needs; /* TB_CAP_* the backend must offer; checked before runs */
    /* Evaluate every item, reporting items and metrics through the host.
     * Runs in its own process with a time limit; may be cancelled. */
    tb_status (*run)(void *self, tb_error *err);
} tb_benchmark_vtable;

/* ------------------------------------------------------------------ */
/* The descriptor                                                      */
/* ------------------------------------------------------------------ */

typedef struct tb_plugin_descriptor {
    size_t struct_size;
    uint32_t abi_major, abi_minor;
    tb_plugin_kind kind;
    const char *name;        /* equals the .so basename and its folder name */
    const char *version;     /* the plugin's own version, e.g. "1.2.0" */
    const char *description; /* one line */

    const tb_param *params;  /* may be NULL when n_params == 0 */
    size_t n_params;
    size_t param_size;       /* sizeof(tb_param) the plugin was built with */

    /* Make an instance from resolved parameters.  `api` and `host` stay
     * valid for the life of the instance. */
    tb_status (*create)(const tb_host_api *api, tb_host *host,
                        const tb_config *config, void **instance,
                        tb_error *err);
    void (*destroy)(void *instance); /* accepts NULL */

    union {
        const tb_backend_vtable *backend;
        const tb_compressor_vtable *compressor;
        const tb_benchmark_vtable *benchmark;
    } ops;
} tb_plugin_descriptor;

/* The one exported entry point. */
typedef const tb_plugin_descriptor *(*tb_plugin_entry_fn)(void);
#define TB_PLUGIN_ENTRY_NAME "tb_plugin_v1"

/* Fills the version fields of a descriptor initializer. */
#define TB_DESCRIPTOR_HEADER                                    \
    .struct_size = sizeof(tb_plugin_descriptor),                \
    .abi_major = TB_ABI_MAJOR, .abi_minor = TB_ABI_MINOR,       \
    .param_size = sizeof(tb_param)

/* Fills params/n_params from a static array. */
#define TB_PARAMS(array) \
    .params = (array), .n_params = sizeof(array) / sizeof((array)[0])

/* Defines the exported entry point returning DESC (a static descriptor):
 *
 *     static const tb_plugin_descriptor desc = { TB_DESCRIPTOR_HEADER, ... };
 *     TB_PLUGIN_DEFINE(desc)
 */
#define TB_PLUGIN_DEFINE(desc)                                          \
    TB_EXPORT const tb_plugin_descriptor *tb_plugin_v1(void);           \
    TB_EXPORT const tb_plugin_descriptor *tb_plugin_v1(void)            \
    {                                                                   \
        return &(desc);                                                 \
    }

#ifdef __cplusplus
}
#endif

#endif /* TRUSTBENCH_PLUGIN_H */
