/*
 * bootstrap.c - seeded, optionally stratified percentile bootstrap of an
 * aggregate the plugin computes from item multiplicities (see kit.h).
 *
 * Why multiplicities: a resample of items with replacement is fully
 * described by how often each item was drawn, so a plugin recomputes its
 * score (a mean of per-task means, a weighted leak rate, a demographic
 * parity difference) with counts scaled by w[i] instead of copying records.
 *
 * The procedure, fixed so bounds are bit-identical for a seed: one
 * splitmix64 stream; strata are visited in ascending stratum value, items
 * of a stratum in index order; each resample draws, per stratum of m items,
 * m uniform picks (rejection sampling, no modulo bias).  The aggregates of
 * the resamples are sorted and read at the type-7 quantiles, the same
 * convention as the host's interval of item means.
 */
#include "kit_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TB_KIT_BOOT_DEFAULT_B 1000
/* Resample aggregates this close (relative) to the value are the value:
 * a weighted sum of constant data can differ from it in the last bit. */
#define TB_KIT_BOOT_SNAP 1e-12

typedef struct boot_rng {
    uint64_t state;
} boot_rng;

static uint64_t rng_next(boot_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, m), m > 0: draws below 2^64 mod m are rejected so every
 * residue is equally likely. */
static size_t rng_below(boot_rng *r, size_t m)
{
    uint64_t mm = (uint64_t)m, floor_ = (0 - mm) % mm, x;
    do
        x = rng_next(r);
    while (x < floor_);
    return (size_t)(x % mm);
}

/* Items ordered by (stratum, index): the strata become adjacent blocks. */
typedef struct boot_key {
    size_t stratum, index;
} boot_key;

static int cmp_key(const void *pa, const void *pb)
{
    const boot_key *a = pa, *b = pb;
    if (a->stratum != b->stratum)
        return (a->stratum > b->stratum) - (a->stratum < b->stratum);
    return (a->index > b->index) - (a->index < b->index);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static double quantile7(const double *sorted, size_t n, double q)
{
    double h = (double)(n - 1) * q, fl = floor(h);
    size_t i = (size_t)fl;
    if (i + 1 >= n)
        return sorted[n - 1];
    if (sorted[i] == sorted[i + 1])
        return sorted[i];
    return sorted[i] + (h - fl) * (sorted[i + 1] - sorted[i]);
}

/* One resample's multiplicities into w (zeroed first). */
static void draw(boot_rng *rng, const boot_key *keys, size_t n, double *w)
{
    memset(w, 0, n * sizeof *w);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && keys[b].stratum == keys[a].stratum)
            b++;
        for (size_t j = a; j < b; j++)
            w[keys[a + rng_below(rng, b - a)].index] += 1.0;
        a = b;
    }
}

static int fail(double *lo, double *hi)
{
    *lo = *hi = NAN;
    return -1;
}

/* The aggregates of `b` resamples into agg; returns how many are defined
 * (NaN ones are dropped). */
static size_t resample_all(const tb_kit_bootstrap_spec *spec, const boot_key *keys, double *w,
                           double value, size_t b, double *agg)
{
    boot_rng rng = {spec->seed};
    size_t defined = 0;
    for (size_t r = 0; r < b; r++) {
        draw(&rng, keys, spec->n, w);
        double v = spec->aggregate(spec->ctx, w, spec->n);
        if (isnan(v))
            continue;
        if (fabs(v - value) <= TB_KIT_BOOT_SNAP * fmax(1.0, fabs(value)))
            v = value;
        agg[defined++] = v;
    }
    return defined;
}

int tb_kit_bootstrap(const tb_kit_bootstrap_spec *spec, double *lo, double *hi)
{
    if (!lo || !hi)
        return -1;
    if (!spec || !spec->aggregate || spec->n == 0)
        return fail(lo, hi);
    size_t n = spec->n, b = spec->resamples ? spec->resamples : TB_KIT_BOOT_DEFAULT_B;
    double level = spec->level > 0.0 && spec->level < 1.0 ? spec->level : 0.95;
    double *w = malloc(n * sizeof *w), *agg = malloc(b * sizeof *agg);
    boot_key *keys = malloc(n * sizeof *keys);
    int rc = -1;
    if (!w || !agg || !keys)
        goto out;
    for (size_t i = 0; i < n; i++) {
        w[i] = 1.0;
        keys[i] = (boot_key){spec->strata ? spec->strata[i] : 0, i};
    }
    double value = spec->aggregate(spec->ctx, w, n);
    if (isnan(value))
        goto out;
    qsort(keys, n, sizeof *keys, cmp_key);
    size_t defined = resample_all(spec, keys, w, value, b, agg);
    if (defined == 0 || defined * 2 < b)
        goto out;
    qsort(agg, defined, sizeof *agg, cmp_double);
    double alpha = (1.0 - level) / 2.0;
    *lo = fmin(quantile7(agg, defined, alpha), value);
    *hi = fmax(quantile7(agg, defined, 1.0 - alpha), value);
    rc = 0;
out:
    free(w);
    free(agg);
    free(keys);
    if (rc != 0)
        fail(lo, hi);
    return rc;
}

uint64_t tb_kit_bootstrap_seed(const tb_kit *k, const char *name)
{
    uint64_t seed = k && k->api && k->api->seed ? k->api->seed(k->host) : 0;
    return tb_kit_hash(seed, name ? name : "");
}

tb_status tb_kit_metric_ci(const tb_kit *k, const char *name, double value, double lo,
                           double hi, int64_t n, const char *label, uint32_t flags,
                           tb_error *err)
{
    if (!k || !k->api || !k->api->report_metric) {
        tb_kit_errorf(err, "report: no host to report metric %s to", name ? name : "(null)");
        return TB_ERR_INVALID;
    }
    int has = !isnan(lo) && !isnan(hi);
    tb_metric m = {sizeof m, name, value, has ? lo : 0.0, has ? hi : 0.0, n, label,
                   flags | (has ? TB_METRIC_HAS_CI : 0u)};
    return k->api->report_metric(k->host, &m, err);
}
