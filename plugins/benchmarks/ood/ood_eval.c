/* ood_eval.c - see ood_eval.h. */
#include "ood_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtgen_ci.h"
#include "dtgen_sample.h"

static const char *const sentiment[2] = {"negative", "positive"};

/* One (run, item) pair to generate for. */
typedef struct ood_work {
    ood_run *run;
    const ood_item *item;
} ood_work;

/* What building and reporting a pair needs (dtg_pair_items' ctx). */
typedef struct ood_eval {
    const tb_kit *k;
    const ood_opts *o;
    ood_run *runs;
} ood_eval;

/* A sampled pair as the run and item it names. */
static ood_work work(const ood_eval *e, const dtg_pair *pair)
{
    ood_run *r = &e->runs[pair->run];
    return (ood_work){r, &r->set->items[pair->item]};
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

static void build(void *ctx, const dtg_pair *pair, tb_kit_prompt *p, const char **id)
{
    const ood_eval *e = ctx;
    const ood_opts *o = e->o;
    const ood_work wi = work(e, pair), *w = &wi;
    const ood_run *r = w->run;
    int know = is_knowledge(r);
    const char *instruction = !know ? o->style_instruction
                              : r->idk ? o->idk_instruction
                                       : o->knowledge_instruction;
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
}

/* The groups sampled together: per part, its runs in the aggregate, then
 * its other runs (the references, such as `base`); group g = 2 * part +
 * (not in the aggregate). */
static size_t run_items(const void *ctx, size_t run)
{
    const ood_run *runs = ctx;
    return runs[run].set->n;
}

static int in_group(const void *ctx, size_t run, size_t group)
{
    const ood_run *r = (const ood_run *)ctx + run;
    return 2 * (size_t)r->part + !r->in_score == group;
}

/* "<run>/<item id>", so each pair is chosen by its own hash. */
static char *pair_name(const void *ctx, size_t run, size_t item)
{
    const ood_run *r = (const ood_run *)ctx + run;
    const char *id = r->set->items[item].id;
    size_t len = strlen(r->name) + strlen(id) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s/%s", r->name, id);
    return s;
}

static tb_status report(void *ctx, const dtg_pair *pair, const char *prompt, const char *output,
                        tb_error *err)
{
    const ood_eval *e = ctx;
    const ood_work wi = work(e, pair), *w = &wi;
    const tb_kit *k = e->k;
    ood_run *r = w->run;
    int know = is_knowledge(r);
    ood_verdict v = know ? ood_judge_knowledge(output, w->item, r->idk)
                         : ood_judge_style(output, w->item->label);
    dtg_keep_verdict(&r->verdicts, r->set->n, r->n, (int)v);
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

/* The `--limit` sample: per part, N pairs among the runs in the aggregate
 * and N among its other runs, so a limited run scores every part it runs
 * and its total work is bounded by 8 N whatever the number of runs. */
tb_status ood_evaluate(const tb_kit *k, const ood_opts *o, ood_run *runs, size_t n_runs,
                       tb_error *err)
{
    ood_eval e = {k, o, runs};
    dtg_groups groups = {"ood", runs, n_runs, 2 * OOD_PARTS, run_items, in_group, pair_name};
    /* Greedy, as DecodingTrust classifies. */
    dtg_opts g = {"ood", o->max_tokens, 0.0f, o->batch, 0, 0};
    dtg_pair_items items = {&e, o->mode, build, report};
    return dtg_run_sample(k, &g, &groups, &items, err);
}
