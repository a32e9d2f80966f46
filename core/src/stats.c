/*
 * stats.c - means with seeded percentile-bootstrap intervals.
 *
 * The procedure is spelled out in doc/results.md; the short version: draw
 * `resamples` resamples of size n with replacement (index j = below(n) from
 * one tb_rng stream, in order), take each resample's mean, sort the means
 * and read the (1-level)/2 and (1+level)/2 type-7 quantiles.  Everything is
 * done in a fixed order with plain double arithmetic, so the same inputs and
 * seed give bit-identical bounds on every platform with IEEE doubles.
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"
#include "util.h"

/* Summed left to right: the resample means of constant data then equal the
 * mean exactly, so such data gets a zero-width interval. */
static double mean_of(const double *x, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    return sum / (double)n;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    /* A total order even with NaN (from inf - inf), sorted last, so qsort
     * always sees a consistent comparison. */
    if (isnan(a) || isnan(b))
        return (isnan(a) != 0) - (isnan(b) != 0);
    return (a > b) - (a < b);
}

double tb_stats_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q <= 0.0)
        return sorted[0];
    if (q >= 1.0)
        return sorted[n - 1];
    double h = (double)(n - 1) * q;
    double lo = floor(h);
    size_t i = (size_t)lo;
    if (i + 1 >= n)
        return sorted[n - 1];
    double frac = h - lo;
    /* Equal neighbours give that value as is: with infinities the blend
     * below would compute inf - inf. */
    if (sorted[i] == sorted[i + 1])
        return sorted[i];
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

tb_estimate tb_stats_mean_ci(const double *x, size_t n, uint64_t seed,
                             int resamples, double level)
{
    tb_estimate e = {NAN, NAN, NAN, (int64_t)n};
    if (n == 0)
        return e;
    e.value = mean_of(x, n);
    e.ci_low = e.ci_high = e.value;
    /* A NaN score makes the mean NaN; an interval around it means nothing. */
    if (isnan(e.value)) {
        e.ci_low = e.ci_high = NAN;
        return e;
    }
    if (n < 2 || resamples < 1)
        return e;
    if (!(level > 0.0 && level < 1.0))
        level = 0.95;

    tb_rng rng;
    tb_rng_seed(&rng, seed);
    double *means = tb_xmalloc((size_t)resamples * sizeof *means);
    /* One resample's indices at a time: the same draws, in the same order,
     * as calling tb_rng_below n times. */
    uint64_t *idx = tb_xmalloc(n * sizeof *idx);
    for (int b = 0; b < resamples; b++) {
        tb_rng_below_many(&rng, (uint64_t)n, idx, n);
        double sum = 0.0;
        for (size_t i = 0; i < n; i++)
            sum += x[idx[i]];
        means[b] = sum / (double)n;
    }
    free(idx);
    qsort(means, (size_t)resamples, sizeof *means, cmp_double);
    double alpha = (1.0 - level) / 2.0;
    e.ci_low = tb_stats_quantile_sorted(means, (size_t)resamples, alpha);
    e.ci_high = tb_stats_quantile_sorted(means, (size_t)resamples, 1.0 - alpha);
    free(means);
    return e;
}

tb_estimate tb_stats_paired_diff(const double *a, const double *b, size_t n,
                                 uint64_t seed, int resamples, double level)
{
    /* Resampling the differences resamples each (a, b) pair as one unit,
     * which is what keeps the item-level correlation in the interval. */
    double *d = tb_xmalloc((n + 1) * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    tb_estimate e = tb_stats_mean_ci(d, n, seed, resamples, level);
    free(d);
    return e;
}

double tb_stats_se95(double low, double high)
{
    return (high - low) / (2 * TB_STATS_Z95);
}

static int finite_interval(double v, double low, double high)
{
    return isfinite(v) && isfinite(low) && isfinite(high) && low <= high;
}

int tb_stats_independent_diff95(double a, double a_low, double a_high, double b,
                                double b_low, double b_high, double *low, double *high)
{
    if (!finite_interval(a, a_low, a_high) || !finite_interval(b, b_low, b_high))
        return -1;
    double sa = tb_stats_se95(a_low, a_high), sb = tb_stats_se95(b_low, b_high);
    double half = TB_STATS_Z95 * sqrt(sa * sa + sb * sb);
    *low = (a - b) - half;
    *high = (a - b) + half;
    return 0;
}
