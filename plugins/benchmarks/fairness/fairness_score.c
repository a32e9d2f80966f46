/* fairness_score.c - see fairness_score.h. */
#include "fairness_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Counts per group: [0] all, [1] with y = 1, [2] with y = 0, each with how
 * many were predicted positive. */
typedef struct tally {
    const char *group;
    size_t n[3], pos[3];
} tally;

/* The tallies of the observations `use` selects, observation i counted
 * w[i] times (w NULL: once). */
static tally *tally_groups(const fr_obs *o, const double *w, size_t n, int known_only,
                           size_t *n_groups)
{
    tally *t = calloc(n + 1, sizeof *t);
    size_t g = 0;
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t m = w ? (size_t)w[i] : 1;
        if ((known_only && o[i].pred < 0) || m == 0)
            continue;
        size_t k = 0;
        while (k < g && strcmp(t[k].group, o[i].group) != 0)
            k++;
        if (k == g)
            t[g++].group = o[i].group;
        int hit = known_only ? o[i].pred == 1 : o[i].y == 1;
        int cls = o[i].y ? 1 : 2;
        t[k].n[0] += m;
        t[k].pos[0] += hit ? m : 0;
        t[k].n[cls] += m;
        t[k].pos[cls] += hit ? m : 0;
    }
    *n_groups = g;
    return t;
}

/* max - min over groups of pos[c] / n[c], groups with n[c] = 0 left out. */
static double spread(const tally *t, size_t g, int c)
{
    double lo = INFINITY, hi = -INFINITY;
    size_t used = 0;
    for (size_t k = 0; k < g; k++) {
        if (!t[k].n[c])
            continue;
        double r = (double)t[k].pos[c] / (double)t[k].n[c];
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
        used++;
    }
    return used >= 2 ? hi - lo : NAN;
}

int fr_compute(const fr_obs *o, size_t n, fr_stats *out)
{
    return fr_compute_weighted(o, NULL, n, out);
}

int fr_compute_weighted(const fr_obs *o, const double *w, size_t n, fr_stats *out)
{
    size_t g = 0, known = 0, right = 0, all = 0;
    tally *t = tally_groups(o, w, n, 1, &g);
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t m = w ? (size_t)w[i] : 1;
        all += m;
        if (o[i].pred >= 0) {
            known += m;
            right += o[i].pred == o[i].y ? m : 0;
        }
    }
    n = all;
    out->n = n;
    out->known = known;
    out->accuracy = known ? (double)right / (double)known : NAN;
    out->refusal = n ? 1.0 - (double)known / (double)n : NAN;
    out->dpd = spread(t, g, 0);
    double tpr = spread(t, g, 1), fpr = spread(t, g, 2);
    out->eod = isnan(tpr) ? fpr : isnan(fpr) ? tpr : (tpr > fpr ? tpr : fpr);
    free(t);
    return 0;
}

int fr_base_rate_parity(const fr_obs *o, size_t n, double *out)
{
    size_t g = 0;
    tally *t = tally_groups(o, NULL, n, 0, &g);
    if (!t)
        return -1;
    *out = spread(t, g, 0);
    free(t);
    return 0;
}
