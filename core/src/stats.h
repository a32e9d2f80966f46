/*
 * stats.h - the statistics the core attaches to every metric: means with a
 * seeded percentile-bootstrap 95% confidence interval, and paired
 * differences between a compressed variant and its uncompressed baseline
 * on the same items.
 *
 * Determinism: the same inputs and seed give bit-identical intervals.
 */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <stddef.h>
#include <stdint.h>

#define TB_BOOTSTRAP_DEFAULT 1000

typedef struct tb_estimate {
    double value;   /* the mean */
    double ci_low;  /* percentile bootstrap bounds; equal to value for n < 2 */
    double ci_high;
    int64_t n;
} tb_estimate;

/* Mean of x[0..n) with a `level` (e.g. 0.95) percentile-bootstrap interval
 * from `resamples` resamples drawn with tb_rng seeded by `seed`.
 * n == 0 gives value NaN. */
tb_estimate tb_stats_mean_ci(const double *x, size_t n, uint64_t seed,
                             int resamples, double level);

/* Mean of (a[i] - b[i]) with the same interval (the pairs are resampled
 * together). */
tb_estimate tb_stats_paired_diff(const double *a, const double *b, size_t n,
                                 uint64_t seed, int resamples, double level);

/* The normal quantile of a two-sided 95% interval. */
#define TB_STATS_Z95 1.959963984540054

/* A 95% interval read as a normal one: its standard error. */
double tb_stats_se95(double low, double high);

/* a - b for two independent estimates given with 95% intervals (read as
 * normal ones): 0 and the interval a - b +- 1.96 sqrt(se_a^2 + se_b^2) in
 * *low, *high; -1 (nothing written) when a value or a bound is not
 * finite or an interval is inverted. */
int tb_stats_independent_diff95(double a, double a_low, double a_high, double b,
                                double b_low, double b_high, double *low, double *high);

/* The q-quantile (0..1) of sorted[0..n) by linear interpolation between
 * order statistics (type 7, as R and numpy default). */
double tb_stats_quantile_sorted(const double *sorted, size_t n, double q);

#endif
