/*
 * gptq - GPTQ weight quantization (IST-DASLab/gptq), block by block over
 * the calibration service: collect X^T X at the inputs of the selected
 * linear layers, quantize each with gptq_quant.h, and advance with the
 * quantized block's outputs as the next block's inputs.  With
 * true_sequential the block is done in the reference's four steps
 * [q, k, v] -> [o] -> [gate, up] -> [down], each collecting fresh
 * statistics after the previous step's layers were quantized.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <trustbench/model.h>
#include <trustbench/plugin.h>

#include "gptq_quant.h"
#include "linalg.h"
#include "quant_plugin.h"

/* Tenfold damping raises after a failed Cholesky: 0.01 -> 10 at most. */
#define GPTQ_MAX_RETRIES 3

static const tb_param gptq_params[] = {
    TB_QUANT_LAYERS_PARAM,
    TB_QUANT_BITS_PARAM,
    TB_QUANT_GROUP_PARAM,
    {"sym", TB_PARAM_BOOL, "false", 0, 0, NULL,
     "symmetric grid (IST-DASLab's default is asymmetric; AutoGPTQ's is symmetric)", 0},
    {"act_order", TB_PARAM_BOOL, "false", 0, 0, NULL,
     "quantize the inputs in order of decreasing Hessian diagonal", 0},
    {"static_groups", TB_PARAM_BOOL, "false", 0, 0, NULL,
     "with act_order: group grids fixed beforehand on contiguous original columns", 0},
    {"damp", TB_PARAM_FLOAT, "0.01", 0, 10, NULL,
     "damping added to the Hessian diagonal, relative to its mean (raised tenfold on "
     "failure)", TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"block_size", TB_PARAM_INT, "128", 1, 1 << 20, NULL,
     "columns per lazy batch update (speed only, up to rounding)",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"true_sequential", TB_PARAM_BOOL, "true", 0, 0, NULL,
     "[q,k,v] -> o -> [gate,up] -> down, each with statistics after the previous were "
     "quantized", 0},
    TB_QUANT_SCALE_DTYPE_PARAM,
};

typedef struct gptq {
    const tb_host_api *api;
    tb_host *host;
    tb_quant_common common;
    tb_gptq_opts opts;
    int true_sequential;
    int64_t done, total;
} gptq;

static tb_status gptq_create(const tb_host_api *api, tb_host *host, const tb_config *cfg,
                             void **instance, tb_error *err)
{
    gptq *self = calloc(1, sizeof *self);
    if (!self) {
        api->errorf(err, "gptq: out of memory");
        return TB_ERR_NOMEM;
    }
    self->api = api;
    self->host = host;
    int sym = 0, act = 0, stat = 0, ts = 0;
    double damp = 0;
    int64_t bs = 0;
    tb_status s = tb_quant_common_read(api, cfg, "gptq", &self->common, err);
    if (s == TB_OK &&
        (api->config_bool(cfg, "sym", &sym) != TB_OK ||
         api->config_bool(cfg, "act_order", &act) != TB_OK ||
         api->config_bool(cfg, "static_groups", &stat) != TB_OK ||
         api->config_float(cfg, "damp", &damp) != TB_OK ||
         api->config_int(cfg, "block_size", &bs) != TB_OK ||
         api->config_bool(cfg, "true_sequential", &ts) != TB_OK)) {
        api->errorf(err, "gptq: the host did not provide the parameters it declares");
        s = TB_ERR_INVALID;
    }
    if (s == TB_OK && (!(damp >= 0) || damp > 10 || bs < 1)) {
        api->errorf(err, "gptq: damp %g must be in 0..10 and block_size %lld positive", damp,
                    (long long)bs);
        s = TB_ERR_INVALID;
    }
    if (s != TB_OK) {
        free(self);
        return s;
    }
    self->opts.bits = self->common.bits;
    self->opts.group_size = self->common.group_size;
    self->opts.sym = sym;
    self->opts.act_order = act;
    self->opts.static_groups = stat;
    self->opts.damp = damp;
    self->opts.block_size = bs;
    self->opts.max_retries = GPTQ_MAX_RETRIES;
    self->opts.f16 = self->common.f16;
    self->true_sequential = ts;
    *instance = self;
    return TB_OK;
}

static void gptq_destroy(void *instance)
{
    free(instance);
}

static void describe(const tb_gptq_info *info, char *note, size_t cap)
{
    size_t len = 0;
    note[0] = 0;
    if (info->damping.retries > 0)
        len += (size_t)snprintf(note, cap, "damping raised to %g (Cholesky failed at column "
                                           "%lld)", info->damping.percdamp,
                                (long long)info->damping.fail.column);
    if (info->dead > 0 && len < cap)
        snprintf(note + len, cap - len, "%s%lld dead inputs", len ? "; " : "",
                 (long long)info->dead);
}

/* One layer: H = 2/n_seqs X^T X as the reference scales it, the sweep,
 * the write-back and the report. */
static tb_status gptq_layer(gptq *self, tb_model *m, tb_tensor *t, const tb_calib_stats *st,
                            tb_error *err)
{
    const tb_host_api *api = self->api;
    int64_t rows = t->ne[1], cols = t->ne[0];
    if (st->width != cols || !st->xtx) {
        api->errorf(err, "gptq: %s has %lld inputs but the calibration site has %lld",
                    t->name, (long long)cols, (long long)st->width);
        return TB_ERR_INTERNAL;
    }
    double t0 = tb_seconds();
    float *w = tb_weight_read(api, m, t, err);
    float *w0 = malloc((size_t)(rows * cols) * sizeof *w0);
    float *h = malloc((size_t)(cols * cols) * sizeof *h);
    if (!w || !w0 || !h) {
        free(w);
        free(w0);
        free(h);
        api->errorf(err, "gptq: out of memory for %s", t->name);
        return TB_ERR_NOMEM;
    }
    memcpy(w0, w, (size_t)(rows * cols) * sizeof *w);
    float scale = 2.0f / (float)(st->n_seqs > 0 ? st->n_seqs : 1);
    for (int64_t i = 0; i < cols * cols; i++)
        h[i] = st->xtx[i] * scale;
    tb_gptq_info info;
    int rc = tb_gptq_quantize(w, rows, cols, h, &self->opts, &info);
    tb_status s = TB_OK;
    if (rc == TB_LINALG_NOMEM) {
        api->errorf(err, "gptq: out of memory quantizing %s", t->name);
        s = TB_ERR_NOMEM;
    } else if (rc != TB_LINALG_OK) {
        api->errorf(err, "gptq: %s: the damped Hessian is not positive definite even with "
                         "damp %g (column %lld, pivot %g); raise damp or calibrate with more "
                         "or longer samples", t->name, info.damping.percdamp,
                    (long long)info.damping.fail.column, info.damping.fail.pivot);
        s = TB_ERR_INVALID;
    }
    if (s == TB_OK) {
        double seconds = tb_seconds() - t0;
        char note[200];
        describe(&info, note, sizeof note);
        if (info.damping.retries > 0)
            api->log(self->host, TB_LOG_WARN, "gptq: %s: %s", t->name, note);
        double rel = tb_xtx_rel_error(w0, w, rows, cols, st->xtx);
        s = tb_quant_store(api, self->host, m, t, w, rel, seconds, note, err);
    }
    free(w);
    free(w0);
    free(h);
    return s;
}

/* The layers of block `layer` fed by the sites in `sites`. */
static tb_status quantize_sites(gptq *self, tb_model *m, tb_calibration *c, int layer,
                                uint32_t sites, tb_error *err)
{
    const tb_host_api *api = self->api;
    tb_status s = TB_OK;
    tb_tensor *targets[TB_BLOCK_LINEARS];
    uint32_t wanted = 0;
    for (int k = 0; s == TB_OK && k < TB_BLOCK_LINEARS; k++) {
        targets[k] = NULL;
        if (!(sites & TB_SITE_BIT(tb_block_linears[k].site)))
            continue;
        targets[k] = tb_quant_target(api, m, "gptq", self->common.layers, layer,
                                     tb_block_linears[k].suffix, &s, err);
        if (targets[k])
            wanted |= TB_SITE_BIT(tb_block_linears[k].site);
    }
    if (s != TB_OK || !wanted)
        return s;
    s = api->calib_collect(self->host, c, layer, wanted, TB_CALIB_XTX, err);
    for (int k = 0; s == TB_OK && k < TB_BLOCK_LINEARS; k++) {
        if (!targets[k])
            continue;
        tb_calib_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        s = api->calib_stats(self->host, c, tb_block_linears[k].site, &st, err);
        if (s == TB_OK)
            s = tb_quant_check_cancel(api, self->host, "gptq", err);
        if (s == TB_OK)
            s = gptq_layer(self, m, targets[k], &st, err);
        if (api->progress)
            api->progress(self->host, (uint64_t)++self->done, (uint64_t)self->total);
    }
    return s;
}

static tb_status gptq_compress(void *instance, const tb_compress_args *args, tb_error *err)
{
    gptq *self = instance;
    const tb_host_api *api = self->api;
    tb_model *m = args->model;
    tb_calibration *c = args->calib;
    if (!c || !api->calib_collect) {
        api->errorf(err, "gptq: needs calibration data (the matrix's calibration section) and "
                         "a backend that can capture layer inputs");
        return TB_ERR_INVALID;
    }
    int last = -1;
    self->done = 0;
    tb_status s = tb_quant_selection(api, m, "gptq", self->common.layers, &self->total, &last,
                                     err);
    self->opts.threads = api->threads ? api->threads(self->host) : 1;
    static const uint32_t steps[4] = {
        TB_SITE_BIT(TB_SITE_QKV), TB_SITE_BIT(TB_SITE_O), TB_SITE_BIT(TB_SITE_GATE_UP),
        TB_SITE_BIT(TB_SITE_DOWN)};
    const uint32_t all = steps[0] | steps[1] | steps[2] | steps[3];
    for (int l = 0; s == TB_OK && l <= last; l++) {
        if (self->true_sequential)
            for (int i = 0; s == TB_OK && i < 4; i++)
                s = quantize_sites(self, m, c, l, steps[i], err);
        else
            s = quantize_sites(self, m, c, l, all, err);
        if (s == TB_OK && l < last) /* the quantized block feeds the next */
            s = api->calib_advance(self->host, c, l, 0, err);
    }
    return s;
}

static const tb_compressor_vtable gptq_ops = {
    .struct_size = sizeof(tb_compressor_vtable),
    .flags = TB_COMPRESS_CALIBRATED,
    .compress = gptq_compress,
};

static const tb_plugin_descriptor gptq_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_COMPRESSOR,
    .name = "gptq",
    .version = "1.0.0",
    .description = "GPTQ: Hessian-aware weight quantization with error feedback (calibrated)",
    TB_PARAMS(gptq_params),
    .create = gptq_create,
    .destroy = gptq_destroy,
    .ops.compressor = &gptq_ops,
};

TB_PLUGIN_DEFINE(gptq_descriptor)
