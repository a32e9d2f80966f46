/* quant_plugin.c - the glue rtn, gptq and awq share. */
#include "quant_plugin.h"

#include <stddef.h>
#include <string.h>

tb_status tb_quant_common_read(const tb_host_api *api, const tb_config *cfg, const char *plugin,
                               tb_quant_common *q, tb_error *err)
{
    int64_t bits = 0, group = 0;
    const char *dtype = NULL;
    if (api->config_string(cfg, "layers", &q->layers) != TB_OK ||
        api->config_int(cfg, "bits", &bits) != TB_OK ||
        api->config_int(cfg, "group_size", &group) != TB_OK ||
        api->config_string(cfg, "scale_dtype", &dtype) != TB_OK) {
        api->errorf(err, "%s: the host did not provide layers, bits, group_size and "
                         "scale_dtype", plugin);
        return TB_ERR_INVALID;
    }
    if (strcmp(dtype, "f32") != 0 && strcmp(dtype, "f16") != 0) {
        api->errorf(err, "%s: scale_dtype '%s' is neither f32 nor f16", plugin, dtype);
        return TB_ERR_INVALID;
    }
    q->f16 = strcmp(dtype, "f16") == 0;
    if (bits < 2 || bits > 8) {
        api->errorf(err, "%s: bits %lld is outside 2..8", plugin, (long long)bits);
        return TB_ERR_INVALID;
    }
    if (group == 0 || group < -1) {
        api->errorf(err, "%s: group_size %lld: use a positive size, or -1 for one group per "
                         "output row", plugin, (long long)group);
        return TB_ERR_INVALID;
    }
    q->bits = (int)bits;
    q->group_size = group;
    return TB_OK;
}

tb_status tb_quant_selection(const tb_host_api *api, tb_model *m, const char *plugin,
                             const char *layers, int64_t *count, int *last_block,
                             tb_error *err)
{
    *count = 0;
    *last_block = -1;
    for (int l = 0; l < m->params.n_layers; l++)
        for (int k = 0; k < TB_BLOCK_LINEARS; k++) {
            tb_tensor *t = tb_block_tensor(m, l, tb_block_linears[k].suffix);
            if (t && tb_layer_selected(layers, t->name)) {
                (*count)++;
                *last_block = l;
            }
        }
    if (*count == 0) {
        api->errorf(err, "%s: layers '%s' selects none of the model's linear layers "
                         "(names look like blk.0.attn_q.weight)", plugin, layers);
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

tb_tensor *tb_quant_target(const tb_host_api *api, tb_model *m, const char *plugin,
                           const char *layers, int layer, const char *suffix,
                           tb_status *status, tb_error *err)
{
    *status = TB_OK;
    tb_tensor *t = tb_block_tensor(m, layer, suffix);
    if (!t || !tb_layer_selected(layers, t->name))
        return NULL;
    if (t->n_dims != 2 || t->ne[0] < 1 || t->ne[1] < 1) {
        api->errorf(err, "%s: %s is not a matrix (%d dimensions)", plugin, t->name, t->n_dims);
        *status = TB_ERR_FORMAT;
        return NULL;
    }
    return t;
}

tb_status tb_quant_store(const tb_host_api *api, tb_host *h, tb_model *m, tb_tensor *t,
                         const float *w, double rel_error, double seconds, const char *note,
                         tb_error *err)
{
    tb_status s = tb_weight_write(m, t, w, err);
    if (s == TB_OK)
        s = tb_report(api, h, t->name, w, t->ne[0] * t->ne[1], rel_error, seconds,
                      note && *note ? note : NULL, err);
    return s;
}

tb_status tb_quant_check_cancel(const tb_host_api *api, tb_host *h, const char *plugin,
                                tb_error *err)
{
    if (api->cancelled && api->cancelled(h)) {
        api->errorf(err, "%s: cancelled", plugin);
        return TB_ERR_CANCELLED;
    }
    return TB_OK;
}
