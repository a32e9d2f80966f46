/*
 * native - trustbench's own CPU inference backend for the Llama family.
 *
 * It computes in process on the weights the host hands it (compressed or
 * not) or opens the model itself, with batched prefill, a KV cache per
 * sequence with prefix reuse, and SIMD kernels for F32/F16/BF16/Q8_0/Q4_0/
 * Q4_1 weights.  Results do not depend on the batch size or thread count.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

static const tb_param native_params[] = {
    {"threads", TB_PARAM_INT, "0", 0, 4096, NULL,
     "threads per call; 0: every core", TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"ctx", TB_PARAM_INT, "0", 0, 1 << 20, NULL,
     "context positions per sequence; 0: the model's training context",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"batch", TB_PARAM_INT, "16", 1, 1024, NULL,
     "sequences generated together and tokens per forward chunk",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"isa", TB_PARAM_ENUM, "auto", 0, 0, "auto|avx512|avx2|portable",
     "kernel set; auto: the best the CPU has", TB_PARAM_VOLATILE},
    {"compute", TB_PARAM_ENUM, "auto", 0, 0, "auto|exact|f32|bf16",
     "batched products (prefill, scoring): oneDNN bf16 or f32, or exact (the engine's "
     "kernels: bit-identical at any batch size); auto: bf16 where the CPU has it", 0},
    {"kv_cache", TB_PARAM_ENUM, "f32", 0, 0, "f32|f16",
     "element type of the key/value cache; f16 halves its memory and what attention reads "
     "per token (llama.cpp's default), rounding each cached value once", 0},
};

static tb_status native_create(const tb_host_api *api, tb_host *host,
                               const tb_config *cfg, void **out, tb_error *err)
{
    native_backend *be = calloc(1, sizeof *be);
    if (!be) {
        api->errorf(err, "native: out of memory");
        return TB_ERR_NOMEM;
    }
    be->api = api;
    be->host = host;
    int64_t threads = 0, ctx = 0, batch = 16;
    const char *isa = "auto", *compute = "auto", *kv_cache = "f32";
    api->config_string(cfg, "compute", &compute);
    api->config_string(cfg, "kv_cache", &kv_cache);
    be->kv_f16 = strcmp(kv_cache, "f16") == 0;
    be->compute = !strcmp(compute, "exact") ? TB_COMPUTE_EXACT
                  : !strcmp(compute, "f32") ? TB_COMPUTE_F32
                  : !strcmp(compute, "bf16") || tb_dnnl_has_bf16() ? TB_COMPUTE_BF16
                                                                   : TB_COMPUTE_F32;
    api->config_int(cfg, "threads", &threads);
    api->config_int(cfg, "ctx", &ctx);
    api->config_int(cfg, "batch", &batch);
    api->config_string(cfg, "isa", &isa);
    if (threads == 0)
        threads = api->threads(host);
    be->threads = threads > 0 ? (int)threads : 1;
    be->ctx = (int32_t)ctx;
    be->batch = (int32_t)batch;
    tb_isa best = tb_isa_detect();
    be->isa = best;
    if (strcmp(isa, "portable") == 0)
        be->isa = TB_ISA_PORTABLE;
    else if (strcmp(isa, "avx2") == 0 && best >= TB_ISA_AVX2)
        be->isa = TB_ISA_AVX2;
    else if (strcmp(isa, "avx512") == 0 && best >= TB_ISA_AVX512)
        be->isa = TB_ISA_AVX512;
    else if (strcmp(isa, "auto") != 0) {
        api->errorf(err, "native: this CPU has no %s (best: %s)", isa, tb_isa_name(best));
        free(be);
        return TB_ERR_UNSUPPORTED;
    }
    *out = be;
    return TB_OK;
}

static void native_destroy(void *self)
{
    free(self);
}

static void session_free(native_session *s)
{
    if (!s)
        return;
    native_reset_results(s);
    for (int32_t i = 0; i < s->n_caches; i++)
        tb_kv_free(&s->caches[i]);
    free(s->caches);
    free(s->logits);
    tb_engine_free(&s->eng);
    if (s->own_model && s->model)
        s->be->api->model_close(s->be->host, s->model);
    free(s);
}

static tb_status native_open(void *self, const tb_backend_open_args *args,
                             void **out, tb_error *err)
{
    native_backend *be = self;
    native_session *s = calloc(1, sizeof *s);
    if (!s) {
        be->api->errorf(err, "native: out of memory");
        return TB_ERR_NOMEM;
    }
    s->be = be;
    tb_status st = TB_OK;
    if (args->model) {
        s->model = args->model;
    } else {
        st = be->api->model_open(be->host, args->model_path, &s->model, err);
        s->own_model = st == TB_OK;
    }
    if (st == TB_OK)
        st = tb_engine_init(&s->eng, s->model, be->threads, be->isa, err);
    if (st == TB_OK) {
        s->eng.compute = be->compute;
        tb_engine_kv_f16(&s->eng, be->kv_f16);
    }
    if (st == TB_OK) {
        s->n_ctx = be->ctx > 0 ? be->ctx : s->model->params.n_ctx_train;
        if (s->n_ctx <= 0)
            s->n_ctx = 2048;
        s->n_caches = be->batch;
        s->caches = calloc((size_t)s->n_caches, sizeof *s->caches);
        s->logits = malloc((size_t)be->batch * (size_t)s->model->params.n_vocab * sizeof(float));
        if (!s->caches || !s->logits) {
            be->api->errorf(err, "native: out of memory");
            st = TB_ERR_NOMEM;
        }
    }
    /* Caches are allocated on first use: scoring needs one, generation
     * up to `batch`. */
    if (st != TB_OK) {
        session_free(s);
        return st;
    }
    static const char *const compute_names[] = {"exact", "oneDNN f32", "oneDNN bf16"};
    be->api->log(be->host, TB_LOG_DEBUG, "native: %s, %d threads, %s kernels, %s batched "
                 "products, ctx %d, %s cache", args->model_path, be->threads,
                 tb_isa_name(be->isa), compute_names[be->compute], s->n_ctx,
                 be->kv_f16 ? "f16" : "f32");
    *out = s;
    return TB_OK;
}

static void native_close(void *self, void *session)
{
    (void)self;
    session_free(session);
}

static tb_status native_tok(void *session, const char *text, size_t len,
                            int add_bos, int32_t *ids, size_t cap, size_t *n_ids,
                            tb_error *err)
{
    native_session *s = session;
    return s->model->ops->tokenize(s->model, text, len,
                                   add_bos ? TB_TOKENIZE_ADD_BOS : 0, ids, cap, n_ids, err);
}

static tb_status native_chat(void *session, const tb_message *const *msgs, size_t n,
                             int add_gen, char *buf, size_t cap, size_t *len,
                             tb_error *err)
{
    native_session *s = session;
    return s->model->ops->chat_render(s->model, msgs, n, add_gen, buf, cap, len, err);
}

static const tb_backend_vtable native_ops = {
    .struct_size = sizeof(tb_backend_vtable),
    .caps = TB_CAP_GENERATE | TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING | TB_CAP_TOKENIZE |
            TB_CAP_CHAT | TB_CAP_CAPTURE | TB_CAP_TOKEN_LOGPROBS,
    .open = native_open,
    .close = native_close,
    .generate = native_generate,
    .loglikelihood = native_loglikelihood,
    .loglikelihood_rolling = native_rolling,
    .tokenize = native_tok,
    .chat_format = native_chat,
    .capture_open = native_capture_open,
    .capture_run = native_capture_run,
    .capture_advance = native_capture_advance,
    .capture_close = native_capture_close,
    .token_logprobs = native_token_logprobs,
};

static const tb_plugin_descriptor native_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_BACKEND,
    .name = "native",
    .version = "0.1.0",
    .description = "trustbench's CPU engine for Llama-family models (GGUF, llama2.c)",
    TB_PARAMS(native_params),
    .create = native_create,
    .destroy = native_destroy,
    .ops.backend = &native_ops,
};

TB_PLUGIN_DEFINE(native_descriptor)
