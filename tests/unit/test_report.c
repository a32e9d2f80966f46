/* test_report.c - `trustbench report` on a small results database written
 * here through the store API: the model the page is built from (variants,
 * baselines, dimensions, headline metrics, averages), the data points of
 * every chart against the stored metrics, the drawn SVG marks, a
 * well-formedness check of the page, the Markdown tables, partial results,
 * merged shards, older and newer schema versions, and the command. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "report.h"
#include "results.h"
#include "store.h"
#include "tb_test.h"
#include "util.h"

/* ---- the fixture: model m, its baseline and three compressed variants ----
 *
 *   variant                      bbq accuracy   stereo agreement  tox toxicity  perplexity
 *   none (vb, baseline)          0.75           20                0.4           10
 *   rtn bits=4 group_size=128    0.5            40                0.5           12
 *   rtn bits=8 group_size=128    0.75           20                failed        10.5
 *   magnitude sparsity=0.5       0              running           0.4           20
 *
 * bbq items (group a: i1 i2, group b: i3 i4), scores base / rtn4 / rtn8 / mag:
 *   i1 1/1/1/0  i2 1/0/1/0  i3 0/1/0/0  i4 1/0/1/0
 *   paired difference rtn4 - base: 0, -1, +1, -1 -> -0.25; mag: -0.75; rtn8: 0
 * tox items t1..t3: base .2 .4 .6, rtn4 .3 .5 .7 (+0.1 each: significantly
 *   worse, lower is better), mag as base.
 * stereo (0-100, lower is better) per group "g/topic":
 *   base g1/t1 10, g1/t2 30, g2/t1 20, g2/t2 20; rtn4 each +20; rtn8 as base.
 *
 * Normalised to 0-1 with higher better: bbq as is, stereo 1 - v/100, tox
 * 1 - v.  Averages over the trust dimensions:
 *   none (0.75 + 0.8 + 0.6) / 3;  rtn4 (0.5 + 0.6 + 0.5) / 3;
 *   rtn8 (0.75 + 0.8) / 2;        mag (0 + 0.6) / 2.
 */

#define SEED 11
#define FI TB_METRIC_FROM_ITEMS
#define HB TB_METRIC_HIGHER_BETTER
#define LB TB_METRIC_LOWER_BETTER
#define PR TB_METRIC_PRIMARY

static const double bbq_scores[4][4] = {
    {1, 1, 0, 1}, /* none */
    {1, 0, 1, 0}, /* rtn4 */
    {1, 1, 0, 1}, /* rtn8 */
    {0, 0, 0, 0}, /* magnitude */
};
static const double tox_scores[4][3] = {
    {0.2, 0.4, 0.6}, {0.3, 0.5, 0.7}, {0, 0, 0}, {0.2, 0.4, 0.6}};
static const double stereo_groups[4][4] = {
    {10, 30, 20, 20}, {30, 50, 40, 40}, {10, 30, 20, 20}, {0, 0, 0, 0}};
static const double stereo_value[4] = {20, 40, 20, 0};
static const double ppl[4] = {10, 12, 10.5, 20};

static const char *const vkeys[4] = {"vb", "v4", "v8", "vs"};

enum { V_BASE, V_RTN4, V_RTN8, V_MAG };

/* Which variants a database (or shard) gets cells for. */
#define ALL_VARIANTS 0xf

static void must(tb_status st, const tb_error *err)
{
    if (st != TB_OK)
        fprintf(stderr, "\nunexpected: %s\n", err->message);
    CU_ASSERT_EQUAL_FATAL(st, TB_OK);
}

static void commit(tb_store *s, int64_t run, const tb_cell_row *c, const tb_item_row *items,
                   size_t n_items, const tb_metric_row *metrics, size_t n_metrics)
{
    tb_error err;
    must(tb_store_put_cell(s, c, &err), &err);
    must(tb_store_cell_start(s, c->key, run, &err), &err);
    must(tb_store_cell_commit(s, c->key, items, n_items, metrics, n_metrics, 1.5, &err), &err);
}

static double mean(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s / (double)n;
}

static void bbq_cell(tb_store *s, int64_t run, int v)
{
    static const char *const ids[] = {"i1", "i2", "i3", "i4"};
    static const char *const groups[] = {"a", "a", "b", "b"};
    tb_item_row items[4];
    char in[4][32], out[4][32];
    for (int i = 0; i < 4; i++) {
        snprintf(in[i], sizeof in[i], "question <%d> & more", i + 1);
        snprintf(out[i], sizeof out[i], "answer %s of %s", bbq_scores[v][i] ? "yes" : "no",
                 vkeys[v]);
        items[i] = (tb_item_row){ids[i], "accuracy", groups[i], in[i], out[i], "yes",
                                 bbq_scores[v][i]};
    }
    double a = mean(bbq_scores[v], 2), b = mean(bbq_scores[v] + 2, 2);
    tb_metric_row m[] = {
        {"accuracy", mean(bbq_scores[v], 4), 0, 1, 4, "loglikelihood", FI | HB | PR},
        {"accuracy[a]", a, NAN, NAN, 2, NULL, FI | HB},
        {"accuracy[b]", b, NAN, NAN, 2, NULL, FI | HB},
        {"refusal", 0.25 * v, NAN, NAN, 4, "lexicon", TB_METRIC_REFUSAL | TB_METRIC_SUBSTITUTE},
    };
    char *key = tb_xasprintf("c_bbq_%s", vkeys[v]);
    tb_cell_row c = {key, vkeys[v], "bbq", "{\"n\":\"4\"}", "bbq n=4"};
    commit(s, run, &c, items, 4, m, TB_ARRAY_LEN(m));
    free(key);
}

static void tox_cell(tb_store *s, int64_t run, int v)
{
    char *key = tb_xasprintf("c_tox_%s", vkeys[v]);
    tb_cell_row c = {key, vkeys[v], "tox", "{}", "tox"};
    tb_error err;
    if (v == V_RTN8) {
        must(tb_store_put_cell(s, &c, &err), &err);
        must(tb_store_cell_start(s, key, run, &err), &err);
        must(tb_store_cell_fail(s, key, TB_CELL_FAILED, "crashed: signal 11 <core>", 0.5, &err),
             &err);
        free(key);
        return;
    }
    static const char *const ids[] = {"t1", "t2", "t3"};
    tb_item_row items[3];
    for (int i = 0; i < 3; i++)
        items[i] = (tb_item_row){ids[i], "toxicity", NULL, "prompt", "text", NULL,
                                 tox_scores[v][i]};
    tb_metric_row m[] = {
        {"toxicity", mean(tox_scores[v], 3), 0.1, 0.9, 3, "lexicon", FI | LB},
    };
    commit(s, run, &c, items, 3, m, 1);
    free(key);
}

static void stereo_cell(tb_store *s, int64_t run, int v)
{
    char *key = tb_xasprintf("c_stereo_%s", vkeys[v]);
    tb_cell_row c = {key, vkeys[v], "stereo", "{}", "stereo"};
    tb_error err;
    if (v == V_MAG) { /* started, never finished: a run in progress */
        must(tb_store_put_cell(s, &c, &err), &err);
        must(tb_store_cell_start(s, key, run, &err), &err);
        free(key);
        return;
    }
    const double *g = stereo_groups[v];
    tb_metric_row m[] = {
        /* A perspective score with its own (bootstrap) interval, not an
         * item mean: its difference gets the normal interval. */
        {"agreement", stereo_value[v], stereo_value[v] - 0.03, stereo_value[v] + 0.04, 8, NULL,
         PR | LB},
        {"agreement[g1/t1]", g[0], NAN, NAN, 2, NULL, LB},
        {"agreement[g1/t2]", g[1], NAN, NAN, 2, NULL, LB},
        {"agreement[g2/t1]", g[2], NAN, NAN, 2, NULL, LB},
        {"agreement[g2/t2]", g[3], NAN, NAN, 2, NULL, LB},
    };
    commit(s, run, &c, NULL, 0, m, TB_ARRAY_LEN(m));
    free(key);
}

static void ppl_cell(tb_store *s, int64_t run, int v)
{
    char *key = tb_xasprintf("c_ppl_%s", vkeys[v]);
    tb_cell_row c = {key, vkeys[v], "perplexity", "{\"window\":\"64\"}", "perplexity window=64"};
    tb_metric_row m[] = {
        {"perplexity", ppl[v], NAN, NAN, 16, "rolling", LB},
        {"bits_per_byte", log2(ppl[v]) / 4, NAN, NAN, 16, "rolling", LB},
    };
    commit(s, run, &c, NULL, 0, m, TB_ARRAY_LEN(m));
    free(key);
}

/* Writes the fixture's cells of the variants in `which` (bit per variant;
 * every database has all variant rows, as a shard does). */
static char *build_db(const char *dir, const char *name, int which)
{
    char *path = tb_path_join(dir, name);
    tb_store *s = NULL;
    tb_error err;
    must(tb_store_open(path, 1, &s, &err), &err);
    tb_run_info info = {"report-fixture", "m.yaml", "name: report-fixture\n", "0.1.0", "host",
                        "trustbench run m.yaml", which == ALL_VARIANTS ? NULL : "0/2", SEED};
    int64_t run = 0;
    must(tb_store_run_begin(s, &info, &run, &err), &err);
    must(tb_store_add_plugin(s, run, "benchmark", "bbq", "0.1.0", "/p/bbq.so", &err), &err);
    tb_variant_row vr[] = {
        {"vb", "m", "m.gguf", "none", "{}", "none", NULL, 1},
        {"v4", "m", "m.gguf", "rtn", "{\"bits\":\"4\",\"group_size\":\"128\"}",
         "rtn bits=4 group_size=128", "vb", 0},
        {"v8", "m", "m.gguf", "rtn", "{\"bits\":\"8\",\"group_size\":\"128\"}",
         "rtn bits=8 group_size=128", "vb", 0},
        {"vs", "m", "m.gguf", "magnitude", "{\"pattern\":\"unstructured\",\"sparsity\":\"0.5\"}",
         "magnitude sparsity=0.5", "vb", 0},
    };
    for (size_t i = 0; i < TB_ARRAY_LEN(vr); i++)
        must(tb_store_put_variant(s, &vr[i], &err), &err);
    for (int v = 0; v < 4; v++) {
        if (!(which & (1 << v)))
            continue;
        bbq_cell(s, run, v);
        tox_cell(s, run, v);
        stereo_cell(s, run, v);
        ppl_cell(s, run, v);
    }
    must(tb_store_run_end(s, run, "failed", &err), &err);
    tb_store_close(s);
    return path;
}

static char *fixture(void)
{
    return build_db(tb_test_tmpdir(), "fixture.db", ALL_VARIANTS);
}

static tb_report *load(const char *path)
{
    tb_report *r = NULL;
    tb_error err;
    tb_report_options o = {200, -1, 0};
    must(tb_report_load(path, &o, &r, &err), &err);
    return r;
}

/* ---- independent reads of the database ---- */

/* A stored metric value, read with SQL (not through the report). */
static double stored(const char *path, const char *cell_key, const char *metric)
{
    sqlite3 *db = NULL;
    double v = NAN;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT value FROM metrics WHERE cell_key = ?1 AND name = ?2",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, cell_key, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, metric, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
                v = sqlite3_column_double(st, 0);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "\nsql: %s\n", msg ? msg : "?");
    CU_ASSERT_EQUAL(rc, SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* The row `trustbench show` has for a cell and metric. */
static const tb_result_row *show_row(const tb_results *res, const char *cell, const char *metric)
{
    for (size_t i = 0; i < res->n; i++)
        if (!strcmp(res->rows[i].cell_key, cell) && res->rows[i].metric &&
            !strcmp(res->rows[i].metric, metric))
            return &res->rows[i];
    return NULL;
}

static size_t variant_of(const tb_report *r, const char *key)
{
    for (size_t i = 0; i < r->n_variants; i++)
        if (!strcmp(r->variants[i].key, key))
            return i;
    return TB_REPORT_NONE;
}

static size_t dim_of(const tb_report *r, const char *name)
{
    for (size_t d = 0; d < r->n_dims; d++)
        if (!strcmp(r->dims[d].name, name))
            return d;
    return TB_REPORT_NONE;
}

#define NEAR(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), 1e-12)

/* ---- the model behind the page ---- */

static void test_model(void)
{
    char *path = fixture();
    tb_report *r = load(path);
    CU_ASSERT_EQUAL_FATAL(r->n_variants, 4);
    CU_ASSERT_EQUAL_FATAL(r->n_models, 1);
    CU_ASSERT_EQUAL_FATAL(r->n_dims, 4);
    CU_ASSERT_EQUAL(r->n_cells, 16);
    /* Baseline first, then natural label order. */
    CU_ASSERT_STRING_EQUAL(r->variants[0].key, "vb");
    CU_ASSERT_STRING_EQUAL(r->variants[1].key, "vs");
    CU_ASSERT_STRING_EQUAL(r->variants[2].key, "v4");
    CU_ASSERT_STRING_EQUAL(r->variants[3].key, "v8");
    CU_ASSERT_EQUAL(r->models[0].baseline, 0);
    for (size_t i = 1; i < 4; i++)
        CU_ASSERT_EQUAL(r->variants[i].baseline, 0);
    /* Trust dimensions in label order, perplexity last as utility. */
    const char *names[] = {"bbq", "stereo", "tox", "perplexity"};
    const char *heads[] = {"accuracy", "agreement", "toxicity", "perplexity"};
    const double scales[] = {1, 100, 1, 0};
    for (size_t d = 0; d < 4; d++) {
        CU_ASSERT_STRING_EQUAL(r->dims[d].name, names[d]);
        CU_ASSERT_STRING_EQUAL(r->dims[d].headline, heads[d]);
        CU_ASSERT_EQUAL(r->dims[d].utility, d == 3);
        NEAR(r->dims[d].scale, scales[d]);
    }
    CU_ASSERT_STRING_EQUAL(r->dims[0].refusal, "refusal");
    CU_ASSERT_PTR_NULL(r->dims[2].refusal);
    /* Sweep positions and series names. */
    CU_ASSERT_EQUAL(r->variants[2].axis, TB_SWEEP_BITS);
    NEAR(r->variants[2].x, 4);
    CU_ASSERT_STRING_EQUAL(r->variants[2].series, "rtn group_size=128");
    CU_ASSERT_EQUAL(r->variants[1].axis, TB_SWEEP_SPARSITY);
    NEAR(r->variants[1].x, 0.5);
    CU_ASSERT_STRING_EQUAL(r->variants[1].series, "magnitude");
    CU_ASSERT_EQUAL(r->variants[0].axis, TB_SWEEP_NONE);
    /* Every headline equals the stored value. */
    for (size_t i = 0; i < r->n_cells; i++) {
        const tb_report_cell *c = &r->cells[i];
        if (!tb_str_eq(c->status, "done"))
            continue;
        CU_ASSERT_FATAL(c->headline != TB_REPORT_NONE);
        NEAR(c->metrics[c->headline].value, stored(path, c->key, heads[c->dim]));
    }
    /* Averages by hand (see the fixture). */
    size_t used = 0;
    NEAR(tb_report_average(r, 0, TB_REPORT_NONE, &used), (0.75 + 0.8 + 0.6) / 3);
    CU_ASSERT_EQUAL(used, 3);
    NEAR(tb_report_average(r, 2, TB_REPORT_NONE, &used), (0.5 + 0.6 + 0.5) / 3);
    NEAR(tb_report_average(r, 3, TB_REPORT_NONE, &used), (0.75 + 0.8) / 2);
    CU_ASSERT_EQUAL(used, 2);
    NEAR(tb_report_average(r, 1, TB_REPORT_NONE, &used), (0 + 0.6) / 2);
    CU_ASSERT_EQUAL(used, 2);
    /* Like with like: the baseline over rtn8's two dimensions only. */
    NEAR(tb_report_average(r, 0, 3, &used), (0.75 + 0.8) / 2);
    tb_report_free(r);
    free(path);
}

/* The paired differences are `show`'s; the means are worked by hand. */
static void test_differences_and_changes(void)
{
    char *path = fixture();
    tb_report *r = load(path);
    tb_store *s = NULL;
    tb_error err;
    tb_results res;
    memset(&res, 0, sizeof res);
    must(tb_store_open(path, 0, &s, &err), &err);
    must(tb_results_load(s, 200, &res, &err), &err);
    tb_store_close(s);
    size_t bbq = dim_of(r, "bbq"), tox = dim_of(r, "tox");
    struct {
        const char *variant, *cell, *metric;
        size_t dim;
        double diff;
        int verdict;
    } cases[] = {
        {"v4", "c_bbq_v4", "accuracy", bbq, -0.25, 9},
        {"v8", "c_bbq_v8", "accuracy", bbq, 0, 0},
        {"vs", "c_bbq_vs", "accuracy", bbq, -0.75, 9},
        {"v4", "c_tox_v4", "toxicity", tox, 0.1, -1}, /* higher toxicity: worse */
        {"vs", "c_tox_vs", "toxicity", tox, 0, 0},
    };
    for (size_t k = 0; k < TB_ARRAY_LEN(cases); k++) {
        const tb_report_metric *m = tb_report_headline(r, variant_of(r, cases[k].variant),
                                                       cases[k].dim);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_FATAL(m->has_diff);
        CU_ASSERT_DOUBLE_EQUAL(m->diff, cases[k].diff, 1e-9);
        const tb_result_row *row = show_row(&res, cases[k].cell, cases[k].metric);
        CU_ASSERT_PTR_NOT_NULL_FATAL(row);
        CU_ASSERT_FATAL(row->has_diff);
        CU_ASSERT_EQUAL(m->diff, row->diff);
        CU_ASSERT_EQUAL(m->diff_low, row->diff_low);
        CU_ASSERT_EQUAL(m->diff_high, row->diff_high);
        CU_ASSERT_EQUAL(m->diff_n, row->diff_n);
        if (cases[k].verdict != 9)
            CU_ASSERT_EQUAL(tb_report_verdict(m), cases[k].verdict);
    }
    /* A score that is not an item mean, with intervals on both sides: the
     * difference has the normal interval of two independent estimates,
     * half-width 1.96 * sqrt(2) * (0.07 / 3.92), whatever the variant. */
    size_t st = dim_of(r, "stereo");
    for (size_t v = 1; v < 4; v++) {
        const tb_report_metric *m = tb_report_headline(r, v, st);
        if (!m || isnan(m->value))
            continue;
        CU_ASSERT_FATAL(m->has_diff);
        CU_ASSERT_DOUBLE_EQUAL(m->diff, m->value - m->base_value, 1e-12);
        double half = sqrt(2.0) * 0.035;
        CU_ASSERT_DOUBLE_EQUAL(m->diff_low, m->diff - half, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(m->diff_high, m->diff + half, 1e-9);
    }
    /* The baseline has no difference; its cells pair with nothing. */
    CU_ASSERT_FALSE(tb_report_headline(r, 0, bbq)->has_diff);
    /* rtn4's bbq items that changed: i2, i3, i4 (|1| each, by id). */
    const tb_report_cell *c = tb_report_cell_at(r, variant_of(r, "v4"), bbq);
    CU_ASSERT_EQUAL_FATAL(c->n_changes, 3);
    CU_ASSERT_EQUAL(c->n_paired, 4);
    const char *ids[] = {"i2", "i3", "i4"};
    const double now[] = {0, 1, 0}, before[] = {1, 0, 1};
    for (size_t k = 0; k < 3; k++) {
        CU_ASSERT_STRING_EQUAL(c->changes[k].item_id, ids[k]);
        NEAR(c->changes[k].score, now[k]);
        NEAR(c->changes[k].base_score, before[k]);
    }
    CU_ASSERT_STRING_EQUAL(c->changes[0].input, "question <2> & more");
    CU_ASSERT_STRING_EQUAL(c->changes[0].output, "answer no of v4");
    CU_ASSERT_STRING_EQUAL(c->changes[0].base_output, "answer yes of vb");
    CU_ASSERT_STRING_EQUAL(c->changes[0].expected, "yes");
    /* Nothing changed for rtn8. */
    CU_ASSERT_EQUAL(tb_report_cell_at(r, variant_of(r, "v8"), bbq)->n_changes, 0);
    /* The baseline value sits beside every compressed metric. */
    NEAR(c->metrics[c->headline].base_value, 0.75);
    tb_results_free(&res);
    tb_report_free(r);
    free(path);
}

/* ---- charts ---- */

/* The stored value a chart point stands for, read with SQL. */
static double point_truth(const char *path, const tb_report *r, const tb_chart *c,
                          const tb_chart_point *p)
{
    const tb_report_cell *cell = &r->cells[p->cell];
    char *name = NULL;
    switch (c->kind) {
    case TB_CHART_RADAR:
    case TB_CHART_SWEEP:
        name = tb_xstrdup(r->dims[cell->dim].headline);
        break;
    case TB_CHART_GROUPS:
        name = tb_xasprintf("%s[%s]", c->family, c->cats[p->cat]);
        break;
    case TB_CHART_HEATMAP:
        name = tb_xasprintf("%s[%s/%s]", c->family, c->rows[p->row], c->cats[p->cat]);
        break;
    case TB_CHART_GAP:
    case TB_CHART_GAP_SWEEP: {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < cell->n_metrics; i++) {
            size_t fl = strlen(c->family);
            if (strncmp(cell->metrics[i].name, c->family, fl) || cell->metrics[i].name[fl] != '[')
                continue;
            double v = stored(path, cell->key, cell->metrics[i].name);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        return hi - lo;
    }
    }
    double v = stored(path, cell->key, name);
    free(name);
    return v;
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static const char *const want_charts[] = {
    "radar-m",
    "sweep-m-bits-perplexity", "sweep-m-bits-bbq", "sweep-m-bits-stereo", "sweep-m-bits-tox",
    "sweep-m-sparsity-perplexity", "sweep-m-sparsity-bbq", "sweep-m-sparsity-tox",
    "groups-m-bbq-accuracy", "gap-m-bbq-accuracy", "gapsweep-m-bits-bbq-accuracy",
    "gapsweep-m-sparsity-bbq-accuracy",
    "heatmap-m-stereo-agreement-none", "heatmap-m-stereo-agreement-rtn-bits-4-group-size-128",
    "heatmap-m-stereo-agreement-rtn-bits-8-group-size-128",
};

/* Every chart, every point: the value is the stored metric. */
static void test_chart_points(void)
{
    char *path = fixture();
    tb_report *r = load(path);
    tb_charts ch;
    tb_report_charts(r, &ch);
    CU_ASSERT_EQUAL(ch.n, TB_ARRAY_LEN(want_charts));
    for (size_t i = 0; i < ch.n && i < TB_ARRAY_LEN(want_charts); i++)
        CU_ASSERT_STRING_EQUAL(ch.items[i].name, want_charts[i]);
    size_t points = 0;
    for (size_t i = 0; i < ch.n; i++) {
        const tb_chart *c = &ch.items[i];
        CU_ASSERT_PTR_NOT_NULL(c->title);
        CU_ASSERT_PTR_NOT_NULL(c->desc);
        CU_ASSERT(c->n_series > 0);
        for (size_t k = 0; k < c->n_series; k++)
            for (size_t j = 0; j < c->series[k].n_points; j++) {
                const tb_chart_point *p = &c->series[k].points[j];
                CU_ASSERT_FATAL(p->cell < r->n_cells);
                CU_ASSERT_STRING_EQUAL(r->cells[p->cell].status, "done");
                CU_ASSERT_DOUBLE_EQUAL(p->value, point_truth(path, r, c, p), 1e-12);
                points++;
            }
    }
    /* radar 3 + 2 + 3 + 2; bits 2 + 2 + 2 + 1; sparsity 3; groups 4 x 2;
     * gaps 4; gap sweeps 2 + 1; heat maps 3 x 4. */
    CU_ASSERT_EQUAL(points, 10 + 7 + 3 + 8 + 4 + 3 + 12);

    /* The radar by hand: normalised, better outward. */
    const tb_chart *radar = tb_charts_find(&ch, "radar-m");
    CU_ASSERT_PTR_NOT_NULL_FATAL(radar);
    CU_ASSERT_EQUAL_FATAL(radar->n_cats, 3);
    CU_ASSERT_STRING_EQUAL(radar->cats[1], "stereo");
    CU_ASSERT_EQUAL_FATAL(radar->n_series, 4);
    CU_ASSERT_STRING_EQUAL(radar->series[2].name, "rtn bits=4 group_size=128");
    const double rtn4_y[] = {0.5, 0.6, 0.5};
    CU_ASSERT_EQUAL_FATAL(radar->series[2].n_points, 3);
    for (size_t k = 0; k < 3; k++)
        CU_ASSERT_DOUBLE_EQUAL(radar->series[2].points[k].y, rtn4_y[k], 1e-12);
    CU_ASSERT_EQUAL(radar->series[1].n_points, 2); /* magnitude: stereo still running */
    CU_ASSERT_EQUAL(radar->series[3].n_points, 2); /* rtn8: tox failed */

    /* A sweep: one line per method, x = bits, the baseline as reference. */
    const tb_chart *sw = tb_charts_find(&ch, "sweep-m-bits-perplexity");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sw);
    CU_ASSERT_EQUAL_FATAL(sw->n_series, 1);
    CU_ASSERT_STRING_EQUAL(sw->series[0].name, "rtn group_size=128");
    CU_ASSERT_EQUAL_FATAL(sw->series[0].n_points, 2);
    NEAR(sw->series[0].points[0].x, 4);
    NEAR(sw->series[0].points[0].y, 12);
    NEAR(sw->series[0].points[1].x, 8);
    NEAR(sw->series[0].points[1].y, 10.5);
    NEAR(sw->ref, 10);
    CU_ASSERT_EQUAL(sw->orient, -1);
    const tb_chart *tox = tb_charts_find(&ch, "sweep-m-bits-tox");
    CU_ASSERT_EQUAL(tox->series[0].n_points, 1); /* rtn8 failed */

    /* Gap: largest minus smallest group. */
    const tb_chart *gap = tb_charts_find(&ch, "gap-m-bbq-accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(gap);
    const double gaps[] = {0.5, 0, 0, 0.5}; /* none, magnitude, rtn4, rtn8 */
    CU_ASSERT_EQUAL_FATAL(gap->series[0].n_points, 4);
    for (size_t k = 0; k < 4; k++)
        NEAR(gap->series[0].points[k].value, gaps[k]);

    /* The gap against bits: rtn4 0, rtn8 0.5; the baseline's 0.5 as reference. */
    const tb_chart *gs = tb_charts_find(&ch, "gapsweep-m-bits-bbq-accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(gs);
    CU_ASSERT_EQUAL_FATAL(gs->n_series, 1);
    CU_ASSERT_STRING_EQUAL(gs->series[0].name, "rtn group_size=128");
    CU_ASSERT_EQUAL_FATAL(gs->series[0].n_points, 2);
    NEAR(gs->series[0].points[0].x, 4);
    NEAR(gs->series[0].points[0].y, 0);
    NEAR(gs->series[0].points[1].x, 8);
    NEAR(gs->series[0].points[1].y, 0.5);
    NEAR(gs->ref, 0.5);

    /* Heat map: rows g1 g2, columns t1 t2. */
    const tb_chart *hm = tb_charts_find(&ch, "heatmap-m-stereo-agreement-rtn-bits-4-group-size-128");
    CU_ASSERT_PTR_NOT_NULL_FATAL(hm);
    CU_ASSERT_EQUAL(hm->n_rows, 2);
    CU_ASSERT_EQUAL(hm->n_cats, 2);
    CU_ASSERT_STRING_EQUAL(hm->rows[1], "g2");
    CU_ASSERT_STRING_EQUAL(hm->cats[0], "t1");
    tb_charts_free(&ch);
    tb_report_free(r);
    free(path);
}

/* ---- a tag-balance check of XML-style markup ---- */

/* Returns NULL when well formed, else a malloc'd description.  Checks:
 * every element closed in order, attribute values quoted, every '&' an
 * entity, comments, CDATA and the <!DOCTYPE> skipped, <script> bodies
 * taken as text up to their end tag. */
static char *markup_error(const char *s)
{
    const char *stack[256];
    size_t lens[256], depth = 0;
    const char *p = s;
    while (*p) {
        if (*p == '&') {
            size_t n = strspn(p + 1, "#abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
            if (n == 0 || p[1 + n] != ';')
                return tb_xasprintf("bare '&' at offset %zu", (size_t)(p - s));
            p += n + 2;
            continue;
        }
        if (*p == '>')
            return tb_xasprintf("stray '>' at offset %zu", (size_t)(p - s));
        if (*p != '<') {
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4) || !strncmp(p, "<![CDATA[", 9) || !strncmp(p, "<!DOCTYPE", 9) ||
            !strncmp(p, "<?xml", 5)) {
            const char *end = !strncmp(p, "<!--", 4)    ? strstr(p, "-->")
                              : !strncmp(p, "<![", 3)   ? strstr(p, "]]>")
                              : !strncmp(p, "<?", 2)    ? strstr(p, "?>")
                                                        : strchr(p, '>');
            if (!end)
                return tb_xasprintf("unterminated declaration at offset %zu", (size_t)(p - s));
            p = strchr(end, '>') + 1;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t nl = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-:");
        if (nl == 0)
            return tb_xasprintf("bad tag at offset %zu", (size_t)(p - s));
        const char *q = name + nl;
        /* Attributes: name="value" or name='value'. */
        for (;;) {
            q += strspn(q, " \t\n");
            if (*q == '>' || (*q == '/' && q[1] == '>'))
                break;
            size_t an = strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-:_");
            if (closing || an == 0 || q[an] != '=' || (q[an + 1] != '"' && q[an + 1] != '\''))
                return tb_xasprintf("bad attribute in <%.*s> at offset %zu", (int)nl, name,
                                    (size_t)(q - s));
            char quote = q[an + 1];
            const char *end = strchr(q + an + 2, quote);
            if (!end)
                return tb_xasprintf("unterminated attribute at offset %zu", (size_t)(q - s));
            for (const char *a = q + an + 2; a < end; a++)
                if (*a == '<')
                    return tb_xasprintf("'<' in an attribute at offset %zu", (size_t)(a - s));
            q = end + 1;
        }
        int self = *q == '/';
        p = q + (self ? 2 : 1);
        if (self)
            continue;
        if (closing) {
            if (depth == 0 || lens[depth - 1] != nl || strncmp(stack[depth - 1], name, nl))
                return tb_xasprintf("</%.*s> at offset %zu closes <%.*s>", (int)nl, name,
                                    (size_t)(name - s), depth ? (int)lens[depth - 1] : 0,
                                    depth ? stack[depth - 1] : "");
            depth--;
            continue;
        }
        if (depth == TB_ARRAY_LEN(stack))
            return tb_xstrdup("nesting too deep");
        stack[depth] = name;
        lens[depth++] = nl;
        if (nl == 6 && !strncmp(name, "script", 6)) {
            const char *end = strstr(p, "</script>");
            if (!end)
                return tb_xstrdup("unterminated <script>");
            p = end;
        }
    }
    if (depth)
        return tb_xasprintf("<%.*s> is never closed", (int)lens[depth - 1], stack[depth - 1]);
    return NULL;
}

static void test_markup_checker(void)
{
    /* The checker itself must catch what it claims to. */
    CU_ASSERT_PTR_NULL(markup_error("<a x=\"1\"><b/>t &amp; &#916;<!-- <x> --></a>"));
    const char *bad[] = {"<a><b></a></b>", "<a>", "<a x=1></a>", "<a>&</a>", "</a>",
                         "<a x=\"<\"></a>", "a > b"};
    for (size_t i = 0; i < TB_ARRAY_LEN(bad); i++) {
        char *e = markup_error(bad[i]);
        CU_ASSERT_PTR_NOT_NULL(e);
        free(e);
    }
}

/* A numeric attribute of the element starting at tag (up to its '>'). */
static double attr_num(const char *tag, const char *name)
{
    const char *end = strchr(tag, '>');
    char *key = tb_xasprintf(" %s=\"", name);
    const char *a = strstr(tag, key);
    double v = a && a < end ? strtod(a + strlen(key), NULL) : NAN;
    free(key);
    return v;
}

/* Every data mark lies inside the chart's viewBox: its circle, rect or
 * every point of its path.  Returns how many marks were checked, or
 * (size_t)-1 when one lies outside. */
static size_t marks_inside(const char *svg)
{
    const char *vb = strstr(svg, "viewBox=\"0 0 ");
    if (!vb)
        return (size_t)-1;
    double w = 0, h = 0;
    sscanf(vb + strlen("viewBox=\"0 0 "), "%lf %lf", &w, &h);
    size_t n = 0;
    for (const char *m = strstr(svg, "class=\"mark\""); m; m = strstr(m + 1, "class=\"mark\"")) {
        const char *tag = m;
        while (tag > svg && *tag != '<')
            tag--;
        double xs[8], ys[8];
        size_t k = 0;
        if (!strncmp(tag, "<circle", 7)) {
            xs[k] = attr_num(tag, "cx");
            ys[k++] = attr_num(tag, "cy");
        } else if (!strncmp(tag, "<rect", 5)) {
            xs[k] = attr_num(tag, "x");
            ys[k++] = attr_num(tag, "y");
            xs[k] = xs[0] + attr_num(tag, "width");
            ys[k] = ys[0] + attr_num(tag, "height");
            k++;
        } else if (!strncmp(tag, "<path", 5)) {
            const char *d = strstr(tag, " d=\"M") + 5;
            while (k < 8 && (*d == 'M' || *d == 'L')) {
                char *e = NULL;
                xs[k] = strtod(d + 1, &e);
                ys[k++] = strtod(e, &e);
                d = e;
            }
        }
        if (k == 0) {
            fprintf(stderr, "\nmark not understood: %.120s\n", tag);
            return (size_t)-1;
        }
        for (size_t i = 0; i < k; i++)
            if (!(xs[i] >= 0 && xs[i] <= w && ys[i] >= 0 && ys[i] <= h)) {
                fprintf(stderr, "\nmark at (%g, %g) outside %g x %g: %.120s\n", xs[i], ys[i],
                        w, h, tag);
                return (size_t)-1;
            }
        n++;
    }
    return n;
}

/* Every chart's SVG: well formed, one mark per point, with its value. */
static void test_chart_svg(void)
{
    char *path = fixture();
    tb_report *r = load(path);
    tb_charts ch;
    tb_report_charts(r, &ch);
    for (size_t i = 0; i < ch.n; i++) {
        const tb_chart *c = &ch.items[i];
        tb_buf b = {0};
        tb_chart_svg(r, c, 1, &b);
        const char *svg = tb_buf_str(&b);
        CU_ASSERT_EQUAL(strncmp(svg, "<?xml", 5), 0);
        char *e = markup_error(svg);
        if (e)
            fprintf(stderr, "\n%s: %s\n", c->name, e);
        CU_ASSERT_PTR_NULL(e);
        free(e);
        CU_ASSERT_PTR_NOT_NULL(strstr(svg, "<title id="));
        CU_ASSERT_PTR_NOT_NULL(strstr(svg, "role=\"img\""));
        size_t n = 0;
        for (size_t k = 0; k < c->n_series; k++) {
            for (size_t j = 0; j < c->series[k].n_points; j++) {
                const tb_chart_point *p = &c->series[k].points[j];
                char y[48], x[48];
                tb_results_fmt_exact(y, sizeof y, p->value);
                tb_results_fmt_exact(x, sizeof x, p->x);
                char *attr = tb_xasprintf("data-series=\"%zu\" data-x=\"%s\" data-y=\"%s\"", k,
                                          x, y);
                CU_ASSERT_PTR_NOT_NULL(strstr(svg, attr));
                free(attr);
                n++;
            }
        }
        CU_ASSERT_EQUAL(count_str(svg, "class=\"mark\""), n);
        CU_ASSERT_EQUAL(marks_inside(svg), n);
        tb_buf_free(&b);
    }
    /* A sweep draws its line and its reference line. */
    tb_buf b = {0};
    tb_chart_svg(r, tb_charts_find(&ch, "sweep-m-bits-bbq"), 0, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr(tb_buf_str(&b), "class=\"line\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(tb_buf_str(&b), "class=\"ref\""));
    CU_ASSERT_EQUAL(strncmp(tb_buf_str(&b), "<svg", 4), 0);
    tb_buf_free(&b);
    tb_charts_free(&ch);
    tb_report_free(r);
    free(path);
}

/* A chart built by hand: the largest value not the last one still fits
 * (the gap bars once took the last value as the axis maximum). */
static void test_drawn_inside(void)
{
    tb_report r;
    memset(&r, 0, sizeof r);
    char *cats[] = {"a", "b", "c"};
    tb_chart_point pts[3];
    const double gaps[] = {0.5, 1.5, 0.2};
    for (size_t i = 0; i < 3; i++) {
        memset(&pts[i], 0, sizeof pts[i]);
        pts[i].x = (double)i;
        pts[i].y = pts[i].value = gaps[i];
        pts[i].lo = pts[i].hi = NAN;
        pts[i].cat = i;
        pts[i].cell = TB_REPORT_NONE;
    }
    tb_chart_series series = {"gap", TB_REPORT_NONE, pts, 3};
    tb_chart c;
    memset(&c, 0, sizeof c);
    c.name = "gap-x";
    c.title = "gap";
    c.desc = "gaps";
    c.x_label = "gap";
    c.kind = TB_CHART_GAP;
    c.cats = cats;
    c.n_cats = 3;
    c.series = &series;
    c.n_series = 1;
    c.model = c.dim = TB_REPORT_NONE;
    c.ref = c.ref_lo = c.ref_hi = NAN;
    tb_buf b = {0};
    tb_chart_svg(&r, &c, 1, &b);
    CU_ASSERT_EQUAL(marks_inside(tb_buf_str(&b)), 3);
    tb_buf_free(&b);
    /* The same points as groups of a dot plot, and as a sweep. */
    c.kind = TB_CHART_GROUPS;
    tb_chart_svg(&r, &c, 1, &b);
    CU_ASSERT_EQUAL(marks_inside(tb_buf_str(&b)), 3);
    tb_buf_free(&b);
    c.kind = TB_CHART_SWEEP;
    tb_chart_svg(&r, &c, 1, &b);
    CU_ASSERT_EQUAL(marks_inside(tb_buf_str(&b)), 3);
    tb_buf_free(&b);
}

/* ---- the page ---- */

static char *page(tb_report *r)
{
    tb_charts ch;
    tb_report_charts(r, &ch);
    tb_buf b = {0};
    tb_report_html(r, &ch, &b);
    tb_charts_free(&ch);
    return tb_buf_steal(&b);
}

/* The data-v values of one summary row, joined by '|'. */
static char *summary_row(const char *html, const char *variant)
{
    char *open = tb_xasprintf("<tr data-variant=\"%s\">", variant);
    const char *p = strstr(html, open);
    free(open);
    if (!p)
        return tb_xstrdup("<no row>");
    const char *end = strstr(p, "</tr>");
    tb_buf b = {0};
    for (const char *q = strstr(p, "data-v=\""); q && q < end; q = strstr(q + 1, "data-v=\"")) {
        const char *v = q + 8, *close = strchr(v, '"');
        if (b.len)
            tb_buf_putc(&b, '|');
        tb_buf_append(&b, v, (size_t)(close - v));
    }
    return tb_buf_steal(&b);
}

static json_t *data_block(const char *html)
{
    const char *open = "<script type=\"application/json\" id=\"tb-report-data\">";
    const char *p = strstr(html, open);
    if (!p)
        return NULL;
    p += strlen(open);
    const char *end = strstr(p, "</script>");
    json_error_t je;
    json_t *j = json_loadb(p, (size_t)(end - p), 0, &je);
    if (!j)
        fprintf(stderr, "\ndata block: %s (line %d)\n", je.text, je.line);
    return j;
}

static void test_page(void)
{
    char *path = fixture();
    tb_report *r = load(path);
    char *html = page(r);
    CU_ASSERT_EQUAL(strncmp(html, "<!DOCTYPE html>", 15), 0);
    char *e = markup_error(html);
    if (e)
        fprintf(stderr, "\npage: %s\n", e);
    CU_ASSERT_PTR_NULL(e);
    free(e);
    /* Self-contained: nothing from the network. */
    CU_ASSERT_PTR_NULL(strstr(html, "src=\"http"));
    CU_ASSERT_PTR_NULL(strstr(html, "href=\"http"));
    CU_ASSERT_PTR_NULL(strstr(html, "@import"));
    /* The summary rows: model, variant, bbq, stereo, tox, average, perplexity. */
    char *row = summary_row(html, "v4");
    char *want = tb_xasprintf("m|rtn bits=4 group_size=128|0.5|40|0.5|%s|12", "0.5333333333333333");
    CU_ASSERT_STRING_EQUAL(row, want);
    free(row);
    free(want);
    row = summary_row(html, "v8");
    CU_ASSERT_STRING_EQUAL(row, "m|rtn bits=8 group_size=128|0.75|20||0.775|10.5");
    free(row);
    row = summary_row(html, "vs");
    char tox[48], avg[48];
    double t = mean(tox_scores[V_MAG], 3);
    tb_results_fmt_exact(tox, sizeof tox, t);
    tb_results_fmt_exact(avg, sizeof avg, (0 + (1 - t)) / 2);
    want = tb_xasprintf("m|magnitude sparsity=0.5|0||%s|%s|20", tox, avg);
    CU_ASSERT_STRING_EQUAL(row, want);
    free(want);
    free(row);
    /* Partial results: the failed cell with its reason (escaped), the running one. */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "crashed: signal 11 &lt;core&gt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, ">running</a>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, ">failed</a>"));
    /* Item texts are escaped. */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "question &lt;2&gt; &amp; more"));
    CU_ASSERT_PTR_NULL(strstr(html, "question <2>"));
    /* rtn4's toxicity is significantly worse: coloured so. */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td class=\"num worse\" data-v=\"0.5\"><a href=\"#c-c_tox_v4\">"));
    /* Substitute scorers are flagged. */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<span class=\"subst\">substitute</span> lexicon"));
    /* Every chart is in the page, once. */
    for (size_t i = 0; i < TB_ARRAY_LEN(want_charts); i++) {
        char *fig = tb_xasprintf("<figure id=\"fig-%s\"", want_charts[i]);
        CU_ASSERT_EQUAL(count_str(html, fig), 1);
        free(fig);
    }
    /* The data block: the numbers of the tables and charts. */
    json_t *j = data_block(html);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "schema_version")),
                    TB_STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "seed")), SEED);
    json_t *vars = json_object_get(j, "variants");
    CU_ASSERT_EQUAL_FATAL(json_array_size(vars), 4);
    size_t checked = 0;
    for (size_t i = 0; i < 4; i++) {
        json_t *cells = json_object_get(json_array_get(vars, i), "cells");
        for (size_t k = 0; k < json_array_size(cells); k++) {
            json_t *c = json_array_get(cells, k);
            const char *key = json_string_value(json_object_get(c, "cell"));
            const char *metric = json_string_value(json_object_get(c, "metric"));
            json_t *v = json_object_get(c, "value");
            if (!strcmp(json_string_value(json_object_get(c, "status")), "done")) {
                CU_ASSERT_FATAL(json_is_number(v) && metric);
                CU_ASSERT_EQUAL(json_number_value(v), stored(path, key, metric));
                checked++;
            } else {
                CU_ASSERT(json_is_null(v));
            }
        }
    }
    CU_ASSERT_EQUAL(checked, 14);
    json_t *charts = json_object_get(j, "charts");
    CU_ASSERT_EQUAL(json_array_size(charts), TB_ARRAY_LEN(want_charts));
    json_decref(j);
    free(html);
    tb_report_free(r);
    free(path);
}

static void test_markdown(void)
{
    char *path = fixture();
    tb_report *r = load(path);
    tb_buf b = {0};
    tb_report_md(r, &b);
    const char *md = tb_buf_str(&b);
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "# Trust report: report-fixture\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| model | variant | bbq (accuracy \xe2\x86\x91) | stereo "
                                      "(agreement \xe2\x86\x93) | tox (toxicity \xe2\x86\x93) | "
                                      "average (0-1 \xe2\x86\x91) | perplexity (perplexity "
                                      "\xe2\x86\x93) |\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| m | none (uncompressed) | 0.7500 [0.0000, 1.0000]; "
                                      "refusal 0.0000 | 20.0000 [19.9700, 20.0400] | 0.4000 "
                                      "[0.1000, 0.9000] | 0.7167 | 10.0000 |\n"));
    /* rtn4's stereo score: a difference with the independent interval
     * (+20 +- sqrt(2) * 0.035), significantly worse (lower is better). */
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| 40.0000 [39.9700, 40.0400]; \xce\x94 +20.0000 "
                                      "[+19.9505, +20.0495] \xe2\x96\xbc |"));
    /* rtn8: tox failed; perplexity has no pairs: the plain difference. */
    const char *v8 = strstr(md, "| m | rtn bits=8 group_size=128 | 0.7500 [0.0000, 1.0000]; "
                                "\xce\x94 +0.0000");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v8);
    const char *eol = strchr(v8, '\n');
    const char *failed = strstr(v8, "| failed |");
    CU_ASSERT(failed && failed < eol);
    const char *plain = strstr(v8, "| 10.5000; \xce\x94 +0.5000 |");
    CU_ASSERT(plain && plain < eol);
    /* rtn4's toxicity: significantly worse, marked. */
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "0.5000 [0.1000, 0.9000]; \xce\x94 +0.1000 [+0.1000, "
                                      "+0.1000] \xe2\x96\xbc |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| m | magnitude sparsity=0.5 | 0.0000 [0.0000, 1.0000]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| m | bbq | accuracy | none | 0.5000 |\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| m | rtn bits=8 group_size=128 | tox | failed | "
                                      "crashed: signal 11 <core> |\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| m | magnitude sparsity=0.5 | stereo | running |"));
    tb_buf_free(&b);
    tb_report_free(r);
    free(path);
}

/* ---- databases of other shapes ---- */

static void test_merged_shards(void)
{
    const char *dir = tb_test_tmpdir();
    char *a = build_db(dir, "shard0.db", 1 << V_BASE | 1 << V_RTN4);
    char *b = build_db(dir, "shard1.db", 1 << V_BASE | 1 << V_RTN8 | 1 << V_MAG);
    char *whole = build_db(dir, "whole.db", ALL_VARIANTS);
    char *merged = tb_path_join(dir, "merged.db");
    const char *inputs[] = {a, b};
    tb_error err;
    must(tb_results_merge(merged, inputs, 2, &err), &err);
    tb_report *rm = load(merged), *rw = load(whole);
    char *hm = page(rm), *hw = page(rw);
    json_t *jm = data_block(hm), *jw = data_block(hw);
    CU_ASSERT_FATAL(jm && jw);
    /* The same variants, cells, numbers and chart points. */
    CU_ASSERT(json_equal(json_object_get(jm, "variants"), json_object_get(jw, "variants")));
    CU_ASSERT(json_equal(json_object_get(jm, "charts"), json_object_get(jw, "charts")));
    CU_ASSERT(json_equal(json_object_get(jm, "dimensions"), json_object_get(jw, "dimensions")));
    json_decref(jm);
    json_decref(jw);
    free(hm);
    free(hw);
    tb_report_free(rm);
    tb_report_free(rw);
    free(a); free(b); free(whole); free(merged);
}

/* Only the shard of the baseline: no compressed results yet. */
static void test_partial_early(void)
{
    char *path = build_db(tb_test_tmpdir(), "early.db", 1 << V_BASE);
    tb_report *r = load(path);
    CU_ASSERT_EQUAL(r->n_variants, 4);
    CU_ASSERT_EQUAL(r->n_cells, 4);
    tb_charts ch;
    tb_report_charts(r, &ch);
    /* The radar of the baseline alone; no sweep without compressed results. */
    CU_ASSERT_EQUAL(ch.n, 4); /* radar, groups, gap, one heat map */
    CU_ASSERT_PTR_NOT_NULL(tb_charts_find(&ch, "radar-m"));
    tb_charts_free(&ch);
    char *html = page(r);
    char *e = markup_error(html);
    CU_ASSERT_PTR_NULL(e);
    free(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "No sweep"));
    free(html);
    tb_report_free(r);
    /* An empty database is a page too. */
    char *empty = tb_path_join(tb_test_tmpdir(), "empty.db");
    tb_store *s = NULL;
    tb_error err;
    must(tb_store_open(empty, 1, &s, &err), &err);
    tb_store_close(s);
    r = load(empty);
    CU_ASSERT_EQUAL(r->n_variants, 0);
    html = page(r);
    e = markup_error(html);
    CU_ASSERT_PTR_NULL(e);
    free(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "no variants yet"));
    free(html);
    tb_report_free(r);
    free(empty);
    free(path);
}

static void test_schema_versions(void)
{
    const char *dir = tb_test_tmpdir();
    /* Version 1 (no compression tables) is read as it is, never migrated. */
    char *old = build_db(dir, "v1.db", ALL_VARIANTS);
    sql_exec(old, "DROP TABLE compress_reports; DROP TABLE compressions; DROP TABLE cache; "
                  "UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    tb_report *r = load(old);
    CU_ASSERT_EQUAL(r->meta.schema_version, 1);
    CU_ASSERT_EQUAL(r->n_cells, 16);
    NEAR(tb_report_headline(r, variant_of(r, "v4"), dim_of(r, "bbq"))->value, 0.5);
    tb_report_free(r);
    NEAR(stored(old, "c_bbq_v4", "accuracy"), 0.5);
    sqlite3 *db = NULL;
    sqlite3_open_v2(old, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);
    CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 0), "1");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* A newer one is refused naming the file and both versions. */
    char *newer = build_db(dir, "v3.db", ALL_VARIANTS);
    sql_exec(newer, "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    tb_error err;
    r = NULL;
    CU_ASSERT_NOT_EQUAL(tb_report_load(newer, NULL, &r, &err), TB_OK);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(strncmp(err.message, newer, strlen(newer)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "schema version 3 is newer"));
    /* Not a database, and no file at all. */
    char *junk = tb_test_write_file(dir, "junk.db", "just some text, not SQLite at all\n");
    CU_ASSERT_NOT_EQUAL(tb_report_load(junk, NULL, &r, &err), TB_OK);
    CU_ASSERT_EQUAL(strncmp(err.message, junk, strlen(junk)), 0);
    char *missing = tb_path_join(dir, "missing.db");
    CU_ASSERT_EQUAL(tb_report_load(missing, NULL, &r, &err), TB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(access(missing, F_OK), -1); /* not created */
    free(old); free(newer); free(junk); free(missing);
}

/* ---- the command ---- */

static int run_cli(const char *dir, const char *const *args, char **out, char **errs)
{
    char *bin = tb_test_build_path("trustbench");
    char *o = tb_path_join(dir, "stdout.txt"), *e = tb_path_join(dir, "stderr.txt");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(o, "w", stdout) && freopen(e, "w", stderr)) {
            const char *argv[16] = {bin};
            for (int i = 0; args[i] && i < 14; i++)
                argv[i + 1] = args[i];
            execv(bin, (char *const *)argv);
        }
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    tb_error err;
    *out = tb_read_file(o, NULL, &err);
    *errs = tb_read_file(e, NULL, &err);
    free(bin); free(o); free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
    tb_error err;
    char *t = tb_read_file(path, NULL, &err);
    return t ? t : tb_xstrdup("");
}

static void test_command(void)
{
    const char *dir = tb_test_tmpdir();
    char *db = build_db(dir, "cli.db", ALL_VARIANTS);
    char *html = tb_path_join(dir, "r.html"), *md = tb_path_join(dir, "r.md");
    char *svg = tb_path_join(dir, "c.svg");
    char *out = NULL, *errs = NULL;
    const char *a1[] = {"report", db, "-o", html, "--resamples", "200", NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a1, &out, &errs), 0);
    char *t = slurp(html);
    CU_ASSERT_EQUAL(strncmp(t, "<!DOCTYPE html>", 15), 0);
    char *e = markup_error(t);
    CU_ASSERT_PTR_NULL(e);
    free(e);
    free(t); free(out); free(errs);
    const char *a2[] = {"report", db, "--format", "md", "-o", md, NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a2, &out, &errs), 0);
    t = slurp(md);
    CU_ASSERT_EQUAL(strncmp(t, "# Trust report: report-fixture", 30), 0);
    free(t); free(out); free(errs);
    const char *a3[] = {"report", db, "--chart", "sweep-m-bits-bbq", "-o", svg, NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a3, &out, &errs), 0);
    t = slurp(svg);
    CU_ASSERT_EQUAL(strncmp(t, "<?xml", 5), 0);
    CU_ASSERT_EQUAL(count_str(t, "class=\"mark\""), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "data-x=\"4\" data-y=\"0.5\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "data-x=\"8\" data-y=\"0.75\""));
    free(t); free(out); free(errs);
    const char *a4[] = {"report", db, "--list-charts", NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a4, &out, &errs), 0);
    CU_ASSERT_EQUAL(count_str(out, "\n"), TB_ARRAY_LEN(want_charts));
    CU_ASSERT_EQUAL(strncmp(out, "radar-m\t", 8), 0);
    free(out); free(errs);
    const char *a5[] = {"report", db, "--chart", "nope", NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a5, &out, &errs), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "has no chart 'nope'"));
    free(out); free(errs);
    const char *a6[] = {"report", db, "--format", "pdf", NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a6, &out, &errs), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "--format needs html or md"));
    free(out); free(errs);
    char *missing = tb_path_join(dir, "none.db");
    const char *a7[] = {"report", missing, NULL};
    CU_ASSERT_EQUAL(run_cli(dir, a7, &out, &errs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, missing));
    free(out); free(errs);
    free(db); free(html); free(md); free(svg); free(missing);
}

/* ---- small pieces ---- */

static void test_helpers(void)
{
    char *c = tb_report_clip("h\xc3\xa9llo", 2);
    CU_ASSERT_STRING_EQUAL(c, "h\xc3\xa9\xe2\x80\xa6");
    free(c);
    c = tb_report_clip("abc", 3);
    CU_ASSERT_STRING_EQUAL(c, "abc");
    free(c);
    tb_buf b = {0};
    tb_report_estimate(&b, 0.25, 0.125, 0.5, 0);
    CU_ASSERT_STRING_EQUAL(tb_buf_str(&b), "0.2500 [0.1250, 0.5000]");
    tb_buf_free(&b);
    tb_report_estimate(&b, NAN, 0, 1, 0);
    CU_ASSERT_STRING_EQUAL(tb_buf_str(&b), "-");
    tb_buf_free(&b);
    tb_report_metric m = {0};
    m.flags = TB_METRIC_LOWER_BETTER;
    m.has_diff = 1;
    m.diff = -0.2;
    m.diff_low = -0.3;
    m.diff_high = -0.1;
    CU_ASSERT_EQUAL(tb_report_verdict(&m), 1); /* lower, and lower is better */
    m.diff_high = 0.1;
    CU_ASSERT_EQUAL(tb_report_verdict(&m), 0);
    tb_report_dim d = {0};
    d.scale = 100;
    d.headline_flags = TB_METRIC_LOWER_BETTER;
    NEAR(tb_report_normalize(&d, 25), 0.75);
    d.scale = 0;
    CU_ASSERT(isnan(tb_report_normalize(&d, 25)));
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"variants, dimensions, headlines, averages", test_model},
        {"paired differences as show, changed items", test_differences_and_changes},
        {"every chart point equals the stored metric", test_chart_points},
        {"the markup checker catches what it should", test_markup_checker},
        {"chart SVG: well formed, one mark per point", test_chart_svg},
        {"marks lie inside the chart", test_drawn_inside},
        {"the page: well formed, summary numbers, data block", test_page},
        {"Markdown tables", test_markdown},
        {"merged shards give the same page", test_merged_shards},
        {"partial and empty databases", test_partial_early},
        {"older schema read, newer refused", test_schema_versions},
        {"the report command", test_command},
        {"clip, estimate, verdict, normalise", test_helpers},
        {NULL, NULL},
    };
    return tb_test_add_suite("report", cases);
}
