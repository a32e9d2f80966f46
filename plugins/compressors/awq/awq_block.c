/* awq_block.c - AWQ's scale search, folding, clipping and quantization of
 * one block over the calibration service. */
#include "awq_block.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress_common.h"
#include "linalg.h"
#include "quant_plugin.h"

/* Indices into tb_block_linears. */
enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_GATE, LIN_UP, LIN_DOWN };
/* Indices into scale_groups. */
enum { GROUP_QKV, GROUP_O, GROUP_MLP, GROUP_DOWN };

/* One scale group: what precedes the layers (a norm, or a linear whose
 * output rows feed them) and how candidates are judged. */
typedef struct scale_group {
    const char *norm; /* the norm tensor's suffix, or NULL */
    int prev;         /* with norm NULL: the linear whose rows are divided */
    int lins[3];
    int n_lins;
    tb_site input;    /* the layers' input site */
    int inspect;      /* a service output site, or -1: the layer's own output */
} scale_group;

static const scale_group scale_groups[TB_AWQ_GROUPS] = {
    {"attn_norm.weight", -1, {LIN_Q, LIN_K, LIN_V}, 3, TB_SITE_QKV, TB_SITE_ATTN_OUT},
    {NULL, LIN_V, {LIN_O, 0, 0}, 1, TB_SITE_O, -1},
    /* Judged on the MLP's output, computed here from the captured inputs
     * (llm-awq inspects the mlp module alone): the service would rerun
     * the whole block, attention included, for every candidate. */
    {"ffn_norm.weight", -1, {LIN_GATE, LIN_UP, 0}, 2, TB_SITE_GATE_UP, -1},
    {NULL, LIN_UP, {LIN_DOWN, 0, 0}, 1, TB_SITE_DOWN, -1},
};

typedef struct lin {
    tb_tensor *t; /* NULL when the model lacks it */
    int selected, changed;
    int64_t rows, cols;
    float *w;     /* the current f32 weights: original, then folded */
    int group;    /* the scale group it belongs to */
} lin;

typedef struct norm {
    tb_tensor *t;
    float *w;
    int changed;
} norm;

typedef struct awq {
    const tb_host_api *api;
    tb_host *h;
    tb_model *m;
    tb_calibration *c;
    int layer;
    const tb_awq_block_opts *o;
    lin lin[TB_BLOCK_LINEARS];
    norm norm[TB_AWQ_GROUPS];         /* for the groups that have one */
    int active[TB_AWQ_GROUPS];
    float *scale[TB_AWQ_GROUPS];      /* chosen scales, NULL: not searched */
    float *mean[TB_SITE_COUNT];       /* mean |x| per input site */
    float *sample[TB_SITE_COUNT];     /* sampled input rows per site */
    int64_t n_sample[TB_SITE_COUNT];
    tb_awq_block_info *info;
} awq;

static tb_status nomem(awq *a, const char *what, tb_error *err)
{
    a->api->errorf(err, "awq: out of memory for %s of block %d", what, a->layer);
    return TB_ERR_NOMEM;
}

static tb_status write_tensor(awq *a, tb_tensor *t, const float *w, tb_error *err)
{
    return a->m->ops->tensor_set_f32(a->m, t, TB_DTYPE_F32, w, err);
}

/* ---- loading ---- */

static tb_status load_linears(awq *a, tb_error *err)
{
    for (int k = 0; k < TB_BLOCK_LINEARS; k++) {
        lin *l = &a->lin[k];
        l->t = tb_block_tensor(a->m, a->layer, tb_block_linears[k].suffix);
        if (!l->t)
            continue;
        l->rows = l->t->ne[1];
        l->cols = l->t->ne[0];
        l->selected = tb_layer_selected(a->o->layers, l->t->name);
        l->w = tb_weight_read(a->api, a->m, l->t, err);
        if (!l->w)
            return TB_ERR_NOMEM;
    }
    for (int g = 0; g < TB_AWQ_GROUPS; g++)
        for (int i = 0; i < scale_groups[g].n_lins; i++)
            a->lin[scale_groups[g].lins[i]].group = g;
    return TB_OK;
}

/* A group is searched when one of its layers is selected; v -> o only
 * when v and o have the same shape, as llm-awq. */
static tb_status choose_groups(awq *a, tb_error *err)
{
    for (int g = 0; g < TB_AWQ_GROUPS; g++) {
        const scale_group *sg = &scale_groups[g];
        int any = 0, all = 1;
        for (int i = 0; i < sg->n_lins; i++) {
            const lin *l = &a->lin[sg->lins[i]];
            any |= l->t && l->selected;
            all &= l->t != NULL;
        }
        if (!any)
            continue;
        if (!sg->norm) {
            const lin *p = &a->lin[sg->prev], *l = &a->lin[sg->lins[0]];
            if (!p->t || !l->t)
                continue;
            if (g == GROUP_O && (p->rows != l->rows || p->cols != l->cols))
                continue; /* v -> o under grouped-query attention */
            if (p->rows < l->cols)
                continue; /* nothing to divide the scales into */
        }
        if (!all) {
            a->api->errorf(err, "awq: block %d lacks a layer of the group of %s", a->layer,
                           tb_block_linears[sg->lins[0]].suffix);
            return TB_ERR_FORMAT;
        }
        if (sg->norm) {
            norm *n = &a->norm[g];
            n->t = tb_block_tensor(a->m, a->layer, sg->norm);
            if (!n->t || n->t->ne[0] != a->lin[sg->lins[0]].cols || n->t->ne[1] != 1) {
                a->api->errorf(err, "awq: blk.%d.%s is missing or not a vector of %lld",
                               a->layer, sg->norm, (long long)a->lin[sg->lins[0]].cols);
                return TB_ERR_FORMAT;
            }
            n->w = malloc((size_t)n->t->ne[0] * sizeof *n->w);
            if (!n->w)
                return nomem(a, "a norm", err);
            tb_status s = a->m->ops->tensor_row_f32(a->m, n->t, 0, n->w, err);
            if (s != TB_OK)
                return s;
        }
        a->active[g] = 1;
    }
    return TB_OK;
}

/* ---- statistics ---- */

static tb_status stats_of(awq *a, tb_site site, tb_calib_stats *st, tb_error *err)
{
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    return a->api->calib_stats(a->h, a->c, site, st, err);
}

/* The first run: mean |x| at every input site the block needs. */
static tb_status collect_means(awq *a, uint32_t sites, tb_error *err)
{
    tb_status s = a->api->calib_collect(a->h, a->c, a->layer, sites, TB_CALIB_NORMS, err);
    for (int i = 0; s == TB_OK && i < TB_SITE_COUNT; i++) {
        if (!(sites & TB_SITE_BIT(i)))
            continue;
        tb_calib_stats st;
        s = stats_of(a, (tb_site)i, &st, err);
        if (s != TB_OK)
            break;
        a->mean[i] = malloc((size_t)st.width * sizeof *a->mean[i]);
        if (!a->mean[i])
            return nomem(a, "activation means", err);
        tb_awq_act_mean(st.abs_sum, st.n_rows, st.width, a->mean[i]);
    }
    return s;
}

/* ---- the scale search ---- */

/* Writes Q(W s)/s into every selected layer of the group (cand: scratch
 * for the largest). */
static tb_status set_candidate(awq *a, int g, const float *s, float *cand, tb_error *err)
{
    const scale_group *sg = &scale_groups[g];
    tb_status st = TB_OK;
    for (int i = 0; st == TB_OK && i < sg->n_lins; i++) {
        lin *l = &a->lin[sg->lins[i]];
        if (!l->selected)
            continue;
        tb_awq_scaled_quantize(l->w, l->rows, l->cols, s, &a->o->q, cand);
        st = write_tensor(a, l->t, cand, err);
    }
    return st;
}

static tb_status restore_group(awq *a, int g, tb_error *err)
{
    const scale_group *sg = &scale_groups[g];
    tb_status st = TB_OK;
    for (int i = 0; st == TB_OK && i < sg->n_lins; i++) {
        lin *l = &a->lin[sg->lins[i]];
        if (l->selected)
            st = write_tensor(a, l->t, l->w, err);
    }
    return st;
}

/* Keeps the candidate when its loss is strictly lower (the first of equal
 * losses wins, as in the reference). */
static void consider(awq *a, int g, int i, double loss, const float *s, int64_t width)
{
    if (!(loss < a->info->loss[g]))
        return;
    a->info->loss[g] = loss;
    a->info->ratio[g] = tb_awq_ratio(i, a->o->q.n_grid);
    memcpy(a->scale[g], s, (size_t)width * sizeof *s);
}

/* Groups judged on a block output the service recomputes. */
static tb_status search_service(awq *a, int g, tb_error *err)
{
    const scale_group *sg = &scale_groups[g];
    int64_t width = a->lin[sg->lins[0]].cols, biggest = 0;
    for (int i = 0; i < sg->n_lins; i++) {
        const lin *l = &a->lin[sg->lins[i]];
        biggest = l->rows * l->cols > biggest ? l->rows * l->cols : biggest;
    }
    uint32_t site = TB_SITE_BIT(sg->inspect);
    tb_calib_stats st;
    tb_status s = a->api->calib_collect(a->h, a->c, a->layer, site, TB_CALIB_ROWS, err);
    if (s == TB_OK)
        s = stats_of(a, (tb_site)sg->inspect, &st, err);
    if (s != TB_OK)
        return s;
    int64_t n = st.n_rows * st.width;
    float *fp = malloc((size_t)n * sizeof *fp), *cand = malloc((size_t)biggest * sizeof *cand);
    float *sc = malloc((size_t)width * sizeof *sc);
    if (!fp || !cand || !sc) {
        free(fp);
        free(cand);
        free(sc);
        return nomem(a, "the scale search", err);
    }
    memcpy(fp, st.rows, (size_t)n * sizeof *fp);
    for (int i = 0; s == TB_OK && i < a->o->q.n_grid; i++) {
        tb_awq_scales(a->mean[sg->input], width, tb_awq_ratio(i, a->o->q.n_grid), sc);
        s = set_candidate(a, g, sc, cand, err);
        if (s == TB_OK)
            s = a->api->calib_collect(a->h, a->c, a->layer, site, TB_CALIB_ROWS, err);
        if (s == TB_OK)
            s = stats_of(a, (tb_site)sg->inspect, &st, err);
        if (s == TB_OK && st.n_rows * st.width != n) {
            a->api->errorf(err, "awq: block %d's output changed size between runs", a->layer);
            s = TB_ERR_INTERNAL;
        }
        if (s == TB_OK)
            consider(a, g, i, tb_awq_mse(fp, st.rows, n), sc, width);
    }
    tb_status r = restore_group(a, g, err);
    free(fp);
    free(cand);
    free(sc);
    return s != TB_OK ? s : r;
}

/* Groups of one layer judged on its own output X W^T (x: n x cols). */
static tb_status search_local(awq *a, int g, const float *x, int64_t n, tb_error *err)
{
    lin *l = &a->lin[scale_groups[g].lins[0]];
    float *y = malloc((size_t)(n * l->rows) * sizeof *y);
    float *yc = malloc((size_t)(n * l->rows) * sizeof *yc);
    float *cand = malloc((size_t)(l->rows * l->cols) * sizeof *cand);
    float *sc = malloc((size_t)l->cols * sizeof *sc);
    tb_status s = y && yc && cand && sc ? TB_OK : nomem(a, "the scale search", err);
    if (s == TB_OK)
        tb_sgemm('N', 'T', n, l->rows, l->cols, 1.0f, x, l->cols, l->w, l->cols, 0.0f, y,
                 l->rows);
    for (int i = 0; s == TB_OK && i < a->o->q.n_grid; i++) {
        tb_awq_scales(a->mean[scale_groups[g].input], l->cols, tb_awq_ratio(i, a->o->q.n_grid),
                      sc);
        tb_awq_scaled_quantize(l->w, l->rows, l->cols, sc, &a->o->q, cand);
        tb_sgemm('N', 'T', n, l->rows, l->cols, 1.0f, x, l->cols, cand, l->cols, 0.0f, yc,
                 l->rows);
        consider(a, g, i, tb_awq_mse(y, yc, n * l->rows), sc, l->cols);
    }
    free(y);
    free(yc);
    free(cand);
    free(sc);
    return s;
}

/* Input rows per MLP product: bounds the hidden activations (rows x
 * n_ff floats, twice). */
#define MLP_ROW_BATCH 1024

typedef struct mlp_work {
    float *h, *u; /* MLP_ROW_BATCH x n_ff */
} mlp_work;

/* The SwiGLU MLP on x (n x width): y = (silu(x Wg^T) * x Wu^T) Wd^T
 * (n x width), batch by batch of rows. */
static void mlp_forward(const float *x, int64_t n, int64_t width, const float *wg,
                        const float *wu, const float *wd, int64_t ff, mlp_work *wk, float *y)
{
    for (int64_t r0 = 0; r0 < n; r0 += MLP_ROW_BATCH) {
        int64_t nr = n - r0 < MLP_ROW_BATCH ? n - r0 : MLP_ROW_BATCH;
        const float *xr = x + r0 * width;
        tb_sgemm('N', 'T', nr, ff, width, 1.0f, xr, width, wg, width, 0.0f, wk->h, ff);
        tb_sgemm('N', 'T', nr, ff, width, 1.0f, xr, width, wu, width, 0.0f, wk->u, ff);
        for (int64_t i = 0; i < nr * ff; i++) {
            float g = wk->h[i];
            wk->h[i] = g / (1.0f + expf(-g)) * wk->u[i];
        }
        tb_sgemm('N', 'T', nr, width, ff, 1.0f, wk->h, ff, wd, ff, 0.0f, y + r0 * width, width);
    }
}

/* gate/up judged on the MLP output (x: n rows of the gate/up input):
 * candidates Q(W s)/s for the selected of the two, down as it is. */
static tb_status search_mlp(awq *a, int g, const float *x, int64_t n, tb_error *err)
{
    lin *lg = &a->lin[LIN_GATE], *lu = &a->lin[LIN_UP], *ld = &a->lin[LIN_DOWN];
    int64_t width = lg->cols, ff = lg->rows;
    if (lu->rows != ff || lu->cols != width || !ld->t || ld->cols != ff || ld->rows != width) {
        a->api->errorf(err, "awq: block %d's gate, up and down do not form an MLP of width "
                            "%lld", a->layer, (long long)width);
        return TB_ERR_FORMAT;
    }
    int64_t batch = n < MLP_ROW_BATCH ? n : MLP_ROW_BATCH;
    mlp_work wk = {malloc((size_t)(batch * ff) * sizeof(float)),
                   malloc((size_t)(batch * ff) * sizeof(float))};
    float *y = malloc((size_t)(n * width) * sizeof *y);
    float *yc = malloc((size_t)(n * width) * sizeof *yc);
    float *cg = malloc((size_t)(ff * width) * sizeof *cg);
    float *cu = malloc((size_t)(ff * width) * sizeof *cu);
    float *sc = malloc((size_t)width * sizeof *sc);
    tb_status s = wk.h && wk.u && y && yc && cg && cu && sc ? TB_OK
                                                            : nomem(a, "the scale search", err);
    if (s == TB_OK)
        mlp_forward(x, n, width, lg->w, lu->w, ld->w, ff, &wk, y);
    for (int i = 0; s == TB_OK && i < a->o->q.n_grid; i++) {
        tb_awq_scales(a->mean[scale_groups[g].input], width, tb_awq_ratio(i, a->o->q.n_grid),
                      sc);
        if (lg->selected)
            tb_awq_scaled_quantize(lg->w, ff, width, sc, &a->o->q, cg);
        if (lu->selected)
            tb_awq_scaled_quantize(lu->w, ff, width, sc, &a->o->q, cu);
        mlp_forward(x, n, width, lg->selected ? cg : lg->w, lu->selected ? cu : lu->w, ld->w,
                    ff, &wk, yc);
        consider(a, g, i, tb_awq_mse(y, yc, n * width), sc, width);
    }
    free(wk.h);
    free(wk.u);
    free(y);
    free(yc);
    free(cg);
    free(cu);
    free(sc);
    return s;
}

static tb_status start_search(awq *a, int g, tb_error *err)
{
    int64_t width = a->lin[scale_groups[g].lins[0]].cols;
    a->scale[g] = malloc((size_t)width * sizeof *a->scale[g]);
    if (!a->scale[g])
        return nomem(a, "scales", err);
    a->info->loss[g] = INFINITY;
    return TB_OK;
}

static tb_status finish_search(awq *a, int g, tb_error *err)
{
    if (a->info->ratio[g] >= 0)
        return TB_OK;
    a->api->errorf(err, "awq: block %d: no scale for %s gave a finite loss (the "
                        "calibration outputs are not finite)", a->layer,
                   tb_block_linears[scale_groups[g].lins[0]].suffix);
    return TB_ERR_INVALID;
}

/* ---- the input rows: local searches and clipping samples ---- */

/* Which sites' rows are needed: the inputs of local searches and of the
 * selected layers (clipping and the reported error). */
static uint32_t row_sites(const awq *a)
{
    uint32_t sites = 0;
    for (int g = 0; g < TB_AWQ_GROUPS; g++)
        if (a->active[g] && scale_groups[g].inspect < 0)
            sites |= TB_SITE_BIT(scale_groups[g].input);
    for (int k = 0; k < TB_BLOCK_LINEARS; k++)
        if (a->lin[k].t && a->lin[k].selected)
            sites |= TB_SITE_BIT(tb_block_linears[k].site);
    return sites;
}

/* One site's rows: the local search they feed, then a sample kept. */
static tb_status use_rows(awq *a, tb_site site, tb_error *err)
{
    tb_calib_stats st;
    tb_status s = a->api->calib_collect(a->h, a->c, a->layer, TB_SITE_BIT(site),
                                        TB_CALIB_ROWS, err);
    if (s == TB_OK)
        s = stats_of(a, site, &st, err);
    for (int g = 0; s == TB_OK && g < TB_AWQ_GROUPS; g++)
        if (a->active[g] && scale_groups[g].inspect < 0 && scale_groups[g].input == site) {
            s = start_search(a, g, err);
            if (s == TB_OK)
                s = g == GROUP_MLP ? search_mlp(a, g, st.rows, st.n_rows, err)
                           : search_local(a, g, st.rows, st.n_rows, err);
            if (s == TB_OK)
                s = finish_search(a, g, err);
        }
    if (s != TB_OK || a->o->fold_only)
        return s;
    int64_t want = a->o->q.clip_tokens;
    a->sample[site] = malloc((size_t)(tb_awq_sample_count(st.n_rows, want) * st.width) *
                             sizeof(float));
    if (!a->sample[site])
        return nomem(a, "sampled inputs", err);
    a->n_sample[site] = tb_awq_sample_rows(st.rows, st.n_rows, st.width, want, a->sample[site]);
    return TB_OK;
}

/* ---- folding ---- */

static void scale_columns(lin *l, const float *s)
{
    for (int64_t r = 0; r < l->rows; r++)
        for (int64_t c = 0; c < l->cols; c++)
            l->w[r * l->cols + c] *= s[c];
    l->changed = 1;
}

/* The reference divides the last len(s) rows (all of them here). */
static void divide_rows(lin *l, const float *s, int64_t n)
{
    for (int64_t r = l->rows - n; r < l->rows; r++)
        for (int64_t c = 0; c < l->cols; c++)
            l->w[r * l->cols + c] /= s[r - (l->rows - n)];
    l->changed = 1;
}

static void fold(awq *a)
{
    for (int g = 0; g < TB_AWQ_GROUPS; g++) {
        const scale_group *sg = &scale_groups[g];
        const float *s = a->scale[g];
        if (!s)
            continue;
        int64_t width = a->lin[sg->lins[0]].cols;
        if (sg->norm) {
            for (int64_t c = 0; c < width; c++)
                a->norm[g].w[c] /= s[c];
            a->norm[g].changed = 1;
        } else {
            divide_rows(&a->lin[sg->prev], s, width);
        }
        for (int i = 0; i < sg->n_lins; i++)
            scale_columns(&a->lin[sg->lins[i]], s);
    }
}

/* The folded inputs: what the layers see after the fold (FP / s). */
static void scale_samples(awq *a)
{
    for (int g = 0; g < TB_AWQ_GROUPS; g++) {
        tb_site site = scale_groups[g].input;
        float *x = a->sample[site];
        if (!a->scale[g] || !x)
            continue;
        int64_t width = a->lin[scale_groups[g].lins[0]].cols;
        for (int64_t t = 0; t < a->n_sample[site]; t++)
            for (int64_t c = 0; c < width; c++)
                x[t * width + c] /= a->scale[g][c];
    }
}

/* ---- clipping, quantization, reports ---- */

/* |X (W - Q)^T|^2 / |X W^T|^2 on the sampled inputs. */
static double sample_rel_error(const float *w, const float *q, int64_t rows, int64_t cols,
                               const float *x, int64_t n)
{
    float *d = malloc((size_t)(rows * cols) * sizeof *d);
    float *y = malloc((size_t)(n * rows) * sizeof *y), *e = malloc((size_t)(n * rows) * sizeof *e);
    double num = 0, den = 0;
    if (d && y && e) {
        for (int64_t i = 0; i < rows * cols; i++)
            d[i] = w[i] - q[i];
        tb_sgemm('N', 'T', n, rows, cols, 1.0f, x, cols, w, cols, 0.0f, y, rows);
        tb_sgemm('N', 'T', n, rows, cols, 1.0f, x, cols, d, cols, 0.0f, e, rows);
        for (int64_t i = 0; i < n * rows; i++) {
            num += (double)e[i] * e[i];
            den += (double)y[i] * y[i];
        }
    }
    free(d);
    free(y);
    free(e);
    return den > 0 ? num / den : NAN;
}

/* Clips (unless q or k) and quantizes one selected layer in place; the
 * folded weights before that are kept in `folded`. */
static tb_status clip_layer(awq *a, int k, int64_t *clipped, int64_t *groups, tb_error *err)
{
    lin *l = &a->lin[k];
    const tb_site site = tb_block_linears[k].site;
    if (!a->o->q.clip || k == LIN_Q || k == LIN_K || !a->sample[site])
        return TB_OK;
    int64_t ng = tb_awq_groups(l->cols, a->o->q.group_size);
    float *mx = malloc((size_t)(l->rows * ng) * sizeof *mx);
    if (!mx || tb_awq_clip_search(l->w, l->rows, l->cols, a->sample[site], a->n_sample[site],
                                  &a->o->q, mx) != 0) {
        free(mx);
        return nomem(a, "the clipping search", err);
    }
    for (int64_t r = 0; r < l->rows; r++)
        for (int64_t g = 0; g < ng; g++) {
            int64_t c0 = g * (ng > 1 ? a->o->q.group_size : l->cols);
            int64_t c1 = ng > 1 && c0 + a->o->q.group_size < l->cols ? c0 + a->o->q.group_size
                                                                     : l->cols;
            float amax = 0;
            for (int64_t c = c0; c < c1; c++)
                amax = fmaxf(amax, fabsf(l->w[r * l->cols + c]));
            *clipped += mx[r * ng + g] < amax;
            (*groups)++;
        }
    tb_awq_clip_apply(l->w, l->rows, l->cols, a->o->q.group_size, mx);
    free(mx);
    return TB_OK;
}

static tb_status quantize_layer(awq *a, int k, tb_error *err)
{
    lin *l = &a->lin[k];
    const tb_site site = tb_block_linears[k].site;
    double t0 = tb_seconds();
    int64_t n = l->rows * l->cols, clipped = 0, groups = 0;
    float *folded = malloc((size_t)n * sizeof *folded);
    if (!folded)
        return nomem(a, l->t->name, err);
    memcpy(folded, l->w, (size_t)n * sizeof *folded);
    tb_status s = clip_layer(a, k, &clipped, &groups, err);
    if (s == TB_OK) {
        tb_rtn_opts ro = tb_awq_rtn_opts(&a->o->q);
        tb_rtn_quantize(l->w, l->rows, l->cols, &ro);
        a->info->clipped += clipped;
        a->info->groups += groups;
        double rel = a->sample[site] ? sample_rel_error(folded, l->w, l->rows, l->cols,
                                                        a->sample[site], a->n_sample[site])
                                     : NAN;
        char note[160];
        int g = l->group;
        int len = a->scale[g] ? snprintf(note, sizeof note, "scale exponent %.2f",
                                         (double)a->info->ratio[g])
                              : snprintf(note, sizeof note, "no scale (v -> o under GQA)");
        if (groups && len > 0 && (size_t)len < sizeof note)
            snprintf(note + len, sizeof note - (size_t)len, "; %lld of %lld groups clipped",
                     (long long)clipped, (long long)groups);
        s = tb_quant_store(a->api, a->h, a->m, l->t, l->w, rel, tb_seconds() - t0, note, err);
        l->changed = 0; /* written */
    }
    free(folded);
    return s;
}

/* Every folded but unquantized layer and every changed norm. */
static tb_status write_folded(awq *a, tb_error *err)
{
    tb_status s = TB_OK;
    for (int k = 0; s == TB_OK && k < TB_BLOCK_LINEARS; k++)
        if (a->lin[k].changed)
            s = write_tensor(a, a->lin[k].t, a->lin[k].w, err);
    for (int g = 0; s == TB_OK && g < TB_AWQ_GROUPS; g++)
        if (a->norm[g].changed)
            s = write_tensor(a, a->norm[g].t, a->norm[g].w, err);
    return s;
}

/* ---- the block ---- */

static tb_status search_all(awq *a, tb_error *err)
{
    uint32_t means = 0;
    for (int g = 0; g < TB_AWQ_GROUPS; g++)
        if (a->active[g])
            means |= TB_SITE_BIT(scale_groups[g].input);
    uint32_t rows = row_sites(a);
    /* The first run of the block: its FP outputs are the ones kept. */
    tb_status s = collect_means(a, means | rows, err);
    for (int i = 0; s == TB_OK && i < TB_SITE_COUNT; i++)
        if (rows & TB_SITE_BIT(i))
            s = use_rows(a, (tb_site)i, err);
    for (int g = 0; s == TB_OK && g < TB_AWQ_GROUPS; g++)
        if (a->active[g] && scale_groups[g].inspect >= 0) {
            s = start_search(a, g, err);
            if (s == TB_OK)
                s = search_service(a, g, err);
            if (s == TB_OK)
                s = finish_search(a, g, err);
        }
    return s;
}

static tb_status run_block(awq *a, tb_error *err)
{
    tb_status s = load_linears(a, err);
    if (s == TB_OK)
        s = choose_groups(a, err);
    if (s == TB_OK)
        s = search_all(a, err);
    if (s != TB_OK)
        return s;
    fold(a);
    if (!a->o->fold_only) {
        scale_samples(a);
        for (int k = 0; s == TB_OK && k < TB_BLOCK_LINEARS; k++)
            if (a->lin[k].t && a->lin[k].selected) {
                s = tb_quant_check_cancel(a->api, a->h, "awq", err);
                if (s == TB_OK)
                    s = quantize_layer(a, k, err);
            }
    }
    return s == TB_OK ? write_folded(a, err) : s;
}

tb_status tb_awq_block(const tb_host_api *api, tb_host *h, tb_model *m, tb_calibration *c,
                       int layer, const tb_awq_block_opts *o, tb_awq_block_info *info,
                       tb_error *err)
{
    tb_awq_block_info local;
    awq a;
    memset(&a, 0, sizeof a);
    a.api = api;
    a.h = h;
    a.m = m;
    a.c = c;
    a.layer = layer;
    a.o = o;
    a.info = info ? info : &local;
    memset(a.info, 0, sizeof *a.info);
    for (int g = 0; g < TB_AWQ_GROUPS; g++)
        a.info->ratio[g] = -1;
    tb_status s = run_block(&a, err);
    for (int k = 0; k < TB_BLOCK_LINEARS; k++)
        free(a.lin[k].w);
    for (int g = 0; g < TB_AWQ_GROUPS; g++) {
        free(a.norm[g].w);
        free(a.scale[g]);
    }
    for (int i = 0; i < TB_SITE_COUNT; i++) {
        free(a.mean[i]);
        free(a.sample[i]);
    }
    return s;
}
