/*
 * rtn_quant.h - round-to-nearest quantization of a weight matrix by
 * groups, on the grids of compress_common.h.  RTN is this alone; AWQ
 * quantizes with it after scaling and clipping.
 *
 * W is rows x cols, row-major.  A group is `group_size` consecutive
 * inputs of one row: [g * group_size, (g + 1) * group_size), the last one
 * narrower when cols is not a multiple (stories260K's 172-wide ffn_down:
 * 160..171, as the oracle treats it).  group_size <= 0: the whole row.
 */
#ifndef TB_RTN_QUANT_H
#define TB_RTN_QUANT_H

#include <stdint.h>

#include "compress_common.h"

typedef enum tb_grid {
    TB_GRID_MINMAX = 0, /* llm-awq pseudo_quantize: [min, max] of the group */
    TB_GRID_GPTQ = 1    /* IST-DASLab quant.py: the range always holds 0 */
} tb_grid;

typedef struct tb_rtn_opts {
    int bits;           /* 2..8; 0 leaves the weights as they are (no
                           rounding: a test path, not a parameter) */
    int64_t group_size; /* <= 0: one group per row */
    int sym;            /* no zero point */
    tb_grid grid;
    int threads;        /* OpenMP threads; <= 0: the default */
    int f16;            /* each group's grid in f16 (tb_qgrid_f16): the
                           weights a GGUF block type holds exactly */
} tb_rtn_opts;

/* The grid of n weights (stride apart). */
tb_qparams tb_rtn_grid(const float *w, int64_t n, int64_t stride, const tb_rtn_opts *o);

/* The group that holds input `col`: [*c0, *c1). */
void tb_rtn_group_span(int64_t col, int64_t cols, int64_t group_size, int64_t *c0,
                       int64_t *c1);

/* Quantizes one row of cols weights in place, group by group. */
void tb_rtn_quantize_row(float *w, int64_t cols, const tb_rtn_opts *o);

/* Every row of w (rows x cols) in place. */
void tb_rtn_quantize(float *w, int64_t rows, int64_t cols, const tb_rtn_opts *o);

#endif
