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

#endif
