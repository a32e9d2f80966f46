/*
 * awq_quant.h - AWQ's array math (Lin et al. 2024, mit-han-lab/llm-awq;
 * algorithms.md B2): per-channel activation scales from the mean |x|,
 * quantization of a scaled weight, and the per-row, per-group clipping
 * search.  The walk over a block (which layers share a scale, what output
 * a candidate is judged on, folding) is awq_block.h's.
 *
 * W is rows x cols row-major; groups are those of rtn_quant.h on the
 * min-max grid (zero point) or the symmetric one.
 */
#ifndef TB_AWQ_QUANT_H
#define TB_AWQ_QUANT_H

#include <stdint.h>

#include "rtn_quant.h"

typedef struct tb_awq_opts {
    int bits;            /* 2..8; 0: no rounding (the fold-only test path) */
    int64_t group_size;  /* <= 0: one group per row */
    int zero_point;      /* min-max grid with a zero point; else symmetric */
    int n_grid;          /* scale exponents 0, 1/n_grid, ..., (n_grid-1)/n_grid */
    int clip;            /* search a clipping range per row and group */
    double max_shrink;   /* clip: shrink |w| by at most this fraction */
    int clip_grid;       /* clip: in steps of 1/clip_grid */
    int64_t clip_tokens; /* clip: sample about this many tokens (512) */
    int threads;         /* OpenMP threads; <= 0: 1 */
    int f16;             /* grids in f16 (tb_qgrid_f16), in the searches too */
} tb_awq_opts;

/* The RTN options of AWQ's final quantization. */
tb_rtn_opts tb_awq_rtn_opts(const tb_awq_opts *o);

/* x̄_c = abs_sum_c / n_rows, the mean |x| of each input channel. */
void tb_awq_act_mean(const double *abs_sum, int64_t n_rows, int64_t width, float *mean);

/* s = max(x̄^ratio, 1e-4) / sqrt(max(s) min(s)), in f32 as the
 * reference computes it. */
void tb_awq_scales(const float *mean, int64_t n, float ratio, float *s);

/* The exponent of grid step i: i / n_grid. */
float tb_awq_ratio(int i, int n_grid);

/* out = Q(W diag(s)) diag(s)^-1 (rows x cols; out may alias w).  s NULL:
 * out = Q(W). */
void tb_awq_scaled_quantize(const float *w, int64_t rows, int64_t cols, const float *s,
                            const tb_awq_opts *o, float *out);

/* mean((a - b)^2) over n values, summed in double. */
double tb_awq_mse(const float *a, const float *b, int64_t n);

/* Every step-th row of x (n_rows x width) into out, step = n_rows / want
 * (at least 1): llm-awq's input_feat[0::n_tokens // 512].  Returns the
 * rows taken; out holds (n_rows + step - 1) / step rows. */
int64_t tb_awq_sample_rows(const float *x, int64_t n_rows, int64_t width, int64_t want,
                           float *out);
int64_t tb_awq_sample_count(int64_t n_rows, int64_t want);

/* The clipping search: for every row and group of w, the max |w| among
 * max0 (1 - i / clip_grid), i < max_shrink clip_grid, whose clamped and
 * quantized group changes the group's partial outputs x_g . w_g least
 * (mean square over the n_tok sampled input rows x, n_tok x cols); ties
 * keep the smaller shrink.  max_val: rows x n_groups.  Returns 0, or -1
 * when memory ran out. */
int tb_awq_clip_search(const float *w, int64_t rows, int64_t cols, const float *x,
                       int64_t n_tok, const tb_awq_opts *o, float *max_val);

/* Number of groups per row. */
int64_t tb_awq_groups(int64_t cols, int64_t group_size);

/* Clamps each row and group of w to [-max_val, max_val]. */
void tb_awq_clip_apply(float *w, int64_t rows, int64_t cols, int64_t group_size,
                       const float *max_val);

#endif
