/* test_stats.c - type-7 quantiles, bootstrap intervals, paired differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stats.h"
#include "tb_test.h"

/* ---- quantiles ---- */

static void test_quantile_type7(void)
{
    /* Worked by hand: h = (n - 1) q, x[floor h] + frac(h) (x[floor h + 1] - x[floor h]). */
    const double x[] = {1, 2, 3, 4};
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(x, 4, 0.0), 1.0);
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(x, 4, 1.0), 4.0);
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(x, 4, 0.5), 2.5);   /* h = 1.5 */
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(x, 4, 0.25), 1.75); /* h = 0.75 */
    CU_ASSERT_DOUBLE_EQUAL(tb_stats_quantile_sorted(x, 4, 0.9), 3.7, 1e-15); /* numpy */
    const double ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    /* R: quantile(1:10, 0.33) = 3.97 (h = 2.97). */
    CU_ASSERT_DOUBLE_EQUAL(tb_stats_quantile_sorted(ten, 10, 0.33), 3.97, 1e-14);
    const double two[] = {1, 3};
    CU_ASSERT_DOUBLE_EQUAL(tb_stats_quantile_sorted(two, 2, 0.1), 1.2, 1e-15);
    const double one[] = {10};
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(one, 1, 0.3), 10.0);
    CU_ASSERT(isnan(tb_stats_quantile_sorted(x, 0, 0.5)));
    /* Out-of-range q clamps to the ends instead of reading past them. */
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(x, 4, -1.0), 1.0);
    CU_ASSERT_EQUAL(tb_stats_quantile_sorted(x, 4, 2.0), 4.0);
    const double inf[] = {INFINITY, INFINITY};
    CU_ASSERT(isinf(tb_stats_quantile_sorted(inf, 2, 0.5)));
}

/* ---- means and intervals ---- */

static void test_small_and_degenerate(void)
{
    tb_estimate e = tb_stats_mean_ci(NULL, 0, 1, 1000, 0.95);
    CU_ASSERT(isnan(e.value) && isnan(e.ci_low) && isnan(e.ci_high));
    CU_ASSERT_EQUAL(e.n, 0);

    const double one[] = {7.5};
    e = tb_stats_mean_ci(one, 1, 1, 1000, 0.95);
    CU_ASSERT_EQUAL(e.value, 7.5);
    CU_ASSERT_EQUAL(e.ci_low, 7.5);
    CU_ASSERT_EQUAL(e.ci_high, 7.5);
    CU_ASSERT_EQUAL(e.n, 1);

    /* Constant data: every resample has the same mean, a zero-width CI,
     * even for a value (0.1) that is not exact in binary. */
    const double c[] = {0.1, 0.1, 0.1, 0.1, 0.1};
    e = tb_stats_mean_ci(c, 5, 99, 1000, 0.95);
    CU_ASSERT_EQUAL(e.ci_low, e.value);
    CU_ASSERT_EQUAL(e.ci_high, e.value);
    CU_ASSERT_DOUBLE_EQUAL(e.value, 0.1, 1e-16);
    CU_ASSERT_EQUAL(e.n, 5);

    /* No resamples: the interval is the value. */
    const double x[] = {0, 1, 0, 1};
    e = tb_stats_mean_ci(x, 4, 1, 0, 0.95);
    CU_ASSERT_EQUAL(e.value, 0.5);
    CU_ASSERT_EQUAL(e.ci_low, 0.5);
    CU_ASSERT_EQUAL(e.ci_high, 0.5);

    /* A NaN score makes everything NaN rather than a fake interval. */
    const double bad[] = {1, NAN, 0};
    e = tb_stats_mean_ci(bad, 3, 1, 100, 0.95);
    CU_ASSERT(isnan(e.value) && isnan(e.ci_low) && isnan(e.ci_high));
    CU_ASSERT_EQUAL(e.n, 3);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The procedure of doc/results.md, re-derived here from tb_rng: B
 * resamples, each n draws below(n) in order, means sorted, type-7 quantiles
 * at (1 - level) / 2 and (1 + level) / 2. */
static void test_exact_resamples(void)
{
    const double x[] = {1, 2, 4};
    const int B = 4;
    tb_rng rng;
    tb_rng_seed(&rng, 42);
    double means[4];
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < 3; i++)
            s += x[tb_rng_below(&rng, 3)];
        means[b] = s / 3;
    }
    qsort(means, 4, sizeof means[0], cmp);
    /* level 0.5: quantiles 0.25 (h = 0.75) and 0.75 (h = 2.25). */
    double lo = means[0] + 0.75 * (means[1] - means[0]);
    double hi = means[2] + 0.25 * (means[3] - means[2]);
    if (means[0] == means[1])
        lo = means[0];
    if (means[2] == means[3])
        hi = means[2];
    tb_estimate e = tb_stats_mean_ci(x, 3, 42, B, 0.5);
    CU_ASSERT_DOUBLE_EQUAL(e.value, 7.0 / 3.0, 1e-15);
    CU_ASSERT_EQUAL(e.ci_low, lo);
    CU_ASSERT_EQUAL(e.ci_high, hi);
    /* Every resample mean of {1, 2, 4} is a multiple of 1/3 in [1, 4]. */
    CU_ASSERT(e.ci_low >= 1.0 && e.ci_high <= 4.0);
}

static double *alternating(size_t n)
{
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)(i % 2);
    return x;
}

static void test_determinism(void)
{
    /* Continuous values, so two seeds cannot land on the same bounds. */
    double *x = malloc(50 * sizeof *x);
    for (int i = 0; i < 50; i++)
        x[i] = sqrt((double)i);
    tb_estimate a = tb_stats_mean_ci(x, 50, 1234, 1000, 0.95);
    tb_estimate b = tb_stats_mean_ci(x, 50, 1234, 1000, 0.95);
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
    tb_estimate c = tb_stats_mean_ci(x, 50, 1235, 1000, 0.95);
    CU_ASSERT_EQUAL(c.value, a.value);
    CU_ASSERT(c.ci_low != a.ci_low || c.ci_high != a.ci_high);
    /* An out-of-range level falls back to 0.95 instead of failing. */
    tb_estimate d = tb_stats_mean_ci(x, 50, 1234, 1000, 7.0);
    CU_ASSERT_EQUAL(memcmp(&a, &d, sizeof a), 0);
    free(x);
}

static void test_coverage_and_width(void)
{
    double *x = alternating(1600);
    tb_estimate small = tb_stats_mean_ci(x, 100, 7, 2000, 0.95);
    tb_estimate big = tb_stats_mean_ci(x, 1600, 7, 2000, 0.95);
    CU_ASSERT_EQUAL(small.value, 0.5);
    CU_ASSERT(small.ci_low < 0.5 && 0.5 < small.ci_high);
    CU_ASSERT(big.ci_low < 0.5 && 0.5 < big.ci_high);
    /* Normal theory: 2 * 1.96 * sqrt(0.25 / 100) = 0.196. */
    double w_small = small.ci_high - small.ci_low, w_big = big.ci_high - big.ci_low;
    CU_ASSERT(w_small > 0.17 && w_small < 0.22);
    /* 16 times the data, a quarter of the width. */
    CU_ASSERT(w_small / w_big > 3.4 && w_small / w_big < 4.7);
    /* A wider level gives a wider interval on the same resamples. */
    tb_estimate wide = tb_stats_mean_ci(x, 100, 7, 2000, 0.99);
    CU_ASSERT(wide.ci_low <= small.ci_low && wide.ci_high >= small.ci_high);
    free(x);
}

/* ---- paired differences ---- */

static void test_paired_diff(void)
{
    const double a[] = {0.9, 0.5, 0.7, 0.2};
    const double b[] = {0.4, 0.5, 0.1, 0.2};
    /* Differences 0.5, 0, 0.6, 0: mean 0.275. */
    tb_estimate e = tb_stats_paired_diff(a, b, 4, 3, 1000, 0.95);
    CU_ASSERT_DOUBLE_EQUAL(e.value, 0.275, 1e-15);
    CU_ASSERT_EQUAL(e.n, 4);
    CU_ASSERT(e.ci_low >= 0.0 && e.ci_high <= 0.6);
    CU_ASSERT(e.ci_low <= e.value && e.value <= e.ci_high);
    /* The same thing as bootstrapping the differences themselves. */
    const double d[] = {0.9 - 0.4, 0.5 - 0.5, 0.7 - 0.1, 0.2 - 0.2};
    tb_estimate f = tb_stats_mean_ci(d, 4, 3, 1000, 0.95);
    CU_ASSERT_EQUAL(memcmp(&e, &f, sizeof e), 0);
}

/* Worked by hand: a = 0.70 [0.60, 0.80], b = 0.50 [0.46, 0.54]: standard
 * errors 0.1 / 1.96 and 0.04 / 1.96, so the half-width is
 * sqrt(0.1^2 + 0.04^2) = 0.107703; missing or inverted intervals give none. */
static void test_independent_diff(void)
{
    double lo = 0, hi = 0;
    CU_ASSERT_EQUAL(tb_stats_independent_diff95(0.70, 0.60, 0.80, 0.50, 0.46, 0.54, &lo, &hi), 0);
    CU_ASSERT_DOUBLE_EQUAL(lo, 0.20 - 0.1077032961, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(hi, 0.20 + 0.1077032961, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(tb_stats_se95(0.46, 0.54), 0.04 / 1.959963984540054, 1e-15);
    lo = hi = 7;
    CU_ASSERT_EQUAL(tb_stats_independent_diff95(0.7, NAN, 0.8, 0.5, 0.4, 0.6, &lo, &hi), -1);
    CU_ASSERT_EQUAL(tb_stats_independent_diff95(0.7, 0.6, INFINITY, 0.5, 0.4, 0.6, &lo, &hi), -1);
    CU_ASSERT_EQUAL(tb_stats_independent_diff95(0.7, 0.8, 0.6, 0.5, 0.4, 0.6, &lo, &hi), -1);
    CU_ASSERT_EQUAL(tb_stats_independent_diff95(0.7, 0.6, 0.8, NAN, 0.4, 0.6, &lo, &hi), -1);
    CU_ASSERT(lo == 7 && hi == 7); /* nothing written */
}

static void test_pairs_move_together(void)
{
    /* Very different items, the same drop of 0.25 on each: resampling pairs
     * gives exactly [-0.25, -0.25]; resampling each side on its own would
     * give a wide interval. */
    const double comp[] = {0.75, 0.25, 0.5, 1.0};
    const double base[] = {1.0, 0.5, 0.75, 1.25};
    tb_estimate e = tb_stats_paired_diff(comp, base, 4, 11, 1000, 0.95);
    CU_ASSERT_EQUAL(e.value, -0.25);
    CU_ASSERT_EQUAL(e.ci_low, -0.25);
    CU_ASSERT_EQUAL(e.ci_high, -0.25);
    tb_estimate one = tb_stats_paired_diff(comp, base, 1, 11, 1000, 0.95);
    CU_ASSERT_EQUAL(one.value, -0.25);
    CU_ASSERT_EQUAL(one.ci_low, -0.25);
    CU_ASSERT_EQUAL(one.n, 1);
    tb_estimate none = tb_stats_paired_diff(comp, base, 0, 11, 1000, 0.95);
    CU_ASSERT(isnan(none.value));
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"type-7 quantiles on worked examples", test_quantile_type7},
        {"n = 0, n = 1, constant data, no resamples, NaN", test_small_and_degenerate},
        {"the interval re-derived from tb_rng by hand", test_exact_resamples},
        {"same seed same bits, other seed other bounds", test_determinism},
        {"covers the mean, width ~ 1/sqrt(n)", test_coverage_and_width},
        {"paired difference: mean and interval", test_paired_diff},
        {"pairs are resampled together", test_pairs_move_together},
        {"difference of independent estimates (normal)", test_independent_diff},
        {NULL, NULL}};
    return tb_test_add_suite("stats", cases);
}
