/* dtgen_ci.c - see dtgen_ci.h. */
#include "dtgen_ci.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <trustbench/kit.h>

/* The items behind the score, flattened: item j is verdict at[j] of run
 * run[j]; tally and copy are scratch for one resample. */
typedef struct ci_ctx {
    const dtg_ci_runs *s;
    const unsigned char *const *verdicts; /* per run */
    const size_t *run, *at;
    dtg_tally *tally;
    unsigned char *copy; /* s->n runs of s->size bytes */
} ci_ctx;

static double score_of_weights(void *ctx, const double *w, size_t n)
{
    ci_ctx *c = ctx;
    const dtg_ci_runs *s = c->s;
    memset(c->tally, 0, s->n * sizeof *c->tally);
    for (size_t j = 0; j < n; j++) {
        dtg_tally *t = &c->tally[c->run[j]];
        size_t m = (size_t)w[j];
        unsigned v = c->verdicts[c->run[j]][c->at[j]];
        t->n += m;
        if (v < DTG_VERDICTS)
            t->of[v] += m;
    }
    /* The caller's runs as they are but for their counts, so the score
     * sees every other field (part, task, flags) unchanged. */
    memcpy(c->copy, s->runs, s->n * s->size);
    for (size_t r = 0; r < s->n; r++)
        s->set_tally(c->copy + r * s->size, &c->tally[r]);
    return s->score(c->copy, s->n);
}

/* Each run's counted items and verdicts; the total, or 0 when there is no
 * interval (no items, or items without verdicts). */
static size_t counted(const dtg_ci_runs *s, size_t *count, const unsigned char **verdicts)
{
    size_t total = 0;
    for (size_t r = 0; r < s->n; r++) {
        const unsigned char *run = (const unsigned char *)s->runs + r * s->size;
        count[r] = s->items(run, &verdicts[r]);
        if (count[r] > 0 && !verdicts[r])
            return 0;
        total += count[r];
    }
    return total;
}

void dtg_score_ci(const dtg_ci_runs *s, uint64_t seed, double *lo, double *hi)
{
    *lo = *hi = NAN;
    size_t *count = calloc(s->n + 1, sizeof *count);
    const unsigned char **verdicts = calloc(s->n + 1, sizeof *verdicts);
    size_t total = count && verdicts ? counted(s, count, verdicts) : 0;
    size_t *run = calloc(total + 1, sizeof *run), *at = calloc(total + 1, sizeof *at);
    dtg_tally *tally = calloc(s->n + 1, sizeof *tally);
    unsigned char *copy = calloc(s->n + 1, s->size);
    if (run && at && tally && copy && total) {
        size_t j = 0;
        for (size_t r = 0; r < s->n; r++)
            for (size_t i = 0; i < count[r]; i++, j++) {
                run[j] = r;
                at[j] = i;
            }
        ci_ctx c = {s, verdicts, run, at, tally, copy};
        /* Strata are the run indices, as each plugin had them. */
        tb_kit_bootstrap_spec spec = {.struct_size = sizeof spec,
                                      .n = total,
                                      .aggregate = score_of_weights,
                                      .ctx = &c,
                                      .strata = run,
                                      .seed = seed};
        tb_kit_bootstrap(&spec, lo, hi);
    }
    free(count);
    free(verdicts);
    free(run);
    free(at);
    free(tally);
    free(copy);
}

void dtg_keep_verdict(unsigned char **verdicts, size_t cap, size_t at, int v)
{
    if (!*verdicts)
        *verdicts = calloc(cap + 1, 1);
    if (*verdicts && at < cap)
        (*verdicts)[at] = (unsigned char)v;
}
