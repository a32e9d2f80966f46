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

/* dtg_items' ctx for the sampled pairs w. */
typedef struct sampled {
    const tb_kit *k;
    const char *who;
    const dtg_pair_items *it;
    const dtg_pair *w;
    tb_kit_prompt *p; /* reused for every prompt */
} sampled;

static tb_status render_pair(void *ctx, size_t i, char **prompt, const char **id,
                             tb_error *err)
{
    const sampled *s = ctx;
    tb_kit_prompt_clear(s->p);
    s->it->build(s->it->ctx, &s->w[i], s->p, id);
    return dtg_render(s->k, s->who, s->p, s->it->mode, prompt, NULL, err);
}

static tb_status report_pair(void *ctx, size_t i, const char *prompt, const char *output,
                             tb_error *err)
{
    const sampled *s = ctx;
    return s->it->report(s->it->ctx, &s->w[i], prompt, output, err);
}

tb_status dtg_run_sample(const tb_kit *k, const dtg_opts *o, const dtg_groups *g,
                         const dtg_pair_items *items, tb_error *err)
{
    dtg_pair *w = NULL;
    size_t n = 0;
    tb_status st = dtg_sample_groups(k, g, &w, &n, err);
    sampled s = {k, o->who, items, w, NULL};
    if (st == TB_OK && !(s.p = tb_kit_prompt_new()))
        st = nomem(k, g, err);
    dtg_opts run = *o;
    run.done = 0;
    run.total = n;
    dtg_items pairs = {&s, render_pair, report_pair};
    if (st == TB_OK)
        st = dtg_run_items(k, &run, n, &pairs, err);
    tb_kit_prompt_free(s.p);
    free(w);
    return st;
}
