/*
 * test_kit_bootstrap.c - tb_kit_bootstrap: the percentile interval of a mean
 * against the normal interval it approaches, constant data, seeds, strata
 * (checked inside the aggregate), undefined resamples, the interval always
 * holding the value, and tb_kit_metric_ci's flag.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mock_host.h"
#include "tb_test.h"
#include "trustbench/kit.h"

typedef struct vec {
    const double *x;
    size_t calls;
} vec;

static double weighted_mean(void *ctx, const double *w, size_t n)
{
    vec *v = ctx;
    double sw = 0, swx = 0;
    for (size_t i = 0; i < n; i++) {
        sw += w[i];
        swx += w[i] * v->x[i];
    }
    v->calls++;
    return sw > 0 ? swx / sw : NAN;
}

static tb_kit_bootstrap_spec spec_of(vec *v, size_t n, size_t b, uint64_t seed)
{
    tb_kit_bootstrap_spec s = {sizeof s, n, weighted_mean, v, NULL, b, seed, 0};
    return s;
}

/* 200 values of a lopsided pattern (not symmetric, not constant). */
#define N_MEAN 200
static void fill_pattern(double *x)
{
    for (size_t i = 0; i < N_MEAN; i++)
        x[i] = (double)((i * 7) % 11) + (i % 3 == 0 ? 5.0 : 0.0);
}

static void test_mean_matches_normal(void)
{
    double x[N_MEAN], m = 0, ss = 0, lo, hi;
    fill_pattern(x);
    for (size_t i = 0; i < N_MEAN; i++)
        m += x[i];
    m /= N_MEAN;
    for (size_t i = 0; i < N_MEAN; i++)
        ss += (x[i] - m) * (x[i] - m);
    /* The bootstrap's spread is the plug-in sd (divisor n). */
    double half = 1.959963984540054 * sqrt(ss / N_MEAN) / sqrt((double)N_MEAN);
    vec v = {x, 0};
    tb_kit_bootstrap_spec s = spec_of(&v, N_MEAN, 20000, 42);
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &lo, &hi), 0);
    /* One call at unit weights plus one per resample. */
    CU_ASSERT_EQUAL(v.calls, 20001);
    /* Stated tolerance: 8% of the normal half-width (about 0.06 here) on
     * each bound; 20000 resamples put the quantiles' own noise near 1%,
     * and n = 200 keeps the skew of the mean's distribution small. */
    CU_ASSERT(fabs(lo - (m - half)) < 0.08 * half);
    CU_ASSERT(fabs(hi - (m + half)) < 0.08 * half);
    CU_ASSERT(lo < m && m < hi);
}

static void test_constant_data(void)
{
    double x[37], lo = 0, hi = 0;
    for (size_t i = 0; i < 37; i++)
        x[i] = 0.7; /* not a binary fraction: the sums round */
    vec v = {x, 0};
    tb_kit_bootstrap_spec s = spec_of(&v, 37, 500, 7);
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &lo, &hi), 0);
    double value = weighted_mean(&v, (double[37]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                                 37);
    CU_ASSERT_EQUAL(lo, value);
    CU_ASSERT_EQUAL(hi, value);
}

static void test_seeds(void)
{
    double x[N_MEAN], a_lo, a_hi, b_lo, b_hi, c_lo, c_hi;
    fill_pattern(x);
    vec v = {x, 0};
    tb_kit_bootstrap_spec s = spec_of(&v, N_MEAN, 0, 1234); /* 0: default 1000 */
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &a_lo, &a_hi), 0);
    CU_ASSERT_EQUAL(v.calls, 1001);
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &b_lo, &b_hi), 0);
    CU_ASSERT_EQUAL(a_lo, b_lo);
    CU_ASSERT_EQUAL(a_hi, b_hi);
    s.seed = 1235;
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &c_lo, &c_hi), 0);
    CU_ASSERT(c_lo != a_lo || c_hi != a_hi);
}

/* Three strata of 5, 7 and 11 items, interleaved; the aggregate checks each
 * resample keeps every stratum's size and that resampling did happen. */
#define N_STRATA_ITEMS 23
typedef struct strata_check {
    size_t strata[N_STRATA_ITEMS];
    size_t calls, bad, repeats;
} strata_check;

static double stratum_sizes(void *ctx, const double *w, size_t n)
{
    strata_check *c = ctx;
    double per[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        per[c->strata[i] / 100 - 1] += w[i];
        c->repeats += w[i] > 1.0;
    }
    c->bad += per[0] != 5.0 || per[1] != 7.0 || per[2] != 11.0;
    c->calls++;
    return w[0] + 2.0 * w[5];
}

static void test_strata(void)
{
    strata_check c;
    memset(&c, 0, sizeof c);
    /* Stratum labels are arbitrary values: 100, 200, 300. */
    size_t sizes[3] = {0, 0, 0};
    for (size_t i = 0; i < N_STRATA_ITEMS; i++) {
        size_t s = sizes[i % 3] < (size_t[]){5, 7, 11}[i % 3] ? i % 3 : 2;
        sizes[s]++;
        c.strata[i] = 100 * (s + 1);
    }
    CU_ASSERT(sizes[0] == 5 && sizes[1] == 7 && sizes[2] == 11);
    tb_kit_bootstrap_spec s = {sizeof s, N_STRATA_ITEMS, stratum_sizes, &c, c.strata, 300, 9, 0};
    double lo, hi;
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &lo, &hi), 0);
    CU_ASSERT_EQUAL(c.calls, 301);
    CU_ASSERT_EQUAL(c.bad, 0);
    CU_ASSERT(c.repeats > 0);
    CU_ASSERT(lo < hi);
}

/* The largest drawn value: no resample exceeds the value, so the upper
 * percentile is at most it and the bound is widened to hold it. */
static double drawn_max(void *ctx, const double *w, size_t n)
{
    const double *x = ((vec *)ctx)->x;
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0 && x[i] > m)
            m = x[i];
    return m;
}

static void test_value_inside(void)
{
    double x[N_MEAN], lo, hi;
    fill_pattern(x);
    vec v = {x, 0};
    tb_kit_bootstrap_spec s = {sizeof s, N_MEAN, drawn_max, &v, NULL, 200, 3, 0};
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &lo, &hi), 0);
    CU_ASSERT_EQUAL(hi, 15.0); /* max of the pattern: 10 + 5 */
    CU_ASSERT(lo <= hi);
}

/* Defined only at unit weights: every resample is NaN. */
static double only_full(void *ctx, const double *w, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        if (w[i] != 1.0)
            return NAN;
    return 1.0;
}

static void test_undefined(void)
{
    double x[N_MEAN], lo = 0, hi = 0;
    fill_pattern(x);
    vec v = {x, 0};
    tb_kit_bootstrap_spec s = {sizeof s, N_MEAN, only_full, &v, NULL, 100, 3, 0};
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &lo, &hi), -1);
    CU_ASSERT(isnan(lo) && isnan(hi));
    s = spec_of(&v, 0, 100, 3);
    lo = hi = 0;
    CU_ASSERT_EQUAL(tb_kit_bootstrap(&s, &lo, &hi), -1);
    CU_ASSERT(isnan(lo) && isnan(hi));
}

static void test_metric_ci(void)
{
    tb_host h;
    tb_mock_init(&h, "kit");
    h.seed = 5;
    tb_kit k = {tb_mock_api(), &h};
    tb_error err = {{0}};
    CU_ASSERT_EQUAL(tb_kit_metric_ci(&k, "score", 50, 40, 60, 10, "l", TB_METRIC_PRIMARY, &err),
                    TB_OK);
    CU_ASSERT_EQUAL(tb_kit_metric_ci(&k, "other", 50, NAN, NAN, 10, "l", 0, &err), TB_OK);
    const tb_mock_metric *a = tb_mock_find_metric(&h, "score"), *b = tb_mock_find_metric(&h, "other");
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT_EQUAL(a->flags, TB_METRIC_PRIMARY | TB_METRIC_HAS_CI);
    CU_ASSERT_EQUAL(a->ci_low, 40);
    CU_ASSERT_EQUAL(a->ci_high, 60);
    CU_ASSERT_EQUAL(b->flags, 0);
    /* The seed depends on the matrix seed and the metric's name. */
    uint64_t s1 = tb_kit_bootstrap_seed(&k, "score");
    CU_ASSERT_EQUAL(s1, tb_kit_hash(5, "score"));
    CU_ASSERT(s1 != tb_kit_bootstrap_seed(&k, "accuracy"));
    h.seed = 6;
    CU_ASSERT(s1 != tb_kit_bootstrap_seed(&k, "score"));
    tb_mock_free(&h);
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"mean: percentile interval near mean +- 1.96 sd/sqrt(n)", test_mean_matches_normal},
        {"constant data: zero width at the value", test_constant_data},
        {"same seed, same bounds; other seed, other bounds", test_seeds},
        {"strata keep their sizes", test_strata},
        {"the interval holds the value", test_value_inside},
        {"undefined resamples, no items", test_undefined},
        {"metric with an interval; seeds per metric", test_metric_ci},
        {NULL, NULL}};
    return tb_test_add_suite("kit bootstrap", cases);
}
