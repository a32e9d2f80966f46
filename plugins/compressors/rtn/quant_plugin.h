/*
 * quant_plugin.h - what the plugins rtn, gptq and awq share around their
 * algorithms: the common parameters, checking a layer selection, and one
 * rewritten tensor's write-back and report.
 */
#ifndef TB_QUANT_PLUGIN_H
#define TB_QUANT_PLUGIN_H

#include <stdint.h>

#include "compress_common.h"
#include "trustbench/model.h"
#include "trustbench/plugin.h"

/* The first rows of each quantizer's parameter table. */
#define TB_QUANT_LAYERS_PARAM                                                               \
    {"layers", TB_PARAM_STRING, "", 0, 0, NULL,                                             \
     "comma-separated globs over tensor names (blk.*.ffn_*); empty: every linear layer", 0}
#define TB_QUANT_BITS_PARAM                                                                 \
    {"bits", TB_PARAM_INT, "4", 2, 8, NULL, "bits per weight",                              \
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX}
#define TB_QUANT_GROUP_PARAM                                                                \
    {"group_size", TB_PARAM_INT, "128", -1, 1 << 20, NULL,                                  \
     "inputs sharing one scale and zero point; -1: one group per output row",               \
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX}

#define TB_QUANT_SCALE_DTYPE_PARAM                                                          \
    {"scale_dtype", TB_PARAM_ENUM, "f32", 0, 0, "f32|f16",                                  \
     "f16: round each group's scale (and offset) to f16 while quantizing, so group 32 "     \
     "exports exactly as GGUF Q4_0/Q4_1/Q8_0", 0}

typedef struct tb_quant_common {
    const char *layers; /* owned by the config */
    int bits;
    int64_t group_size; /* -1: per row */
    int f16;            /* scale_dtype f16 */
} tb_quant_common;

/* Reads layers, bits, group_size and scale_dtype; 0 is refused as a
 * group size. */
tb_status tb_quant_common_read(const tb_host_api *api, const tb_config *cfg, const char *plugin,
                               tb_quant_common *q, tb_error *err);

/* How many linear layers of the model `layers` selects, and the last
 * block holding one (-1: none); an error naming the patterns when none. */
tb_status tb_quant_selection(const tb_host_api *api, tb_model *m, const char *plugin,
                             const char *layers, int64_t *count, int *last_block,
                             tb_error *err);

/* The tensor blk.<layer>.<suffix> when it exists and `layers` selects it,
 * else NULL.  A selected tensor that is not a matrix is an error. */
tb_tensor *tb_quant_target(const tb_host_api *api, tb_model *m, const char *plugin,
                           const char *layers, int layer, const char *suffix,
                           tb_status *status, tb_error *err);

/* Writes w back as F32 and reports it. */
tb_status tb_quant_store(const tb_host_api *api, tb_host *h, tb_model *m, tb_tensor *t,
                         const float *w, double rel_error, double seconds, const char *note,
                         tb_error *err);

/* TB_ERR_CANCELLED with a message when the host asks to stop. */
tb_status tb_quant_check_cancel(const tb_host_api *api, tb_host *h, const char *plugin,
                                tb_error *err);

#endif
