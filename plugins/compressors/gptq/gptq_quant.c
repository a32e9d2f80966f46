/* gptq_quant.c - the GPTQ sweep with lazy batch updates. */
#include "gptq_quant.h"

#include <stdlib.h>
#include <string.h>

typedef struct diag_entry {
    float v;
    int64_t i;
} diag_entry;

static int by_diag_desc(const void *pa, const void *pb)
{
    const diag_entry *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

int tb_gptq_order(const float *h, int64_t n, int64_t *perm)
{
    diag_entry *e = malloc((size_t)(n > 0 ? n : 1) * sizeof *e);
    if (!e)
        return TB_LINALG_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        e[i].v = h[i * n + i];
        e[i].i = i;
    }
    qsort(e, (size_t)n, sizeof *e, by_diag_desc);
    for (int64_t i = 0; i < n; i++)
        perm[i] = e[i].i;
    free(e);
    return TB_LINALG_OK;
}

/* P W and P H P^T for the permutation: column j of the result is column
 * perm[j] of the input. */
static int permute(float *w, int64_t rows, float *h, int64_t n, const int64_t *perm)
{
    size_t big = (size_t)(rows > n ? rows : n) * (size_t)n;
    float *t = malloc(big * sizeof *t);
    if (!t)
        return TB_LINALG_NOMEM;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++)
            t[r * n + j] = w[r * n + perm[j]];
    memcpy(w, t, (size_t)(rows * n) * sizeof *t);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            t[i * n + j] = h[perm[i] * n + perm[j]];
    memcpy(h, t, (size_t)(n * n) * sizeof *t);
    free(t);
    return TB_LINALG_OK;
}

static int unpermute(float *w, int64_t rows, int64_t n, const int64_t *perm)
{
    float *row = malloc((size_t)n * sizeof *row);
    if (!row)
        return TB_LINALG_NOMEM;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < n; j++)
            row[perm[j]] = w[r * n + j];
        memcpy(w + r * n, row, (size_t)n * sizeof *row);
    }
    free(row);
    return TB_LINALG_OK;
}

/* GPTQ's grid of n weights, in f16 when asked. */
static tb_qparams grid_of(const float *w, int64_t n, const tb_gptq_opts *o)
{
    tb_qparams q = tb_qgrid_gptq(w, n, 1, o->bits, o->sym);
    return o->f16 ? tb_qgrid_f16(q, o->sym) : q;
}

/* The grids fixed before the sweep: per row (no groups) or per static
 * group.  NULL when neither applies; *fail set when memory ran out. */
static tb_qparams *fixed_grids(const float *w, int64_t rows, int64_t n, const tb_gptq_opts *o,
                               int *fail)
{
    *fail = 0;
    if (o->group_size > 0 && !o->static_groups)
        return NULL;
    int64_t g = o->group_size > 0 ? o->group_size : n;
    int64_t ng = (n + g - 1) / g;
    tb_qparams *q = malloc((size_t)(ng * rows) * sizeof *q);
    if (!q) {
        *fail = 1;
        return NULL;
    }
    for (int64_t k = 0; k < ng; k++) {
        int64_t c0 = k * g, width = c0 + g < n ? g : n - c0;
        for (int64_t r = 0; r < rows; r++)
            q[k * rows + r] = grid_of(w + r * n + c0, width, o);
    }
    return q;
}

typedef struct sweep {
    float *w;             /* rows x n, the (permuted) weights */
    int64_t rows, n;
    const float *u;       /* n x n upper factor */
    const tb_gptq_opts *o;
    const tb_qparams *fixed; /* per row / static groups, or NULL */
    const int64_t *perm;  /* act_order, or NULL */
    tb_qparams *cur;      /* each row's current grid */
    float *w1, *err1;     /* rows x block_size */
} sweep;

/* The grid of row r at column col; updates s->cur at a group start. */
static tb_qparams grid_at(const sweep *s, int64_t r, int64_t col, tb_qparams cur)
{
    const tb_gptq_opts *o = s->o;
    if (o->group_size <= 0)
        return s->fixed[r];
    if (o->static_groups) {
        int64_t idx = s->perm ? s->perm[col] : col;
        return s->fixed[(idx / o->group_size) * s->rows + r];
    }
    if (col % o->group_size != 0)
        return cur;
    int64_t width = col + o->group_size < s->n ? o->group_size : s->n - col;
    return grid_of(s->w + r * s->n + col, width, o);
}

/* Columns [i1, i2) of row r: quantize each, spread its scaled error over
 * the block's later columns; the errors go to err1 for the GEMM. */
static double sweep_row(sweep *s, int64_t r, int64_t i1, int64_t i2)
{
    int64_t count = i2 - i1, n = s->n;
    float *a = s->w1 + r * count, *e = s->err1 + r * count;
    memcpy(a, s->w + r * n + i1, (size_t)count * sizeof *a);
    tb_qparams q = s->cur[r];
    double loss = 0;
    for (int64_t i = 0; i < count; i++) {
        int64_t col = i1 + i;
        q = grid_at(s, r, col, q);
        const float *urow = s->u + col * n + col; /* U[col][col..] */
        float x = a[i], d = urow[0];
        float qv = tb_quantize_value(x, q);
        float ev = (x - qv) / d;
        loss += (double)ev * ev;
        for (int64_t j = 1; j < count - i; j++)
            a[i + j] -= ev * urow[j];
        a[i] = qv;
        e[i] = ev;
    }
    s->cur[r] = q;
    memcpy(s->w + r * n + i1, a, (size_t)count * sizeof *a); /* Q: nothing reads it again */
    return loss;
}

static double run_sweep(sweep *s)
{
    const int64_t bs = s->o->block_size > 0 ? s->o->block_size : 128;
    const int64_t rows = s->rows, n = s->n;
    int threads = s->o->threads > 0 ? s->o->threads : 1;
    (void)threads;
    double loss = 0;
    for (int64_t i1 = 0; i1 < n; i1 += bs) {
        int64_t i2 = i1 + bs < n ? i1 + bs : n, count = i2 - i1;
        double part = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : part)
        for (int64_t r = 0; r < rows; r++)
            part += sweep_row(s, r, i1, i2);
        loss += part;
        if (i2 < n) /* the lazy batch update */
            tb_sgemm('N', 'N', rows, n - i2, count, -1.0f, s->err1, count, s->u + i1 * n + i2,
                     n, 1.0f, s->w + i2, n);
    }
    return loss / 2;
}

int tb_gptq_quantize(float *w, int64_t rows, int64_t cols, float *h, const tb_gptq_opts *o,
                     tb_gptq_info *info)
{
    const int64_t n = cols;
    tb_gptq_info inf;
    memset(&inf, 0, sizeof inf);
    inf.damping.fail.column = -1;
    int rc = TB_LINALG_OK, fail = 0, permuted = 0;
    tb_qparams *rowq = o->group_size <= 0 ? fixed_grids(w, rows, n, o, &fail) : NULL;
    inf.dead = tb_hessian_fix_dead(h, n, w, rows, n);
    tb_qparams *fixed = o->group_size > 0 ? fixed_grids(w, rows, n, o, &fail) : rowq;
    int64_t *perm = o->act_order ? malloc((size_t)n * sizeof *perm) : NULL;
    float *u = malloc((size_t)(n * n) * sizeof *u);
    tb_qparams *cur = calloc((size_t)rows, sizeof *cur);
    int64_t bs = o->block_size > 0 && o->block_size < n ? o->block_size : n;
    float *w1 = malloc((size_t)(rows * bs) * sizeof *w1);
    float *err1 = malloc((size_t)(rows * bs) * sizeof *err1);
    if (fail || (o->act_order && !perm) || !u || !cur || !w1 || !err1)
        rc = TB_LINALG_NOMEM;
    if (rc == TB_LINALG_OK && perm) {
        rc = tb_gptq_order(h, n, perm);
        if (rc == TB_LINALG_OK)
            rc = permute(w, rows, h, n, perm);
        permuted = rc == TB_LINALG_OK;
    }
    if (rc == TB_LINALG_OK)
        rc = tb_damped_inverse_factor(h, u, n, o->damp, o->max_retries, &inf.damping);
    if (rc == TB_LINALG_OK) {
        sweep s = {w, rows, n, u, o, fixed, perm, cur, w1, err1};
        inf.loss = run_sweep(&s);
    }
    if (permuted) { /* also after a failure: w keeps its order */
        int rc2 = unpermute(w, rows, n, perm);
        rc = rc == TB_LINALG_OK ? rc2 : rc;
    }
    free(fixed);
    free(perm);
    free(u);
    free(cur);
    free(w1);
    free(err1);
    if (info)
        *info = inf;
    return rc;
}
