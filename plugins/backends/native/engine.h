/*
 * engine.h - the Llama forward pass of the native backend.
 *
 * A batch is a list of (sequence, token, position) rows: prefill of one
 * prompt (many rows of one sequence), batched decoding (one row for each of
 * many sequences), or a mix.  Each sequence owns a KV cache.  Rows of one
 * sequence must appear in increasing position order; every row attends to
 * its sequence's positions 0..pos.
 */
#ifndef TB_NATIVE_ENGINE_H
#define TB_NATIVE_ENGINE_H

#include <stdint.h>

#include "kernels.h"
#include "onednn.h"
#include "trustbench/model.h"

/* How batched products (prefill, scoring) are computed. */
typedef enum tb_compute {
    TB_COMPUTE_EXACT = 0, /* the engine's kernels for every product: results
                             bit-identical whatever the batch size */
    TB_COMPUTE_F32 = 1,   /* oneDNN f32 GEMM for f32 weights */
    TB_COMPUTE_BF16 = 2   /* oneDNN bf16 GEMM (AMX / AVX-512-BF16) */
} tb_compute;

typedef struct tb_weight {
    const void *data;
    uint64_t row_bytes;
    int64_t in, out;
    uint32_t type;
    tb_dot_fn dot;
    tb_dot_q8_fn dot_q8; /* int8-activation path, NULL when absent */
    void *packed;        /* Q4_0/Q8_0 rows repacked for dot_q8, owned */
    uint64_t packed_row_bytes;
    int interleave;      /* dot_q8 reads activations in packed Q4_0's order */
    tb_dnnl_weights *gemm; /* oneDNN's copy, made on first batched use */
    int gemm_bf16;
} tb_weight;

typedef struct tb_layer {
    const float *attn_norm, *ffn_norm;
    const float *bq, *bk, *bv; /* NULL without qkv bias */
    tb_weight wq, wk, wv, wo, gate, up, down;
} tb_layer;

typedef struct tb_engine {
    const tb_model *model;
    tb_model_params p;
    int q_dim, kv_dim;
    tb_layer *layers;
    tb_weight embd;   /* token_embd, read one row per token */
    tb_weight output; /* the head (token_embd when tied) */
    const float *output_norm;
    tb_isa isa;
    int threads;
    tb_dot_fn dot_f32;  /* for attention */
    tb_axpy_fn axpy;
    int kv_f16; /* caches hold f16 keys and values (tb_engine_kv_f16) */
    tb_attn_scores_fn attn_scores; /* NULL: dot_f32 and axpy per cached row */
    tb_attn_wsum_fn attn_wsum;
    tb_softmax_fn softmax;
    tb_swiglu_fn swiglu;
    tb_compute compute;
    int32_t gemm_rows;  /* batches of at least this many rows use oneDNN */
    tb_dnnl *dnnl;      /* started on first use, in the process that uses it */
    int dnnl_failed;
    /* Calibration capture: the sink sees each site's rows (inputs of the
     * linear groups, outputs of attention and MLP) as the pass computes
     * them; NULL: none. */
    tb_capture_sink capture;
    void *capture_ctx;
    /* Seconds spent per phase, added to by every forward pass when not
     * NULL (bench/engine's breakdown); the clock reads cost ~20 ns each. */
    double *phase_seconds; /* [TB_PHASE_COUNT] */
} tb_engine;

/* Where a forward pass spends its time. */
typedef enum tb_phase {
    TB_PHASE_MATMUL,    /* layer products, activation quantization included */
    TB_PHASE_ATTENTION, /* scores, softmax, weighted sums */
    TB_PHASE_OTHER,     /* norms, RoPE, cache writes, SwiGLU, residuals */
    TB_PHASE_HEAD,      /* final norm and the output head */
    TB_PHASE_COUNT
} tb_phase;

typedef struct tb_kv {
    int32_t n_ctx;  /* positions it holds */
    int32_t n_past; /* positions filled */
    int f16;        /* elements are f16, else f32 */
    void *k, *v;    /* [layer][kv head][n_ctx][head_dim] */
    int32_t *tokens; /* the tokens at positions 0..n_past-1 (prefix reuse) */
} tb_kv;

typedef struct tb_batch {
    int32_t n;
    const int32_t *token;
    const int32_t *seq;        /* index into the caches array */
    const int32_t *pos;
    const uint8_t *want_logits; /* NULL: only the last row */
} tb_batch;

/* Binds the engine to a model; message in err when a tensor type is not
 * computable.  The engine starts in TB_COMPUTE_EXACT. */
tb_status tb_engine_init(tb_engine *e, const tb_model *m, int threads,
                         tb_isa isa, tb_error *err);
void tb_engine_free(tb_engine *e);

/* Caches made after this hold keys and values as f16 (on) or f32 (off,
 * the default).  f16 halves the cache's memory and the bytes attention
 * reads per decoded token, as llama.cpp's default cache does; the
 * values are rounded once when stored, so results move by that rounding
 * and stay independent of batch size and threads (a value beyond
 * f16's range, +-65504, becomes infinite).  Caches made before keep
 * their type; a forward pass refuses them after a change. */
void tb_engine_kv_f16(tb_engine *e, int on);

tb_status tb_kv_init(tb_kv *kv, const tb_engine *e, int32_t n_ctx, tb_error *err);
void tb_kv_free(tb_kv *kv);

/* Re-reads every weight's tensor (data, type, kernels) after a compressor
 * rewrote tensors; cached oneDNN copies of changed weights are dropped. */
tb_status tb_engine_rebind(tb_engine *e, tb_error *err);

/* Layer-wise evaluation, for calibrating compressors block by block:
 * x holds b->n rows of n_embd floats, the input of block `layer`, and is
 * replaced by the block's output (the next block's input).  The capture
 * hook, if set, sees each site's input.  Recomputing a block after its
 * weights changed is calling this again with the same input. */
tb_status tb_engine_embed(tb_engine *e, const tb_batch *b, float *x, tb_error *err);
tb_status tb_engine_block(tb_engine *e, tb_kv *caches, const tb_batch *b, int layer,
                          float *x, tb_error *err);

/* Runs a batch.  logits receives one row of n_vocab floats per row that
 * wants logits, in batch order.  The caches' n_past advance to cover the
 * rows written. */
tb_status tb_engine_forward(tb_engine *e, tb_kv *caches, const tb_batch *b,
                            float *logits, tb_error *err);

#endif
