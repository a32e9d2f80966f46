/* dtgen_sample.c - see dtgen_sample.h. */
#include "dtgen_sample.h"

#include <stdlib.h>

static tb_status nomem(const tb_kit *k, const dtg_groups *g, tb_error *err)
{
    k->api->errorf(err, "%s: out of memory", g->who);
    return TB_ERR_NOMEM;
}

/* The pairs of group `group` and the names they are sampled by, in run
 * order; *m receives how many names were asked for (freed by the caller,
 * some NULL on failure). */
static tb_status list_group(const tb_kit *k, const dtg_groups *g, size_t group, dtg_pair *pairs,
                            char **ids, size_t *m, tb_error *err)
{
    tb_status st = TB_OK;
    *m = 0;
    for (size_t r = 0; st == TB_OK && r < g->n_runs; r++) {
        if (!g->in_group(g->ctx, r, group))
            continue;
        size_t items = g->items(g->ctx, r);
        for (size_t i = 0; st == TB_OK && i < items; i++, (*m)++) {
            pairs[*m] = (dtg_pair){r, i};
            if (!(ids[*m] = g->name(g->ctx, r, i)))
                st = nomem(k, g, err);
        }
    }
    return st;
}

/* Appends the sample of group `group` to *out, which holds *n pairs. */
static tb_status sample_group(const tb_kit *k, const dtg_groups *g, size_t group,
                              dtg_pair **out, size_t *n, tb_error *err)
{
    size_t total = 0;
    for (size_t r = 0; r < g->n_runs; r++)
        if (g->in_group(g->ctx, r, group))
            total += g->items(g->ctx, r);
    if (!total)
        return TB_OK;
    dtg_pair *pairs = malloc(total * sizeof *pairs);
    char **ids = calloc(total, sizeof *ids);
    size_t *idx = malloc(total * sizeof *idx);
    dtg_pair *grown = realloc(*out, (*n + total) * sizeof *grown);
    if (grown)
        *out = grown;
    size_t m = 0;
    tb_status st = pairs && ids && idx && grown ? list_group(k, g, group, pairs, ids, &m, err)
                                                : nomem(k, g, err);
    if (st == TB_OK) {
        size_t got = tb_kit_sample(k->api->seed(k->host), (const char *const *)ids, total,
                                   k->api->limit(k->host), idx);
        if (!got)
            st = nomem(k, g, err);
        for (size_t i = 0; i < got; i++)
            (*out)[(*n)++] = pairs[idx[i]];
    }
    for (size_t i = 0; ids && i < m; i++)
        free(ids[i]);
    free(ids);
    free(pairs);
    free(idx);
    return st;
}

tb_status dtg_sample_groups(const tb_kit *k, const dtg_groups *g, dtg_pair **out, size_t *n,
                            tb_error *err)
{
    *n = 0;
    if (!(*out = malloc(sizeof **out)))
        return nomem(k, g, err);
    tb_status st = TB_OK;
    for (size_t group = 0; st == TB_OK && group < g->n_groups; group++)
        st = sample_group(k, g, group, out, n, err);
    return st;
}
