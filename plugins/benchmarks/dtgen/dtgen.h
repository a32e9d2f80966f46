/*
 * dtgen.h - the generation loop the DecodingTrust classification
 * benchmarks (advglue, ethics, fairness, privacy, adv_demo, ood) share:
 * prompts go to the backend in batches, each answer is copied out before
 * the next backend call (the session owns result text only until then),
 * progress is reported and cancellation honoured between batches.
 *
 * Compiled into each plugin that uses it (plugins never share code at run
 * time); it talks to trustbench only through the kit's host table.
 * Beside it: dtgen_sample.h (the --limit sample of (run, item) pairs) and
 * dtgen_ci.h (the interval of a score made of per-run verdict counts).
 */
#ifndef TB_DTGEN_H
#define TB_DTGEN_H

#include <stddef.h>
#include <stdint.h>

#include <trustbench/kit.h>

typedef struct dtg_opts {
    const char *who;     /* plugin name, the prefix of messages */
    int32_t max_tokens;
    float temperature;   /* 0: greedy */
    size_t batch;        /* requests per backend call (>= 1) */
    /* Progress is reported as (done + i, total) so several calls can make
     * one run's progress. */
    uint64_t done, total;
} dtg_opts;

/* Answers prompts[0..n) into outputs[i] (malloc'd, caller frees; NULL
 * entries on failure).  With temperature > 0 each prompt is sampled with
 * the seed tb_kit_hash(matrix seed, ids[i]), so an answer does not depend
 * on the batch or on the other prompts. */
tb_status dtg_generate(const tb_kit *k, const dtg_opts *o, const char *const *prompts,
                       const char *const *ids, size_t n, char **outputs, tb_error *err);

/* Items rendered, answered and recorded a batch at a time (so memory holds
 * one batch's texts, and a run that stops keeps what earlier batches
 * recorded). */
typedef struct dtg_items {
    void *ctx;
    /* Renders item i's prompt into *prompt (malloc'd, freed by the loop)
     * and gives its id, which seeds its sampling as in dtg_generate. */
    tb_status (*render)(void *ctx, size_t i, char **prompt, const char **id, tb_error *err);
    /* Records item i's answer; both texts are freed after the batch. */
    tb_status (*report)(void *ctx, size_t i, const char *prompt, const char *output,
                        tb_error *err);
} dtg_items;

/* Items 0..n in batches of o->batch: each batch is rendered in order,
 * answered, reported in order, then progress (o->done + items done,
 * o->total) is reported.  Stops at the first failure. */
tb_status dtg_run_items(const tb_kit *k, const dtg_opts *o, size_t n, const dtg_items *items,
                        tb_error *err);

/* Renders p (see tb_kit_prompt_text) into *out, a malloc'd copy.  *used
 * receives the mode used when non-NULL. */
tb_status dtg_render(const tb_kit *k, const char *who, tb_kit_prompt *p,
                     tb_kit_prompt_mode mode, char **out, tb_kit_prompt_mode *used,
                     tb_error *err);

/* Puts "<who>: " before the message in err (the kit's messages start
 * with the file name); returns st, for `return dtg_prefix(...)`. */
tb_status dtg_prefix(const tb_kit *k, const char *who, tb_status st, tb_error *err);

#endif
