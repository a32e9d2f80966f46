/*
 * rtn - round-to-nearest weight quantization without calibration: every
 * selected linear layer, group by group, on llm-awq's min-max grid (the
 * oracle's rtn files) or GPTQ's grid through zero (IST-DASLab --nearest,
 * there per row).  Weights are stored dequantized ("fake quant") as F32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <trustbench/model.h>
#include <trustbench/plugin.h>

#include "quant_plugin.h"
#include "rtn_quant.h"

static const tb_param rtn_params[] = {
    TB_QUANT_LAYERS_PARAM,
    TB_QUANT_BITS_PARAM,
    TB_QUANT_GROUP_PARAM,
    {"sym", TB_PARAM_BOOL, "false", 0, 0, NULL,
     "symmetric grid without a zero point (default: asymmetric with one)", 0},
    {"grid", TB_PARAM_ENUM, "minmax", 0, 0, "minmax|gptq",
     "minmax: [min, max] of each group (llm-awq); gptq: the range always holds 0 (GPTQ)", 0},
    TB_QUANT_SCALE_DTYPE_PARAM,
};

typedef struct rtn {
    const tb_host_api *api;
    tb_host *host;
    tb_quant_common common;
    tb_rtn_opts opts;
} rtn;

static tb_status rtn_create(const tb_host_api *api, tb_host *host, const tb_config *cfg,
                            void **instance, tb_error *err)
{
    rtn *self = calloc(1, sizeof *self);
    if (!self) {
        api->errorf(err, "rtn: out of memory");
        return TB_ERR_NOMEM;
    }
    self->api = api;
    self->host = host;
    int sym = 0;
    const char *grid = NULL;
    tb_status s = tb_quant_common_read(api, cfg, "rtn", &self->common, err);
    if (s == TB_OK && (api->config_bool(cfg, "sym", &sym) != TB_OK ||
                       api->config_string(cfg, "grid", &grid) != TB_OK)) {
        api->errorf(err, "rtn: the host did not provide sym and grid");
        s = TB_ERR_INVALID;
    }
    if (s == TB_OK && strcmp(grid, "minmax") != 0 && strcmp(grid, "gptq") != 0) {
        api->errorf(err, "rtn: grid '%s' is neither minmax nor gptq", grid);
        s = TB_ERR_INVALID;
    }
    if (s != TB_OK) {
        free(self);
        return s;
    }
    self->opts.bits = self->common.bits;
    self->opts.group_size = self->common.group_size;
    self->opts.sym = sym;
    self->opts.grid = strcmp(grid, "gptq") == 0 ? TB_GRID_GPTQ : TB_GRID_MINMAX;
    self->opts.f16 = self->common.f16;
    *instance = self;
    return TB_OK;
}

static void rtn_destroy(void *instance)
{
    free(instance);
}

static tb_status rtn_layer(rtn *self, tb_model *m, tb_tensor *t, tb_error *err)
{
    double t0 = tb_seconds();
    float *w = tb_weight_read(self->api, m, t, err);
    if (!w)
        return TB_ERR_NOMEM;
    tb_rtn_quantize(w, t->ne[1], t->ne[0], &self->opts);
    tb_status s = tb_quant_store(self->api, self->host, m, t, w, NAN, tb_seconds() - t0, NULL,
                                 err);
    free(w);
    return s;
}

static tb_status rtn_compress(void *instance, const tb_compress_args *args, tb_error *err)
{
    rtn *self = instance;
    tb_model *m = args->model;
    int64_t total = 0, done = 0;
    int last = -1;
    tb_status s = tb_quant_selection(self->api, m, "rtn", self->common.layers, &total, &last,
                                     err);
    self->opts.threads = self->api->threads ? self->api->threads(self->host) : 1;
    for (int l = 0; s == TB_OK && l <= last; l++)
        for (int k = 0; s == TB_OK && k < TB_BLOCK_LINEARS; k++) {
            tb_tensor *t = tb_quant_target(self->api, m, "rtn", self->common.layers, l,
                                           tb_block_linears[k].suffix, &s, err);
            if (!t)
                continue;
            s = tb_quant_check_cancel(self->api, self->host, "rtn", err);
            if (s == TB_OK)
                s = rtn_layer(self, m, t, err);
            if (self->api->progress)
                self->api->progress(self->host, (uint64_t)++done, (uint64_t)total);
        }
    return s;
}

static const tb_compressor_vtable rtn_ops = {
    .struct_size = sizeof(tb_compressor_vtable),
    .flags = 0,
    .compress = rtn_compress,
};

static const tb_plugin_descriptor rtn_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_COMPRESSOR,
    .name = "rtn",
    .version = "1.0.0",
    .description = "round-to-nearest weight quantization by groups (no calibration)",
    TB_PARAMS(rtn_params),
    .create = rtn_create,
    .destroy = rtn_destroy,
    .ops.compressor = &rtn_ops,
};

TB_PLUGIN_DEFINE(rtn_descriptor)
