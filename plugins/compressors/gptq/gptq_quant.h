/*
 * gptq_quant.h - GPTQ (Frantar et al. 2023) on plain arrays, as
 * IST-DASLab/gptq's fasterquant does it (algorithms.md B1):
 *
 *   1. per-row grids (group_size <= 0) from the weights as given;
 *   2. dead inputs (H[i][i] == 0): H[i][i] = 1, W[:, i] = 0;
 *   3. static groups: one grid per contiguous group of the original
 *      (dead-zeroed) W;
 *   4. act_order: columns by decreasing H[i][i] (ties: lower index first);
 *   5. U = upper Cholesky factor of (H + damp * mean(diag H) I)^-1, the
 *      damping raised tenfold when the factorization fails;
 *   6. the column sweep in blocks: each column quantized, its error
 *      divided by U[i][i] spread over the block's later columns through
 *      row i of U, and the block's errors applied to every later column
 *      with one GEMM (W[:, i2:] -= Err1 U[i1:i2, i2:]).  A group's grid is
 *      found when the sweep reaches the group's first column, on W as the
 *      earlier blocks left it -- the reference reads W there, not the
 *      block copy it updates column by column;
 *   7. the permutation undone.
 *
 * W is rows x cols row-major; the quantizer is GPTQ's (tb_qgrid_gptq).
 */
#ifndef TB_GPTQ_QUANT_H
#define TB_GPTQ_QUANT_H

#include <stdint.h>

#include "compress_common.h"
#include "linalg.h"

typedef struct tb_gptq_opts {
    int bits;           /* 2..8 */
    int64_t group_size; /* <= 0: one grid per row */
    int sym;
    int act_order;
    int static_groups;  /* with act_order: groups of the original order */
    double damp;        /* relative to the mean of diag(H) */
    int64_t block_size; /* columns per lazy batch */
    int max_retries;    /* tenfold damping raises allowed */
    int threads;        /* OpenMP threads for the sweep; <= 0: 1 */
    int f16;            /* grids in f16 (tb_qgrid_f16) as soon as they are
                           fixed, so the error feedback sees them */
} tb_gptq_opts;

typedef struct tb_gptq_info {
    tb_damping damping;
    int64_t dead;
    double loss; /* sum (w - q)^2 / U[i][i]^2 / 2: the reference's "error" */
} tb_gptq_info;

/* Quantizes w (rows x cols) in place.  h (cols x cols, symmetric) is the
 * Hessian, any positive multiple of X^T X (the reference's is 2/n_seqs
 * X^T X); it is used as scratch and overwritten.  Returns TB_LINALG_OK,
 * TB_LINALG_NOT_PD when even the raised damping failed (info->damping
 * says where; w then holds the input with dead columns zeroed), or
 * TB_LINALG_NOMEM. */
int tb_gptq_quantize(float *w, int64_t rows, int64_t cols, float *h, const tb_gptq_opts *o,
                     tb_gptq_info *info);

/* The act_order permutation: indices by decreasing diag, ties by index. */
int tb_gptq_order(const float *h, int64_t n, int64_t *perm);

#endif
