/*
 * session.h - the native backend's instance and session state, shared by
 * native.c (plugin glue), generate.c and score.c.
 */
#ifndef TB_NATIVE_SESSION_H
#define TB_NATIVE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "trustbench/model.h"
#include "trustbench/plugin.h"

typedef struct native_backend {
    const tb_host_api *api;
    tb_host *host;
    int threads;
    int32_t ctx;     /* positions per sequence; 0: the model's */
    int32_t batch;   /* sequences decoded together, rows per forward */
    tb_isa isa;
    tb_compute compute;
    int kv_f16; /* the kv_cache option */
} native_backend;

typedef struct native_session {
    native_backend *be;
    tb_model *model;
    int own_model;
    tb_engine eng;
    int32_t n_ctx;
    tb_kv *caches;   /* `batch` caches; cache 0 also serves scoring */
    int32_t n_caches;
    float *logits;   /* batch rows of n_vocab */
    /* Result storage (texts, window arrays), freed at the next call. */
    void **kept;
    size_t n_kept;
} native_session;

/* Keeps p until the next call on the session (results point into it).
 * -1 when out of memory: the caller still owns p. */
int native_keep(native_session *s, void *p);

/* Sampling (sample.c). */
typedef struct native_rng {
    uint64_t s[4];
} native_rng;
void native_rng_seed(native_rng *r, uint64_t seed);
/* The next token: argmax when temperature <= 0, else a draw from the
 * tempered distribution cut to the top_k most likely (0: all) and to the
 * smallest set whose probability reaches top_p (>= 1: all).  `work_p` holds
 * n_vocab floats and `work_i` 2 * n_vocab int32s of scratch. */
int32_t native_sample(const float *logits, int32_t n_vocab, float temperature,
                      int32_t top_k, float top_p, native_rng *rng, float *work_p,
                      int32_t *work_i);

/* Tokens of text (BOS when add_bos and the model uses one), malloc'd. */
tb_status native_tokenize(native_session *s, const char *text, size_t len,
                          int add_bos, int32_t **ids, size_t *n, tb_error *err);
/* Runs tokens[from..n) of one sequence through cache `c` (positions
 * from..n), in chunks of at most the batch size.  When `logits_from` >= 0,
 * rows at positions >= logits_from deliver their log-probabilities of the
 * next token to `sink`. */
typedef void (*native_row_sink)(void *ctx, int32_t pos, const float *logits,
                                int32_t n_vocab);
tb_status native_prefill(native_session *s, tb_kv *c, const int32_t *tokens,
                         int32_t from, int32_t n, int32_t logits_from,
                         native_row_sink sink, void *sink_ctx, tb_error *err);
/* Tokens of `c` that equal tokens[0..n) from the start. */
int32_t native_common_prefix(const tb_kv *c, const int32_t *tokens, int32_t n);

tb_status native_generate(void *session, const tb_gen_request *const *reqs,
                          size_t n, tb_gen_result *const *out, tb_error *err);
tb_status native_loglikelihood(void *session, const tb_ll_request *const *reqs,
                               size_t n, tb_ll_result *const *out,
                               tb_error *err);
tb_status native_rolling(void *session, const tb_rolling_request *const *reqs,
                         size_t n, tb_rolling_result *const *out,
                         tb_error *err);
tb_status native_token_logprobs(void *session, const int32_t *ids, size_t n, int32_t k,
                                double *logprob, int32_t *top_id, double *top_logprob,
                                tb_error *err);

/* Calibration capture (capture.c). */
tb_status native_capture_open(void *self, const tb_capture_args *args, void **cap,
                              tb_error *err);
tb_status native_capture_run(void *cap, int32_t layer, uint32_t mask, tb_capture_sink sink,
                             void *ctx, tb_error *err);
tb_status native_capture_advance(void *cap, int32_t layer, int keep, tb_error *err);
void native_capture_close(void *cap);

/* Frees result storage of the previous call. */
void native_reset_results(native_session *s);

/* log-softmax value of `id` and whether it is the argmax. */
double native_logprob(const float *logits, int32_t n_vocab, int32_t id,
                      int *is_argmax);

#endif
