/*
 * dtgen_sample.h - the `--limit` sample of benchmarks whose work is (run,
 * item) pairs drawn from groups of runs (adv_demo, ood).
 *
 * A group (a part and kind of adv_demo, a part in or out of ood's
 * aggregate) is sampled as one list: the pairs of all its runs, flattened
 * in run order, each chosen by the hash of its own name (tb_kit_sample), so
 * N pairs a group are run whatever the number of runs, and a pair named
 * alike in two runs is chosen in both or neither.
 *
 * Compiled into each plugin that uses it, like dtgen.c.
 */
#ifndef TB_DTGEN_SAMPLE_H
#define TB_DTGEN_SAMPLE_H

#include <stddef.h>

#include <trustbench/kit.h>

#include "dtgen.h"

/* Item `item` of run `run`: indices into the caller's arrays. */
typedef struct dtg_pair {
    size_t run, item;
} dtg_pair;

typedef struct dtg_groups {
    const char *who; /* plugin name, the prefix of messages */
    const void *ctx; /* the caller's, passed to the callbacks */
    size_t n_runs, n_groups;
    /* How many items run r holds. */
    size_t (*items)(const void *ctx, size_t run);
    /* Whether run r belongs to group g. */
    int (*in_group)(const void *ctx, size_t run, size_t group);
    /* The name a pair is sampled by (malloc'd; NULL: out of memory). */
    char *(*name)(const void *ctx, size_t run, size_t item);
} dtg_groups;

/* The pairs to run: for each group in order, its `--limit` sample
 * (tb_kit_sample under the matrix seed and limit; every pair without a
 * limit), in the order tb_kit_sample gives.  *out is malloc'd; the caller
 * frees it whatever the result (NULL when even that failed). */
tb_status dtg_sample_groups(const tb_kit *k, const dtg_groups *g, dtg_pair **out, size_t *n,
                            tb_error *err);

/* How the sampled pairs are asked and their answers recorded. */
typedef struct dtg_pair_items {
    void *ctx;               /* the caller's, passed to the callbacks */
    tb_kit_prompt_mode mode; /* how prompts are rendered (dtg_render) */
    /* Adds the turns of a pair's prompt to p (cleared before) and gives
     * the pair's id, which seeds its sampling as in dtg_generate. */
    void (*build)(void *ctx, const dtg_pair *pair, tb_kit_prompt *p, const char **id);
    /* Records a pair's answer; both texts are freed after its batch. */
    tb_status (*report)(void *ctx, const dtg_pair *pair, const char *prompt, const char *output,
                        tb_error *err);
} dtg_pair_items;

/* The sample of g (dtg_sample_groups), each pair built, rendered, answered
 * and reported in sample order a batch at a time (dtg_run_items).  Progress
 * runs from 0 to the sample's size: o->done and o->total are not used. */
tb_status dtg_run_sample(const tb_kit *k, const dtg_opts *o, const dtg_groups *g,
                         const dtg_pair_items *items, tb_error *err);

#endif
