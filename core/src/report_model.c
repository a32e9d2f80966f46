/*
 * report_model.c - from the stored rows to what the page shows: variants
 * in `show`'s order grouped by model, the uncompressed baseline of each
 * model, trust dimensions with their headline metric, sweep positions
 * (bits or sparsity) and the normalised scores of the radar and average.
 * doc/report.md states each rule; the comments say why.
 */
#include "report_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stats.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

typedef struct keyed {
    const char *key;
    size_t index;
} keyed;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Index of key in the sorted array (first of equals), or NONE. */
static size_t find_keyed(const keyed *ix, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(ix[lo].key, key) == 0 ? ix[lo].index : TB_REPORT_NONE;
}

static int is_group_metric(const char *name)
{
    size_t n = strlen(name);
    const char *open = strchr(name, '[');
    return open && open != name && n > 2 && name[n - 1] == ']';
}

static const char *safe(const char *s)
{
    return s ? s : "";
}

const char *tb_report_short_label(const tb_report_variant *v)
{
    const char *l = safe(v->label);
    size_t m = strlen(safe(v->model_id));
    if (m && strncmp(l, v->model_id, m) == 0 && l[m] == ':' && l[m + 1] == ' ')
        return l + m + 2;
    return l;
}

/* ------------------------------------------------------------------ */
/* Variants                                                            */
/* ------------------------------------------------------------------ */

static int variant_cmp(const void *pa, const void *pb)
{
    const tb_report_variant *a = *(const tb_report_variant *const *)pa;
    const tb_report_variant *b = *(const tb_report_variant *const *)pb;
    int c;
    if ((c = tb_results_label_cmp(a->model_id, b->model_id)))
        return c;
    if (a->is_baseline != b->is_baseline)
        return a->is_baseline ? -1 : 1;
    if ((c = tb_results_label_cmp(a->label, b->label)))
        return c;
    return strcmp(safe(a->key), safe(b->key));
}

/* A parameter of the canonical params_json as a number: values are stored
 * as text ("4"), but a number is accepted too. */
static int param_number(json_t *obj, const char *name, double *out)
{
    json_t *v = json_object_get(obj, name);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (!json_is_string(v))
        return 0;
    const char *t = json_string_value(v);
    char *end = NULL;
    double d = strtod(t, &end);
    if (end == t || *end)
        return 0;
    *out = d;
    return 1;
}

/* "N:M" with 0 < N < M; 0 for anything else (unstructured). */
static int nm_pattern(json_t *obj, int *n, int *m)
{
    json_t *v = json_object_get(obj, "pattern");
    if (!json_is_string(v))
        return 0;
    char tail;
    return sscanf(json_string_value(v), "%d:%d%c", n, m, &tail) == 2 && *n > 0 && *m > *n;
}

/* The label without the swept parameter's tokens: what a line of a sweep
 * chart is called ("gptq group_size=128"). */
static char *series_name(const tb_report_variant *v, const char *const *drop, size_t n_drop)
{
    const char *l = tb_report_short_label(v);
    tb_buf b = {0};
    while (*l) {
        while (*l == ' ')
            l++;
        size_t len = strcspn(l, " ");
        int skip = len == 0;
        for (size_t i = 0; i < n_drop && !skip; i++)
            skip = strncmp(l, drop[i], strlen(drop[i])) == 0 &&
                   (strlen(drop[i]) == len || drop[i][strlen(drop[i]) - 1] == '=');
        if (!skip) {
            if (b.len)
                tb_buf_putc(&b, ' ');
            tb_buf_append(&b, l, len);
        }
        l += len;
    }
    if (!b.len)
        tb_buf_puts(&b, safe(v->compressor));
    return tb_buf_steal(&b);
}

/* Bits for quantizers, sparsity for pruners (N/M for an N:M pattern), from
 * the resolved parameters; a pruner that also quantizes stays a pruner. */
static void sweep_position(tb_report_variant *v)
{
    v->axis = TB_SWEEP_NONE;
    v->x = NAN;
    if (v->is_baseline || !v->params_json)
        return;
    json_t *obj = json_loads(v->params_json, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return;
    }
    int n = 0, m = 0;
    double x = NAN;
    if (nm_pattern(obj, &n, &m)) {
        static const char *const drop[] = {"sparsity="};
        v->axis = TB_SWEEP_SPARSITY;
        v->x = (double)n / m;
        v->series = series_name(v, drop, 1);
    } else if (param_number(obj, "sparsity", &x)) {
        static const char *const drop[] = {"sparsity=", "pattern=unstructured"};
        v->axis = TB_SWEEP_SPARSITY;
        v->x = x;
        v->series = series_name(v, drop, 2);
    } else if (param_number(obj, "bits", &x) && x > 0) {
        static const char *const drop[] = {"bits="};
        v->axis = TB_SWEEP_BITS;
        v->x = x;
        v->series = series_name(v, drop, 1);
    }
    json_decref(obj);
}

/* Sorts the variants, ties each to its model and baseline.  map[old] gets
 * the new index of the variant read as number `old`. */
static void order_variants(tb_report *r, const tb_report_raw *raw, size_t *map)
{
    size_t n = r->n_variants;
    keyed *ix = tb_xcalloc(n + 1, sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = (keyed){safe(r->variants[i].key), i};
    if (n > 1)
        qsort(ix, n, sizeof *ix, keyed_cmp);
    size_t *base_old = tb_xcalloc(n + 1, sizeof *base_old);
    for (size_t i = 0; i < n; i++)
        base_old[i] = raw->baseline_keys[i] ? find_keyed(ix, n, raw->baseline_keys[i])
                                            : TB_REPORT_NONE;
    tb_report_variant **ptr = tb_xcalloc(n + 1, sizeof *ptr);
    for (size_t i = 0; i < n; i++)
        ptr[i] = &r->variants[i];
    if (n > 1)
        qsort(ptr, n, sizeof *ptr, variant_cmp);
    tb_report_variant *sorted = tb_xcalloc(n + 1, sizeof *sorted);
    for (size_t k = 0; k < n; k++) {
        sorted[k] = *ptr[k];
        map[ptr[k] - r->variants] = k;
    }
    for (size_t k = 0; k < n; k++) {
        size_t old = (size_t)(ptr[k] - r->variants);
        sorted[k].baseline = base_old[old] == TB_REPORT_NONE || base_old[old] == old
                                 ? TB_REPORT_NONE
                                 : map[base_old[old]];
    }
    free(r->variants);
    r->variants = sorted;
    free(ptr);
    free(base_old);
    free(ix);
}

/* Groups the sorted variants by model; a model's baseline is its variant
 * marked as baseline (the identity compressor `none`).  A compressed
 * variant the database gives no baseline falls back to it. */
static void find_models(tb_report *r)
{
    size_t cap = 0;
    for (size_t i = 0; i < r->n_variants; i++) {
        tb_report_variant *v = &r->variants[i];
        if (r->n_models == 0 ||
            strcmp(safe(r->models[r->n_models - 1].id), safe(v->model_id)) != 0) {
            tb_grow((void **)&r->models, &cap, r->n_models + 1, sizeof *r->models);
            tb_report_model *m = &r->models[r->n_models++];
            m->id = tb_xstrdup(safe(v->model_id));
            m->first = i;
            m->count = 0;
            m->baseline = TB_REPORT_NONE;
        }
        tb_report_model *m = &r->models[r->n_models - 1];
        m->count++;
        v->model = r->n_models - 1;
        if (m->baseline == TB_REPORT_NONE &&
            (v->is_baseline || tb_str_eq(v->compressor, "none")))
            m->baseline = i;
    }
    for (size_t i = 0; i < r->n_variants; i++) {
        tb_report_variant *v = &r->variants[i];
        size_t b = r->models[v->model].baseline;
        if (v->baseline == TB_REPORT_NONE && !v->is_baseline && b != i)
            v->baseline = b;
        sweep_position(v);
    }
}

/* ------------------------------------------------------------------ */
/* Dimensions and cells                                                */
/* ------------------------------------------------------------------ */

static char *dim_key(const tb_report_cell *c)
{
    return tb_xasprintf("%s%c%s", safe(c->benchmark), 0x1f, safe(c->params_json));
}

static int has_metric(const tb_report_cell *c, const char *name)
{
    for (size_t i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            return 1;
    return 0;
}

static int dim_cmp(const void *pa, const void *pb)
{
    const tb_report_dim *a = pa, *b = pb;
    if (a->utility != b->utility)
        return a->utility ? 1 : -1;
    int c = tb_results_label_cmp(a->label, b->label);
    return c ? c : strcmp(safe(a->params_json), safe(b->params_json));
}

static int dim_ptr_cmp(const void *pa, const void *pb)
{
    return dim_cmp(*(const tb_report_dim *const *)pa, *(const tb_report_dim *const *)pb);
}

/* Sorts the dimensions (trust first, natural label order) and renumbers
 * the cells' references. */
static void order_dims(tb_report *r)
{
    size_t nd = r->n_dims;
    tb_report_dim **ptr = tb_xcalloc(nd + 1, sizeof *ptr);
    for (size_t i = 0; i < nd; i++)
        ptr[i] = &r->dims[i];
    if (nd > 1)
        qsort(ptr, nd, sizeof *ptr, dim_ptr_cmp);
    tb_report_dim *sorted = tb_xcalloc(nd + 1, sizeof *sorted);
    size_t *map = tb_xcalloc(nd + 1, sizeof *map);
    for (size_t k = 0; k < nd; k++) {
        sorted[k] = *ptr[k];
        map[ptr[k] - r->dims] = k;
    }
    free(r->dims);
    r->dims = sorted;
    for (size_t i = 0; i < r->n_cells; i++)
        r->cells[i].dim = map[r->cells[i].dim];
    free(map);
    free(ptr);
}

/* One dimension per distinct (benchmark, parameters); cells[i].dim set. */
static void find_dims(tb_report *r)
{
    size_t n = r->n_cells;
    char **keys = tb_xcalloc(n + 1, sizeof *keys);
    keyed *ix = tb_xcalloc(n + 1, sizeof *ix);
    for (size_t i = 0; i < n; i++) {
        keys[i] = dim_key(&r->cells[i]);
        ix[i] = (keyed){keys[i], i};
    }
    if (n > 1)
        qsort(ix, n, sizeof *ix, keyed_cmp);
    size_t cap = 0;
    for (size_t k = 0; k < n; k++) {
        tb_report_cell *c = &r->cells[ix[k].index];
        if (k == 0 || strcmp(ix[k].key, ix[k - 1].key) != 0) {
            tb_grow((void **)&r->dims, &cap, r->n_dims + 1, sizeof *r->dims);
            tb_report_dim *d = &r->dims[r->n_dims++];
            memset(d, 0, sizeof *d);
            d->benchmark = tb_xstrdup(safe(c->benchmark));
            d->params_json = tb_xstrdup(safe(c->params_json));
            d->label = tb_xstrdup(safe(c->label));
        }
        c->dim = r->n_dims - 1;
        /* Perplexity is what compression is usually judged by: it is drawn
         * beside the trust scores, not counted as one. */
        if (tb_str_eq(c->benchmark, "perplexity") || has_metric(c, "perplexity"))
            r->dims[c->dim].utility = 1;
    }
    order_dims(r);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(ix);
}

static size_t first_word(const char *s)
{
    return strcspn(s, " ");
}

/* A short, unique name per dimension: the first word of its label (the
 * plugin or the matrix entry's id), the whole label where that is shared. */
static void name_dims(tb_report *r)
{
    for (size_t i = 0; i < r->n_dims; i++) {
        const char *l = r->dims[i].label;
        size_t w = first_word(l), same = 0;
        for (size_t j = 0; j < r->n_dims; j++)
            same += first_word(r->dims[j].label) == w && strncmp(r->dims[j].label, l, w) == 0;
        r->dims[i].name = same > 1 ? tb_xstrdup(l) : tb_xstrndup(l, w);
    }
}

static int cell_cmp(const void *pa, const void *pb)
{
    const tb_report_cell *a = pa, *b = pb;
    if (a->variant != b->variant)
        return a->variant < b->variant ? -1 : 1;
    if (a->dim != b->dim)
        return a->dim < b->dim ? -1 : 1;
    return strcmp(safe(a->key), safe(b->key));
}

void tb_report_cell_free(tb_report_cell *c)
{
    free(c->key);
    free(c->benchmark);
    free(c->label);
    free(c->params_json);
    free(c->status);
    free(c->reason);
    for (size_t i = 0; i < c->n_metrics; i++) {
        free(c->metrics[i].name);
        free(c->metrics[i].label);
    }
    free(c->metrics);
    for (size_t i = 0; i < c->n_changes; i++) {
        tb_report_change *ch = &c->changes[i];
        free(ch->item_id);
        free(ch->input);
        free(ch->output);
        free(ch->expected);
        free(ch->base_output);
    }
    free(c->changes);
    memset(c, 0, sizeof *c);
}

/* Ties cells to their (sorted) variants, drops cells of unknown variants,
 * and sorts cells by variant then dimension. */
static void place_cells(tb_report *r, const tb_report_raw *raw, const size_t *map,
                        const keyed *vix, size_t n_vix)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n_cells; i++) {
        size_t old = raw->variant_keys[i] ? find_keyed(vix, n_vix, raw->variant_keys[i])
                                          : TB_REPORT_NONE;
        if (old == TB_REPORT_NONE) {
            tb_report_cell_free(&r->cells[i]);
            continue;
        }
        r->cells[i].variant = map[old];
        r->cells[kept++] = r->cells[i];
    }
    r->n_cells = kept;
    if (kept > 1)
        qsort(r->cells, kept, sizeof *r->cells, cell_cmp);
}

/* ------------------------------------------------------------------ */
/* Headline metrics, baselines, scales                                 */
/* ------------------------------------------------------------------ */

/* The number a dimension is summarised by: the metric named perplexity
 * for a utility dimension; else the one flagged PRIMARY; else the first
 * whole-set mean with a direction; else the first metric with one. */
static const tb_report_metric *pick_headline(const tb_report_cell *c, int utility)
{
    const uint32_t oriented = TB_METRIC_HIGHER_BETTER | TB_METRIC_LOWER_BETTER;
    for (size_t i = 0; utility && i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, "perplexity") == 0)
            return &c->metrics[i];
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < c->n_metrics; i++) {
            const tb_report_metric *m = &c->metrics[i];
            if (is_group_metric(m->name))
                continue;
            if (pass == 0 && (m->flags & TB_METRIC_PRIMARY))
                return m;
            if (pass == 1 && (m->flags & TB_METRIC_FROM_ITEMS) && (m->flags & oriented))
                return m;
            if (pass == 2 && (m->flags & oriented))
                return m;
        }
    return NULL;
}

static const tb_report_metric *pick_refusal(const tb_report_cell *c)
{
    for (size_t i = 0; i < c->n_metrics; i++)
        if ((c->metrics[i].flags & TB_METRIC_REFUSAL) && !is_group_metric(c->metrics[i].name))
            return &c->metrics[i];
    return NULL;
}

static size_t metric_index(const tb_report_cell *c, const char *name)
{
    for (size_t i = 0; name && i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            return i;
    return TB_REPORT_NONE;
}

/* Decided on the first done cell (in variant order) that reported
 * metrics, so every cell of the dimension is summarised by one name. */
static void choose_headlines(tb_report *r)
{
    for (size_t d = 0; d < r->n_dims; d++) {
        tb_report_dim *dim = &r->dims[d];
        for (size_t i = 0; i < r->n_cells && !dim->headline; i++) {
            const tb_report_cell *c = &r->cells[i];
            if (c->dim != d || !tb_str_eq(c->status, "done") || c->n_metrics == 0)
                continue;
            const tb_report_metric *h = pick_headline(c, dim->utility);
            const tb_report_metric *f = pick_refusal(c);
            if (h) {
                dim->headline = tb_xstrdup(h->name);
                dim->headline_flags = h->flags;
            }
            if (f && !dim->refusal)
                dim->refusal = tb_xstrdup(f->name);
            if (!h)
                break; /* nothing to summarise it by */
        }
    }
    for (size_t i = 0; i < r->n_cells; i++) {
        tb_report_cell *c = &r->cells[i];
        c->headline = metric_index(c, r->dims[c->dim].headline);
        c->refusal = metric_index(c, r->dims[c->dim].refusal);
    }
}

/* A difference with an interval for metrics that are not item means (a
 * perspective's score with its bootstrap CI): the normal interval of two
 * independent estimates, as trust_score.c combines them.  Item-mean
 * metrics get the paired item bootstrap later (report_load.c), which
 * replaces this. */
static void independent_diff(tb_report_metric *m, const tb_report_metric *base)
{
    double lo, hi;
    if (tb_stats_independent_diff95(m->value, m->ci_low, m->ci_high, base->value,
                                    base->ci_low, base->ci_high, &lo, &hi) != 0)
        return;
    m->has_diff = 1;
    m->diff = m->value - base->value;
    m->diff_low = lo;
    m->diff_high = hi;
    m->diff_n = 0;
}

/* The baseline cell of each compressed cell - the baseline variant's done
 * cell of the same dimension, as `show` pairs them - and the baseline's
 * value of each metric. */
static void link_baselines(tb_report *r)
{
    for (size_t i = 0; i < r->n_cells; i++) {
        tb_report_cell *c = &r->cells[i];
        size_t bv = r->variants[c->variant].baseline;
        if (bv == TB_REPORT_NONE)
            continue;
        size_t bi = r->cell_of[bv * r->n_dims + c->dim];
        if (bi == TB_REPORT_NONE || !tb_str_eq(r->cells[bi].status, "done"))
            continue;
        c->baseline_cell = bi;
        const tb_report_cell *b = &r->cells[bi];
        for (size_t k = 0; k < c->n_metrics; k++) {
            size_t j = metric_index(b, c->metrics[k].name);
            if (j != TB_REPORT_NONE) {
                c->metrics[k].base_value = b->metrics[j].value;
                independent_diff(&c->metrics[k], &b->metrics[j]);
            }
        }
    }
}

/* Scores on a known scale (every value in [0, 1], or in [0, 100]) can be
 * put side by side on the radar and averaged; others cannot. */
static void find_scales(tb_report *r)
{
    for (size_t d = 0; d < r->n_dims; d++) {
        tb_report_dim *dim = &r->dims[d];
        double lo = INFINITY, hi = -INFINITY;
        size_t n = 0;
        for (size_t i = 0; i < r->n_cells; i++) {
            const tb_report_cell *c = &r->cells[i];
            if (c->dim != d || c->headline == TB_REPORT_NONE)
                continue;
            double v = c->metrics[c->headline].value;
            if (!isfinite(v))
                continue;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            n++;
        }
        dim->scale = 0;
        if (dim->utility || n == 0 || lo < 0)
            continue;
        dim->scale = hi <= 1 ? 1 : hi <= 100 ? 100 : 0;
    }
}

void tb_report_derive(tb_report *r, const tb_report_raw *raw)
{
    size_t nv = r->n_variants;
    /* Cells name their variant by key; the index is taken before the
     * variants are sorted (the key strings themselves do not move). */
    keyed *vix = tb_xcalloc(nv + 1, sizeof *vix);
    for (size_t i = 0; i < nv; i++)
        vix[i] = (keyed){safe(r->variants[i].key), i};
    if (nv > 1)
        qsort(vix, nv, sizeof *vix, keyed_cmp);
    size_t *map = tb_xcalloc(nv + 1, sizeof *map);
    order_variants(r, raw, map);
    find_models(r);
    place_cells(r, raw, map, vix, nv);
    find_dims(r);
    if (r->n_cells > 1)
        qsort(r->cells, r->n_cells, sizeof *r->cells, cell_cmp);
    name_dims(r);
    size_t slots = nv * r->n_dims;
    r->cell_of = tb_xmalloc((slots + 1) * sizeof *r->cell_of);
    for (size_t i = 0; i < slots; i++)
        r->cell_of[i] = TB_REPORT_NONE;
    for (size_t i = 0; i < r->n_cells; i++)
        r->cell_of[r->cells[i].variant * r->n_dims + r->cells[i].dim] = i;
    choose_headlines(r);
    link_baselines(r);
    find_scales(r);
    free(map);
    free(vix);
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

const tb_report_cell *tb_report_cell_at(const tb_report *r, size_t variant, size_t dim)
{
    if (variant >= r->n_variants || dim >= r->n_dims)
        return NULL;
    size_t i = r->cell_of[variant * r->n_dims + dim];
    return i == TB_REPORT_NONE ? NULL : &r->cells[i];
}

const tb_report_metric *tb_report_headline(const tb_report *r, size_t variant, size_t dim)
{
    const tb_report_cell *c = tb_report_cell_at(r, variant, dim);
    if (!c || c->headline == TB_REPORT_NONE || !tb_str_eq(c->status, "done"))
        return NULL;
    return &c->metrics[c->headline];
}

double tb_report_normalize(const tb_report_dim *d, double value)
{
    if (!(d->scale > 0) || !isfinite(value))
        return NAN;
    double t = value / d->scale;
    return (d->headline_flags & TB_METRIC_LOWER_BETTER) ? 1.0 - t : t;
}

double tb_report_average(const tb_report *r, size_t variant, size_t like, size_t *used)
{
    double sum = 0;
    size_t n = 0;
    for (size_t d = 0; d < r->n_dims; d++) {
        if (r->dims[d].utility)
            continue;
        const tb_report_metric *m = tb_report_headline(r, variant, d);
        double v = m ? tb_report_normalize(&r->dims[d], m->value) : NAN;
        if (isnan(v))
            continue;
        if (like != TB_REPORT_NONE) {
            const tb_report_metric *o = tb_report_headline(r, like, d);
            if (!o || isnan(tb_report_normalize(&r->dims[d], o->value)))
                continue;
        }
        sum += v;
        n++;
    }
    if (used)
        *used = n;
    return n ? sum / (double)n : NAN;
}

int tb_report_verdict(const tb_report_metric *m)
{
    if (!m || !m->has_diff || isnan(m->diff_low) || isnan(m->diff_high))
        return 0;
    if (!(m->diff_low > 0 || m->diff_high < 0))
        return 0;
    int up = m->diff > 0;
    if (m->flags & TB_METRIC_HIGHER_BETTER)
        return up ? 1 : -1;
    if (m->flags & TB_METRIC_LOWER_BETTER)
        return up ? -1 : 1;
    return 2;
}

void tb_report_estimate(tb_buf *b, double v, double lo, double hi, int sign)
{
    char x[48], l[48], h[48];
    if (isnan(v)) {
        tb_buf_puts(b, "-");
        return;
    }
    tb_results_fmt_human(x, sizeof x, v, sign);
    tb_buf_puts(b, x);
    if (isnan(lo) || isnan(hi))
        return;
    tb_results_fmt_human(l, sizeof l, lo, sign);
    tb_results_fmt_human(h, sizeof h, hi, sign);
    tb_buf_printf(b, " [%s, %s]", l, h);
}

char *tb_report_clip(const char *s, size_t chars)
{
    const char *p = safe(s);
    size_t n = 0, bytes = 0;
    while (p[bytes] && n < chars) {
        bytes++;
        while ((p[bytes] & 0xc0) == 0x80)
            bytes++;
        n++;
    }
    if (!p[bytes])
        return tb_xstrdup(p);
    char *out = tb_xmalloc(bytes + 4);
    memcpy(out, p, bytes);
    memcpy(out + bytes, "\xe2\x80\xa6", 4); /* U+2026 and the terminator */
    return out;
}

/* ------------------------------------------------------------------ */
/* Load and free                                                       */
/* ------------------------------------------------------------------ */

static void variant_free(tb_report_variant *v)
{
    free(v->key);
    free(v->model_id);
    free(v->compressor);
    free(v->params_json);
    free(v->label);
    free(v->series);
}

void tb_report_free(tb_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_variants; i++)
        variant_free(&r->variants[i]);
    free(r->variants);
    for (size_t i = 0; i < r->n_models; i++)
        free(r->models[i].id);
    free(r->models);
    for (size_t i = 0; i < r->n_dims; i++) {
        tb_report_dim *d = &r->dims[i];
        free(d->benchmark);
        free(d->params_json);
        free(d->label);
        free(d->name);
        free(d->headline);
        free(d->refusal);
    }
    free(r->dims);
    for (size_t i = 0; i < r->n_cells; i++)
        tb_report_cell_free(&r->cells[i]);
    free(r->cells);
    free(r->cell_of);
    tb_results_free(&r->meta);
    free(r->path);
    free(r);
}

tb_status tb_report_load(const char *path, const tb_report_options *opts, tb_report **out,
                         tb_error *err)
{
    *out = NULL;
    tb_store *s = NULL;
    tb_status rs = tb_store_open_read(path, &s, err);
    if (rs != TB_OK)
        return rs;
    tb_report *r = tb_xcalloc(1, sizeof *r);
    r->path = tb_xstrdup(path);
    r->resamples = opts && opts->resamples > 0 ? opts->resamples : TB_BOOTSTRAP_DEFAULT;
    r->clip = opts && opts->clip > 0 ? (size_t)opts->clip : TB_REPORT_CLIP;
    tb_report_raw raw = {NULL, NULL};
    /* One read transaction: a run writing meanwhile is seen before or after
     * a cell, never half-way. */
    rs = tb_store_exec(s, "BEGIN", "cannot start reading", err);
    int in_txn = rs == TB_OK;
    if (rs == TB_OK)
        rs = tb_results_load_runs(s, &r->meta, err);
    if (rs == TB_OK)
        rs = tb_report_read_tables(s, r, &raw, err);
    size_t nv = r->n_variants, nc = r->n_cells;
    if (rs == TB_OK)
        tb_report_derive(r, &raw);
    tb_report_raw_free(&raw, nv, nc);
    if (rs == TB_OK)
        rs = tb_report_read_changes(s, r, opts, err);
    if (in_txn) {
        tb_error ignored;
        tb_store_exec(s, "COMMIT", "cannot end reading", &ignored);
    }
    tb_store_close(s);
    if (rs != TB_OK) {
        tb_report_free(r);
        return rs;
    }
    *out = r;
    return TB_OK;
}
