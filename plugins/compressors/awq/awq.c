/*
 * awq - activation-aware weight quantization (mit-han-lab/llm-awq): per
 * block, scales searched on the block's outputs and folded into the
 * preceding norm or layer, clipping ranges searched per row and group,
 * then min-max quantization (awq_block.h).  The next block's inputs are
 * this block's FP outputs, as in the reference.
 */
#include <stdlib.h>
#include <string.h>

#include <trustbench/model.h>
#include <trustbench/plugin.h>

#include "awq_block.h"
#include "quant_plugin.h"

static const tb_param awq_params[] = {
    TB_QUANT_LAYERS_PARAM,
    TB_QUANT_BITS_PARAM,
    TB_QUANT_GROUP_PARAM,
    {"zero_point", TB_PARAM_BOOL, "true", 0, 0, NULL,
     "asymmetric min-max grid with a zero point (false: symmetric)", 0},
    {"n_grid", TB_PARAM_INT, "20", 1, 1000, NULL,
     "scale exponents tried: 0, 1/n_grid, ..., (n_grid-1)/n_grid",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"clip", TB_PARAM_BOOL, "true", 0, 0, NULL,
     "search a clipping range per output row and group (not for q and k)", 0},
    {"max_shrink", TB_PARAM_FLOAT, "0.5", 0, 0.99, NULL,
     "clipping: shrink max|w| by at most this fraction", TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"clip_grid", TB_PARAM_INT, "20", 1, 1000, NULL,
     "clipping: shrink in steps of 1/clip_grid", TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    TB_QUANT_SCALE_DTYPE_PARAM,
};

/* llm-awq's n_sample_token for the clipping search. */
#define AWQ_CLIP_TOKENS 512

typedef struct awq_plugin {
    const tb_host_api *api;
    tb_host *host;
    tb_quant_common common;
    tb_awq_block_opts opts;
} awq_plugin;

static tb_status awq_create(const tb_host_api *api, tb_host *host, const tb_config *cfg,
                            void **instance, tb_error *err)
{
    awq_plugin *self = calloc(1, sizeof *self);
    if (!self) {
        api->errorf(err, "awq: out of memory");
        return TB_ERR_NOMEM;
    }
    self->api = api;
    self->host = host;
    int zp = 0, clip = 0;
    int64_t n_grid = 0, clip_grid = 0;
    double shrink = 0;
    tb_status s = tb_quant_common_read(api, cfg, "awq", &self->common, err);
    if (s == TB_OK &&
        (api->config_bool(cfg, "zero_point", &zp) != TB_OK ||
         api->config_int(cfg, "n_grid", &n_grid) != TB_OK ||
         api->config_bool(cfg, "clip", &clip) != TB_OK ||
         api->config_float(cfg, "max_shrink", &shrink) != TB_OK ||
         api->config_int(cfg, "clip_grid", &clip_grid) != TB_OK)) {
        api->errorf(err, "awq: the host did not provide the parameters it declares");
        s = TB_ERR_INVALID;
    }
    if (s == TB_OK && (n_grid < 1 || clip_grid < 1 || !(shrink >= 0) || shrink >= 1)) {
        api->errorf(err, "awq: n_grid %lld and clip_grid %lld must be positive and max_shrink "
                         "%g in 0..0.99", (long long)n_grid, (long long)clip_grid, shrink);
        s = TB_ERR_INVALID;
    }
    if (s != TB_OK) {
        free(self);
        return s;
    }
    tb_awq_opts *q = &self->opts.q;
    q->bits = self->common.bits;
    q->group_size = self->common.group_size;
    q->zero_point = zp;
    q->n_grid = (int)n_grid;
    q->clip = clip;
    q->max_shrink = shrink;
    q->clip_grid = (int)clip_grid;
    q->clip_tokens = AWQ_CLIP_TOKENS;
    q->f16 = self->common.f16;
    self->opts.layers = self->common.layers;
    *instance = self;
    return TB_OK;
}

static void awq_destroy(void *instance)
{
    free(instance);
}

static int block_selected(tb_model *m, const char *layers, int l)
{
    for (int k = 0; k < TB_BLOCK_LINEARS; k++) {
        tb_tensor *t = tb_block_tensor(m, l, tb_block_linears[k].suffix);
        if (t && tb_layer_selected(layers, t->name))
            return 1;
    }
    return 0;
}

static tb_status awq_compress(void *instance, const tb_compress_args *args, tb_error *err)
{
    awq_plugin *self = instance;
    const tb_host_api *api = self->api;
    tb_model *m = args->model;
    tb_calibration *c = args->calib;
    if (!c || !api->calib_collect) {
        api->errorf(err, "awq: needs calibration data (the matrix's calibration section) and "
                         "a backend that can capture layer inputs");
        return TB_ERR_INVALID;
    }
    int64_t total = 0;
    int last = -1;
    tb_status s = tb_quant_selection(api, m, "awq", self->common.layers, &total, &last, err);
    self->opts.q.threads = api->threads ? api->threads(self->host) : 1;
    for (int l = 0; s == TB_OK && l <= last; l++) {
        int sel = block_selected(m, self->common.layers, l);
        if (sel)
            s = tb_awq_block(api, self->host, m, c, l, &self->opts, NULL, err);
        /* The next block sees this block's FP outputs (kept from its first
         * run); an untouched block is simply run. */
        if (s == TB_OK && l < last)
            s = api->calib_advance(self->host, c, l, sel, err);
        if (api->progress)
            api->progress(self->host, (uint64_t)(l + 1), (uint64_t)(last + 1));
    }
    return s;
}

static const tb_compressor_vtable awq_ops = {
    .struct_size = sizeof(tb_compressor_vtable),
    .flags = TB_COMPRESS_CALIBRATED,
    .compress = awq_compress,
};

static const tb_plugin_descriptor awq_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_COMPRESSOR,
    .name = "awq",
    .version = "1.0.0",
    .description = "AWQ: activation-aware scaling and clipping, then min-max quantization "
                   "(calibrated)",
    TB_PARAMS(awq_params),
    .create = awq_create,
    .destroy = awq_destroy,
    .ops.compressor = &awq_ops,
};

TB_PLUGIN_DEFINE(awq_descriptor)
