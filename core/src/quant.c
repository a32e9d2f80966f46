/* quant.c - reference conversions for stored tensor types. */
#include "quant.h"

#include <math.h>
#include <string.h>

/* ggml type numbers (kept local: this file has no other dependency). */
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q8_0 = 8,
    T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30
};

float tb_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* Subnormal: normalise the mantissa. */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t tb_f32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t man = x & 0x7fffff;
    if (exp == 0xff) /* inf or NaN (keep a NaN a NaN) */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        /* Subnormal half: shift in the implicit bit, round to nearest even. */
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, which is right */
    return (uint16_t)half;
}

float tb_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t tb_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- Q8_0 / Q4_0 / Q4_1 ---- */

static void quantize_q8_0(const float *x, tb_block_q8_0 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d ? 1.0f / d : 0.0f;
        b[i].d = tb_f32_to_fp16(d);
        for (int j = 0; j < 32; j++)
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void dequantize_q8_0(const tb_block_q8_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = tb_fp16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = b[i].qs[j] * d;
    }
}

static void quantize_q4_0(const float *x, tb_block_q4_0 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        /* The scale maps the value of largest magnitude to -8, so the full
         * signed range [-8, 7] is used on the side that needs it. */
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8.0f;
        float id = d ? 1.0f / d : 0.0f;
        b[i].d = tb_f32_to_fp16(d);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)(int8_t)(x[j] * id + 8.5f);
            int q1 = (int)(int8_t)(x[j + 16] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void dequantize_q4_0(const tb_block_q4_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = tb_fp16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = ((b[i].qs[j] & 0x0f) - 8) * d;
            y[j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void quantize_q4_1(const float *x, tb_block_q4_1 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float lo = x[0], hi = x[0];
        for (int j = 1; j < 32; j++) {
            lo = fminf(lo, x[j]);
            hi = fmaxf(hi, x[j]);
        }
        float d = (hi - lo) / 15.0f;
        float id = d ? 1.0f / d : 0.0f;
        b[i].d = tb_f32_to_fp16(d);
        b[i].m = tb_f32_to_fp16(lo);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)(int8_t)((x[j] - lo) * id + 0.5f);
            int q1 = (int)(int8_t)((x[j + 16] - lo) * id + 0.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void dequantize_q4_1(const tb_block_q4_1 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = tb_fp16_to_f32(b[i].d);
        float m = tb_fp16_to_f32(b[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (b[i].qs[j] & 0x0f) * d + m;
            y[j + 16] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* ---- K-quants (read only) ---- */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* The 6-bit scale and min of sub-block j packed in 12 bytes. */
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void dequantize_q4_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 144) {
        float d = tb_fp16_to_f32(rd16(b)), dmin = tb_fp16_to_f32(rd16(b + 2));
        const uint8_t *scales = b + 4, *qs = b + 16;
        for (int c = 0; c < 4; c++, qs += 32) {
            int sc1, m1, sc2, m2;
            scale_min_k4(2 * c, scales, &sc1, &m1);
            scale_min_k4(2 * c + 1, scales, &sc2, &m2);
            for (int l = 0; l < 32; l++)
                *y++ = d * sc1 * (qs[l] & 0x0f) - dmin * m1;
            for (int l = 0; l < 32; l++)
                *y++ = d * sc2 * (qs[l] >> 4) - dmin * m2;
        }
    }
}

static void dequantize_q5_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 176) {
        float d = tb_fp16_to_f32(rd16(b)), dmin = tb_fp16_to_f32(rd16(b + 2));
        const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + 48;
        unsigned u1 = 1, u2 = 2;
        for (int c = 0; c < 4; c++, qs += 32, u1 <<= 2, u2 <<= 2) {
            int sc1, m1, sc2, m2;
            scale_min_k4(2 * c, scales, &sc1, &m1);
            scale_min_k4(2 * c + 1, scales, &sc2, &m2);
            for (int l = 0; l < 32; l++)
                *y++ = d * sc1 * ((qs[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - dmin * m1;
            for (int l = 0; l < 32; l++)
                *y++ = d * sc2 * ((qs[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - dmin * m2;
        }
    }
}

static void dequantize_q6_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = tb_fp16_to_f32(rd16(b + 208));
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

int tb_quant_can_dequantize(uint32_t type)
{
    switch (type) {
    case T_F32: case T_F16: case T_BF16: case T_Q8_0: case T_Q4_0: case T_Q4_1:
    case T_Q4_K: case T_Q5_K: case T_Q6_K:
        return 1;
    }
    return 0;
}

int tb_quant_can_quantize(uint32_t type)
{
    switch (type) {
    case T_F32: case T_F16: case T_BF16: case T_Q8_0: case T_Q4_0: case T_Q4_1:
        return 1;
    }
    return 0;
}

int tb_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    switch (type) {
    case T_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return 0;
    case T_F16: for (int64_t i = 0; i < n; i++) dst[i] = tb_fp16_to_f32(h[i]); return 0;
    case T_BF16: for (int64_t i = 0; i < n; i++) dst[i] = tb_bf16_to_f32(h[i]); return 0;
    case T_Q8_0: dequantize_q8_0(src, dst, n / 32); return 0;
    case T_Q4_0: dequantize_q4_0(src, dst, n / 32); return 0;
    case T_Q4_1: dequantize_q4_1(src, dst, n / 32); return 0;
    case T_Q4_K: dequantize_q4_k(src, dst, n / 256); return 0;
    case T_Q5_K: dequantize_q5_k(src, dst, n / 256); return 0;
    case T_Q6_K: dequantize_q6_k(src, dst, n / 256); return 0;
    }
    return -1;
}

int tb_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    switch (type) {
    case T_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return 0;
    case T_F16: for (int64_t i = 0; i < n; i++) h[i] = tb_f32_to_fp16(src[i]); return 0;
    case T_BF16: for (int64_t i = 0; i < n; i++) h[i] = tb_f32_to_bf16(src[i]); return 0;
    case T_Q8_0: quantize_q8_0(src, dst, n / 32); return 0;
    case T_Q4_0: quantize_q4_0(src, dst, n / 32); return 0;
    case T_Q4_1: quantize_q4_1(src, dst, n / 32); return 0;
    }
    return -1;
}

/* ---- exact encoding (packed export of quantized weights) ---- */

/* 1 when f is an f16 value (so the block scale loses nothing). */
static int f16_exact(float f, uint16_t *h)
{
    *h = tb_f32_to_fp16(f);
    return tb_fp16_to_f32(*h) == f;
}

/* 1 when every element of the block equals the decoded one.  -0 and +0
 * count as equal (they give the same products); with a positive scale
 * zeros come back as +0, bit for bit. */
static int same_block(const float *x, const float *y)
{
    for (int j = 0; j < 32; j++)
        if (x[j] != y[j])
            return 0;
    return 1;
}

/* The value of largest magnitude (the first of ties). */
static float block_amax(const float *x)
{
    float a = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > fabsf(a))
            a = x[j];
    return a;
}

/* Integer codes k in [lo, hi] with x = k d for every element, or 0. */
static int codes_of(const float *x, float d, int lo, int hi, int *k)
{
    for (int j = 0; j < 32; j++) {
        float q = d != 0 ? nearbyintf(x[j] / d) : 0;
        if (!(q >= (float)lo && q <= (float)hi) || q * d != x[j])
            return 0;
        k[j] = (int)q;
    }
    return 1;
}

/* The sign of d whose zero codes decode to the block's own zeros, bit
 * for bit: 0 * d is -0 for a negative d.  Negative when the block holds a
 * -0 (ggml's Q4_0 maps the largest magnitude to -8, often with d < 0),
 * else positive (the quantizers' zeros are +0). */
static int zero_sign(const float *x)
{
    for (int j = 0; j < 32; j++)
        if (x[j] == 0 && signbit(x[j]))
            return -1;
    return 1;
}

/* Symmetric blocks: x = k d, k in [lo, hi], d an f16 of either sign.
 * The block's value of largest magnitude `a` is k_a d for some k_a, so d
 * is one of a / k_a: tried from the largest |k_a| down, every d of the
 * sign zero_sign chooses before any of the other (an asymmetric range
 * can hold a positive value at hi only with a negative d one magnitude
 * up), verified by decoding. */
static int exact_symmetric(const float *x, int lo, int hi, uint16_t *dh, int *k)
{
    float a = block_amax(x);
    if (a == 0) {
        *dh = 0;
        memset(k, 0, 32 * sizeof *k);
        return 1;
    }
    int first = zero_sign(x);
    for (int pass = 0; pass < 2; pass++) {
        int dsign = pass == 0 ? first : -first;
        for (int mag = -lo > hi ? -lo : hi; mag >= 1; mag--) {
            int ka = (a > 0 ? 1 : -1) * dsign * mag;
            if (ka < lo || ka > hi)
                continue;
            float d = a / (float)ka;
            if (f16_exact(d, dh) && codes_of(x, d, lo, hi, k))
                return 1;
        }
    }
    return 0;
}

static int exact_q8_0(const float *x, tb_block_q8_0 *b)
{
    int k[32];
    if (!exact_symmetric(x, -128, 127, &b->d, k))
        return 0;
    for (int j = 0; j < 32; j++)
        b->qs[j] = (int8_t)k[j];
    float y[32];
    dequantize_q8_0(b, y, 1);
    return same_block(x, y);
}

static int exact_q4_0(const float *x, tb_block_q4_0 *b)
{
    int k[32];
    if (!exact_symmetric(x, -8, 7, &b->d, k))
        return 0;
    for (int j = 0; j < 16; j++)
        b->qs[j] = (uint8_t)((k[j] + 8) | ((k[j + 16] + 8) << 4));
    float y[32];
    dequantize_q4_0(b, y, 1);
    return same_block(x, y);
}

/* One (d, m) candidate for Q4_1: codes round((x - m) / d) in [0, 15],
 * decoded and compared. */
static int try_q4_1(const float *x, float d, float m, tb_block_q4_1 *b)
{
    if (!f16_exact(d, &b->d) || !f16_exact(m, &b->m))
        return 0;
    int q[32];
    for (int j = 0; j < 32; j++) {
        float v = d != 0 ? nearbyintf((x[j] - m) / d) : 0;
        if (!(v >= 0 && v <= 15))
            return 0;
        q[j] = (int)v;
    }
    for (int j = 0; j < 16; j++)
        b->qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    float y[32];
    dequantize_q4_1(b, y, 1);
    return same_block(x, y);
}

/* Q4_1 blocks: x = q d + m, q in [0, 15].  The block's range spans
 * span = q_hi - q_lo steps (1..15), so d = (hi - lo) / span, and the
 * lowest value has some code q_lo, so m = lo - q_lo d. */
static int exact_q4_1(const float *x, tb_block_q4_1 *b)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; j++) {
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    if (lo == hi)
        return try_q4_1(x, 0, lo, b);
    for (int span = 15; span >= 1; span--) {
        float d = (float)(((double)hi - lo) / span);
        for (int q_lo = 0; q_lo + span <= 15; q_lo++)
            if (try_q4_1(x, d, (float)((double)lo - (double)q_lo * d), b))
                return 1;
    }
    return 0;
}

int tb_quantize_row_exact(uint32_t type, const float *src, void *dst, int64_t n)
{
    if (n % 32 != 0)
        return -1;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *x = src + i * 32;
        int ok = 0;
        switch (type) {
        case T_Q8_0: ok = exact_q8_0(x, (tb_block_q8_0 *)dst + i); break;
        case T_Q4_0: ok = exact_q4_0(x, (tb_block_q4_0 *)dst + i); break;
        case T_Q4_1: ok = exact_q4_1(x, (tb_block_q4_1 *)dst + i); break;
        default: return -1;
        }
        if (!ok)
            return -1;
    }
    return 0;
}
