/*
 * dtgen_ci.h - the 95% interval of a DecodingTrust-style aggregate score
 * whose inputs are per-run counts of judged answers (adv_demo, ood).
 *
 * Such a score is a function of each run's tally (items, and how many got
 * each verdict).  The interval resamples the items within their run
 * (tb_kit_bootstrap, one stratum a run, so no run goes missing or changes
 * size) and recomputes the score from the reweighted tallies.  The runs
 * are the caller's own structs, reached through callbacks, so each plugin
 * keeps its run type and aggregate.
 *
 * Compiled into each plugin that uses it, like dtgen.c.
 */
#ifndef TB_DTGEN_CI_H
#define TB_DTGEN_CI_H

#include <stddef.h>
#include <stdint.h>

/* Verdict codes a tally counts: 0 .. DTG_VERDICTS - 1 (the plugins' wrong,
 * correct and refused/unknown). */
#define DTG_VERDICTS 3

/* A run's items under one resample: n in all, of[v] with verdict v (a
 * code at or above DTG_VERDICTS counts in n only). */
typedef struct dtg_tally {
    size_t n;
    size_t of[DTG_VERDICTS];
} dtg_tally;

/* The caller's runs, as qsort sees an array: `runs` holds `n` structs of
 * `size` bytes. */
typedef struct dtg_ci_runs {
    const void *runs;
    size_t n, size;
    /* How many of the run's items the score counts (0: the run is outside
     * the score), and their verdict codes in *verdicts (NULL when they
     * were not kept; then the score has no interval). */
    size_t (*items)(const void *run, const unsigned char **verdicts);
    /* Writes a resample's tally into a copy of a run. */
    void (*set_tally)(void *run, const dtg_tally *t);
    /* The score of `n` runs (NaN when undefined). */
    double (*score)(const void *runs, size_t n);
} dtg_ci_runs;

/* The 95% percentile-bootstrap interval of s->score, with the items of
 * each run resampled within it (strata = run index) under `seed`.  NaN
 * bounds when there is none: no items, a run that counts items without
 * verdicts, or out of memory. */
void dtg_score_ci(const dtg_ci_runs *s, uint64_t seed, double *lo, double *hi);

/* Keeps verdict v of a run's item `at` for dtg_score_ci: *verdicts gets
 * `cap` slots (zero: verdict 0) when it is NULL; items past cap are not
 * kept.  Out of memory leaves *verdicts NULL (a later call tries again);
 * a run that reaches the score with NULL verdicts gets no interval. */
void dtg_keep_verdict(unsigned char **verdicts, size_t cap, size_t at, int v);

#endif
