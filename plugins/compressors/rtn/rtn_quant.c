/* rtn_quant.c - groupwise round-to-nearest on the reference grids. */
#include "rtn_quant.h"

tb_qparams tb_rtn_grid(const float *w, int64_t n, int64_t stride, const tb_rtn_opts *o)
{
    tb_qparams q = o->grid == TB_GRID_GPTQ ? tb_qgrid_gptq(w, n, stride, o->bits, o->sym)
                                           : tb_qgrid_minmax(w, n, stride, o->bits, o->sym);
    return o->f16 ? tb_qgrid_f16(q, o->sym) : q;
}

void tb_rtn_group_span(int64_t col, int64_t cols, int64_t group_size, int64_t *c0,
                       int64_t *c1)
{
    if (group_size <= 0 || group_size >= cols) {
        *c0 = 0;
        *c1 = cols;
        return;
    }
    *c0 = col / group_size * group_size;
    *c1 = *c0 + group_size < cols ? *c0 + group_size : cols;
}

void tb_rtn_quantize_row(float *w, int64_t cols, const tb_rtn_opts *o)
{
    if (o->bits <= 0)
        return;
    for (int64_t c0 = 0, c1; c0 < cols; c0 = c1) {
        int64_t lo;
        tb_rtn_group_span(c0, cols, o->group_size, &lo, &c1);
        tb_qparams q = tb_rtn_grid(w + c0, c1 - c0, 1, o);
        for (int64_t c = c0; c < c1; c++)
            w[c] = tb_quantize_value(w[c], q);
    }
}

void tb_rtn_quantize(float *w, int64_t rows, int64_t cols, const tb_rtn_opts *o)
{
    int threads = o->threads > 0 ? o->threads : 1;
    (void)threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        tb_rtn_quantize_row(w + r * cols, cols, o);
}
