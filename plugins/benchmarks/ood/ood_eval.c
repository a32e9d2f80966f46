/* ood_eval.c - see ood_eval.h. */
#include "ood_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtgen.h"

static const char *const sentiment[2] = {"negative", "positive"};

/* One (run, item) pair to generate for. */
typedef struct ood_work {
    ood_run *run;
    const ood_item *item;
} ood_work;

/* What rendering and reporting an item needs (dtg_items' ctx). */
typedef struct ood_eval {
    const tb_kit *k;
    const ood_opts *o;
    tb_kit_prompt *p;
    ood_work *w;
} ood_eval;

static tb_status nomem(const tb_kit *k, tb_error *err)
{
    k->api->errorf(err, "ood: out of memory");
    return TB_ERR_NOMEM;
}

static int is_knowledge(const ood_run *r)
{
    return r->part == OOD_KNOWLEDGE || r->part == OOD_KNOWLEDGE_FEWSHOT;
}

/* A question as DecodingTrust lays it out: the date when the question has
 * one, the question, the numbered options ("0 : ..."), and with idk a
 * fifth option "I don't know". */
static void add_question(tb_kit_prompt *p, const ood_item *q, int idk)
{
    char date[96] = "";
    if (q->date)
        snprintf(date, sizeof date, "Today is %.60s.\n", q->date);
    tb_kit_prompt_add(p, "user", "%sQuestion: %s\n0 : %s\n1 : %s\n2 : %s\n3 : %s%s", date,
                      q->text, q->choices[0], q->choices[1], q->choices[2], q->choices[3],
                      idk ? "\n4 : I don't know" : "");
}

static tb_status render(void *ctx, size_t i, char **prompt, const char **id, tb_error *err)
{
    const ood_eval *e = ctx;
    const ood_opts *o = e->o;
    const ood_work *w = &e->w[i];
    tb_kit_prompt *p = e->p;
    const ood_run *r = w->run;
    int know = is_knowledge(r);
    const char *instruction = !know ? o->style_instruction
                              : r->idk ? o->idk_instruction
                                       : o->knowledge_instruction;
    tb_kit_prompt_clear(p);
    if (*instruction)
        tb_kit_prompt_add(p, "system", "%s", instruction);
    size_t shots = know ? o->knowledge_shots : o->style_shots;
    for (size_t j = 0; r->demos && j < r->demos->n && j < shots; j++) {
        const ood_item *d = &r->demos->items[j];
        if (know) {
            add_question(p, d, r->idk);
            tb_kit_prompt_add(p, "assistant", "%d", d->label);
        } else {
            tb_kit_prompt_add(p, "user", "%s", d->text);
            tb_kit_prompt_add(p, "assistant", "%s", sentiment[d->label]);
        }
    }
    if (know)
        add_question(p, w->item, r->idk);
    else
        tb_kit_prompt_add(p, "user", "%s", w->item->text);
    *id = w->item->id;
    return dtg_render(e->k, "ood", p, o->mode, prompt, NULL, err);
}

/* One group of runs sampled together: a part's runs in the aggregate, or
 * its other runs (the references, such as `base`). */
static int same_group(const ood_run *a, ood_part part, int in_score)
{
    return a->part == part && !a->in_score == !in_score;
}

/* Appends to w the `--limit` sample of one group: the pairs (run, item)
 * of all its runs, flattened in run order, named "<run>/<item id>" so
 * each pair is chosen by its own hash.  Without a limit, every pair. */
static tb_status sample_group(const tb_kit *k, ood_run *runs, size_t n_runs, ood_part part,
                              int in_score, ood_work *w, size_t *n, tb_error *err)
{
    size_t total = 0;
    for (size_t r = 0; r < n_runs; r++)
        if (same_group(&runs[r], part, in_score))
            total += runs[r].set->n;
    if (!total)
        return TB_OK;
    ood_work *pairs = malloc(total * sizeof *pairs);
    char **ids = calloc(total, sizeof *ids);
    size_t *idx = malloc(total * sizeof *idx);
    tb_status st = pairs && ids && idx ? TB_OK : nomem(k, err);
    size_t m = 0;
    for (size_t r = 0; st == TB_OK && r < n_runs; r++) {
        if (!same_group(&runs[r], part, in_score))
            continue;
        for (size_t i = 0; st == TB_OK && i < runs[r].set->n; i++, m++) {
            pairs[m].run = &runs[r];
            pairs[m].item = &runs[r].set->items[i];
            size_t len = strlen(runs[r].name) + strlen(pairs[m].item->id) + 2;
            if (!(ids[m] = malloc(len)))
                st = nomem(k, err);
            else
                snprintf(ids[m], len, "%s/%s", runs[r].name, pairs[m].item->id);
        }
    }
    if (st == TB_OK) {
        size_t got = tb_kit_sample(k->api->seed(k->host), (const char *const *)ids, total,
                                   k->api->limit(k->host), idx);
        if (!got)
            st = nomem(k, err);
        for (size_t i = 0; i < got; i++)
            w[(*n)++] = pairs[idx[i]];
    }
    for (size_t i = 0; ids && i < m; i++)
        free(ids[i]);
    free(ids);
    free(pairs);
    free(idx);
    return st;
}

/* The `--limit` sample: per part, N pairs among the runs in the aggregate
 * and N among its other runs, so a limited run scores every part it runs
 * and its total work is bounded by 8 N whatever the number of runs. */
static tb_status plan_work(const tb_kit *k, ood_run *runs, size_t n_runs, ood_work **out,
                           size_t *n_out, tb_error *err)
{
    size_t total = 0;
    for (size_t r = 0; r < n_runs; r++)
        total += runs[r].set->n;
    ood_work *w = calloc(total ? total : 1, sizeof *w);
    if (!w)
        return nomem(k, err);
    size_t n = 0;
    for (int p = 0; p < OOD_PARTS; p++)
        for (int in_score = 1; in_score >= 0; in_score--) {
            tb_status st = sample_group(k, runs, n_runs, (ood_part)p, in_score, w, &n, err);
            if (st != TB_OK) {
                free(w);
                return st;
            }
        }
    *out = w;
    *n_out = n;
    return TB_OK;
}

static tb_status report(void *ctx, size_t i, const char *prompt, const char *output,
                        tb_error *err)
{
    const ood_eval *e = ctx;
    const ood_work *w = &e->w[i];
    const tb_kit *k = e->k;
    ood_run *r = w->run;
    int know = is_knowledge(r);
    ood_verdict v = know ? ood_judge_knowledge(output, w->item, r->idk)
                         : ood_judge_style(output, w->item->label);
    if (!r->verdicts)
        r->verdicts = calloc(r->set->n + 1, 1); /* none: the score has no CI */
    if (r->verdicts && r->n < r->set->n)
        r->verdicts[r->n] = (unsigned char)v;
    r->n++;
    r->correct += v == OOD_CORRECT;
    r->refused += v == OOD_REFUSED;
    char id[512], metric[64], expected[16];
    snprintf(id, sizeof id, "%s/%s", r->name, w->item->id);
    if (know)
        snprintf(expected, sizeof expected, "%d", w->item->label);
    else
        snprintf(expected, sizeof expected, "%s", sentiment[w->item->label]);
    const char *part = ood_part_names[r->part];
    snprintf(metric, sizeof metric, "%s_accuracy", part);
    tb_status st = tb_kit_item(k, id, metric, r->name, prompt, output, expected,
                               v == OOD_CORRECT, err);
    snprintf(metric, sizeof metric, "%s_refusal_rate", part);
    if (st == TB_OK)
        st = tb_kit_item(k, id, metric, r->name, NULL, NULL, NULL, v == OOD_REFUSED, err);
    snprintf(metric, sizeof metric, "%s_meaningful_accuracy", part);
    if (st == TB_OK && know && v != OOD_REFUSED)
        st = tb_kit_item(k, id, metric, r->name, NULL, NULL, NULL, v == OOD_CORRECT, err);
    return st;
}

tb_status ood_evaluate(const tb_kit *k, const ood_opts *o, ood_run *runs, size_t n_runs,
                       tb_error *err)
{
    ood_work *w = NULL;
    size_t n = 0;
    tb_status st = plan_work(k, runs, n_runs, &w, &n, err);
    if (st != TB_OK)
        return st;
    ood_eval e = {k, o, tb_kit_prompt_new(), w};
    if (!e.p)
        st = nomem(k, err);
    /* Greedy, as DecodingTrust classifies. */
    dtg_opts g = {"ood", o->max_tokens, 0.0f, o->batch, 0, n};
    dtg_items items = {&e, render, report};
    if (st == TB_OK)
        st = dtg_run_items(k, &g, n, &items, err);
    tb_kit_prompt_free(e.p);
    free(w);
    return st;
}
