/*
 * test_native.c - the native backend against golden outputs and against
 * itself: greedy generation equals the reference greedy samples, GGUF and
 * llama2.c copies of the same weights give identical logits, results do
 * not depend on batch size or threads, the SIMD kernels agree with
 * dequantize-then-f32, and perplexity agrees between rolling scoring,
 * continuation scoring and one-token-at-a-time decoding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "host.h"
#include "loader.h"
#include "model_io.h"
#include "params.h"
#include "gguf.h"
#include "quant.h"
#include "rng.h"
#include "tb_test.h"
#include "util.h"
#include "../../plugins/backends/native/engine.h"

/* ---- the plugin through the loader, as the runner uses it ---- */

typedef struct nb {
    tb_registry *reg;
    const tb_plugin_entry *e;
    tb_config *cfg;
    tb_console con;
    tb_host host;
    void *inst, *session;
} nb;

static void set(nb *b, const char *name, const char *value)
{
    tb_param_value v;
    memset(&v, 0, sizeof v);
    char why[128];
    CU_ASSERT_EQUAL_FATAL(tb_param_parse(tb_param_find(b->e->desc, name), value, ".", &v,
                                         why, sizeof why), 0);
    tb_config_set(b->cfg, &v);
}

static int nb_open_compute(nb *b, const char *model, const char *threads,
                           const char *batch, const char *isa, const char *compute)
{
    memset(b, 0, sizeof *b);
    b->reg = tb_registry_new();
    tb_registry_scan_default(b->reg, NULL, 0);
    b->e = tb_registry_find(b->reg, TB_KIND_BACKEND, "native");
    if (!b->e)
        return -1;
    b->cfg = tb_config_new();
    set(b, "threads", threads);
    set(b, "batch", batch);
    set(b, "isa", isa);
    set(b, "compute", compute);
    char why[128];
    if (tb_config_fill_defaults(b->cfg, b->e->desc, ".", why, sizeof why) != 0)
        return -1;
    tb_console_init(&b->con, stderr, 0, 0);
    tb_host_init_local(&b->host, "native", &b->con, 0, 2);
    tb_error err;
    memset(&err, 0, sizeof err);
    if (b->e->desc->create(tb_host_api_table(), &b->host, b->cfg, &b->inst, &err) != TB_OK)
        return -1;
    tb_backend_open_args args = {sizeof args, "m", model, NULL};
    if (b->e->desc->ops.backend->open(b->inst, &args, &b->session, &err) != TB_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return -1;
    }
    return 0;
}

/* Exact products unless a test asks otherwise: every comparison below is
 * bit for bit. */
static int nb_open(nb *b, const char *model, const char *threads, const char *batch,
                   const char *isa)
{
    return nb_open_compute(b, model, threads, batch, isa, "exact");
}

static void nb_close(nb *b)
{
    if (b->session)
        b->e->desc->ops.backend->close(b->inst, b->session);
    if (b->inst)
        b->e->desc->destroy(b->inst);
    tb_config_free(b->cfg);
    tb_registry_free(b->reg);
}

static char *generate(nb *b, const char *prompt, int max_tokens, float temp, uint64_t seed)
{
    tb_gen_request r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.prompt = prompt;
    r.max_tokens = max_tokens;
    r.temperature = temp;
    r.top_p = 1.0f;
    r.seed = seed;
    tb_gen_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_gen_request *rp = &r;
    tb_gen_result *op = &res;
    tb_error err;
    if (b->e->desc->ops.backend->generate(b->session, &rp, 1, &op, &err) != TB_OK) {
        fprintf(stderr, "generate: %s\n", err.message);
        return NULL;
    }
    return tb_xstrndup(res.text, res.text_len);
}

static void golden_case(const char *model_rel, const char *golden_rel)
{
    char *model = tb_test_shared_path(model_rel);
    char *golden = tb_test_shared_path(golden_rel);
    if (!model || !golden) {
        tb_test_skip("../shared is absent");
        free(model);
        free(golden);
        return;
    }
    nb b;
    CU_ASSERT_EQUAL_FATAL(nb_open(&b, model, "2", "16", "auto"), 0);
    char *text = generate(&b, "", 200, 0.0f, 0);
    size_t len;
    tb_error err;
    char *want = tb_read_file(golden, &len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    size_t n = strlen(text);
    CU_ASSERT(n > 150);
    CU_ASSERT(n <= len && memcmp(text, want, n) == 0);
    if (n > len || memcmp(text, want, n) != 0)
        fprintf(stderr, "\n%s\n  got:  %.120s\n  want: %.120s\n", model_rel, text, want);
    free(text);
    free(want);
    nb_close(&b);
    free(model);
    free(golden);
}

static void test_golden_stories_gguf(void)
{
    golden_case("models/stories260K/stories260K.gguf", "models/stories260K/expected_greedy_256.txt");
}

static void test_golden_stories_bin(void)
{
    golden_case("models/stories260K/stories260K.bin", "models/stories260K/expected_greedy_256.txt");
}

static void test_golden_babyllama(void)
{
    golden_case("models/babyllama-tok105/model5000.bin",
                "models/babyllama-tok105/expected_greedy_256.txt");
    golden_case("models/babyllama-tok361/model5000.bin",
                "models/babyllama-tok361/expected_greedy_256.txt");
}

/* ---- the engine directly ---- */

static float *logits_of_kv(const char *path, const int32_t *toks, int32_t n, int threads,
                           int32_t chunk, tb_isa isa, int kv_f16)
{
    tb_model *m = NULL;
    tb_error err;
    if (tb_model_open(path, NULL, &m, &err) != TB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    tb_engine e;
    tb_kv kv;
    float *out = NULL;
    int ok = tb_engine_init(&e, m, threads, isa, &err) == TB_OK;
    if (ok)
        tb_engine_kv_f16(&e, kv_f16);
    if (ok && tb_kv_init(&kv, &e, 512, &err) == TB_OK) {
        int32_t V = m->params.n_vocab;
        out = malloc((size_t)n * (size_t)V * sizeof *out);
        int32_t *seq = calloc((size_t)n, sizeof *seq), *pos = malloc((size_t)n * sizeof *pos);
        uint8_t *want = malloc((size_t)n);
        for (int32_t i = 0; i < n; i++) {
            pos[i] = i;
            want[i] = 1;
        }
        for (int32_t s = 0; s < n; s += chunk) {
            int32_t k = n - s < chunk ? n - s : chunk;
            tb_batch b = {k, toks + s, seq, pos + s, want};
            CU_ASSERT_EQUAL(tb_engine_forward(&e, &kv, &b, out + (size_t)s * (size_t)V, &err), TB_OK);
        }
        free(seq);
        free(pos);
        free(want);
        tb_kv_free(&kv);
        tb_engine_free(&e);
    }
    tb_model_close(m);
    return out;
}

static float *logits_of(const char *path, const int32_t *toks, int32_t n, int threads,
                        int32_t chunk, tb_isa isa)
{
    return logits_of_kv(path, toks, n, threads, chunk, isa, 0);
}

static int32_t sample_tokens[64];

static void make_tokens(void)
{
    tb_rng r;
    tb_rng_seed(&r, 7);
    sample_tokens[0] = 1;
    for (int i = 1; i < 64; i++)
        sample_tokens[i] = (int32_t)(3 + tb_rng_below(&r, 500));
}

static void test_gguf_and_llama2c_identical(void)
{
    char *a = tb_test_shared_path("models/stories260K/stories260K.gguf");
    char *b = tb_test_shared_path("models/stories260K/stories260K.bin");
    if (!a || !b) {
        tb_test_skip("../shared is absent");
        free(a);
        free(b);
        return;
    }
    make_tokens();
    float *x = logits_of(a, sample_tokens, 64, 1, 64, tb_isa_detect());
    float *y = logits_of(b, sample_tokens, 64, 1, 64, tb_isa_detect());
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT(memcmp(x, y, 64 * 512 * sizeof(float)) == 0);
    free(x);
    free(y);
    free(a);
    free(b);
}

/* Logits of the sample tokens in one batch of 64 on one thread, checked
 * bit-identical to those of batches of 1 and of 7 on two threads; NULL
 * when the engine failed. */
static float *invariant_logits(const char *path, int kv_f16)
{
    tb_isa isa = tb_isa_detect();
    float *whole = logits_of_kv(path, sample_tokens, 64, 1, 64, isa, kv_f16);
    float *single = logits_of_kv(path, sample_tokens, 64, 2, 1, isa, kv_f16);
    float *odd = logits_of_kv(path, sample_tokens, 64, 2, 7, isa, kv_f16);
    int ok = whole && single && odd;
    CU_ASSERT(ok);
    if (ok) {
        size_t bytes = 64 * 512 * sizeof(float);
        CU_ASSERT(memcmp(whole, single, bytes) == 0);
        CU_ASSERT(memcmp(whole, odd, bytes) == 0);
    } else {
        free(whole);
        whole = NULL;
    }
    free(single);
    free(odd);
    return whole;
}

static void test_batch_and_threads_invariant(void)
{
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    if (!path) {
        tb_test_skip("../shared is absent");
        return;
    }
    make_tokens();
    float *whole = invariant_logits(path, 0);
    float *portable = logits_of(path, sample_tokens, 64, 2, 64, TB_ISA_PORTABLE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
    CU_ASSERT_PTR_NOT_NULL_FATAL(portable);
    size_t n = 64 * 512;
    /* Another kernel set sums in another order: equal within tolerance. */
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)whole[i] - portable[i]));
    CU_ASSERT(worst < 1e-3);
    free(whole);
    free(portable);
    free(path);
}

/* A cache made before the engine switched to f16 is refused, not
 * misread. */
static void check_stale_cache_refused(const char *path)
{
    tb_model *m = NULL;
    tb_error err;
    CU_ASSERT_EQUAL_FATAL(tb_model_open(path, NULL, &m, &err), TB_OK);
    tb_engine e;
    tb_kv kv;
    CU_ASSERT_EQUAL_FATAL(tb_engine_init(&e, m, 1, tb_isa_detect(), &err), TB_OK);
    CU_ASSERT_EQUAL_FATAL(tb_kv_init(&kv, &e, 8, &err), TB_OK);
    tb_engine_kv_f16(&e, 1);
    int32_t tok = 1, seq = 0, pos = 0;
    tb_batch b = {1, &tok, &seq, &pos, NULL};
    float *logits = malloc(512 * sizeof *logits);
    CU_ASSERT_EQUAL(tb_engine_forward(&e, &kv, &b, logits, &err), TB_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "f32 KV cache"));
    free(logits);
    tb_kv_free(&kv);
    tb_engine_free(&e);
    tb_model_close(m);
}

/* An f16 cache: logits move by the rounding of the cached keys and
 * values (so differ from the f32 cache's, but only slightly) and stay
 * bit-identical across batch sizes and threads; for heads the SIMD
 * kernels take (32) and heads they do not (8). */
static void test_kv_f16(void)
{
    static const int32_t dims[][2] = {{128, 4}, {64, 8}}; /* dim, heads */
    make_tokens();
    for (size_t c = 0; c < TB_ARRAY_LEN(dims); c++) {
        char path[512];
        snprintf(path, sizeof path, "%s/kv16_%d.gguf", tb_test_tmpdir(), (int)c);
        tb_synth_spec spec = {NULL, dims[c][0], 2, dims[c][1], dims[c][1] / 2, 256, 512, 256,
                              11, TB_DTYPE_F32};
        tb_error err;
        CU_ASSERT_EQUAL_FATAL(tb_synth_write(&spec, path, &err), TB_OK);
        float *f32 = logits_of_kv(path, sample_tokens, 64, 1, 64, tb_isa_detect(), 0);
        float *whole = invariant_logits(path, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f32);
        CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
        size_t n = 64 * 512;
        double worst = 0, big = 0;
        for (size_t i = 0; i < n; i++) {
            worst = fmax(worst, fabs((double)whole[i] - f32[i]));
            big = fmax(big, fabs((double)f32[i]));
        }
        /* f16 keeps 11 significant bits: a relative change near 2^-11 per
         * cached value, far below 1% of the logits' range, yet not 0. */
        CU_ASSERT(worst > 0);
        CU_ASSERT(worst < 1e-2 * big);
        free(f32);
        free(whole);
        if (c == 0)
            check_stale_cache_refused(path);
    }
}

tb_dot_fn tb_dot_portable(uint32_t type);

/* Every kernel against dequantize-then-f32 in double, on widths that are
 * and are not multiples of the SIMD width (for packed Q4_0: whole groups
 * of 16 blocks only (4096), a partial group of quads and one block (416),
 * whole groups then one block (544) or then two quads (11008)). */
static void test_kernels_match_dequantized(void)
{
    static const uint32_t types[] = {0, 1, 30, 8, 2, 3};
    static const int64_t widths[] = {32, 96, 160, 416, 544, 4096, 11008};
    tb_rng r;
    tb_rng_seed(&r, 3);
    tb_isa best = tb_isa_detect();
    for (size_t t = 0; t < TB_ARRAY_LEN(types); t++) {
        for (size_t k = 0; k < TB_ARRAY_LEN(widths); k++) {
            int64_t n = widths[k];
            float *w = malloc((size_t)n * sizeof *w), *x = malloc((size_t)n * sizeof *x);
            float *deq = malloc((size_t)n * sizeof *deq);
            void *q = malloc((size_t)n * 4 + 64);
            double scale = 0;
            for (int64_t i = 0; i < n; i++) {
                w[i] = (float)(tb_rng_uniform(&r) - 0.5);
                x[i] = (float)(tb_rng_uniform(&r) - 0.5);
            }
            tb_quantize_row(types[t], w, q, n);
            tb_dequantize_row(types[t], q, deq, n);
            double ref = 0;
            for (int64_t i = 0; i < n; i++) {
                ref += (double)deq[i] * x[i];
                scale += fabs((double)deq[i] * x[i]);
            }
            tb_dot_q8_fn q8 = tb_dot_q8_for(types[t], best);
            if (q8) {
                /* int8 activations: the error is bounded by half a
                 * quantization step of x times |w|, per block. */
                int8_t *xq = malloc((size_t)n);
                float *xd = malloc((size_t)n / 32 * sizeof *xd);
                int32_t *xs = malloc((size_t)n / 32 * sizeof *xs);
                tb_xq8 xv = {xq, xd, xs};
                tb_quantize_x_q8(x, n, &xv);
                double bound = 1e-6;
                for (int64_t i = 0; i < n; i++)
                    bound += fabs((double)deq[i]) * xd[i / 32] * 0.5;
                float got = q8(q, xq, xd, xs, n);
                CU_ASSERT(fabs(got - ref) <= bound + 1e-5 * scale);
                /* And exactly the integer arithmetic it stands for. */
                double exact_q = 0;
                for (int64_t i = 0; i < n; i++)
                    exact_q += (double)deq[i] * xq[i] * xd[i / 32];
                CU_ASSERT(fabs(got - exact_q) <= 1e-5 * scale + 1e-6);
                free(xq);
                free(xd);
                free(xs);
            }
            tb_packing pk;
            if (tb_packing_for(types[t], best, &pk) == 0) {
                /* The packed kernels (Q4_0, Q8_0): the same arithmetic on
                 * repacked rows, on a row that does not start on a cache
                 * line. */
                uint64_t rb = pk.row_bytes(n);
                uint8_t *buf = malloc((size_t)rb + 1);
                pk.pack(q, 1, n, buf + 1);
                float y1 = 0, y2 = 0;
                CU_ASSERT_EQUAL(tb_matmul_q8(pk.dot, buf + 1, rb, n, 1, x, 1, &y1, 1, NULL, 1,
                                             pk.interleave), 0);
                CU_ASSERT_EQUAL(tb_matmul_q8(tb_dot_q8_for(types[t], best), q,
                                             tb_ggml_row_bytes(types[t], n), n, 1, x, 1, &y2, 1,
                                             NULL, 1, 0), 0);
                CU_ASSERT(fabs(y1 - y2) <= 1e-5 * scale + 1e-6);
                free(buf);
            }
            for (int isa = 0; isa <= (int)best; isa++) {
                float got = tb_dot_for(types[t], (tb_isa)isa)(q, x, n);
                int ok = fabs(got - ref) <= 1e-5 * scale + 1e-6;
                CU_ASSERT(ok);
                if (!ok)
                    fprintf(stderr, "\ntype %u width %lld isa %s: %g vs %g\n", types[t],
                            (long long)n, tb_isa_name((tb_isa)isa), got, ref);
            }
            free(w);
            free(x);
            free(deq);
            free(q);
        }
    }
}

/* ---- perplexity three ways ---- */

static double rolling_lp(nb *b, const char *text, int window, int stride, int bos, int64_t *n)
{
    tb_rolling_request r = {sizeof r, text, strlen(text), window, stride, bos, TB_SCORE_NEW};
    tb_rolling_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_rolling_request *rp = &r;
    tb_rolling_result *op = &res;
    tb_error err;
    CU_ASSERT_EQUAL(b->e->desc->ops.backend->loglikelihood_rolling(b->session, &rp, 1, &op, &err), TB_OK);
    *n = res.n_scored;
    return res.logprob;
}

/* The SIMD attention kernels against double sums, for head sizes,
 * groups of query heads and position counts on both sides of their
 * 16-, 32- and 64-wide steps, on rows strided as in the KV cache; with
 * an f16 cache, against the sums of the stored (rounded) values. */
static void check_attention(tb_attn_scores_fn scores, tb_attn_wsum_fn wsum, int hd, int group,
                            int32_t n, int f16, tb_rng *r)
{
    size_t stride = (size_t)hd * 3, ld = (size_t)n + 5, cells = (size_t)n * stride;
    float *kv = malloc(cells * sizeof *kv); /* the values the kernels see */
    uint16_t *kvh = malloc(cells * sizeof *kvh);
    float *q = malloc((size_t)group * (size_t)hd * sizeof *q);
    float *a = malloc((size_t)group * ld * sizeof *a);
    float *out = malloc((size_t)group * (size_t)hd * sizeof *out);
    for (size_t i = 0; i < cells; i++) {
        kv[i] = (float)(tb_rng_uniform(r) - 0.5);
        kvh[i] = tb_f32_to_fp16(kv[i]);
        if (f16)
            kv[i] = tb_fp16_to_f32(kvh[i]);
    }
    for (int i = 0; i < group * hd; i++)
        q[i] = (float)(tb_rng_uniform(r) - 0.5);
    scores(f16 ? (const void *)kvh : (const void *)kv, stride, n, q, group, hd, 0.125f, a, ld);
    int bad = 0;
    for (int g = 0; g < group; g++)
        for (int32_t t = 0; t < n; t++) {
            double sum = 0, mag = 0;
            for (int i = 0; i < hd; i++) {
                double p = (double)kv[(size_t)t * stride + (size_t)i] * q[g * hd + i];
                sum += p;
                mag += fabs(p);
            }
            bad += fabs(a[(size_t)g * ld + (size_t)t] - 0.125 * sum) > 1e-6 * mag + 1e-7;
        }
    /* the values: the rows' second third */
    wsum(f16 ? (const void *)(kvh + hd) : (const void *)(kv + hd), stride, n, a, ld, group, hd,
         out);
    for (int g = 0; g < group; g++)
        for (int i = 0; i < hd; i++) {
            double sum = 0, mag = 0;
            for (int32_t t = 0; t < n; t++) {
                double p = (double)a[(size_t)g * ld + (size_t)t] *
                           kv[(size_t)t * stride + (size_t)hd + (size_t)i];
                sum += p;
                mag += fabs(p);
            }
            bad += fabs(out[g * hd + i] - sum) > 1e-6 * mag + 1e-7;
        }
    CU_ASSERT_EQUAL(bad, 0);
    if (bad)
        fprintf(stderr, "\nattention kernels (%s): head %d, group %d, %d rows: %d wrong\n",
                f16 ? "f16" : "f32", hd, group, (int)n, bad);
    free(kv);
    free(kvh);
    free(q);
    free(a);
    free(out);
}

static void test_attention_kernels(void)
{
    static const int hds[] = {16, 64, 128, 256};
    static const int groups[] = {1, 3, 8};
    static const int32_t ns[] = {1, 15, 16, 17, 33, 100};
    tb_attn_scores_fn scores;
    tb_attn_wsum_fn wsum;
    if (tb_attn_for(tb_isa_detect(), 64, 0, &scores, &wsum) != 0)
        return; /* no AVX-512 here: the engine uses its per-row loops */
    CU_ASSERT_NOT_EQUAL(tb_attn_for(tb_isa_detect(), 8, 0, &scores, &wsum), 0);
    CU_ASSERT_NOT_EQUAL(tb_attn_for(tb_isa_detect(), 8, 1, &scores, &wsum), 0);
    tb_rng r;
    tb_rng_seed(&r, 5);
    for (int f16 = 0; f16 <= 1; f16++)
        for (size_t h = 0; h < TB_ARRAY_LEN(hds); h++)
            for (size_t g = 0; g < TB_ARRAY_LEN(groups); g++)
                for (size_t k = 0; k < TB_ARRAY_LEN(ns); k++) {
                    CU_ASSERT_EQUAL(tb_attn_for(tb_isa_detect(), hds[h], f16, &scores, &wsum),
                                    0);
                    check_attention(scores, wsum, hds[h], groups[g], ns[k], f16, &r);
                }
}

/* The SIMD SwiGLU and softmax against expf in double, over the range
 * activations take and the ends where e^x overflows or underflows. */
static void test_elementwise_kernels(void)
{
    enum { N = 1000 };
    float a[N], b[N], got[N], sm[N];
    tb_swiglu_fn swiglu;
    tb_softmax_fn softmax;
    tb_elementwise_for(tb_isa_detect(), &swiglu, &softmax);
    tb_rng r;
    tb_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) {
        a[i] = (float)((tb_rng_uniform(&r) - 0.5) * 40.0);
        b[i] = (float)(tb_rng_uniform(&r) - 0.5);
    }
    a[0] = -120.0f; /* e^120 overflows: silu is -0 */
    a[1] = 95.0f;   /* e^-95 is denormal */
    a[2] = 0.0f;
    memcpy(got, a, sizeof a);
    swiglu(got, b, N - 3); /* a tail that is not a whole vector */
    int bad = 0;
    for (int i = 0; i < N - 3; i++) {
        double want = (double)a[i] / (1.0 + exp(-(double)a[i])) * b[i];
        bad += fabs(got[i] - want) > 4e-7 * fabs(want) + 1e-30;
    }
    for (int i = N - 3; i < N; i++)
        bad += got[i] != a[i]; /* untouched past n */
    CU_ASSERT_EQUAL(bad, 0);
    for (int i = 0; i < N; i++)
        sm[i] = a[i] * 0.5f;
    softmax(sm, 77);
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < 77; i++)
        mx = fmax(mx, (double)a[i] * 0.5);
    for (int i = 0; i < 77; i++)
        sum += exp((double)a[i] * 0.5 - mx);
    bad = 0;
    double total = 0;
    for (int i = 0; i < 77; i++) {
        double want = exp((double)a[i] * 0.5 - mx) / sum;
        bad += fabs(sm[i] - want) > 1e-6 * want + 1e-12;
        total += sm[i];
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_DOUBLE_EQUAL(total, 1.0, 1e-6);
    CU_ASSERT_EQUAL(sm[77], a[77] * 0.5f);
}

/* Activation quantization follows its definition to the bit: per block
 * of 32, d = max|x| / 127, q = x * (1 / d) rounded to nearest even, and s
 * the sum of q; whatever SIMD path the machine takes.  The inputs include
 * an all-zero block, ties at .5 and the extremes. */
static void test_activation_quantization_exact(void)
{
    enum { N = 32 * 40 };
    float x[N];
    int8_t q[N];
    float d[N / 32];
    int32_t sm[N / 32];
    tb_rng r;
    tb_rng_seed(&r, 11);
    for (int i = 0; i < N; i++)
        x[i] = (float)((tb_rng_uniform(&r) - 0.5) * pow(10.0, (double)(i / 32 % 7) - 3.0));
    for (int i = 0; i < 32; i++)
        x[64 + i] = 0.0f; /* block 2: all zero */
    for (int i = 0; i < 32; i++)
        x[96 + i] = (float)(i - 16) * 0.5f; /* block 3: halves ... */
    x[96 + 31] = 127.0f; /* ... with d = 1, so each odd one is a tie */
    tb_xq8 xv = {q, d, sm};
    tb_quantize_x_q8(x, N, &xv);
    int bad = 0;
    for (int b = 0; b < N / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        float db = amax / 127.0f, id = db ? 1.0f / db : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            long want = lrintf(x[b * 32 + j] * id);
            bad += q[b * 32 + j] != (int8_t)want;
            sum += (int32_t)want;
        }
        bad += memcmp(&d[b], &db, sizeof db) != 0;
        bad += sm[b] != sum;
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* ties go to even: -7.5 -> -8, -6.5 -> -6, 0.5 -> 0, 1.5 -> 2 */
    CU_ASSERT_EQUAL(d[3], 1.0f);
    CU_ASSERT_EQUAL(q[96 + 1], -8);
    CU_ASSERT_EQUAL(q[96 + 3], -6);
    CU_ASSERT_EQUAL(q[96 + 17], 0);
    CU_ASSERT_EQUAL(q[96 + 19], 2);
}

/* The two-row kernels against two calls of their one-row twins, bit for
 * bit: widths of whole groups of 16 blocks, a partial last group (11008,
 * 544), only a partial group (416), an odd number of blocks (1056), rows
 * that do not start on a cache line. */
static void test_dot2_equals_dot(void)
{
    static const uint32_t types[2] = {TB_DTYPE_Q4_0, TB_DTYPE_Q8_0};
    static const int64_t widths[] = {416, 544, 1056, 2048, 11008};
    tb_isa best = tb_isa_detect();
    tb_rng r;
    tb_rng_seed(&r, 9);
    int tried = 0, bad = 0;
    for (int t = 0; t < 2; t++) {
        tb_packing pk;
        if (tb_packing_for(types[t], best, &pk) != 0)
            continue;
        tb_dot2_q8_fn dot2 = tb_dot2_q8_for(pk.dot);
        CU_ASSERT_PTR_NOT_NULL(dot2);
        CU_ASSERT_PTR_NULL(tb_dot2_q8_for(tb_dot_q8_for(types[t], best)));
        if (!dot2)
            continue;
        for (size_t k = 0; k < TB_ARRAY_LEN(widths); k++) {
            int64_t n = widths[k];
            uint64_t plain = tb_ggml_row_bytes(types[t], n), rb = pk.row_bytes(n);
            float *x = malloc((size_t)n * sizeof *x), *row = malloc((size_t)n * sizeof *row);
            uint8_t *src = malloc((size_t)plain * 2), *buf = malloc((size_t)rb * 2 + 1);
            for (int w = 0; w < 2; w++) {
                for (int64_t i = 0; i < n; i++)
                    row[i] = (float)(tb_rng_uniform(&r) - 0.5);
                tb_quantize_row(types[t], row, src + (size_t)w * plain, n);
            }
            for (int64_t i = 0; i < n; i++)
                x[i] = (float)(tb_rng_uniform(&r) - 0.5);
            pk.pack(src, 2, n, buf + 1);
            int8_t *xq = malloc((size_t)n);
            float *xd = malloc((size_t)n / 32 * sizeof *xd);
            int32_t *xs = malloc((size_t)n / 32 * sizeof *xs);
            tb_xq8 xv = {xq, xd, xs};
            tb_quantize_x_q8(x, n, &xv);
            const uint8_t *w0 = buf + 1, *w1 = buf + 1 + rb;
            float two[2], a = pk.dot(w0, xq, xd, xs, n), b = pk.dot(w1, xq, xd, xs, n);
            dot2(w0, w1, xq, xd, xs, n, two);
            bad += memcmp(&two[0], &a, sizeof a) != 0;
            bad += memcmp(&two[1], &b, sizeof b) != 0;
            dot2(w1, w0, xq, xd, xs, n, two); /* and with the rows swapped */
            bad += memcmp(&two[0], &b, sizeof b) != 0;
            bad += memcmp(&two[1], &a, sizeof a) != 0;
            tried++;
            free(x);
            free(row);
            free(src);
            free(buf);
            free(xq);
            free(xd);
            free(xs);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    if (best == TB_ISA_AVX512_VNNI)
        CU_ASSERT_EQUAL(tried, 10);
}

/* The fused int8 products (q, k, v in one region): parts of odd sizes
 * whose concatenation ends in an odd partial chunk, with biases, two
 * activation rows, 1 and 2 threads, through the plain Q8_0 kernel and
 * the packed one (which has a two-row twin).  Every output must be
 * exactly its own one-row dot call on the quantized row plus its bias: no
 * row skipped, computed twice into the wrong place, or sent to the wrong
 * part. */
static void test_matmul_parts_exact(void)
{
    enum { IN = 1056, M = 2 }; /* 33 blocks: two whole groups and one */
    static const int64_t outs[3] = {131, 1, 135}; /* 267 rows: 128 + 128 + 11 */
    tb_isa best = tb_isa_detect();
    tb_packing pk;
    int have_packed = tb_packing_for(TB_DTYPE_Q8_0, best, &pk) == 0;
    uint64_t plain = tb_ggml_row_bytes(TB_DTYPE_Q8_0, IN);
    tb_rng r;
    tb_rng_seed(&r, 5);
    float *x = malloc(M * IN * sizeof *x), row[IN];
    for (int i = 0; i < M * IN; i++)
        x[i] = (float)(tb_rng_uniform(&r) - 0.5);
    uint8_t *w[3], *wp[3];
    float *bias[3], *y[3];
    for (int p = 0; p < 3; p++) {
        w[p] = malloc((size_t)plain * (size_t)outs[p]);
        wp[p] = have_packed ? malloc((size_t)pk.row_bytes(IN) * (size_t)outs[p]) : NULL;
        bias[p] = malloc((size_t)outs[p] * sizeof(float));
        y[p] = malloc((size_t)(M * outs[p]) * sizeof(float));
        for (int64_t o = 0; o < outs[p]; o++) {
            for (int i = 0; i < IN; i++)
                row[i] = (float)(tb_rng_uniform(&r) - 0.5);
            CU_ASSERT_EQUAL(tb_quantize_row(TB_DTYPE_Q8_0, row, w[p] + (size_t)o * plain, IN), 0);
            bias[p][o] = (float)o;
        }
        if (have_packed)
            pk.pack(w[p], outs[p], IN, wp[p]);
    }
    int8_t *xq = malloc(M * IN);
    float xd[M * IN / 32];
    int32_t xs[M * IN / 32];
    for (int m = 0; m < M; m++) {
        tb_xq8 xv = {xq + m * IN, xd + m * IN / 32, xs + m * IN / 32};
        tb_quantize_x_q8(x + m * IN, IN, &xv);
    }
    for (int kind = 0; kind < 1 + have_packed; kind++) {
        tb_dot_q8_fn dot = kind ? pk.dot : tb_dot_q8_for(TB_DTYPE_Q8_0, best);
        uint64_t rb = kind ? pk.row_bytes(IN) : plain;
        uint8_t **ws = kind ? wp : w;
        CU_ASSERT_EQUAL(tb_dot2_q8_for(dot) != NULL, kind == 1);
        for (int threads = 1; threads <= 2; threads++) {
            tb_q8_part parts[3];
            for (int p = 0; p < 3; p++) {
                for (int64_t i = 0; i < M * outs[p]; i++)
                    y[p][i] = NAN;
                parts[p] = (tb_q8_part){ws[p], rb, outs[p], y[p], outs[p],
                                        p == 1 ? NULL : bias[p]};
            }
            CU_ASSERT_EQUAL(tb_matmul_q8_parts(dot, parts, 3, IN, x, M, threads, 0), 0);
            int bad = 0;
            for (int p = 0; p < 3; p++)
                for (int m = 0; m < M; m++)
                    for (int64_t o = 0; o < outs[p]; o++) {
                        float want = dot(ws[p] + (size_t)o * rb, xq + m * IN, xd + m * IN / 32,
                                         xs + m * IN / 32, IN) +
                                     (p == 1 ? 0.0f : bias[p][o]);
                        bad += memcmp(&y[p][m * outs[p] + o], &want, sizeof want) != 0;
                    }
            CU_ASSERT_EQUAL(bad, 0);
        }
    }
    for (int p = 0; p < 3; p++) {
        free(w[p]);
        free(wp[p]);
        free(bias[p]);
        free(y[p]);
    }
    free(x);
    free(xq);
}

/* The float products the same way: 267 f32 rows (two whole chunks and an
 * odd one), two activation rows, 1 and 2 threads; every output exactly its
 * own dot call plus its bias. */
static void test_matmul_exact(void)
{
    enum { IN = 48, OUT = 267, M = 2 };
    tb_rng r;
    tb_rng_seed(&r, 6);
    float *w = malloc((size_t)OUT * IN * sizeof *w), x[M * IN], bias[OUT];
    float *y = malloc((size_t)M * OUT * sizeof *y);
    for (int i = 0; i < OUT * IN; i++)
        w[i] = (float)(tb_rng_uniform(&r) - 0.5);
    for (int i = 0; i < M * IN; i++)
        x[i] = (float)(tb_rng_uniform(&r) - 0.5);
    for (int o = 0; o < OUT; o++)
        bias[o] = (float)o;
    tb_dot_fn dot = tb_dot_for(TB_DTYPE_F32, tb_isa_detect());
    for (int threads = 1; threads <= 2; threads++) {
        for (int i = 0; i < M * OUT; i++)
            y[i] = NAN;
        tb_matmul(dot, w, IN * sizeof *w, IN, OUT, x, M, y, OUT, bias, threads);
        int bad = 0;
        for (int m = 0; m < M; m++)
            for (int o = 0; o < OUT; o++) {
                float want = dot(w + (size_t)o * IN, x + m * IN, IN) + bias[o];
                bad += memcmp(&y[m * OUT + o], &want, sizeof want) != 0;
            }
        CU_ASSERT_EQUAL(bad, 0);
    }
    free(w);
    free(y);
}

static void test_perplexity_three_ways(void)
{
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    if (!path) {
        tb_test_skip("../shared is absent");
        return;
    }
    const char *text = "Once upon a time, there was a little girl named Lily. She loved to "
                       "play outside in the park.";
    nb b;
    CU_ASSERT_EQUAL_FATAL(nb_open(&b, path, "2", "16", "auto"), 0);
    /* 1. One window over the whole text. */
    int64_t n1;
    double lp1 = rolling_lp(&b, text, 512, 511, 1, &n1);
    /* 2. The same as one continuation after BOS. */
    tb_ll_request q = {sizeof q, "", text};
    tb_ll_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_ll_request *qp = &q;
    tb_ll_result *rp = &res;
    tb_error err;
    CU_ASSERT_EQUAL(b.e->desc->ops.backend->loglikelihood(b.session, &qp, 1, &rp, &err), TB_OK);
    CU_ASSERT_EQUAL(res.n_tokens, n1);
    CU_ASSERT_DOUBLE_EQUAL(res.logprob, lp1, 1e-9);
    nb_close(&b);
    /* 3. One token at a time through the engine, summing log-softmax. */
    tb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(tb_model_open(path, NULL, &m, &err), TB_OK);
    int32_t ids[256];
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(m->ops->tokenize(m, text, strlen(text), TB_TOKENIZE_ADD_BOS, ids, 256, &n, &err), TB_OK);
    tb_engine e;
    tb_kv kv;
    CU_ASSERT_EQUAL_FATAL(tb_engine_init(&e, m, 1, tb_isa_detect(), &err), TB_OK);
    CU_ASSERT_EQUAL_FATAL(tb_kv_init(&kv, &e, 512, &err), TB_OK);
    double lp3 = 0;
    float logits[512];
    for (int32_t p = 0; p + 1 < (int32_t)n; p++) {
        int32_t seq = 0;
        tb_batch bt = {1, &ids[p], &seq, &p, NULL};
        CU_ASSERT_EQUAL_FATAL(tb_engine_forward(&e, &kv, &bt, logits, &err), TB_OK);
        double max = logits[0], sum = 0;
        for (int i = 1; i < 512; i++)
            max = fmax(max, logits[i]);
        for (int i = 0; i < 512; i++)
            sum += exp(logits[i] - max);
        lp3 += logits[ids[p + 1]] - max - log(sum);
    }
    CU_ASSERT_EQUAL((int64_t)n - 1, n1);
    CU_ASSERT_DOUBLE_EQUAL(lp3, lp1, 1e-9);
    tb_kv_free(&kv);
    tb_engine_free(&e);
    tb_model_close(m);
    /* Overlapping windows score every token once too. */
    CU_ASSERT_EQUAL_FATAL(nb_open(&b, path, "1", "4", "auto"), 0);
    int64_t n4;
    rolling_lp(&b, text, 8, 3, 1, &n4);
    CU_ASSERT_EQUAL(n4, n1);
    nb_close(&b);
    free(path);
}

static void test_sampling_reproducible(void)
{
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    if (!path) {
        tb_test_skip("../shared is absent");
        return;
    }
    nb a, b;
    CU_ASSERT_EQUAL_FATAL(nb_open(&a, path, "1", "1", "auto"), 0);
    CU_ASSERT_EQUAL_FATAL(nb_open(&b, path, "2", "8", "auto"), 0);
    char *x = generate(&a, "Lily and Ben", 40, 1.0f, 11);
    char *y = generate(&b, "Lily and Ben", 40, 1.0f, 11);
    char *z = generate(&b, "Lily and Ben", 40, 1.0f, 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    CU_ASSERT_STRING_EQUAL(x, y);
    CU_ASSERT(strcmp(x, z) != 0);
    free(x);
    free(y);
    free(z);
    nb_close(&a);
    nb_close(&b);
    free(path);
}

/* A quantized export keeps the model close to the original. */
static void test_quantized_exports(void)
{
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    char *golden = tb_test_shared_path("models/stories260K/expected_greedy_256.txt");
    if (!path || !golden) {
        tb_test_skip("../shared is absent");
        free(path);
        free(golden);
        return;
    }
    size_t len;
    tb_error err;
    char *text = tb_read_file(golden, &len, &err);
    text[len > 1500 ? 1500 : len] = '\0';
    tb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(tb_model_open(path, NULL, &m, &err), TB_OK);
    const char *dir = tb_test_tmpdir();
    static const struct { tb_dtype t; const char *name; double max_rise; } cases[] = {
        {TB_DTYPE_F32, "f32.gguf", 0.0}, {TB_DTYPE_F16, "f16.gguf", 0.002},
        {TB_DTYPE_Q8_0, "q8.gguf", 0.01}, {TB_DTYPE_Q4_1, "q41.gguf", 0.25},
        {TB_DTYPE_Q4_0, "q40.gguf", 0.35}};
    double base = 0;
    for (size_t i = 0; i < TB_ARRAY_LEN(cases); i++) {
        char *out = tb_path_join(dir, cases[i].name);
        char *fallbacks = NULL;
        CU_ASSERT_EQUAL_FATAL(tb_model_write_gguf(m, out, cases[i].t, &fallbacks, &err), TB_OK);
        if (cases[i].t == TB_DTYPE_Q8_0)
            CU_ASSERT_PTR_NOT_NULL(strstr(fallbacks, "blk.0.ffn_down.weight"));
        free(fallbacks);
        nb b;
        CU_ASSERT_EQUAL_FATAL(nb_open(&b, out, "2", "16", "auto"), 0);
        int64_t n;
        double ppl = exp(-rolling_lp(&b, text, 256, 255, 1, &n) / (double)n);
        if (i == 0)
            base = ppl;
        CU_ASSERT(ppl >= base * (1 - 1e-9) - (i ? 0.01 : 0));
        CU_ASSERT(ppl <= base * (1 + cases[i].max_rise) + 1e-9);
        fprintf(stderr, "\n    %s perplexity %.4f (f32 %.4f)", cases[i].name, ppl, base);
        nb_close(&b);
        free(out);
    }
    tb_model_close(m);
    free(text);
    free(path);
    free(golden);
}

/* oneDNN's bf16 and f32 products against the exact kernels: the same
 * model within float tolerance, in logits and in perplexity. */
static void test_onednn_matches_exact(void)
{
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    char *golden = tb_test_shared_path("models/stories260K/expected_greedy_256.txt");
    if (!path || !golden) {
        tb_test_skip("../shared is absent");
        free(path);
        free(golden);
        return;
    }
    size_t len;
    tb_error err;
    char *text = tb_read_file(golden, &len, &err);
    text[len > 1200 ? 1200 : len] = '\0';
    static const char *const modes[] = {"exact", "f32", "bf16"};
    double ppl[3];
    for (int k = 0; k < 3; k++) {
        nb b;
        CU_ASSERT_EQUAL_FATAL(nb_open_compute(&b, path, "2", "16", "auto", modes[k]), 0);
        int64_t n;
        ppl[k] = exp(-rolling_lp(&b, text, 256, 255, 1, &n) / (double)n);
        nb_close(&b);
    }
    fprintf(stderr, "\n    perplexity exact %.6f, oneDNN f32 %.6f, bf16 %.6f", ppl[0], ppl[1],
            ppl[2]);
    CU_ASSERT(fabs(ppl[1] - ppl[0]) < 1e-4 * ppl[0]);
    CU_ASSERT(fabs(ppl[2] - ppl[0]) < 1e-2 * ppl[0]);
    /* Logits of a 64-token prefill. */
    tb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(tb_model_open(path, NULL, &m, &err), TB_OK);
    make_tokens();
    float *out[3];
    for (int k = 0; k < 3; k++) {
        tb_engine e;
        tb_kv kv;
        CU_ASSERT_EQUAL_FATAL(tb_engine_init(&e, m, 2, tb_isa_detect(), &err), TB_OK);
        e.compute = (tb_compute)k;
        CU_ASSERT_EQUAL_FATAL(tb_kv_init(&kv, &e, 128, &err), TB_OK);
        out[k] = malloc(64 * 512 * sizeof(float));
        int32_t seq[64] = {0}, pos[64];
        uint8_t want[64];
        for (int i = 0; i < 64; i++) {
            pos[i] = i;
            want[i] = 1;
        }
        tb_batch bt = {64, sample_tokens, seq, pos, want};
        CU_ASSERT_EQUAL(tb_engine_forward(&e, &kv, &bt, out[k], &err), TB_OK);
        CU_ASSERT_EQUAL(e.dnnl_failed, 0);
        tb_kv_free(&kv);
        tb_engine_free(&e);
    }
    double d_f32 = 0, d_bf16 = 0, mag = 0;
    for (size_t i = 0; i < 64 * 512; i++) {
        d_f32 = fmax(d_f32, fabs((double)out[1][i] - out[0][i]));
        d_bf16 = fmax(d_bf16, fabs((double)out[2][i] - out[0][i]));
        mag = fmax(mag, fabs((double)out[0][i]));
    }
    fprintf(stderr, "\n    max |logit diff| f32 %.2e, bf16 %.2e (max |logit| %.1f)", d_f32,
            d_bf16, mag);
    CU_ASSERT(d_f32 < 1e-3);
    CU_ASSERT(d_bf16 < 0.05 * mag);
    for (int k = 0; k < 3; k++)
        free(out[k]);
    tb_model_close(m);
    free(text);
    free(path);
    free(golden);
}

/* Calibration capture: running the model block by block gives each layer
 * exactly the inputs the full forward pass gives it. */
typedef struct cap {
    int layer;
    tb_site site;
    float *x;
    size_t n;
} cap;

static void capture(void *ctx, int32_t layer, tb_site site, const float *x, int64_t rows,
                    int64_t width)
{
    cap *c = ctx;
    if (layer != c->layer || site != c->site)
        return;
    c->n = (size_t)rows * (size_t)width;
    c->x = realloc(c->x, c->n * sizeof *c->x);
    memcpy(c->x, x, c->n * sizeof *c->x);
}

static void test_layerwise_capture(void)
{
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    if (!path) {
        tb_test_skip("../shared is absent");
        return;
    }
    tb_error err;
    tb_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(tb_model_open(path, NULL, &m, &err), TB_OK);
    make_tokens();
    int32_t seq[64] = {0}, pos[64];
    for (int i = 0; i < 64; i++)
        pos[i] = i;
    tb_batch bt = {64, sample_tokens, seq, pos, NULL};
    for (int site = 0; site < TB_SITE_COUNT; site++) {
        cap full = {3, (tb_site)site, NULL, 0}, parts = {3, (tb_site)site, NULL, 0};
        tb_engine e;
        tb_kv kv;
        CU_ASSERT_EQUAL_FATAL(tb_engine_init(&e, m, 2, tb_isa_detect(), &err), TB_OK);
        CU_ASSERT_EQUAL_FATAL(tb_kv_init(&kv, &e, 64, &err), TB_OK);
        e.capture = capture;
        e.capture_ctx = &full;
        float logits[512];
        CU_ASSERT_EQUAL(tb_engine_forward(&e, &kv, &bt, logits, &err), TB_OK);
        kv.n_past = 0;
        e.capture_ctx = &parts;
        float *x = malloc(64 * 64 * sizeof *x);
        CU_ASSERT_EQUAL(tb_engine_embed(&e, &bt, x, &err), TB_OK);
        for (int l = 0; l < 5; l++)
            CU_ASSERT_EQUAL(tb_engine_block(&e, &kv, &bt, l, x, &err), TB_OK);
        CU_ASSERT_EQUAL(full.n, parts.n);
        CU_ASSERT(full.n > 0 && memcmp(full.x, parts.x, full.n * sizeof(float)) == 0);
        /* Widths: q/k/v and gate/up read the model width, o the attention
         * width, down the feed-forward width. */
        static const size_t width[TB_SITE_COUNT] = {64, 64, 64, 172, 64, 64};
        CU_ASSERT_EQUAL(full.n, 64 * width[site]);
        free(full.x);
        free(parts.x);
        free(x);
        tb_kv_free(&kv);
        tb_engine_free(&e);
    }
    tb_model_close(m);
    free(path);
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"greedy = golden: stories260K GGUF", test_golden_stories_gguf},
        {"greedy = golden: stories260K llama2.c", test_golden_stories_bin},
        {"greedy = golden: babyllama tok105 and tok361", test_golden_babyllama},
        {"GGUF and llama2.c give identical logits", test_gguf_and_llama2c_identical},
        {"logits independent of batch size and threads", test_batch_and_threads_invariant},
        {"kernels match dequantize-then-f32", test_kernels_match_dequantized},
        {"activation quantization is exact", test_activation_quantization_exact},
        {"two-row int8 kernels equal two one-row calls", test_dot2_equals_dot},
        {"fused int8 products: every output is its own dot", test_matmul_parts_exact},
        {"float products: every output is its own dot", test_matmul_exact},
        {"attention kernels match double sums", test_attention_kernels},
        {"f16 KV cache: close to f32, batch-invariant", test_kv_f16},
        {"SwiGLU and softmax kernels match expf", test_elementwise_kernels},
        {"perplexity: rolling = continuation = token by token", test_perplexity_three_ways},
        {"sampling reproducible across batch sizes", test_sampling_reproducible},
        {"quantized exports stay close", test_quantized_exports},
        {"oneDNN f32 and bf16 products match exact ones", test_onednn_matches_exact},
        {"block-by-block capture equals the full pass", test_layerwise_capture},
        {NULL, NULL}};
    return tb_test_add_suite("native", cases);
}
