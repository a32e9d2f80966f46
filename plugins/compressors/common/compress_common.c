/* compress_common.c - shared pieces of the compressor plugins. */
#include "compress_common.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const tb_linear_kind tb_block_linears[TB_BLOCK_LINEARS] = {
    {"attn_q.weight", TB_SITE_QKV},     {"attn_k.weight", TB_SITE_QKV},
    {"attn_v.weight", TB_SITE_QKV},     {"attn_output.weight", TB_SITE_O},
    {"ffn_gate.weight", TB_SITE_GATE_UP}, {"ffn_up.weight", TB_SITE_GATE_UP},
    {"ffn_down.weight", TB_SITE_DOWN},
};

int tb_layer_selected(const char *patterns, const char *name)
{
    if (strncmp(name, "blk.", 4) != 0)
        return 0;
    if (!patterns || !*patterns || !strcmp(patterns, "*"))
        return 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", patterns);
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        if (fnmatch(p, name, 0) == 0)
            return 1;
    }
    return 0;
}

tb_tensor *tb_block_tensor(tb_model *m, int layer, const char *suffix)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", layer, suffix);
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

float *tb_weight_read(const tb_host_api *api, tb_model *m, const tb_tensor *t, tb_error *err)
{
    int64_t rows = t->ne[1], cols = t->ne[0];
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    if (!w) {
        api->errorf(err, "out of memory reading %s", t->name);
        return NULL;
    }
    for (int64_t r = 0; r < rows; r++) {
        tb_status st = m->ops->tensor_row_f32(m, t, r, w + r * cols, err);
        if (st != TB_OK) {
            free(w);
            return NULL;
        }
    }
    return w;
}

tb_status tb_weight_write(tb_model *m, tb_tensor *t, const float *w, tb_error *err)
{
    return m->ops->tensor_set_f32(m, t, TB_DTYPE_F32, w, err);
}

float tb_round_even(float x)
{
    return nearbyintf(x); /* the default rounding mode: to nearest even */
}

float tb_quantize_value(float w, tb_qparams q)
{
    if (q.shifted) {
        /* q * scale is exact (an f16 times a 4-bit integer), so this is the
         * f32 value a Q4_1 block decodes to, with or without an FMA. */
        float v = tb_round_even((w - q.offset) / q.scale);
        v = v < 0 ? 0 : v > (float)q.maxq ? (float)q.maxq : v;
        return v * q.scale + q.offset;
    }
    float v = tb_round_even(w / q.scale) + q.zero;
    v = v < 0 ? 0 : v > (float)q.maxq ? (float)q.maxq : v;
    return q.scale * (v - q.zero);
}

/* f to the nearest f16 value (ties to even), kept in f32; the range
 * clamped to f16's finite positive magnitudes when `positive`. */
static float to_f16(float f, int positive)
{
    const float smallest = 5.9604645e-8f, largest = 65504.0f; /* 2^-24, (2 - 2^-10) 2^15 */
    if (positive && !(f >= smallest))
        return smallest;
    if (fabsf(f) >= largest)
        return copysignf(largest, f);
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    int e = (int)((x >> 23) & 0xff) - 127;
    /* f16 keeps 10 fraction bits for normals (e >= -14) and a fixed
     * quantum of 2^-24 below: round to that many bits of f. */
    int drop = e >= -14 ? 13 : 13 + (-14 - e);
    if (drop >= 24 + 1) /* below half the smallest subnormal */
        return positive ? smallest : copysignf(0.0f, f);
    float quantum = ldexpf(1.0f, e - 23 + drop);
    float r = tb_round_even(f / quantum) * quantum;
    return positive && r < smallest ? smallest : r;
}

tb_qparams tb_qgrid_f16(tb_qparams q, int sym)
{
    q.scale = to_f16(q.scale, 1);
    if (!sym && q.maxq <= 15) {
        q.shifted = 1;
        q.offset = to_f16(-q.zero * q.scale, 0);
    }
    return q;
}

tb_qparams tb_qgrid_gptq(const float *w, int64_t n, int64_t stride, int bits, int sym)
{
    tb_qparams q;
    q.maxq = (1 << bits) - 1;
    float lo = 0, hi = 0; /* the range always holds 0 */
    for (int64_t i = 0; i < n; i++) {
        float v = w[i * stride];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (sym) {
        hi = fmaxf(-lo, hi);
        if (lo < 0)
            lo = -hi;
    }
    if (lo == 0 && hi == 0) {
        lo = -1;
        hi = 1;
    }
    q.scale = (hi - lo) / (float)q.maxq;
    q.zero = sym ? (float)(q.maxq + 1) / 2 : tb_round_even(-lo / q.scale);
    q.shifted = 0;
    q.offset = 0;
    return q;
}

tb_qparams tb_qgrid_minmax(const float *w, int64_t n, int64_t stride, int bits, int sym)
{
    tb_qparams q;
    float lo = w[0], hi = w[0];
    for (int64_t i = 1; i < n; i++) {
        float v = w[i * stride];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (sym) {
        /* llm-awq without a zero point: integers in [-2^(b-1), 2^(b-1)-1]
         * with scale max|w| / (2^(b-1)-1), stored shifted by 2^(b-1). */
        float amax = fmaxf(fabsf(lo), fabsf(hi));
        q.maxq = (1 << bits) - 1;
        q.scale = fmaxf(amax, 1e-5f) / (float)((1 << (bits - 1)) - 1);
        q.zero = (float)(1 << (bits - 1));
        q.shifted = 0;
        q.offset = 0;
        return q;
    }
    q.maxq = (1 << bits) - 1;
    q.scale = fmaxf(hi - lo, 1e-5f) / (float)q.maxq;
    float z = -tb_round_even(lo / q.scale);
    q.zero = z < 0 ? 0 : z > (float)q.maxq ? (float)q.maxq : z;
    q.shifted = 0;
    q.offset = 0;
    return q;
}

int tb_parse_pattern(const char *s, int *n, int *m)
{
    if (!strcmp(s, "unstructured")) {
        *n = *m = 0;
        return 0;
    }
    char extra;
    if (sscanf(s, "%d:%d%c", n, m, &extra) == 2 && *n > 0 && *m > *n)
        return 0;
    return -1;
}

double tb_sparsity(const float *w, int64_t n)
{
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++)
        zeros += w[i] == 0.0f;
    return n ? (double)zeros / (double)n : 0.0;
}

double tb_rel_error_xtx(const float *w, const float *wq, int64_t rows, int64_t cols,
                        const float *xtx)
{
    double num = 0, den = 0;
    double *hd = malloc((size_t)cols * sizeof *hd), *hw = malloc((size_t)cols * sizeof *hw);
    if (!hd || !hw) {
        free(hd);
        free(hw);
        return NAN;
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *a = w + r * cols, *b = wq + r * cols;
        /* hd = H d, hw = H w for this row; then d.hd and w.hw. */
        for (int64_t i = 0; i < cols; i++) {
            double sd = 0, sw = 0;
            const float *hrow = xtx + i * cols;
            for (int64_t j = 0; j < cols; j++) {
                sd += (double)hrow[j] * ((double)a[j] - b[j]);
                sw += (double)hrow[j] * a[j];
            }
            hd[i] = sd;
            hw[i] = sw;
        }
        for (int64_t i = 0; i < cols; i++) {
            num += ((double)a[i] - b[i]) * hd[i];
            den += (double)a[i] * hw[i];
        }
    }
    free(hd);
    free(hw);
    return den > 0 ? num / den : NAN;
}

tb_status tb_report(const tb_host_api *api, tb_host *h, const char *tensor, const float *w,
                    int64_t n, double rel_error, double seconds, const char *note,
                    tb_error *err)
{
    tb_layer_report r = {sizeof r, tensor, tb_sparsity(w, n), rel_error, seconds, note};
    return api->report_layer ? api->report_layer(h, &r, err) : TB_OK;
}

double tb_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
