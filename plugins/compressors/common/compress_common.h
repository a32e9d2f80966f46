/*
 * compress_common.h - what every compressor plugin shares, compiled into
 * each (plugins never link against the core): choosing the linear layers
 * to rewrite, reading and writing a weight matrix as f32, the quantizer
 * grids of the reference implementations, N:M masks, reconstruction error
 * from the calibration statistics, and the per-layer report.
 *
 * A weight matrix W has `rows` output rows of `cols` inputs (GGUF
 * ne = {cols, rows}), row-major: W[r * cols + c].
 */
#ifndef TB_COMPRESS_COMMON_H
#define TB_COMPRESS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "trustbench/model.h"
#include "trustbench/plugin.h"

/* The seven linear layers of a block, in the order the references walk
 * them, and the calibration site that feeds each. */
#define TB_BLOCK_LINEARS 7
typedef struct tb_linear_kind {
    const char *suffix; /* "attn_q.weight" */
    tb_site site;
} tb_linear_kind;
extern const tb_linear_kind tb_block_linears[TB_BLOCK_LINEARS];

/* A `layers` parameter: comma-separated glob patterns over tensor names
 * ("blk.*.attn_*", "blk.0.*"); "" or "*" selects every linear layer of
 * every block.  Embeddings and the head are never selected. */
int tb_layer_selected(const char *patterns, const char *tensor_name);

/* The tensor blk.<layer>.<suffix>, or NULL. */
tb_tensor *tb_block_tensor(tb_model *m, int layer, const char *suffix);

/* W as f32 (rows x cols), malloc'd; NULL with err filled. */
float *tb_weight_read(const tb_host_api *api, tb_model *m, const tb_tensor *t,
                      tb_error *err);
/* Stores W (rows x cols f32) back as F32: compressed weights keep the
 * values the method chose exactly. */
tb_status tb_weight_write(tb_model *m, tb_tensor *t, const float *w, tb_error *err);

/* ---- quantizer grids ---- */

/* One group's affine grid: q = clamp(round(w / scale) + zero, 0, maxq),
 * w' = scale * (q - zero).  With `shifted` (the f16 form of an
 * asymmetric grid of at most 4 bits, tb_qgrid_f16): q = clamp(round((w -
 * offset) / scale), 0, maxq), w' = q * scale + offset, as a Q4_1 block
 * decodes. */
typedef struct tb_qparams {
    float scale;
    float zero;
    int maxq;
    int shifted;
    float offset; /* with shifted */
} tb_qparams;

/* GPTQ's grid (IST-DASLab quant.py): the range always includes 0;
 * symmetric: [-max|w|, max|w|] with zero (maxq+1)/2; asymmetric: zero =
 * round(-min/scale).  An all-zero group gets [-1, 1]. */
tb_qparams tb_qgrid_gptq(const float *w, int64_t n, int64_t stride, int bits, int sym);
/* AWQ's / RTN's grid (llm-awq pseudo_quantize): min and max of the group,
 * not forced through 0, scale = max(max - min, 1e-5) / maxq, zero =
 * clamp(-round(min / scale), 0, maxq); without a zero point (sym): scale
 * = max|w| / (2^(bits-1) - 1), integers in [-2^(bits-1), 2^(bits-1) - 1]. */
tb_qparams tb_qgrid_minmax(const float *w, int64_t n, int64_t stride, int bits, int sym);
/* The grid `q` with what a GGUF block stores in f16 rounded to f16, so
 * that the quantized weights are exactly a Q4_0, Q4_1 or Q8_0 block's
 * values (model_write's packed export then stores them losslessly):
 *   symmetric: the scale in f16; the codes q - zero span [-2^(b-1),
 *     2^(b-1) - 1]: Q4_0 up to 4 bits, Q8_0 up to 8;
 *   asymmetric, at most 4 bits: the scale and the offset -zero * scale in
 *     f16, values q * scale + offset (`shifted`): Q4_1;
 *   asymmetric, 5 to 8 bits: the scale in f16 and the integer zero kept;
 *     Q8_0 up to 7 bits (q - zero stays in [-128, 127]), nothing at 8.
 * A scale below f16's range becomes its smallest subnormal, one above it
 * its largest finite value. */
tb_qparams tb_qgrid_f16(tb_qparams q, int sym);
/* Round half to even, as torch.round. */
float tb_round_even(float x);
float tb_quantize_value(float w, tb_qparams q);

/* ---- sparsity ---- */

/* Parses "unstructured" or "N:M" (e.g. "2:4": N zeros in every M). */
int tb_parse_pattern(const char *s, int *n, int *m);
/* Zeros / elements of w. */
double tb_sparsity(const float *w, int64_t n);

/* ---- statistics ---- */

/* |(W - W') X|^2 / |W X|^2 from the calibration statistic H = sum x x^T
 * (cols x cols): tr(D H D^T) / tr(W H W^T) with D = W - W'. */
double tb_rel_error_xtx(const float *w, const float *wq, int64_t rows, int64_t cols,
                        const float *xtx);

/* Reports one rewritten tensor through the host. */
tb_status tb_report(const tb_host_api *api, tb_host *h, const char *tensor, const float *w,
                    int64_t n, double rel_error, double seconds, const char *note,
                    tb_error *err);

double tb_seconds(void); /* monotonic */

#endif
