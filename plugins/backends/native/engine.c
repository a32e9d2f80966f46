/* engine.c - embedding, attention with a KV cache, SwiGLU, the head. */
#include "engine.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "quant.h"

/* Phase timing for bench/engine: a no-op unless phase_seconds is set. */
static double phase_begin(const tb_engine *e)
{
    return e->phase_seconds ? omp_get_wtime() : 0.0;
}

static void phase_end(const tb_engine *e, tb_phase ph, double *t0)
{
    if (!e->phase_seconds)
        return;
    double t = omp_get_wtime();
    e->phase_seconds[ph] += t - *t0;
    *t0 = t;
}

static const tb_tensor *find(const tb_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

static const tb_tensor *layer_tensor(const tb_model *m, int l, const char *suffix)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", l, suffix);
    return find(m, name);
}

/* Memory for weights that decoding streams through once per token: on
 * 2 MiB boundaries and with transparent huge pages asked for, so the
 * stream needs one TLB entry per 2 MiB instead of per 4 KiB page and every
 * row starts on a cache line.  Matrices under 2 MiB (tiny models) are only
 * put on a cache line: a huge page each would multiply their memory.
 * Released with free(). */
static void *alloc_streamed(size_t n)
{
    size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (n < huge)
        return posix_memalign(&p, 64, n) == 0 ? p : NULL;
    if (posix_memalign(&p, huge, (n + huge - 1) / huge * huge) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, (n + huge - 1) / huge * huge, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

static tb_status bind(tb_weight *w, const tb_tensor *t, tb_isa isa, tb_error *err)
{
    if (!t) {
        snprintf(err->message, sizeof err->message, "native: a weight tensor is missing");
        return TB_ERR_FORMAT;
    }
    w->data = t->data;
    w->in = t->ne[0];
    w->out = t->ne[1];
    w->type = (uint32_t)t->type;
    w->row_bytes = t->n_bytes / (uint64_t)w->out;
    w->dot = tb_dot_for(w->type, isa);
    w->dot_q8 = tb_dot_q8_for(w->type, isa);
    free(w->packed);
    w->packed = NULL;
    w->interleave = 0;
    tb_packing pk;
    if (tb_packing_for(w->type, isa, &pk) == 0) {
        w->packed_row_bytes = pk.row_bytes(w->in);
        w->packed = alloc_streamed((size_t)(w->packed_row_bytes * (uint64_t)w->out));
        if (w->packed) {
            pk.pack(w->data, w->out, w->in, w->packed);
            w->dot_q8 = pk.dot;
            w->interleave = pk.interleave;
        }
    }
    if (!w->dot) {
        snprintf(err->message, sizeof err->message,
                 "native: tensor '%s' has type %d, which the engine cannot compute with",
                 t->name, (int)t->type);
        return TB_ERR_UNSUPPORTED;
    }
    return TB_OK;
}

static const float *vec(const tb_model *m, int l, const char *suffix)
{
    const tb_tensor *t = l < 0 ? find(m, suffix) : layer_tensor(m, l, suffix);
    return t && t->type == TB_DTYPE_F32 ? t->data : NULL;
}

tb_status tb_engine_init(tb_engine *e, const tb_model *m, int threads,
                         tb_isa isa, tb_error *err)
{
    memset(e, 0, sizeof *e);
    e->model = m;
    e->p = m->params;
    e->isa = isa;
    e->threads = threads > 0 ? threads : 1;
    e->compute = TB_COMPUTE_EXACT;
    e->gemm_rows = 16;
    e->dot_f32 = tb_dot_for(TB_DTYPE_F32, isa);
    e->axpy = tb_axpy_for(isa);
    /* left NULL (from the memset) where there are no SIMD attention kernels */
    tb_attn_for(isa, e->p.head_dim, 0, &e->attn_scores, &e->attn_wsum);
    /* The vector e^x rides with the SIMD attention.  Models whose heads
     * those kernels cannot take (stories260K's 8) keep libm's expf, the
     * arithmetic their golden outputs and llama.cpp's greedy ids were
     * matched with: a 4-bit toy model has near-ties that a 1-ulp change
     * in e^x can flip. */
    if (e->attn_scores) {
        tb_elementwise_for(isa, &e->swiglu, &e->softmax);
    } else {
        e->swiglu = tb_swiglu;
        e->softmax = tb_softmax;
    }
    e->q_dim = e->p.n_heads * e->p.head_dim;
    e->kv_dim = e->p.n_kv_heads * e->p.head_dim;
    e->layers = calloc((size_t)e->p.n_layers, sizeof *e->layers);
    if (!e->layers) {
        snprintf(err->message, sizeof err->message, "native: out of memory");
        return TB_ERR_NOMEM;
    }
    tb_status st = bind(&e->embd, find(m, "token_embd.weight"), isa, err);
    free(e->embd.packed); /* embedding rows are read, never multiplied */
    e->embd.packed = NULL;
    if (st == TB_OK)
        st = bind(&e->output, find(m, e->p.tied_output ? "token_embd.weight" : "output.weight"),
                  isa, err);
    e->output_norm = vec(m, -1, "output_norm.weight");
    for (int l = 0; st == TB_OK && l < e->p.n_layers; l++) {
        tb_layer *L = &e->layers[l];
        L->attn_norm = vec(m, l, "attn_norm.weight");
        L->ffn_norm = vec(m, l, "ffn_norm.weight");
        if (e->p.qkv_bias) {
            L->bq = vec(m, l, "attn_q.bias");
            L->bk = vec(m, l, "attn_k.bias");
            L->bv = vec(m, l, "attn_v.bias");
        }
        if ((st = bind(&L->wq, layer_tensor(m, l, "attn_q.weight"), isa, err)) != TB_OK ||
            (st = bind(&L->wk, layer_tensor(m, l, "attn_k.weight"), isa, err)) != TB_OK ||
            (st = bind(&L->wv, layer_tensor(m, l, "attn_v.weight"), isa, err)) != TB_OK ||
            (st = bind(&L->wo, layer_tensor(m, l, "attn_output.weight"), isa, err)) != TB_OK ||
            (st = bind(&L->gate, layer_tensor(m, l, "ffn_gate.weight"), isa, err)) != TB_OK ||
            (st = bind(&L->up, layer_tensor(m, l, "ffn_up.weight"), isa, err)) != TB_OK ||
            (st = bind(&L->down, layer_tensor(m, l, "ffn_down.weight"), isa, err)) != TB_OK)
            break;
        if (!L->attn_norm || !L->ffn_norm || (e->p.qkv_bias && (!L->bq || !L->bk || !L->bv))) {
            snprintf(err->message, sizeof err->message,
                     "native: layer %d: norm or bias tensors missing or not f32", l);
            st = TB_ERR_FORMAT;
        }
    }
    if (st == TB_OK && !e->output_norm) {
        snprintf(err->message, sizeof err->message, "native: output_norm missing or not f32");
        st = TB_ERR_FORMAT;
    }
    if (st != TB_OK)
        tb_engine_free(e);
    return st;
}

static void free_bf16(tb_weight *w)
{
    tb_dnnl_weights_free(w->gemm);
    w->gemm = NULL;
    free(w->packed);
    w->packed = NULL;
}

/* Binds w to t again; a oneDNN copy made from other data is dropped. */
static tb_status rebind_weight(tb_weight *w, const tb_tensor *t, tb_isa isa, tb_error *err)
{
    if (w->data == (t ? t->data : NULL) && w->type == (t ? (uint32_t)t->type : 0))
        return TB_OK;
    tb_dnnl_weights_free(w->gemm);
    w->gemm = NULL;
    return bind(w, t, isa, err);
}

tb_status tb_engine_rebind(tb_engine *e, tb_error *err)
{
    const tb_model *m = e->model;
    tb_status st = rebind_weight(&e->embd, find(m, "token_embd.weight"), e->isa, err);
    free(e->embd.packed);
    e->embd.packed = NULL;
    if (st == TB_OK)
        st = rebind_weight(&e->output, find(m, e->p.tied_output ? "token_embd.weight"
                                                                 : "output.weight"), e->isa, err);
    static const char *const names[7] = {"attn_q.weight", "attn_k.weight", "attn_v.weight",
                                         "attn_output.weight", "ffn_gate.weight",
                                         "ffn_up.weight", "ffn_down.weight"};
    for (int l = 0; st == TB_OK && l < e->p.n_layers; l++) {
        tb_layer *L = &e->layers[l];
        tb_weight *ws[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int k = 0; st == TB_OK && k < 7; k++)
            st = rebind_weight(ws[k], layer_tensor(m, l, names[k]), e->isa, err);
        L->attn_norm = vec(m, l, "attn_norm.weight");
        L->ffn_norm = vec(m, l, "ffn_norm.weight");
    }
    return st;
}

void tb_engine_free(tb_engine *e)
{
    for (int l = 0; e->layers && l < e->p.n_layers; l++) {
        tb_layer *L = &e->layers[l];
        tb_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            free_bf16(ws[i]);
    }
    free_bf16(&e->output);
    free_bf16(&e->embd);
    tb_dnnl_free(e->dnnl);
    e->dnnl = NULL;
    free(e->layers);
    e->layers = NULL;
}

void tb_engine_kv_f16(tb_engine *e, int on)
{
    e->kv_f16 = on != 0;
    /* the SIMD kernels exist for both element types or for neither */
    if (e->attn_scores)
        tb_attn_for(e->isa, e->p.head_dim, e->kv_f16, &e->attn_scores, &e->attn_wsum);
}

tb_status tb_kv_init(tb_kv *kv, const tb_engine *e, int32_t n_ctx, tb_error *err)
{
    memset(kv, 0, sizeof *kv);
    size_t per = (size_t)e->p.n_layers * (size_t)n_ctx * (size_t)e->kv_dim;
    size_t elem = e->kv_f16 ? sizeof(uint16_t) : sizeof(float);
    kv->f16 = e->kv_f16;
    kv->k = malloc(per * elem);
    kv->v = malloc(per * elem);
    kv->tokens = malloc((size_t)n_ctx * sizeof(int32_t));
    if (!kv->k || !kv->v || !kv->tokens) {
        tb_kv_free(kv);
        snprintf(err->message, sizeof err->message,
                 "native: out of memory for a KV cache of %d positions", n_ctx);
        return TB_ERR_NOMEM;
    }
    kv->n_ctx = n_ctx;
    return TB_OK;
}

void tb_kv_free(tb_kv *kv)
{
    free(kv->k);
    free(kv->v);
    free(kv->tokens);
    memset(kv, 0, sizeof *kv);
}

/* Scratch for one batch. */
typedef struct scratch {
    float *x, *xb, *q, *k, *v, *att_out, *hb, *hb2, *scores;
} scratch;

static void scratch_free(scratch *s)
{
    free(s->x); free(s->xb); free(s->q); free(s->k); free(s->v);
    free(s->att_out); free(s->hb); free(s->hb2); free(s->scores);
}

static int scratch_init(scratch *s, const tb_engine *e, int32_t n, int32_t max_ctx)
{
    size_t d = (size_t)e->p.n_embd, N = (size_t)n;
    memset(s, 0, sizeof *s);
    s->x = malloc(N * d * sizeof(float));
    s->xb = malloc(N * (d > (size_t)e->q_dim ? d : (size_t)e->q_dim) * sizeof(float));
    s->q = malloc(N * (size_t)e->q_dim * sizeof(float));
    s->k = malloc(N * (size_t)e->kv_dim * sizeof(float));
    s->v = malloc(N * (size_t)e->kv_dim * sizeof(float));
    s->att_out = malloc(N * (size_t)e->q_dim * sizeof(float));
    s->hb = malloc(N * (size_t)e->p.n_ff * sizeof(float));
    s->hb2 = malloc(N * (size_t)e->p.n_ff * sizeof(float));
    /* Rows of attention scores for one group of query heads per thread. */
    size_t group = (size_t)(e->p.n_heads / e->p.n_kv_heads);
    s->scores = malloc((size_t)e->threads * group * (size_t)max_ctx * sizeof(float));
    return s->x && s->xb && s->q && s->k && s->v && s->att_out && s->hb && s->hb2 &&
                   s->scores ? 0 : -1;
}

/* A key/value head's cached rows: each head's positions are contiguous
 * ([layer][kv head][position][head_dim]), so attention streams them as
 * one run instead of a head-sized piece every kv_dim elements. */
static void *kv_head(const tb_engine *e, const tb_kv *kv, void *base, int l, int h)
{
    size_t elem = kv->f16 ? sizeof(uint16_t) : sizeof(float);
    return (char *)base + ((size_t)l * (size_t)e->p.n_kv_heads + (size_t)h) *
                              (size_t)kv->n_ctx * (size_t)e->p.head_dim * elem;
}

/* Stores one row's keys (or values), all heads, at position pos. */
static void kv_store(const tb_engine *e, const tb_kv *kv, void *base, int l, int32_t pos,
                     const float *row)
{
    size_t hd = (size_t)e->p.head_dim;
    for (int h = 0; h < e->p.n_kv_heads; h++) {
        const float *src = row + (size_t)h * hd;
        if (kv->f16) {
            uint16_t *dst = (uint16_t *)kv_head(e, kv, base, l, h) + (size_t)pos * hd;
            for (size_t i = 0; i < hd; i++)
                dst[i] = tb_f32_to_fp16(src[i]);
        } else {
            memcpy((float *)kv_head(e, kv, base, l, h) + (size_t)pos * hd, src,
                   hd * sizeof *src);
        }
    }
}

static void embed(const tb_engine *e, const tb_batch *b, float *x)
{
    for (int32_t r = 0; r < b->n; r++) {
        const uint8_t *row = (const uint8_t *)e->embd.data +
                             (uint64_t)b->token[r] * e->embd.row_bytes;
        tb_dequantize_row(e->embd.type, row, x + (size_t)r * (size_t)e->p.n_embd,
                          e->p.n_embd);
    }
}

/* Head dimensions this short (stories260K has 8) cost more in the call and
 * the masked SIMD tail than in arithmetic; a plain loop the compiler unrolls
 * is several times faster there. */
enum { TB_SHORT_HEAD = 16 };

/* The simd pragma lets gcc reorder the short reduction into vector lanes.
 * clang is left to its own vectorizer: under -O1 sanitizer builds it cannot
 * honour the pragma and would warn (an error with -Werror). */
#if defined(__GNUC__) && !defined(__clang__)
#define TB_SIMD_LOOP _Pragma("omp simd")
#define TB_SIMD_SUM_S _Pragma("omp simd reduction(+ : s)")
#else
#define TB_SIMD_LOOP
#define TB_SIMD_SUM_S
#endif

static inline float dot_short(const float *a, const float *b, int n)
{
    float s = 0.0f;
    TB_SIMD_SUM_S
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline void axpy_short(float *y, float a, const float *x, int n)
{
    TB_SIMD_LOOP
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* attend_one over an f16 cache, for head sizes the SIMD kernels do not
 * take: each element widened where it is used, in the f32 order. */
static void attend_one_f16(const tb_engine *e, const tb_kv *kv, int l, int32_t pos, int kvh,
                           const float *q, float *att, float *out)
{
    int hd = e->p.head_dim;
    const uint16_t *k0 = kv_head(e, kv, kv->k, l, kvh), *v0 = kv_head(e, kv, kv->v, l, kvh);
    float scale = 1.0f / sqrtf((float)hd);
    for (int32_t t = 0; t <= pos; t++) {
        const uint16_t *k = k0 + (size_t)t * (size_t)hd;
        float s = 0.0f;
        for (int i = 0; i < hd; i++)
            s += tb_fp16_to_f32(k[i]) * q[i];
        att[t] = s * scale;
    }
    e->softmax(att, pos + 1);
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int32_t t = 0; t <= pos; t++) {
        const uint16_t *v = v0 + (size_t)t * (size_t)hd;
        for (int i = 0; i < hd; i++)
            out[i] += att[t] * tb_fp16_to_f32(v[i]);
    }
}

/* One (row, head) pair: scores over the row's past, softmax, weighted sum. */
static void attend_one(const tb_engine *e, const tb_kv *kv, int l, int32_t pos, int kvh,
                       const float *q, float *att, float *out)
{
    int hd = e->p.head_dim;
    if (kv->f16) {
        attend_one_f16(e, kv, l, pos, kvh, q, att, out);
        return;
    }
    const float *k0 = kv_head(e, kv, kv->k, l, kvh), *v0 = kv_head(e, kv, kv->v, l, kvh);
    float scale = 1.0f / sqrtf((float)hd);
    int short_head = hd <= TB_SHORT_HEAD;
    for (int32_t t = 0; t <= pos; t++) {
        const float *k = k0 + (size_t)t * (size_t)hd;
        att[t] = (short_head ? dot_short(k, q, hd) : e->dot_f32(k, q, hd)) * scale;
    }
    e->softmax(att, pos + 1);
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int32_t t = 0; t <= pos; t++) {
        const float *v = v0 + (size_t)t * (size_t)hd;
        if (short_head)
            axpy_short(out, att[t], v, hd);
        else
            e->axpy(out, att[t], v, hd);
    }
}

/* One row and one key/value head with the group of query heads that
 * share it, through the SIMD attention kernels. */
static void attend_group(const tb_engine *e, const tb_kv *kv, int l, int32_t pos, int kvh,
                         const float *q, float *att, size_t ldatt, float *out)
{
    int hd = e->p.head_dim, group = e->p.n_heads / e->p.n_kv_heads;
    e->attn_scores(kv_head(e, kv, kv->k, l, kvh), (size_t)hd, pos + 1, q, group, hd,
                   1.0f / sqrtf((float)hd), att, ldatt);
    for (int g = 0; g < group; g++)
        e->softmax(att + (size_t)g * ldatt, pos + 1);
    e->attn_wsum(kv_head(e, kv, kv->v, l, kvh), (size_t)hd, pos + 1, att, ldatt,
                 group, hd, out);
}

/* Causal attention of every row over its sequence's cache, by (row, key
 * head) when the SIMD kernels serve the head size, else by (row, query
 * head).  Threads only when there is enough work to pay for waking them:
 * with one decode row of a tiny model the fork/join costs more than the
 * attention. */
static void attention(const tb_engine *e, const tb_kv *caches, const tb_batch *b, int l,
                      scratch *s, int32_t max_ctx)
{
    int hd = e->p.head_dim, H = e->p.n_heads, group = H / e->p.n_kv_heads;
    int grouped = e->attn_scores != NULL;
    int per_row = grouped ? e->p.n_kv_heads : H;
    int64_t work = (int64_t)b->n * per_row;
    int64_t flops = (int64_t)b->n * H * (int64_t)max_ctx * hd;
    size_t per_thread = (size_t)group * (size_t)max_ctx;
#pragma omp parallel for num_threads(e->threads) schedule(dynamic, 1) \
    if (e->threads > 1 && work > 1 && flops > (1 << 16))
    for (int64_t w = 0; w < work; w++) {
        int32_t r = (int32_t)(w / per_row);
        int h = (int)(w % per_row); /* a key head when grouped, else a query head */
        float *att = s->scores + (size_t)omp_get_thread_num() * per_thread;
        const tb_kv *kv = &caches[b->seq[r]];
        if (grouped) {
            size_t qoff = (size_t)r * (size_t)e->q_dim + (size_t)h * (size_t)group * (size_t)hd;
            attend_group(e, kv, l, b->pos[r], h, s->q + qoff, att, (size_t)max_ctx,
                         s->att_out + qoff);
        } else {
            size_t qoff = (size_t)r * (size_t)e->q_dim + (size_t)h * (size_t)hd;
            attend_one(e, kv, l, b->pos[r], h / group, s->q + qoff, att, s->att_out + qoff);
        }
    }
}

/* oneDNN's copy of a weight in its preferred layout: from the f32 data as
 * stored, or (bf16) from each row widened and rounded once. */
static int ensure_gemm(tb_engine *e, tb_weight *w, int bf16)
{
    if (w->gemm && w->gemm_bf16 == bf16)
        return 0;
    tb_dnnl_weights_free(w->gemm);
    w->gemm = NULL;
    tb_error err;
    if (!bf16) {
        w->gemm = tb_dnnl_prepare(e->dnnl, 0, w->data, w->in, w->out, &err);
    } else {
        uint16_t *b = malloc((size_t)(w->in * w->out) * sizeof *b);
        float *row = malloc((size_t)w->in * sizeof *row);
        if (b && row) {
            for (int64_t o = 0; o < w->out; o++) {
                tb_dequantize_row(w->type, (const uint8_t *)w->data + (uint64_t)o * w->row_bytes,
                                  row, w->in);
                for (int64_t i = 0; i < w->in; i++)
                    b[o * w->in + i] = tb_f32_to_bf16(row[i]);
            }
            w->gemm = tb_dnnl_prepare(e->dnnl, 1, b, w->in, w->out, &err);
        }
        free(b);
        free(row);
    }
    w->gemm_bf16 = bf16;
    return w->gemm ? 0 : -1;
}

/* A batched product through oneDNN; -1 when that path does not apply or
 * failed (the caller then uses the exact kernels). */
static int mm_gemm(tb_engine *e, tb_weight *w, const float *x, int32_t n, float *y)
{
    if (e->compute == TB_COMPUTE_EXACT || n < e->gemm_rows || e->dnnl_failed)
        return -1;
    int bf16 = e->compute == TB_COMPUTE_BF16;
    if (!bf16 && w->type != TB_DTYPE_F32)
        return -1;
    /* oneDNN's OpenMP build sizes its parallel regions from this thread's
     * nthreads ICV, not from ours: without this, threads=1 still forks. */
    omp_set_num_threads(e->threads);
    tb_error err;
    if (!e->dnnl && tb_dnnl_new(&e->dnnl, &err) != TB_OK) {
        e->dnnl_failed = 1;
        return -1;
    }
    if (ensure_gemm(e, w, bf16) != 0 ||
        tb_dnnl_matmul_prepared(e->dnnl, w->gemm, x, n, y, w->out, &err) != TB_OK) {
        e->dnnl_failed = 1;
        return -1;
    }
    return 0;
}

static void mm(tb_engine *e, tb_weight *w, const float *x, int32_t n, float *y,
               const float *bias)
{
    if (mm_gemm(e, w, x, n, y) == 0) {
        if (bias)
            for (int32_t r = 0; r < n; r++)
                for (int64_t o = 0; o < w->out; o++)
                    y[(size_t)r * (size_t)w->out + (size_t)o] += bias[o];
        return;
    }
    if (w->dot_q8 && tb_matmul_q8(w->dot_q8, w->packed ? w->packed : w->data,
                                  w->packed ? w->packed_row_bytes : w->row_bytes, w->in, w->out,
                                  x, n, y, w->out, bias, e->threads, w->interleave) == 0)
        return;
    tb_matmul(w->dot, w->data, w->row_bytes, w->in, w->out, x, n, y, w->out, bias,
              e->threads);
}

/* Products of one input by several weights (q, k, v; gate, up) in one
 * parallel region when all of them take the int8 kernels with the same
 * dot and none goes to oneDNN; else one mm each.  The same arithmetic
 * either way. */
static void mm_shared_input(tb_engine *e, tb_weight *const *ws, float *const *ys,
                            const float *const *biases, int k, const float *x, int32_t n)
{
    int fused = ws[0]->dot_q8 != NULL;
    int would_gemm = !(e->compute == TB_COMPUTE_EXACT || n < e->gemm_rows || e->dnnl_failed);
    for (int i = 0; i < k && fused; i++)
        fused = ws[i]->dot_q8 == ws[0]->dot_q8 && ws[i]->interleave == ws[0]->interleave &&
                ws[i]->in == ws[0]->in &&
                !(would_gemm && (e->compute == TB_COMPUTE_BF16 || ws[i]->type == TB_DTYPE_F32));
    if (fused) {
        tb_q8_part parts[4];
        for (int i = 0; i < k; i++)
            parts[i] = (tb_q8_part){ws[i]->packed ? ws[i]->packed : ws[i]->data,
                                    ws[i]->packed ? ws[i]->packed_row_bytes : ws[i]->row_bytes,
                                    ws[i]->out, ys[i], ws[i]->out, biases[i]};
        if (tb_matmul_q8_parts(ws[0]->dot_q8, parts, k, ws[0]->in, x, n, e->threads,
                               ws[0]->interleave) == 0)
            return;
    }
    for (int i = 0; i < k; i++)
        mm(e, ws[i], x, n, ys[i], biases[i]);
}

static void layer_forward(tb_engine *e, tb_kv *caches, const tb_batch *b, int l,
                          scratch *s, int32_t max_ctx)
{
    tb_layer *L = &e->layers[l];
    int32_t n = b->n;
    int d = e->p.n_embd;
    float pos_scale = e->p.rope_freq_scale;
    double t = phase_begin(e);
    for (int32_t r = 0; r < n; r++)
        tb_rmsnorm(s->xb + (size_t)r * (size_t)d, s->x + (size_t)r * (size_t)d, L->attn_norm,
                   d, e->p.norm_eps);
    if (e->capture)
        e->capture(e->capture_ctx, l, TB_SITE_QKV, s->xb, n, d);
    phase_end(e, TB_PHASE_OTHER, &t);
    {
        tb_weight *const ws[3] = {&L->wq, &L->wk, &L->wv};
        float *const ys[3] = {s->q, s->k, s->v};
        const float *const bs[3] = {L->bq, L->bk, L->bv};
        mm_shared_input(e, ws, ys, bs, 3, s->xb, n);
    }
    phase_end(e, TB_PHASE_MATMUL, &t);
    for (int32_t r = 0; r < n; r++) {
        float pos = (float)b->pos[r] * pos_scale;
        tb_rope(s->q + (size_t)r * (size_t)e->q_dim, e->p.n_heads, e->p.head_dim, pos,
                e->p.rope_theta, e->p.rope_neox);
        tb_rope(s->k + (size_t)r * (size_t)e->kv_dim, e->p.n_kv_heads, e->p.head_dim, pos,
                e->p.rope_theta, e->p.rope_neox);
        tb_kv *kv = &caches[b->seq[r]];
        kv_store(e, kv, kv->k, l, b->pos[r], s->k + (size_t)r * (size_t)e->kv_dim);
        kv_store(e, kv, kv->v, l, b->pos[r], s->v + (size_t)r * (size_t)e->kv_dim);
    }
    phase_end(e, TB_PHASE_OTHER, &t);
    attention(e, caches, b, l, s, max_ctx);
    phase_end(e, TB_PHASE_ATTENTION, &t);
    if (e->capture)
        e->capture(e->capture_ctx, l, TB_SITE_O, s->att_out, n, e->q_dim);
    mm(e, &L->wo, s->att_out, n, s->xb, NULL);
    phase_end(e, TB_PHASE_MATMUL, &t);
    if (e->capture)
        e->capture(e->capture_ctx, l, TB_SITE_ATTN_OUT, s->xb, n, d);
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++)
        s->x[i] += s->xb[i];
    for (int32_t r = 0; r < n; r++)
        tb_rmsnorm(s->xb + (size_t)r * (size_t)d, s->x + (size_t)r * (size_t)d, L->ffn_norm,
                   d, e->p.norm_eps);
    if (e->capture)
        e->capture(e->capture_ctx, l, TB_SITE_GATE_UP, s->xb, n, d);
    phase_end(e, TB_PHASE_OTHER, &t);
    {
        tb_weight *const ws[2] = {&L->gate, &L->up};
        float *const ys[2] = {s->hb, s->hb2};
        const float *const bs[2] = {NULL, NULL};
        mm_shared_input(e, ws, ys, bs, 2, s->xb, n);
    }
    phase_end(e, TB_PHASE_MATMUL, &t);
    e->swiglu(s->hb, s->hb2, (int64_t)n * e->p.n_ff);
    if (e->capture)
        e->capture(e->capture_ctx, l, TB_SITE_DOWN, s->hb, n, e->p.n_ff);
    phase_end(e, TB_PHASE_OTHER, &t);
    mm(e, &L->down, s->hb, n, s->xb, NULL);
    phase_end(e, TB_PHASE_MATMUL, &t);
    if (e->capture)
        e->capture(e->capture_ctx, l, TB_SITE_MLP_OUT, s->xb, n, d);
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++)
        s->x[i] += s->xb[i];
    phase_end(e, TB_PHASE_OTHER, &t);
}

static tb_status check_batch(const tb_engine *e, tb_kv *caches, const tb_batch *b,
                             int32_t *max_ctx, tb_error *err)
{
    *max_ctx = 1;
    for (int32_t r = 0; r < b->n; r++) {
        tb_kv *kv = &caches[b->seq[r]];
        if (b->token[r] < 0 || b->token[r] >= e->p.n_vocab) {
            snprintf(err->message, sizeof err->message, "native: token id %d is outside the "
                     "vocabulary of %d", b->token[r], e->p.n_vocab);
            return TB_ERR_INVALID;
        }
        if (b->pos[r] < 0 || b->pos[r] >= kv->n_ctx || b->pos[r] > kv->n_past + r) {
            snprintf(err->message, sizeof err->message, "native: position %d is outside the "
                     "context of %d tokens", b->pos[r], kv->n_ctx);
            return TB_ERR_INVALID;
        }
        if (kv->f16 != e->kv_f16) {
            snprintf(err->message, sizeof err->message, "native: a %s KV cache was given to an "
                     "engine set for %s caches", kv->f16 ? "f16" : "f32",
                     e->kv_f16 ? "f16" : "f32");
            return TB_ERR_INVALID;
        }
        if (b->pos[r] + 1 > *max_ctx)
            *max_ctx = b->pos[r] + 1;
    }
    return TB_OK;
}

tb_status tb_engine_embed(tb_engine *e, const tb_batch *b, float *x, tb_error *err)
{
    for (int32_t r = 0; r < b->n; r++)
        if (b->token[r] < 0 || b->token[r] >= e->p.n_vocab) {
            snprintf(err->message, sizeof err->message, "native: token id %d is outside the "
                     "vocabulary of %d", b->token[r], e->p.n_vocab);
            return TB_ERR_INVALID;
        }
    embed(e, b, x);
    return TB_OK;
}

tb_status tb_engine_block(tb_engine *e, tb_kv *caches, const tb_batch *b, int layer,
                          float *x, tb_error *err)
{
    int32_t max_ctx;
    if (layer < 0 || layer >= e->p.n_layers) {
        snprintf(err->message, sizeof err->message, "native: no layer %d", layer);
        return TB_ERR_INVALID;
    }
    tb_status st = check_batch(e, caches, b, &max_ctx, err);
    if (st != TB_OK)
        return st;
    scratch s;
    if (scratch_init(&s, e, b->n, max_ctx) != 0) {
        scratch_free(&s);
        snprintf(err->message, sizeof err->message, "native: out of memory");
        return TB_ERR_NOMEM;
    }
    memcpy(s.x, x, (size_t)b->n * (size_t)e->p.n_embd * sizeof(float));
    layer_forward(e, caches, b, layer, &s, max_ctx);
    memcpy(x, s.x, (size_t)b->n * (size_t)e->p.n_embd * sizeof(float));
    scratch_free(&s);
    return TB_OK;
}

tb_status tb_engine_forward(tb_engine *e, tb_kv *caches, const tb_batch *b,
                            float *logits, tb_error *err)
{
    int32_t max_ctx;
    tb_status st = check_batch(e, caches, b, &max_ctx, err);
    if (st != TB_OK)
        return st;
    scratch s;
    if (scratch_init(&s, e, b->n, max_ctx) != 0) {
        scratch_free(&s);
        snprintf(err->message, sizeof err->message, "native: out of memory for a batch of %d",
                 b->n);
        return TB_ERR_NOMEM;
    }
    embed(e, b, s.x);
    for (int l = 0; l < e->p.n_layers; l++)
        layer_forward(e, caches, b, l, &s, max_ctx);
    for (int32_t r = 0; r < b->n; r++) {
        tb_kv *kv = &caches[b->seq[r]];
        kv->tokens[b->pos[r]] = b->token[r];
        if (b->pos[r] + 1 > kv->n_past)
            kv->n_past = b->pos[r] + 1;
    }
    /* The head only for rows that want logits. */
    double t = phase_begin(e);
    int d = e->p.n_embd;
    int32_t m = 0;
    for (int32_t r = 0; r < b->n; r++) {
        int want = b->want_logits ? b->want_logits[r] : r == b->n - 1;
        if (want)
            tb_rmsnorm(s.xb + (size_t)m++ * (size_t)d, s.x + (size_t)r * (size_t)d,
                       e->output_norm, d, e->p.norm_eps);
    }
    if (m > 0)
        mm(e, &e->output, s.xb, m, logits, NULL);
    phase_end(e, TB_PHASE_HEAD, &t);
    scratch_free(&s);
    return TB_OK;
}
