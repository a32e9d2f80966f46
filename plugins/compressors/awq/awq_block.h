/*
 * awq_block.h - AWQ on one decoder block through the calibration service,
 * as llm-awq's run_awq does it (algorithms.md B2):
 *
 *   1. the block's first run (its FP outputs become the next block's
 *      inputs: advance with original = 1 afterwards) gives the mean |x|
 *      of every input channel at the linear layers' inputs;
 *   2. a scale per input channel for each of the four scale groups,
 *      searched on the unmodified block:
 *        attn_norm -> q, k, v   judged on the attention output
 *                               (the service reruns the block with the
 *                               candidate weights: TB_SITE_ATTN_OUT);
 *        v -> o                 only when v and o have the same shape
 *                               (skipped under grouped-query attention),
 *                               judged on o's output X_o W_o^T;
 *        ffn_norm -> gate, up   judged on the MLP output, computed from
 *                               the captured gate/up inputs (SwiGLU with
 *                               the block's down);
 *        up -> down             judged on down's output X_d W_d^T;
 *      a candidate for exponent a is s = x̄^a normalized, W <- Q(W s)/s
 *      for the group's layers, loss = mean squared output change;
 *   3. the scales folded in: the norm (or the previous layer's rows)
 *      divided by s, the layers' input columns multiplied by s, which
 *      leaves the unquantized block's function unchanged;
 *   4. per row and group the clipping range that least changes the
 *      layer's partial outputs on ~512 sampled input tokens (FP inputs
 *      divided by the scales; q and k are not clipped);
 *   5. every selected layer quantized on the min-max grid.
 *
 * A scale group is searched when any of its layers is selected; only the
 * selected ones are quantized (in the candidates too), but the fold
 * applies to every layer of the group so the function is preserved.
 */
#ifndef TB_AWQ_BLOCK_H
#define TB_AWQ_BLOCK_H

#include "awq_quant.h"
#include "trustbench/model.h"
#include "trustbench/plugin.h"

#define TB_AWQ_GROUPS 4

typedef struct tb_awq_block_opts {
    tb_awq_opts q;
    const char *layers; /* selection globs, "" = all */
    int fold_only;      /* test path: search and fold the scales, then stop
                           (no clipping, no quantization, no reports) */
} tb_awq_block_opts;

typedef struct tb_awq_block_info {
    float ratio[TB_AWQ_GROUPS]; /* chosen exponent per scale group, -1: not
                                   searched (q/k/v, o, gate/up, down) */
    double loss[TB_AWQ_GROUPS]; /* its loss */
    int64_t clipped, groups;    /* clipping ranges below max|w|, of all */
} tb_awq_block_info;

/* AWQ on block `layer`: reads its weights, searches, folds, clips and
 * quantizes, writes every changed tensor with tensor_set_f32 (F32) and
 * reports each quantized one through api->report_layer.  The caller
 * advances the calibration afterwards (original = 1). */
tb_status tb_awq_block(const tb_host_api *api, tb_host *h, tb_model *m, tb_calibration *c,
                       int layer, const tb_awq_block_opts *o, tb_awq_block_info *info,
                       tb_error *err);

#endif
