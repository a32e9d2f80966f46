/* awq_quant.c - AWQ's scales, scaled quantization and clipping search. */
#include "awq_quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"

tb_rtn_opts tb_awq_rtn_opts(const tb_awq_opts *o)
{
    tb_rtn_opts r;
    r.bits = o->bits;
    r.group_size = o->group_size;
    r.sym = !o->zero_point;
    r.grid = TB_GRID_MINMAX;
    r.threads = o->threads;
    r.f16 = o->f16;
    return r;
}

void tb_awq_act_mean(const double *abs_sum, int64_t n_rows, int64_t width, float *mean)
{
    for (int64_t c = 0; c < width; c++)
        mean[c] = n_rows > 0 ? (float)(abs_sum[c] / (double)n_rows) : 0.0f;
}

float tb_awq_ratio(int i, int n_grid)
{
    return (float)((double)i / (double)n_grid); /* Python's i * 1 / n_grid */
}

void tb_awq_scales(const float *mean, int64_t n, float ratio, float *s)
{
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t c = 0; c < n; c++) {
        float v = powf(mean[c], ratio);
        s[c] = v < 1e-4f ? 1e-4f : v;
        lo = s[c] < lo ? s[c] : lo;
        hi = s[c] > hi ? s[c] : hi;
    }
    float norm = sqrtf(hi * lo);
    for (int64_t c = 0; c < n; c++)
        s[c] = s[c] / norm;
}

void tb_awq_scaled_quantize(const float *w, int64_t rows, int64_t cols, const float *s,
                            const tb_awq_opts *o, float *out)
{
    tb_rtn_opts ro = tb_awq_rtn_opts(o);
    int threads = o->threads > 0 ? o->threads : 1;
    (void)threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *y = out + r * cols;
        const float *x = w + r * cols;
        for (int64_t c = 0; c < cols; c++)
            y[c] = s ? x[c] * s[c] : x[c];
        tb_rtn_quantize_row(y, cols, &ro);
        if (s)
            for (int64_t c = 0; c < cols; c++)
                y[c] = y[c] / s[c];
    }
}

double tb_awq_mse(const float *a, const float *b, int64_t n)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        sum += d * d;
    }
    return n > 0 ? sum / (double)n : 0;
}

static int64_t sample_step(int64_t n_rows, int64_t want)
{
    int64_t step = want > 0 ? n_rows / want : 1;
    return step > 0 ? step : 1;
}

int64_t tb_awq_sample_count(int64_t n_rows, int64_t want)
{
    int64_t step = sample_step(n_rows, want);
    return (n_rows + step - 1) / step;
}

int64_t tb_awq_sample_rows(const float *x, int64_t n_rows, int64_t width, int64_t want,
                           float *out)
{
    int64_t step = sample_step(n_rows, want), n = 0;
    for (int64_t r = 0; r < n_rows; r += step, n++)
        memcpy(out + n * width, x + r * width, (size_t)width * sizeof *x);
    return n;
}

int64_t tb_awq_groups(int64_t cols, int64_t group_size)
{
    return group_size > 0 && group_size < cols ? (cols + group_size - 1) / group_size : 1;
}

void tb_awq_clip_apply(float *w, int64_t rows, int64_t cols, int64_t group_size,
                       const float *max_val)
{
    int64_t ng = tb_awq_groups(cols, group_size);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            float m = max_val[r * ng + (ng > 1 ? c / group_size : 0)];
            float v = w[r * cols + c];
            w[r * cols + c] = v < -m ? -m : v > m ? m : v;
        }
}

/* Output rows handled per GEMM: bounds the error matrix. */
#define CLIP_ROW_BATCH 256

typedef struct clip_work {
    float *xg;  /* n_tok x width: the group's inputs */
    float *d;   /* n_cand x batch x width: candidate minus original */
    float *e;   /* n_tok x (n_cand x batch): their partial outputs */
    float *mx;  /* n_cand x batch: the candidates' ranges */
} clip_work;

/* Rows [r0, r0 + nr) of group [c0, c1): every candidate range, its
 * output change through one GEMM, the best kept in max_val. */
static void clip_batch(const float *w, int64_t cols, int64_t r0, int64_t nr, int64_t c0,
                       int64_t c1, int64_t g, int64_t ng, int n_cand, int64_t n_tok,
                       const tb_awq_opts *o, clip_work *wk, float *max_val)
{
    int64_t gw = c1 - c0;
    tb_rtn_opts ro = tb_awq_rtn_opts(o);
    ro.group_size = -1; /* the group is quantized as one */
    for (int k = 0; k < n_cand; k++) {
        float shrink = (float)(1.0 - (double)k / (double)o->clip_grid);
        for (int64_t r = 0; r < nr; r++) {
            const float *src = w + (r0 + r) * cols + c0;
            float *dst = wk->d + ((int64_t)k * nr + r) * gw;
            float amax = 0;
            for (int64_t j = 0; j < gw; j++)
                amax = fabsf(src[j]) > amax ? fabsf(src[j]) : amax;
            float m = amax * shrink;
            wk->mx[(int64_t)k * nr + r] = m;
            for (int64_t j = 0; j < gw; j++)
                dst[j] = src[j] < -m ? -m : src[j] > m ? m : src[j];
            tb_rtn_quantize_row(dst, gw, &ro);
            for (int64_t j = 0; j < gw; j++)
                dst[j] -= src[j];
        }
    }
    int64_t nc = (int64_t)n_cand * nr;
    tb_sgemm('N', 'T', n_tok, nc, gw, 1.0f, wk->xg, gw, wk->d, gw, 0.0f, wk->e, nc);
    for (int64_t r = 0; r < nr; r++) {
        double best = 1e9; /* the reference's initial min_errs */
        float keep = wk->mx[r];
        for (int k = 0; k < n_cand; k++) {
            double sum = 0;
            for (int64_t t = 0; t < n_tok; t++) {
                double v = wk->e[t * nc + (int64_t)k * nr + r];
                sum += v * v;
            }
            double err = sum / (double)n_tok;
            if (err < best) {
                best = err;
                keep = wk->mx[(int64_t)k * nr + r];
            }
        }
        max_val[(r0 + r) * ng + g] = keep;
    }
}

int tb_awq_clip_search(const float *w, int64_t rows, int64_t cols, const float *x,
                       int64_t n_tok, const tb_awq_opts *o, float *max_val)
{
    int n_cand = (int)(o->max_shrink * o->clip_grid); /* Python's int() */
    n_cand = n_cand > 0 ? n_cand : 1;
    int64_t ng = tb_awq_groups(cols, o->group_size);
    int64_t gmax = ng > 1 ? o->group_size : cols;
    int64_t rb = rows < CLIP_ROW_BATCH ? rows : CLIP_ROW_BATCH;
    clip_work wk;
    wk.xg = malloc((size_t)(n_tok * gmax) * sizeof *wk.xg);
    wk.d = malloc((size_t)(n_cand * rb * gmax) * sizeof *wk.d);
    wk.e = malloc((size_t)(n_tok * n_cand * rb) * sizeof *wk.e);
    wk.mx = malloc((size_t)(n_cand * rb) * sizeof *wk.mx);
    int rc = wk.xg && wk.d && wk.e && wk.mx ? 0 : -1;
    for (int64_t g = 0; rc == 0 && g < ng; g++) {
        int64_t c0 = g * gmax, c1 = c0 + gmax < cols ? c0 + gmax : cols;
        for (int64_t t = 0; t < n_tok; t++)
            memcpy(wk.xg + t * (c1 - c0), x + t * cols + c0, (size_t)(c1 - c0) * sizeof *x);
        for (int64_t r0 = 0; r0 < rows; r0 += rb) {
            int64_t nr = rows - r0 < rb ? rows - r0 : rb;
            clip_batch(w, cols, r0, nr, c0, c1, g, ng, n_cand, n_tok, o, &wk, max_val);
        }
    }
    free(wk.xg);
    free(wk.d);
    free(wk.e);
    free(wk.mx);
    return rc;
}
