/*
 * trust_score.c - the DecodingTrust trust summary per variant (see
 * trust_score.h for the rules) and its show/export formats.
 *
 * The summary is derived only from rows results.c already loaded plus two
 * columns it does not keep (cell parameters, variant baselines), so it
 * can never disagree with the per-metric table printed above it.
 */
#include "trust_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "results.h"
#include "stats.h"
#include "util.h"

/* The paper's order (DecodingTrust Table 1). */
static const struct {
    const char *name, *plugin;
} perspectives[TB_TRUST_N_PERSPECTIVES] = {
    {"toxicity", "toxicity"},
    {"stereotype", "stereotype"},
    {"adv_robustness", "advglue"},
    {"ood_robustness", "ood"},
    {"adv_demonstration", "adv_demo"},
    {"privacy", "privacy"},
    {"machine_ethics", "ethics"},
    {"fairness", "fairness"},
};

const char *tb_trust_perspective_name(int i)
{
    return i >= 0 && i < TB_TRUST_N_PERSPECTIVES ? perspectives[i].name : NULL;
}

const char *tb_trust_perspective_plugin(int i)
{
    return i >= 0 && i < TB_TRUST_N_PERSPECTIVES ? perspectives[i].plugin : NULL;
}

static int perspective_of(const char *plugin)
{
    for (int i = 0; i < TB_TRUST_N_PERSPECTIVES; i++)
        if (tb_str_eq(plugin, perspectives[i].plugin))
            return i;
    return -1;
}

static int perspective_of_name(const char *name)
{
    for (int i = 0; i < TB_TRUST_N_PERSPECTIVES; i++)
        if (tb_str_eq(name, perspectives[i].name))
            return i;
    return 0; /* unreachable: entries name perspectives from the table */
}

/* ------------------------------------------------------------------ */
/* Combining numbers                                                   */
/* ------------------------------------------------------------------ */

/* One part of a combination: a value with an optional interval. */
typedef struct part {
    double v, lo, hi;
} part;

static int has_interval(const part *p)
{
    return !isnan(p->lo) && !isnan(p->hi);
}

/* Mean of the parts; one part keeps its own (possibly asymmetric
 * percentile) interval, several get the normal approximation of
 * trust_score.h when every part has an interval. */
static part combine(const part *p, size_t k)
{
    part out = {NAN, NAN, NAN};
    if (k == 0)
        return out;
    if (k == 1)
        return p[0];
    double sum = 0, var = 0;
    int all = 1;
    for (size_t i = 0; i < k; i++) {
        sum += p[i].v;
        if (!has_interval(&p[i])) {
            all = 0;
            continue;
        }
        double se = tb_stats_se95(p[i].lo, p[i].hi);
        var += se * se;
    }
    out.v = sum / (double)k;
    if (all) {
        double half = TB_STATS_Z95 * sqrt(var) / (double)k;
        out.lo = out.v - half;
        out.hi = out.v + half;
    }
    return out;
}

/* The difference of a compressed cell's metric from its baseline cell's:
 * the paired item bootstrap when results.c made one, else the difference
 * of the values with the normal interval of two independent estimates. */
static int cell_diff(const tb_result_row *c, const tb_result_row *b, part *out)
{
    if (c->has_diff) {
        *out = (part){c->diff, c->diff_low, c->diff_high};
        return 1;
    }
    if (!b || isnan(c->value) || isnan(b->value))
        return 0;
    *out = (part){c->value - b->value, NAN, NAN};
    tb_stats_independent_diff95(c->value, c->ci_low, c->ci_high, b->value, b->ci_low,
                                b->ci_high, &out->lo, &out->hi);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Cells                                                               */
/* ------------------------------------------------------------------ */

/* A done cell of a perspective with what the summary needs of it. */
typedef struct cell {
    const tb_result_row *first; /* any row of the cell: keys and labels */
    const tb_result_row *score, *refusal;
    char *params_json, *baseline_key;
    int is_baseline, perspective;
    struct cell *base; /* the baseline variant's matching cell, or NULL */
} cell;

typedef struct cell_list {
    cell *items;
    size_t n, cap;
} cell_list;

static int ungrouped(const tb_result_row *r)
{
    return r->metric && !strchr(r->metric, '[');
}

/* The refusal metric: the flagged ungrouped one, preferring the overall
 * names plugins use when they also report per-part refusal rates. */
static int better_refusal(const tb_result_row *cand, const tb_result_row *cur)
{
    if (!cur)
        return 1;
    int c = tb_str_eq(cand->metric, "refusal_rate") || tb_str_eq(cand->metric, "refusal");
    int k = tb_str_eq(cur->metric, "refusal_rate") || tb_str_eq(cur->metric, "refusal");
    return c && !k;
}

static void note_metric(cell *c, const tb_result_row *r)
{
    if (!ungrouped(r) || isnan(r->value))
        return;
    if ((r->flags & TB_METRIC_PRIMARY) && !c->score)
        c->score = r;
    if ((r->flags & TB_METRIC_REFUSAL) && better_refusal(r, c->refusal))
        c->refusal = r;
}

/* The done perspective cells, in row order; rows of a cell are adjacent. */
static void collect_cells(const tb_results *r, cell_list *cells)
{
    for (size_t i = 0; i < r->n; i++) {
        const tb_result_row *row = &r->rows[i];
        int p = perspective_of(row->benchmark);
        if (p < 0 || !tb_str_eq(row->status, "done"))
            continue;
        cell *c = cells->n ? &cells->items[cells->n - 1] : NULL;
        if (!c || !tb_str_eq(c->first->cell_key, row->cell_key)) {
            tb_grow((void **)&cells->items, &cells->cap, cells->n + 1, sizeof *cells->items);
            c = &cells->items[cells->n++];
            memset(c, 0, sizeof *c);
            c->first = row;
            c->perspective = p;
        }
        note_metric(c, row);
    }
}

/* Cell parameters and variant baselines, which the rows do not carry. */
static tb_status read_keys(tb_store *s, cell_list *cells, tb_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tb_store_db(s),
                                "SELECT c.params_json, v.baseline_key, coalesce(v.is_baseline, 0) "
                                "FROM cells c LEFT JOIN variants v ON v.key = c.variant_key "
                                "WHERE c.key = ?1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return tb_store_sql_error(s, rc, "cannot read the cells of the trust score", err);
    tb_status r = TB_OK;
    for (size_t i = 0; r == TB_OK && i < cells->n; i++) {
        cell *c = &cells->items[i];
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, c->first->cell_key, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *pj = sqlite3_column_text(st, 0);
            const unsigned char *bk = sqlite3_column_text(st, 1);
            c->params_json = tb_xstrdup(pj ? (const char *)pj : "");
            c->baseline_key = tb_xstrdup((const char *)bk);
            c->is_baseline = sqlite3_column_int(st, 2);
        } else if (rc != SQLITE_DONE) {
            r = tb_store_sql_error(s, rc, "cannot read the cells of the trust score", err);
        }
    }
    sqlite3_finalize(st);
    return r;
}

/* Pairs each compressed cell with the baseline variant's cell of the same
 * benchmark and parameters; the lowest key wins a tie, as in results.c. */
static void pair_cells(cell_list *cells)
{
    for (size_t i = 0; i < cells->n; i++) {
        cell *c = &cells->items[i];
        if (c->is_baseline || !c->baseline_key ||
            tb_str_eq(c->baseline_key, c->first->variant_key))
            continue;
        for (size_t j = 0; j < cells->n; j++) {
            cell *b = &cells->items[j];
            if (!tb_str_eq(b->first->variant_key, c->baseline_key) ||
                !tb_str_eq(b->first->benchmark, c->first->benchmark) ||
                !tb_str_eq(b->params_json, c->params_json))
                continue;
            if (!c->base || strcmp(b->first->cell_key, c->base->first->cell_key) < 0)
                c->base = b;
        }
    }
}

static void cells_free(cell_list *cells)
{
    for (size_t i = 0; i < cells->n; i++) {
        free(cells->items[i].params_json);
        free(cells->items[i].baseline_key);
    }
    free(cells->items);
}

/* ------------------------------------------------------------------ */
/* Entries                                                             */
/* ------------------------------------------------------------------ */

typedef enum { WHICH_SCORE, WHICH_REFUSAL } which_metric;

static const tb_result_row *metric_of(const cell *c, which_metric w)
{
    if (!c)
        return NULL;
    return w == WHICH_SCORE ? c->score : c->refusal;
}

/* One number of a perspective over its cells: their mean, and the mean of
 * the differences of the cells that have a baseline partner. */
static tb_trust_value perspective_value(cell *const *cs, size_t k, which_metric w)
{
    part *vals = tb_xcalloc(k + 1, sizeof *vals), *diffs = tb_xcalloc(k + 1, sizeof *diffs);
    size_t nv = 0, nd = 0;
    for (size_t i = 0; i < k; i++) {
        const tb_result_row *m = metric_of(cs[i], w);
        if (!m)
            continue;
        vals[nv++] = (part){m->value, m->ci_low, m->ci_high};
        const tb_result_row *b = metric_of(cs[i]->base, w);
        if (cs[i]->base && cell_diff(m, b, &diffs[nd]))
            nd++;
    }
    part v = combine(vals, nv), d = combine(diffs, nd);
    tb_trust_value out = {v.v, v.lo, v.hi, nd > 0, d.v, d.lo, d.hi};
    free(vals);
    free(diffs);
    return out;
}

static void fill_entry(tb_trust_entry *e, int p, cell *const *cs, size_t k)
{
    e->perspective = perspectives[p].name;
    e->n_parts = (int)k;
    e->score = perspective_value(cs, k, WHICH_SCORE);
    e->refusal = perspective_value(cs, k, WHICH_REFUSAL);
    for (size_t i = 0; i < k; i++)
        if (cs[i]->score && (cs[i]->score->flags & TB_METRIC_SUBSTITUTE))
            e->substitute = 1;
    /* The scorer named is a substitute one when any cell used one, so the
     * label never hides a substitute behind a real scorer's name. */
    const tb_result_row *named = cs[0]->score;
    for (size_t i = 0; i < k; i++)
        if (cs[i]->score && (cs[i]->score->flags & TB_METRIC_SUBSTITUTE)) {
            named = cs[i]->score;
            break;
        }
    tb_buf b = {0};
    if (k > 1)
        tb_buf_printf(&b, "mean of %zu cells", k);
    if (named && named->label && *named->label)
        tb_buf_printf(&b, "%s%s%s", b.len ? "; " : "", e->substitute ? "substitute: " : "",
                      named->label);
    e->note = b.len ? tb_buf_steal(&b) : NULL;
    tb_buf_free(&b);
}

/* The average over the perspectives present (those with a score); its
 * difference averages the perspectives that have one, so it compares the
 * same perspectives on both sides. */
static void fill_average(tb_trust_entry *avg, const tb_trust_entry *e, size_t n)
{
    part sv[TB_TRUST_N_PERSPECTIVES], sd[TB_TRUST_N_PERSPECTIVES];
    part rv[TB_TRUST_N_PERSPECTIVES], rd[TB_TRUST_N_PERSPECTIVES];
    size_t nsv = 0, nsd = 0, nrv = 0, nrd = 0;
    int present[TB_TRUST_N_PERSPECTIVES] = {0};
    for (size_t i = 0; i < n; i++) {
        const tb_trust_value *s = &e[i].score, *r = &e[i].refusal;
        if (!isnan(s->value)) {
            sv[nsv++] = (part){s->value, s->ci_low, s->ci_high};
            present[perspective_of_name(e[i].perspective)] = 1;
        }
        if (!isnan(s->value) && s->has_diff)
            sd[nsd++] = (part){s->diff, s->diff_low, s->diff_high};
        if (!isnan(r->value))
            rv[nrv++] = (part){r->value, r->ci_low, r->ci_high};
        if (!isnan(r->value) && r->has_diff)
            rd[nrd++] = (part){r->diff, r->diff_low, r->diff_high};
    }
    part a = combine(sv, nsv), ad = combine(sd, nsd);
    part b = combine(rv, nrv), bd = combine(rd, nrd);
    avg->perspective = "average";
    avg->n_parts = (int)nsv;
    avg->score = (tb_trust_value){a.v, a.lo, a.hi, nsd > 0, ad.v, ad.lo, ad.hi};
    avg->refusal = (tb_trust_value){b.v, b.lo, b.hi, nrd > 0, bd.v, bd.lo, bd.hi};
    for (size_t i = 0; i < n; i++)
        avg->substitute |= e[i].substitute;
    tb_buf buf = {0};
    tb_buf_printf(&buf, "%zu of %d perspectives", nsv, TB_TRUST_N_PERSPECTIVES);
    if (nsd > 0 && nsd != nsv)
        tb_buf_printf(&buf, "; diff over the %zu with a baseline", nsd);
    if (nsv < TB_TRUST_N_PERSPECTIVES) {
        tb_buf_puts(&buf, "; missing:");
        for (int p = 0; p < TB_TRUST_N_PERSPECTIVES; p++)
            if (!present[p])
                tb_buf_printf(&buf, " %s", perspectives[p].name);
    }
    avg->note = tb_buf_steal(&buf);
}

/* ------------------------------------------------------------------ */
/* Variants                                                            */
/* ------------------------------------------------------------------ */

/* The entries of one variant from its cells cs[0..n) (adjacent in row
 * order): one per perspective present, then the average. */
static void fill_variant(tb_trust_variant *v, cell *cs, size_t n)
{
    const tb_result_row *f = cs[0].first;
    v->model_id = tb_xstrdup(f->model_id);
    v->variant_key = tb_xstrdup(f->variant_key);
    v->variant_label = tb_xstrdup(f->variant_label);
    v->compressor = tb_xstrdup(f->compressor);
    v->is_baseline = cs[0].is_baseline;
    v->entries = tb_xcalloc(TB_TRUST_N_PERSPECTIVES + 1, sizeof *v->entries);
    cell **of = tb_xcalloc(n + 1, sizeof *of);
    for (int p = 0; p < TB_TRUST_N_PERSPECTIVES; p++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (cs[i].perspective == p && cs[i].score)
                of[k++] = &cs[i];
        if (k > 0)
            fill_entry(&v->entries[v->n_entries++], p, of, k);
    }
    free(of);
    fill_average(&v->entries[v->n_entries], v->entries, v->n_entries);
    v->n_entries++;
}

tb_status tb_trust_compute(tb_store *s, const tb_results *r, tb_trust *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    cell_list cells = {0};
    collect_cells(r, &cells);
    tb_status st = read_keys(s, &cells, err);
    if (st != TB_OK) {
        cells_free(&cells);
        return st;
    }
    pair_cells(&cells);
    /* Rows are sorted by variant, so a variant's cells are adjacent. */
    size_t cap = 0;
    for (size_t i = 0; i < cells.n;) {
        size_t j = i;
        int scored = 0;
        while (j < cells.n &&
               tb_str_eq(cells.items[j].first->variant_key, cells.items[i].first->variant_key))
            scored |= cells.items[j++].score != NULL;
        if (scored) {
            tb_grow((void **)&out->variants, &cap, out->n + 1, sizeof *out->variants);
            tb_trust_variant *v = &out->variants[out->n++];
            memset(v, 0, sizeof *v);
            fill_variant(v, &cells.items[i], j - i);
        }
        i = j;
    }
    cells_free(&cells);
    return TB_OK;
}

void tb_trust_free(tb_trust *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        tb_trust_variant *v = &t->variants[i];
        for (size_t j = 0; j < v->n_entries; j++)
            free(v->entries[j].note);
        free(v->entries);
        free(v->model_id);
        free(v->variant_key);
        free(v->variant_label);
        free(v->compressor);
    }
    free(t->variants);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ */
/* Human formats: table and Markdown                                   */
/* ------------------------------------------------------------------ */

enum { TC_MODEL, TC_VARIANT, TC_PERSPECTIVE, TC_SCORE, TC_DIFF, TC_REFUSAL, TC_RDIFF,
       TC_NOTE, TC_N };

static const char *const tc_titles[TC_N] = {
    "model", "variant", "perspective", "score [95% CI]", "diff vs baseline [95% CI]",
    "refusal [95% CI]", "refusal diff [95% CI]", "note"};

static char *estimate_text(double v, double lo, double hi, int sign)
{
    if (isnan(v))
        return tb_xstrdup("-");
    char x[48], l[48], h[48];
    tb_results_fmt_human(x, sizeof x, v, sign);
    if (isnan(lo) || isnan(hi))
        return tb_xstrdup(x);
    tb_results_fmt_human(l, sizeof l, lo, sign);
    tb_results_fmt_human(h, sizeof h, hi, sign);
    return tb_xasprintf("%s [%s, %s]", x, l, h);
}

static char *diff_text(const tb_trust_value *t)
{
    return t->has_diff ? estimate_text(t->diff, t->diff_low, t->diff_high, 1)
                       : tb_xstrdup("-");
}

static void entry_cells(const tb_trust_variant *v, const tb_trust_entry *e, char *c[TC_N])
{
    c[TC_MODEL] = tb_xstrdup(v->model_id ? v->model_id : "?");
    c[TC_VARIANT] = tb_xstrdup(v->variant_label ? v->variant_label : "?");
    c[TC_PERSPECTIVE] = tb_xstrdup(e->perspective);
    c[TC_SCORE] = estimate_text(e->score.value, e->score.ci_low, e->score.ci_high, 0);
    c[TC_DIFF] = diff_text(&e->score);
    c[TC_REFUSAL] = estimate_text(e->refusal.value, e->refusal.ci_low, e->refusal.ci_high, 0);
    c[TC_RDIFF] = diff_text(&e->refusal);
    /* Control characters in a plugin's label would break the layout. */
    char *note = tb_xstrdup(e->note ? e->note : "");
    for (char *p = note; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    c[TC_NOTE] = note;
}

static void free_cells(char *c[TC_N])
{
    for (int i = 0; i < TC_N; i++)
        free(c[i]);
}

static size_t width_of(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

static void table_line(tb_buf *b, char *const c[TC_N], const size_t *w)
{
    for (int i = 0; i < TC_N; i++) {
        tb_buf_puts(b, i ? "  " : "");
        tb_buf_puts(b, c[i]);
        if (i + 1 < TC_N)
            for (size_t k = width_of(c[i]); k < w[i]; k++)
                tb_buf_putc(b, ' ');
    }
    /* An empty note would leave the padding of the column before it. */
    while (b->len > 0 && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
    tb_buf_putc(b, '\n');
}

static size_t n_lines(const tb_trust *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->variants[i].n_entries;
    return n;
}

static const char trust_title[] =
    "Trust score: DecodingTrust perspectives, 0-100, higher = more trustworthy";
static const char trust_footer[] =
    "diff: variant minus its model's uncompressed variant. A cell's interval is the paired "
    "item bootstrap when its metric is an item mean, else a normal approximation from the "
    "two stored intervals; means over cells and perspectives combine intervals as "
    "independent normals; '-' where an interval or a baseline is missing (doc/results.md).";

void tb_trust_format_table(const tb_trust *t, tb_buf *b)
{
    if (!t || t->n == 0)
        return;
    size_t n = n_lines(t), w[TC_N], k = 0;
    char *(*cells)[TC_N] = tb_xcalloc(n + 1, sizeof *cells);
    for (int i = 0; i < TC_N; i++)
        w[i] = width_of(tc_titles[i]);
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < t->variants[i].n_entries; j++, k++) {
            entry_cells(&t->variants[i], &t->variants[i].entries[j], cells[k]);
            for (int c = 0; c < TC_N; c++)
                w[c] = width_of(cells[k][c]) > w[c] ? width_of(cells[k][c]) : w[c];
        }
    tb_buf_printf(b, "\n%s\n\n", trust_title);
    char *titles[TC_N], *rules[TC_N];
    for (int c = 0; c < TC_N; c++) {
        titles[c] = (char *)tc_titles[c];
        rules[c] = tb_xmalloc(w[c] + 1);
        memset(rules[c], '-', w[c]);
        rules[c][w[c]] = '\0';
    }
    table_line(b, titles, w);
    table_line(b, rules, w);
    for (size_t i = 0; i < n; i++) {
        table_line(b, cells[i], w);
        free_cells(cells[i]);
    }
    for (int c = 0; c < TC_N; c++)
        free(rules[c]);
    free(cells);
    tb_buf_printf(b, "\n%s\n", trust_footer);
}

static void md_cell(tb_buf *b, const char *s)
{
    tb_buf_putc(b, ' ');
    for (const char *p = s; *p; p++) {
        if (*p == '|' || *p == '\\')
            tb_buf_putc(b, '\\');
        tb_buf_putc(b, *p);
    }
    tb_buf_puts(b, " |");
}

void tb_trust_format_md(const tb_trust *t, tb_buf *b)
{
    if (!t || t->n == 0)
        return;
    tb_buf_printf(b, "\n%s\n\n|", trust_title);
    for (int c = 0; c < TC_N; c++)
        md_cell(b, tc_titles[c]);
    tb_buf_puts(b, "\n|");
    for (int c = 0; c < TC_N; c++)
        tb_buf_puts(b, " --- |");
    tb_buf_putc(b, '\n');
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < t->variants[i].n_entries; j++) {
            char *c[TC_N];
            entry_cells(&t->variants[i], &t->variants[i].entries[j], c);
            tb_buf_putc(b, '|');
            for (int k = 0; k < TC_N; k++)
                md_cell(b, c[k]);
            tb_buf_putc(b, '\n');
            free_cells(c);
        }
    tb_buf_printf(b, "\n%s\n", trust_footer);
}

/* ------------------------------------------------------------------ */
/* Machine formats: CSV rows and JSON                                  */
/* ------------------------------------------------------------------ */

static void csv_text(tb_buf *b, const char *s, int first)
{
    if (!first)
        tb_buf_putc(b, ',');
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        tb_buf_puts(b, s);
        return;
    }
    tb_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            tb_buf_putc(b, '"');
        tb_buf_putc(b, *p);
    }
    tb_buf_putc(b, '"');
}

static void csv_num(tb_buf *b, double v)
{
    char num[48] = "";
    if (!isnan(v) && !isinf(v))
        tb_results_fmt_exact(num, sizeof num, v);
    csv_text(b, num, 0);
}

/* Columns of the result rows: model, variant, variant_key, compressor,
 * benchmark, cell, cell_key, metric, label, flags, value, ci_low, ci_high,
 * n, diff, diff_low, diff_high, diff_n, status, reason. */
static void csv_value(tb_buf *b, const tb_trust_variant *v, const tb_trust_entry *e,
                      const char *metric, const tb_trust_value *x, uint32_t flags)
{
    if (isnan(x->value))
        return;
    csv_text(b, v->model_id, 1);
    csv_text(b, v->variant_label, 0);
    csv_text(b, v->variant_key, 0);
    csv_text(b, v->compressor, 0);
    csv_text(b, "trust_score", 0);
    csv_text(b, e->perspective, 0);
    csv_text(b, "", 0);
    csv_text(b, metric, 0);
    csv_text(b, e->note, 0);
    tb_buf_printf(b, ",%u", flags | (e->substitute ? TB_METRIC_SUBSTITUTE : 0));
    csv_num(b, x->value);
    csv_num(b, x->ci_low);
    csv_num(b, x->ci_high);
    tb_buf_printf(b, ",%d", e->n_parts);
    csv_num(b, x->has_diff ? x->diff : NAN);
    csv_num(b, x->has_diff ? x->diff_low : NAN);
    csv_num(b, x->has_diff ? x->diff_high : NAN);
    csv_text(b, "", 0);
    csv_text(b, "done", 0);
    csv_text(b, "", 0);
    tb_buf_puts(b, "\r\n");
}

void tb_trust_format_csv(const tb_trust *t, tb_buf *b)
{
    for (size_t i = 0; t && i < t->n; i++)
        for (size_t j = 0; j < t->variants[i].n_entries; j++) {
            const tb_trust_variant *v = &t->variants[i];
            csv_value(b, v, &v->entries[j], "score", &v->entries[j].score,
                      TB_METRIC_PRIMARY | TB_METRIC_HIGHER_BETTER);
            csv_value(b, v, &v->entries[j], "refusal_rate", &v->entries[j].refusal,
                      TB_METRIC_REFUSAL);
        }
}

static void json_number(tb_buf *b, double v)
{
    if (isnan(v) || isinf(v)) {
        tb_buf_puts(b, "null");
        return;
    }
    char num[48];
    tb_results_fmt_exact(num, sizeof num, v);
    tb_buf_puts(b, num);
}

static void json_value(tb_buf *b, const char *key, const tb_trust_value *x)
{
    const double nums[] = {x->value, x->ci_low, x->ci_high, x->has_diff ? x->diff : NAN,
                           x->has_diff ? x->diff_low : NAN, x->has_diff ? x->diff_high : NAN};
    static const char *const names[] = {"value", "ci_low", "ci_high",
                                        "diff", "diff_low", "diff_high"};
    tb_buf_printf(b, ", \"%s\": {", key);
    for (size_t i = 0; i < TB_ARRAY_LEN(nums); i++) {
        tb_buf_printf(b, "%s\"%s\": ", i ? ", " : "", names[i]);
        json_number(b, nums[i]);
    }
    tb_buf_putc(b, '}');
}

static void json_entry(tb_buf *b, const tb_trust_variant *v, const tb_trust_entry *e)
{
    tb_buf_puts(b, "{\"model\": ");
    tb_buf_json_string(b, v->model_id ? v->model_id : "");
    tb_buf_puts(b, ", \"variant\": ");
    tb_buf_json_string(b, v->variant_label ? v->variant_label : "");
    tb_buf_puts(b, ", \"variant_key\": ");
    tb_buf_json_string(b, v->variant_key ? v->variant_key : "");
    tb_buf_printf(b, ", \"baseline\": %s, \"perspective\": ", v->is_baseline ? "true" : "false");
    tb_buf_json_string(b, e->perspective);
    tb_buf_printf(b, ", \"parts\": %d, \"substitute\": %s", e->n_parts,
                  e->substitute ? "true" : "false");
    json_value(b, "score", &e->score);
    json_value(b, "refusal_rate", &e->refusal);
    tb_buf_puts(b, ", \"note\": ");
    if (e->note)
        tb_buf_json_string(b, e->note);
    else
        tb_buf_puts(b, "null");
    tb_buf_putc(b, '}');
}

void tb_trust_format_json(const tb_trust *t, tb_buf *b)
{
    tb_buf_putc(b, '[');
    size_t k = 0;
    for (size_t i = 0; t && i < t->n; i++)
        for (size_t j = 0; j < t->variants[i].n_entries; j++, k++) {
            tb_buf_puts(b, k ? ",\n    " : "\n    ");
            json_entry(b, &t->variants[i], &t->variants[i].entries[j]);
        }
    tb_buf_puts(b, k ? "\n  ]" : "]");
}
