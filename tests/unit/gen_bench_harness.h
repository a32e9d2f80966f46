/*
 * gen_bench_harness.h - runs a built benchmark plugin in process under the
 * mock host, with the scripted test backend behind it, for the tests of
 * the text-generating benchmarks (toxicity, degeneration).  Settings are
 * "name=value" strings parsed as a matrix would.
 */
#ifndef TB_GEN_BENCH_HARNESS_H
#define TB_GEN_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "mock_host.h"
#include "trustbench/plugin.h"

typedef struct gb_run {
    const tb_plugin_descriptor *bench, *backend;
    tb_config *bench_config, *backend_config;
    void *backend_self, *session, *instance;
    char *model;
    tb_host host;
} gb_run;

/* Opens the scripted backend (backend settings) on a model file written
 * into `dir` and creates benchmark `name` (settings); relative paths in
 * settings resolve against `dir`.  Returns create's status, with its
 * message in err; the run must be closed either way. */
tb_status gb_open(gb_run *r, const char *dir, const char *name,
                  const char *const *backend_settings, size_t n_backend,
                  const char *const *settings, size_t n, tb_error *err);
/* The benchmark's run. */
tb_status gb_run_bench(gb_run *r, tb_error *err);
void gb_close(gb_run *r);

/* Mean, sum and count of the recorded item scores of `metric` (group NULL:
 * every group). */
double gb_item_mean(const tb_host *h, const char *metric, const char *group);
size_t gb_item_count(const tb_host *h, const char *metric, const char *group);

/* Asserts the ids of the recorded items of `metric`, in the order they
 * were recorded, joined by single spaces: what a --limit sample chose and
 * the order it ran in. */
void gb_expect_item_ids(const tb_host *h, const char *metric, const char *want);

/* Opens `name` with the scripted backend's defaults and the settings
 * "data=<data>" then `extra`, sets the host's --limit (0: none) and runs
 * it.  dir: where the model file goes and relative paths resolve; NULL: a
 * fresh temporary folder.  Returns the open's or the run's status (message
 * in err), leaving the run open for inspection: close it either way. */
tb_status gb_run_data(gb_run *r, const char *dir, const char *name, const char *data,
                      const char *const *extra, size_t n_extra, uint64_t limit, tb_error *err);
/* The same, closed again: just the status and err. */
tb_status gb_run_status(const char *dir, const char *name, const char *data,
                        const char *const *extra, size_t n_extra, tb_error *err);

/* A reported metric, asserted present (its name printed when absent). */
const tb_mock_metric *gb_metric(const tb_host *h, const char *name);

/* ../shared/<rel> when that folder exists; else NULL, the test marked
 * skipped with `absent`. */
char *gb_shared_dir(const char *rel, const char *absent);

#endif
