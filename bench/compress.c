/*
 * bench/compress - how long every compressor takes on one linear layer of a
 * real model's shape, phase by phase, against the machine's measured f32
 * matmul peak.
 *
 *   bench/compress [--shapes 4096x4096,4096x11008] [--threads N]
 *                  [--seq-len 2048] [--windows 4] [--calib-windows 128]
 *                  [--bits 4] [--group 128] [--awq-tokens 4096]
 *                  [--repeat 3] [--json FILE]
 *
 * A shape is rows x cols (outputs x inputs: 4096x11008 is Llama-7B's
 * ffn_down).  The layer is synthetic: weights ~ N(0, 0.02^2); one window of
 * --seq-len input tokens whose columns have log-normal scales and 1% ten
 * times larger outliers, as LLM activations have.
 *
 * Calibration statistics are timed as the calibration service computes
 * them (core/src/calib.c): X^T X with one f32 sgemm per window, the column
 * sums of x^2 and |x| in double.  --windows windows are timed and the time
 * scaled linearly to --calib-windows (128 x 2048 tokens by default, the
 * references' setting): both are sums over windows of equal cost.
 *
 * Per method, from the statistics on (the methods' own work):
 *   GPTQ       the damped inverse factor, then the column sweep (the
 *              tb_gptq_quantize call minus the factor timed alone on the
 *              same Hessian), and the sweep's block updates (its
 *              lazy-batch sgemms, the same calls) timed alone;
 *   SparseGPT  Hessian scaling, damped inverse factor, sweep (50%);
 *   RTN        min-max grid, --bits and --group;
 *   AWQ        one layer's local scale search as awq_block.c runs it for
 *              o and down (20 exponents: scaled quantization plus the
 *              output GEMM on --awq-tokens rows), the clipping search on
 *              512 sampled rows, the final quantization;
 *   Wanda      scaler, scores, masks (50%, per row);
 *   magnitude  one threshold (50%).
 * Cheap methods take the best of --repeat runs, the others one run.
 * GFLOP/s count 2 flops per multiply-add: X^T X 2 T n^2, the factor
 * (Cholesky plus triangular inverse) 2 n^3 / 3, a sweep rows n^2 (the lazy
 * updates plus the in-block updates), against the best of three
 * 4096^3 sgemms ("peak").
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awq_quant.h"
#include "gptq_quant.h"
#include "linalg.h"
#include "magnitude_prune.h"
#include "prune.h"
#include "rng.h"
#include "rtn_quant.h"
#include "sparsegpt_prune.h"
#include "util.h"
#include "wanda_prune.h"

typedef struct bench_opts {
    int threads, repeat, bits;
    int64_t seq_len, windows, calib_windows, group, awq_tokens;
} bench_opts;

typedef struct layer {
    int64_t rows, cols;
    float *w, *x, *xtx; /* x: seq_len x cols, one window */
    double *sq_sum, *abs_sum;
} layer;

/* Seconds of each phase; flops of the ones that are matmuls. */
typedef struct result {
    double xtx, norms;                  /* one window */
    double gptq_factor, gptq_sweep;
    double updates, updates_flops;      /* the sweep's lazy-batch GEMMs alone */
    double sg_hessian, sg_factor, sg_sweep;
    double rtn, awq_search, awq_clip, awq_quant, wanda, magnitude;
    double err_gptq, err_rtn, err_sparsegpt, err_wanda, err_magnitude;
} result;

static double normal(tb_rng *r)
{
    double u = tb_rng_uniform(r), v = tb_rng_uniform(r);
    return sqrt(-2 * log(u > 1e-300 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static float *alloc_f(int64_t n)
{
    return malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

static float *copy_f(const float *src, int64_t n)
{
    float *c = alloc_f(n);
    if (c)
        memcpy(c, src, (size_t)n * sizeof *c);
    return c;
}

static void free_layer(layer *l)
{
    free(l->w);
    free(l->x);
    free(l->xtx);
    free(l->sq_sum);
    free(l->abs_sum);
}

static int make_layer(layer *l, int64_t rows, int64_t cols, int64_t tokens, uint64_t seed)
{
    tb_rng r;
    tb_rng_seed(&r, seed);
    memset(l, 0, sizeof *l);
    l->rows = rows;
    l->cols = cols;
    l->w = alloc_f(rows * cols);
    l->x = alloc_f(tokens * cols);
    l->xtx = calloc((size_t)(cols * cols), sizeof *l->xtx);
    l->sq_sum = calloc((size_t)cols, sizeof *l->sq_sum);
    l->abs_sum = calloc((size_t)cols, sizeof *l->abs_sum);
    double *scale = malloc((size_t)cols * sizeof *scale);
    if (!l->w || !l->x || !l->xtx || !l->sq_sum || !l->abs_sum || !scale) {
        free(scale);
        return -1;
    }
    for (int64_t i = 0; i < rows * cols; i++)
        l->w[i] = (float)(0.02 * normal(&r));
    for (int64_t j = 0; j < cols; j++)
        scale[j] = exp(0.5 * normal(&r)) * (tb_rng_below(&r, 100) == 0 ? 10 : 1);
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t j = 0; j < cols; j++)
            l->x[t * cols + j] = (float)(scale[j] * normal(&r));
    free(scale);
    return 0;
}

/* The calibration service's statistics of `windows` windows (the same one
 * each time: the cost is what matters); returns seconds per window. */
static void time_statistics(layer *l, const bench_opts *o, result *res)
{
    int64_t n = l->cols, t = o->seq_len;
    /* One untimed window first: oneDNN generates its kernels and the
     * threads start on the first call, which would otherwise weigh on a
     * short timing as it never does on 128 windows. */
    tb_sgemm('T', 'N', n, n, t, 1.0f, l->x, n, l->x, n, 0.0f, l->xtx, n);
    memset(l->xtx, 0, (size_t)(n * n) * sizeof *l->xtx);
    double t0 = tb_now_monotonic();
    for (int64_t k = 0; k < o->windows; k++)
        tb_sgemm('T', 'N', n, n, t, 1.0f, l->x, n, l->x, n, 1.0f, l->xtx, n);
    double t1 = tb_now_monotonic();
    for (int64_t k = 0; k < o->windows; k++)
        for (int64_t r = 0; r < t; r++)
            for (int64_t j = 0; j < n; j++) {
                double v = l->x[r * n + j];
                l->sq_sum[j] += v * v;
                l->abs_sum[j] += fabs(v);
            }
    double t2 = tb_now_monotonic();
    res->xtx = (t1 - t0) / (double)o->windows;
    res->norms = (t2 - t1) / (double)o->windows;
}

/* GPTQ: the factor alone, then the whole call; the sweep is the rest. */
/* The block updates of the GPTQ and SparseGPT sweeps by themselves: for
 * every 128-column block, W[:, i2:] -= E U[i1:i2, i2:], the same sgemm
 * calls with the same shapes the sweeps make (E holds made-up errors;
 * the arithmetic does not depend on them).  What is left of a sweep's
 * time is the column work inside each block. */
static int time_block_updates(const layer *l, const float *u, result *res)
{
    const int64_t rows = l->rows, n = l->cols, bs = 128;
    float *w = copy_f(l->w, rows * n), *e = alloc_f(rows * bs);
    if (!w || !e) {
        free(w);
        free(e);
        return -1;
    }
    for (int64_t i = 0; i < rows * bs; i++)
        e[i] = 1e-3f * (float)((i * 7919) % 13 - 6);
    double flops = 0, t0 = tb_now_monotonic();
    int rc = 0;
    for (int64_t i1 = 0; rc == 0 && i1 + bs < n; i1 += bs) {
        int64_t i2 = i1 + bs;
        rc = tb_sgemm('N', 'N', rows, n - i2, bs, -1.0f, e, bs, u + i1 * n + i2, n, 1.0f,
                      w + i2, n);
        flops += 2.0 * (double)rows * (double)bs * (double)(n - i2);
    }
    res->updates = tb_now_monotonic() - t0;
    res->updates_flops = flops;
    free(w);
    free(e);
    return rc;
}

static int time_gptq(const layer *l, const bench_opts *o, result *res)
{
    int64_t n = l->cols;
    tb_gptq_opts g = {o->bits, o->group, 0, 0, 0, 0.01, 128, 3, o->threads, 0};
    float *h = copy_f(l->xtx, n * n), *u = alloc_f(n * n), *w = copy_f(l->w, l->rows * n);
    int rc = h && u && w ? 0 : -1;
    tb_damping d;
    if (rc == 0) {
        double t0 = tb_now_monotonic();
        rc = tb_damped_inverse_factor(h, u, n, g.damp, g.max_retries, &d);
        res->gptq_factor = tb_now_monotonic() - t0;
    }
    if (rc == 0)
        rc = time_block_updates(l, u, res);
    free(u);
    tb_gptq_info info;
    if (rc == 0) {
        double t0 = tb_now_monotonic();
        rc = tb_gptq_quantize(w, l->rows, n, h, &g, &info);
        res->gptq_sweep = tb_now_monotonic() - t0 - res->gptq_factor;
    }
    if (rc == 0)
        res->err_gptq = tb_xtx_rel_error(l->w, w, l->rows, n, l->xtx);
    free(h);
    free(w);
    return rc;
}

static int time_sparsegpt(const layer *l, const bench_opts *o, result *res)
{
    int64_t n = l->cols;
    tb_sparsegpt_opts so = {0.5, 0, 0, 128, 0.01, 0, o->threads, 3};
    float *h = alloc_f(n * n), *u = alloc_f(n * n), *w = copy_f(l->w, l->rows * n);
    int rc = h && u && w ? 0 : -1;
    if (rc == 0) {
        double t0 = tb_now_monotonic();
        tb_sparsegpt_hessian(l->xtx, 2.0f / 128, n, h, w, l->rows);
        double t1 = tb_now_monotonic();
        tb_damping d;
        rc = tb_damped_inverse_factor(h, u, n, so.damp, so.retries, &d);
        double t2 = tb_now_monotonic();
        if (rc == 0)
            rc = tb_sparsegpt_sweep(w, l->rows, n, u, &so, NULL);
        double t3 = tb_now_monotonic();
        res->sg_hessian = t1 - t0;
        res->sg_factor = t2 - t1;
        res->sg_sweep = t3 - t2;
    }
    if (rc == 0)
        res->err_sparsegpt = tb_prune_rel_error(l->w, w, l->rows, n, l->xtx);
    free(h);
    free(u);
    free(w);
    return rc;
}

static tb_rtn_opts rtn_opts(const bench_opts *o)
{
    tb_rtn_opts r = {o->bits, o->group, 0, TB_GRID_MINMAX, o->threads, 0};
    return r;
}

static int time_rtn(const layer *l, const bench_opts *o, result *res)
{
    tb_rtn_opts r = rtn_opts(o);
    res->rtn = INFINITY;
    float *w = NULL;
    for (int k = 0; k < o->repeat; k++) {
        free(w);
        w = copy_f(l->w, l->rows * l->cols);
        if (!w)
            return -1;
        double t0 = tb_now_monotonic();
        tb_rtn_quantize(w, l->rows, l->cols, &r);
        double t = tb_now_monotonic() - t0;
        res->rtn = t < res->rtn ? t : res->rtn;
    }
    res->err_rtn = tb_xtx_rel_error(l->w, w, l->rows, l->cols, l->xtx);
    free(w);
    return 0;
}

/* AWQ on one layer, as awq_block.c's search_local, clipping and final
 * quantization run it; x holds awq_tokens rows (the window repeated). */
static int time_awq(const layer *l, const bench_opts *o, result *res)
{
    int64_t rows = l->rows, cols = l->cols, nt = o->awq_tokens;
    tb_awq_opts q = {o->bits, o->group, 1, 20, 1, 0.5, 20, 512, o->threads, 0};
    float *x = alloc_f(nt * cols), *y = alloc_f(nt * rows), *yc = alloc_f(nt * rows);
    float *cand = alloc_f(rows * cols), *mean = alloc_f(cols), *s = alloc_f(cols);
    float *best = alloc_f(cols), *maxv = alloc_f(rows * tb_awq_groups(cols, o->group));
    float *samp = alloc_f(tb_awq_sample_count(nt, 512) * cols);
    int rc = x && y && yc && cand && mean && s && best && maxv && samp ? 0 : -1;
    for (int64_t t = 0; rc == 0 && t < nt; t++)
        memcpy(x + t * cols, l->x + (t % o->seq_len) * cols, (size_t)cols * sizeof *x);
    if (rc == 0) {
        double t0 = tb_now_monotonic(), lo = INFINITY;
        tb_awq_act_mean(l->abs_sum, o->seq_len * o->windows, cols, mean);
        tb_sgemm('N', 'T', nt, rows, cols, 1.0f, x, cols, l->w, cols, 0.0f, y, rows);
        for (int i = 0; i < q.n_grid; i++) {
            tb_awq_scales(mean, cols, tb_awq_ratio(i, q.n_grid), s);
            tb_awq_scaled_quantize(l->w, rows, cols, s, &q, cand);
            tb_sgemm('N', 'T', nt, rows, cols, 1.0f, x, cols, cand, cols, 0.0f, yc, rows);
            double loss = tb_awq_mse(y, yc, nt * rows);
            if (loss < lo) {
                lo = loss;
                memcpy(best, s, (size_t)cols * sizeof *s);
            }
        }
        double t1 = tb_now_monotonic();
        /* the fold: W diag(s); the clip search sees x / s */
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                cand[r * cols + c] = l->w[r * cols + c] * best[c];
        int64_t ns = tb_awq_sample_rows(x, nt, cols, 512, samp);
        for (int64_t t = 0; t < ns; t++)
            for (int64_t c = 0; c < cols; c++)
                samp[t * cols + c] /= best[c];
        double t2 = tb_now_monotonic();
        rc = tb_awq_clip_search(cand, rows, cols, samp, ns, &q, maxv);
        double t3 = tb_now_monotonic();
        if (rc == 0) {
            tb_awq_clip_apply(cand, rows, cols, o->group, maxv);
            tb_rtn_opts r = tb_awq_rtn_opts(&q);
            tb_rtn_quantize(cand, rows, cols, &r);
        }
        double t4 = tb_now_monotonic();
        res->awq_search = t1 - t0;
        res->awq_clip = t3 - t2;
        res->awq_quant = t4 - t3;
    }
    free(x);
    free(y);
    free(yc);
    free(cand);
    free(mean);
    free(s);
    free(best);
    free(maxv);
    free(samp);
    return rc;
}

static int time_wanda(const layer *l, const bench_opts *o, result *res)
{
    tb_prune_spec sp = {"", 0.5, 0, 0};
    float *scaler = alloc_f(l->cols), *w = NULL;
    if (!scaler)
        return -1;
    res->wanda = INFINITY;
    int rc = 0;
    for (int k = 0; rc == 0 && k < o->repeat; k++) {
        free(w);
        w = copy_f(l->w, l->rows * l->cols);
        if (!w) {
            rc = -1;
            break;
        }
        double t0 = tb_now_monotonic();
        rc = tb_wanda_scaler(l->sq_sum, l->cols, 128, scaler);
        if (rc == 0)
            rc = tb_wanda_prune(w, l->rows, l->cols, scaler, &sp, o->threads);
        double t = tb_now_monotonic() - t0;
        res->wanda = t < res->wanda ? t : res->wanda;
    }
    if (rc == 0)
        res->err_wanda = tb_prune_rel_error(l->w, w, l->rows, l->cols, l->xtx);
    free(w);
    free(scaler);
    return rc;
}

static int time_magnitude(const layer *l, const bench_opts *o, result *res)
{
    tb_prune_spec sp = {"", 0.5, 0, 0};
    float *w = NULL;
    int rc = 0;
    res->magnitude = INFINITY;
    for (int k = 0; rc == 0 && k < o->repeat; k++) {
        free(w);
        w = copy_f(l->w, l->rows * l->cols);
        if (!w)
            return -1;
        double t0 = tb_now_monotonic();
        rc = tb_magnitude_prune(w, l->rows, l->cols, &sp);
        double t = tb_now_monotonic() - t0;
        res->magnitude = t < res->magnitude ? t : res->magnitude;
    }
    if (rc == 0)
        res->err_magnitude = tb_prune_rel_error(l->w, w, l->rows, l->cols, l->xtx);
    free(w);
    return rc;
}

static int run_shape(int64_t rows, int64_t cols, const bench_opts *o, result *res)
{
    layer l;
    memset(res, 0, sizeof *res);
    int rc = make_layer(&l, rows, cols, o->seq_len, (uint64_t)(rows * 31 + cols));
    if (rc == 0) {
        time_statistics(&l, o, res);
        /* the references' Hessian scale (2 / n_seqs), as if all windows
           were in: only the damping-relative results depend on it */
        float k = (float)o->calib_windows / (float)o->windows;
        for (int64_t i = 0; i < cols * cols; i++)
            l.xtx[i] *= k;
        for (int64_t j = 0; j < cols; j++) {
            l.sq_sum[j] *= k;
            l.abs_sum[j] *= k;
        }
    }
    if (rc == 0)
        rc = time_gptq(&l, o, res);
    if (rc == 0)
        rc = time_sparsegpt(&l, o, res);
    if (rc == 0)
        rc = time_rtn(&l, o, res);
    if (rc == 0)
        rc = time_awq(&l, o, res);
    if (rc == 0)
        rc = time_wanda(&l, o, res);
    if (rc == 0)
        rc = time_magnitude(&l, o, res);
    free_layer(&l);
    return rc;
}

/* The best of three n^3 sgemms, in GFLOP/s. */
static double matmul_peak(int64_t n)
{
    float *a = alloc_f(n * n), *b = alloc_f(n * n), *c = alloc_f(n * n);
    double best = 0;
    if (a && b && c) {
        for (int64_t i = 0; i < n * n; i++) {
            a[i] = (float)((i % 7) - 3) * 0.25f;
            b[i] = (float)((i % 5) - 2) * 0.5f;
        }
        for (int k = 0; k < 3; k++) {
            double t0 = tb_now_monotonic();
            tb_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double g = 2.0 * (double)n * n * n / (tb_now_monotonic() - t0) / 1e9;
            best = g > best ? g : best;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static double gflops(double flops, double seconds)
{
    return seconds > 0 ? flops / seconds / 1e9 : 0;
}

static void print_row(tb_buf *js, int first, int64_t rows, int64_t cols, const bench_opts *o,
                      const result *r, double peak)
{
    double n = (double)cols, m = (double)rows, cw = (double)o->calib_windows;
    double f_xtx = 2.0 * (double)o->seq_len * n * n, f_fac = 2.0 * n * n * n / 3;
    double f_sweep = m * n * n;
    double xtx_full = r->xtx * cw, norms_full = r->norms * cw;
    double gptq = r->gptq_factor + r->gptq_sweep;
    double sg = r->sg_hessian + r->sg_factor + r->sg_sweep;
    double awq = r->awq_search + r->awq_clip + r->awq_quant;
    printf("\n### %lld x %lld (peak %.0f GFLOP/s)\n\n", (long long)rows, (long long)cols, peak);
    printf("| phase | seconds | GFLOP/s | of peak |\n|---|---|---|---|\n");
    printf("| X^T X, %lld x %lld tokens (from %lld) | %.2f | %.0f | %.0f%% |\n",
           (long long)o->calib_windows, (long long)o->seq_len, (long long)o->windows, xtx_full,
           gflops(f_xtx, r->xtx), 100 * gflops(f_xtx, r->xtx) / peak);
    printf("| column sums x^2, |x| (Wanda, AWQ), same tokens | %.2f | | |\n", norms_full);
    printf("| GPTQ factor | %.3f | %.0f | %.0f%% |\n", r->gptq_factor,
           gflops(f_fac, r->gptq_factor), 100 * gflops(f_fac, r->gptq_factor) / peak);
    printf("| GPTQ sweep (w%d g%lld) | %.3f | %.0f | %.0f%% |\n", o->bits, (long long)o->group,
           r->gptq_sweep, gflops(f_sweep, r->gptq_sweep),
           100 * gflops(f_sweep, r->gptq_sweep) / peak);
    printf("| of which the block updates (lazy-batch sgemms, timed alone) | %.3f | %.0f | "
           "%.0f%% |\n", r->updates, gflops(r->updates_flops, r->updates),
           100 * gflops(r->updates_flops, r->updates) / peak);
    printf("| SparseGPT Hessian scaling | %.3f | | |\n", r->sg_hessian);
    printf("| SparseGPT factor | %.3f | %.0f | %.0f%% |\n", r->sg_factor,
           gflops(f_fac, r->sg_factor), 100 * gflops(f_fac, r->sg_factor) / peak);
    printf("| SparseGPT sweep (50%%) | %.3f | %.0f | %.0f%% |\n", r->sg_sweep,
           gflops(f_sweep, r->sg_sweep), 100 * gflops(f_sweep, r->sg_sweep) / peak);
    printf("| RTN (w%d g%lld) | %.4f | | |\n", o->bits, (long long)o->group, r->rtn);
    printf("| AWQ scale search (20 x %lld tokens) | %.3f | | |\n", (long long)o->awq_tokens,
           r->awq_search);
    printf("| AWQ clip search (512 tokens) | %.3f | | |\n", r->awq_clip);
    printf("| AWQ final quantization | %.4f | | |\n", r->awq_quant);
    printf("| Wanda (50%%) | %.4f | | |\n", r->wanda);
    printf("| magnitude (50%%) | %.4f | | |\n", r->magnitude);
    printf("\nper layer from the statistics on: GPTQ %.2f s, SparseGPT %.2f s, AWQ %.2f s, "
           "RTN %.4f s, Wanda %.4f s, magnitude %.4f s\n", gptq, sg, awq, r->rtn, r->wanda,
           r->magnitude);
    printf("SparseGPT / Wanda: %.0fx from the statistics on; %.1fx with the statistics "
           "(X^T X vs column sums over %lld windows)\n", sg / r->wanda,
           (sg + xtx_full) / (r->wanda + norms_full), (long long)o->calib_windows);
    printf("GPTQ / RTN: %.0fx; rel. error GPTQ %.5f RTN %.5f | SparseGPT %.4f Wanda %.4f "
           "magnitude %.4f\n", gptq / r->rtn, r->err_gptq, r->err_rtn, r->err_sparsegpt,
           r->err_wanda, r->err_magnitude);
    fflush(stdout);
    tb_buf_printf(js, "%s{\"rows\":%lld,\"cols\":%lld,\"xtx_window_s\":%.6f,"
                  "\"norms_window_s\":%.6f,\"gptq_factor_s\":%.6f,\"gptq_sweep_s\":%.6f,"
                  "\"block_updates_s\":%.6f,"
                  "\"sparsegpt_hessian_s\":%.6f,\"sparsegpt_factor_s\":%.6f,"
                  "\"sparsegpt_sweep_s\":%.6f,\"rtn_s\":%.6f,\"awq_search_s\":%.6f,"
                  "\"awq_clip_s\":%.6f,\"awq_quant_s\":%.6f,\"wanda_s\":%.6f,"
                  "\"magnitude_s\":%.6f,\"sparsegpt_over_wanda\":%.2f,"
                  "\"rel_error\":{\"gptq\":%.6f,\"rtn\":%.6f,\"sparsegpt\":%.6f,"
                  "\"wanda\":%.6f,\"magnitude\":%.6f}}",
                  first ? "" : ",", (long long)rows, (long long)cols, r->xtx, r->norms,
                  r->gptq_factor, r->gptq_sweep, r->updates, r->sg_hessian, r->sg_factor, r->sg_sweep,
                  r->rtn, r->awq_search, r->awq_clip, r->awq_quant, r->wanda, r->magnitude,
                  sg / r->wanda, r->err_gptq, r->err_rtn, r->err_sparsegpt, r->err_wanda,
                  r->err_magnitude);
}

static int parse_args(int argc, char **argv, bench_opts *o, const char **shapes,
                      const char **json)
{
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench/compress: %s needs a value\n", k);
            return -1;
        }
        if (!strcmp(k, "--shapes")) *shapes = v;
        else if (!strcmp(k, "--json")) *json = v;
        else if (!strcmp(k, "--threads")) o->threads = atoi(v);
        else if (!strcmp(k, "--repeat")) o->repeat = atoi(v);
        else if (!strcmp(k, "--bits")) o->bits = atoi(v);
        else if (!strcmp(k, "--seq-len")) o->seq_len = atoll(v);
        else if (!strcmp(k, "--windows")) o->windows = atoll(v);
        else if (!strcmp(k, "--calib-windows")) o->calib_windows = atoll(v);
        else if (!strcmp(k, "--group")) o->group = atoll(v);
        else if (!strcmp(k, "--awq-tokens")) o->awq_tokens = atoll(v);
        else {
            fprintf(stderr, "bench/compress: unknown option %s\n", k);
            return -1;
        }
    }
    if (o->threads < 1 || o->repeat < 1 || o->bits < 2 || o->bits > 8 || o->seq_len < 1 ||
        o->windows < 1 || o->calib_windows < 1 || o->group == 0 || o->awq_tokens < 1) {
        fprintf(stderr, "bench/compress: --threads, --repeat, --seq-len, --windows, "
                        "--calib-windows, --awq-tokens must be positive, --bits 2..8, "
                        "--group -1 or positive\n");
        return -1;
    }
    return 0;
}

static int write_json(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int bad = !f || fputs(text, f) < 0;
    if ((f && fclose(f) != 0) || bad) {
        fprintf(stderr, "bench/compress: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *shapes = "4096x4096,4096x11008", *json = NULL;
    bench_opts o = {omp_get_num_procs(), 3, 4, 2048, 4, 128, 128, 4096};
    if (parse_args(argc, argv, &o, &shapes, &json) != 0)
        return 2;
    omp_set_num_threads(o.threads); /* oneDNN's GEMMs follow it */
    double peak = matmul_peak(4096);
    printf("one layer per shape, %d thread%s, f32 sgemm peak %.0f GFLOP/s (4096^3, best "
           "of 3)\n", o.threads, o.threads == 1 ? "" : "s", peak);
    tb_buf js = {0};
    tb_buf_printf(&js, "{\"threads\":%d,\"peak_gflops\":%.1f,\"seq_len\":%lld,"
                  "\"windows_timed\":%lld,\"calib_windows\":%lld,\"bits\":%d,"
                  "\"group_size\":%lld,\"awq_tokens\":%lld,\"rows\":[", o.threads, peak,
                  (long long)o.seq_len, (long long)o.windows, (long long)o.calib_windows,
                  o.bits, (long long)o.group, (long long)o.awq_tokens);
    char *copy = tb_xstrdup(shapes);
    int first = 1, status = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        long long rows = 0, cols = 0;
        result r;
        if (sscanf(tok, "%lldx%lld", &rows, &cols) != 2 || rows < 1 || cols < 1) {
            fprintf(stderr, "bench/compress: a shape is ROWSxCOLS, not '%s'\n", tok);
            status = 2;
            break;
        }
        if (run_shape(rows, cols, &o, &r) != 0) {
            fprintf(stderr, "bench/compress: %s failed (out of memory?)\n", tok);
            status = 1;
            continue;
        }
        print_row(&js, first, rows, cols, &o, &r, peak);
        first = 0;
    }
    free(copy);
    tb_buf_puts(&js, "]}\n");
    printf("\n%s", tb_buf_str(&js));
    if (json && write_json(json, tb_buf_str(&js)) != 0)
        status = 1;
    tb_buf_free(&js);
    return status;
}
