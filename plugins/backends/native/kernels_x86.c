/*
 * kernels_x86.c - AVX2 and AVX-512 dot products of f32 activations with
 * stored weights.  Compiled with per-function target attributes and chosen
 * at run time, so one binary runs on any x86-64 and uses what it finds.
 * Each block's integer-weighted products are scaled by the block's factor
 * as they are accumulated; the portable kernels in kernels.c are the
 * reference these are tested against.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

/* Decode streams every weight once, and one core alone cannot keep enough
 * cache misses in flight to use its share of the memory bandwidth when the
 * integer kernels' arithmetic fills the out-of-order window: a software
 * prefetch this many bytes ahead of the weight pointer raised packed Q4_0
 * from about 60% to over 80% of the streaming rate (bench/engine). */
#ifndef TB_PF_DIST
#define TB_PF_DIST 4096
#endif
#define TB_PREFETCH(p) _mm_prefetch((const char *)(p) + TB_PF_DIST, _MM_HINT_T0)

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q8_0 = 8, T_BF16 = 30 };

/* ---------------- AVX-512 ---------------- */

AVX512 static inline float hsum512(__m512 v)
{
    return _mm512_reduce_add_ps(v);
}

AVX512 static float dot_f32_512(const void *w, const float *x, int64_t n)
{
    const float *a = w;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        TB_PREFETCH(a + i);
        TB_PREFETCH(a + i + 16);
        TB_PREFETCH(a + i + 32);
        TB_PREFETCH(a + i + 48);
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(x + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(x + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(x + i + 48), s3);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, x + i), s0);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512 static float dot_f16_512(const void *w, const float *x, int64_t n)
{
    const uint16_t *a = w;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        TB_PREFETCH(a + i);
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i + 16)));
        s0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 w0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i));
        s0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x + i), s0);
    }
    return hsum512(_mm512_add_ps(s0, s1));
}

AVX512 static inline __m512 bf16x16(const uint16_t *p, __mmask16 m)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

AVX512 static float dot_bf16_512(const void *w, const float *x, int64_t n)
{
    const uint16_t *a = w;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        TB_PREFETCH(a + i);
        s0 = _mm512_fmadd_ps(bf16x16(a + i, 0xffff), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(bf16x16(a + i + 16, 0xffff), _mm512_loadu_ps(x + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(bf16x16(a + i, m), _mm512_maskz_loadu_ps(m, x + i), s0);
    }
    return hsum512(_mm512_add_ps(s0, s1));
}

AVX512 static inline __m512 i8x16(__m128i v)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v));
}

AVX512 static float dot_q8_0_512(const void *w, const float *x, int64_t n)
{
    const tb_block_q8_0 *b = w;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    int64_t nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2, x += 64) {
        __m512 d0 = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        __m512 d1 = _mm512_set1_ps(_cvtsh_ss(b[i + 1].d));
        __m128i q0 = _mm_loadu_si128((const __m128i *)b[i].qs);
        __m128i q1 = _mm_loadu_si128((const __m128i *)(b[i].qs + 16));
        __m128i q2 = _mm_loadu_si128((const __m128i *)b[i + 1].qs);
        __m128i q3 = _mm_loadu_si128((const __m128i *)(b[i + 1].qs + 16));
        __m512 p0 = _mm512_fmadd_ps(i8x16(q1), _mm512_loadu_ps(x + 16),
                                    _mm512_mul_ps(i8x16(q0), _mm512_loadu_ps(x)));
        __m512 p1 = _mm512_fmadd_ps(i8x16(q3), _mm512_loadu_ps(x + 48),
                                    _mm512_mul_ps(i8x16(q2), _mm512_loadu_ps(x + 32)));
        acc0 = _mm512_fmadd_ps(p0, d0, acc0);
        acc1 = _mm512_fmadd_ps(p1, d1, acc1);
    }
    for (; i < nb; i++, x += 32) {
        __m512 d0 = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        __m128i q0 = _mm_loadu_si128((const __m128i *)b[i].qs);
        __m128i q1 = _mm_loadu_si128((const __m128i *)(b[i].qs + 16));
        __m512 p0 = _mm512_fmadd_ps(i8x16(q1), _mm512_loadu_ps(x + 16),
                                    _mm512_mul_ps(i8x16(q0), _mm512_loadu_ps(x)));
        acc0 = _mm512_fmadd_ps(p0, d0, acc0);
    }
    return hsum512(_mm512_add_ps(acc0, acc1));
}

/* Low nibbles hold elements 0-15 of a block, high nibbles 16-31. */
AVX512 static inline void nibbles(const uint8_t *qs, __m512 *lo, __m512 *hi)
{
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0x0f);
    __m128i l = _mm_and_si128(v, mask);
    __m128i h = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
    *lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(l));
    *hi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(h));
}

AVX512 static float dot_q4_0_512(const void *w, const float *x, int64_t n)
{
    const tb_block_q4_0 *b = w;
    __m512 acc = _mm512_setzero_ps(), eight = _mm512_set1_ps(8.0f);
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m512 lo, hi;
        nibbles(b[i].qs, &lo, &hi);
        lo = _mm512_sub_ps(lo, eight);
        hi = _mm512_sub_ps(hi, eight);
        __m512 p = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16),
                                   _mm512_mul_ps(lo, _mm512_loadu_ps(x)));
        acc = _mm512_fmadd_ps(p, _mm512_set1_ps(_cvtsh_ss(b[i].d)), acc);
    }
    return hsum512(acc);
}

AVX512 static float dot_q4_1_512(const void *w, const float *x, int64_t n)
{
    const tb_block_q4_1 *b = w;
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m512 lo, hi;
        nibbles(b[i].qs, &lo, &hi);
        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        __m512 p = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0));
        acc = _mm512_fmadd_ps(p, _mm512_set1_ps(_cvtsh_ss(b[i].d)), acc);
        accm = _mm512_fmadd_ps(_mm512_add_ps(x0, x1), _mm512_set1_ps(_cvtsh_ss(b[i].m)),
                               accm);
    }
    return hsum512(_mm512_add_ps(acc, accm));
}

/* ---------------- AVX2 ---------------- */

AVX2 static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static float dot_f32_256(const void *w, const float *x, int64_t n)
{
    const float *a = w;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(x + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(x + i + 24), s3);
    }
    float tail = 0;
    for (; i < n; i++)
        tail += a[i] * x[i];
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

AVX2 static float dot_f16_256(const void *w, const float *x, int64_t n)
{
    const uint16_t *a = w;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8)));
        s0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), s1);
    }
    float tail = 0;
    for (; i < n; i++)
        tail += tb_fp16_to_f32(a[i]) * x[i];
    return hsum256(_mm256_add_ps(s0, s1)) + tail;
}

AVX2 static float dot_bf16_256(const void *w, const float *x, int64_t n)
{
    const uint16_t *a = w;
    __m256 s0 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 w0 = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
        s0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), s0);
    }
    float tail = 0;
    for (; i < n; i++)
        tail += tb_bf16_to_f32(a[i]) * x[i];
    return hsum256(s0) + tail;
}

AVX2 static inline __m256 i8x8(const int8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

AVX2 static float dot_q8_0_256(const void *w, const float *x, int64_t n)
{
    const tb_block_q8_0 *b = w;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m256 p = _mm256_mul_ps(i8x8(b[i].qs), _mm256_loadu_ps(x));
        p = _mm256_fmadd_ps(i8x8(b[i].qs + 8), _mm256_loadu_ps(x + 8), p);
        p = _mm256_fmadd_ps(i8x8(b[i].qs + 16), _mm256_loadu_ps(x + 16), p);
        p = _mm256_fmadd_ps(i8x8(b[i].qs + 24), _mm256_loadu_ps(x + 24), p);
        acc = _mm256_fmadd_ps(p, _mm256_set1_ps(_cvtsh_ss(b[i].d)), acc);
    }
    return hsum256(acc);
}

AVX2 static inline void nibbles8(const uint8_t *qs, __m256 out[4])
{
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0x0f);
    __m128i l = _mm_and_si128(v, mask);
    __m128i h = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
    out[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(l));
    out[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(l, 8)));
    out[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(h));
    out[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(h, 8)));
}

AVX2 static float dot_q4_0_256(const void *w, const float *x, int64_t n)
{
    const tb_block_q4_0 *b = w;
    __m256 acc = _mm256_setzero_ps(), eight = _mm256_set1_ps(8.0f);
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m256 q[4];
        nibbles8(b[i].qs, q);
        __m256 p = _mm256_mul_ps(_mm256_sub_ps(q[0], eight), _mm256_loadu_ps(x));
        p = _mm256_fmadd_ps(_mm256_sub_ps(q[1], eight), _mm256_loadu_ps(x + 8), p);
        p = _mm256_fmadd_ps(_mm256_sub_ps(q[2], eight), _mm256_loadu_ps(x + 16), p);
        p = _mm256_fmadd_ps(_mm256_sub_ps(q[3], eight), _mm256_loadu_ps(x + 24), p);
        acc = _mm256_fmadd_ps(p, _mm256_set1_ps(_cvtsh_ss(b[i].d)), acc);
    }
    return hsum256(acc);
}

AVX2 static float dot_q4_1_256(const void *w, const float *x, int64_t n)
{
    const tb_block_q4_1 *b = w;
    __m256 acc = _mm256_setzero_ps(), accm = acc;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m256 q[4];
        nibbles8(b[i].qs, q);
        __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
        __m256 x2 = _mm256_loadu_ps(x + 16), x3 = _mm256_loadu_ps(x + 24);
        __m256 p = _mm256_mul_ps(q[0], x0);
        p = _mm256_fmadd_ps(q[1], x1, p);
        p = _mm256_fmadd_ps(q[2], x2, p);
        p = _mm256_fmadd_ps(q[3], x3, p);
        __m256 sx = _mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3));
        acc = _mm256_fmadd_ps(p, _mm256_set1_ps(_cvtsh_ss(b[i].d)), acc);
        accm = _mm256_fmadd_ps(sx, _mm256_set1_ps(_cvtsh_ss(b[i].m)), accm);
    }
    return hsum256(_mm256_add_ps(acc, accm));
}

/* ---------------- AVX-512 VNNI, int8 activations ---------------- */

VNNI static inline __m512 pair_scale(float s0, float s1)
{
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(s0)),
                                                _mm256_castps_pd(_mm256_set1_ps(s1)), 1));
}

/* Weights Q8_0 (signed) x activations (signed): vpdpbusd multiplies an
 * unsigned operand by a signed one, so the weights' signs move onto the
 * activations first.  Two blocks per 512-bit step. */
VNNI static inline __m512 q8_0_pair_dot(const tb_block_q8_0 *b, const int8_t *xq,
                                        const float *xd, int64_t i)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i wq = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b[i].qs)),
        _mm256_loadu_si256((const __m256i *)b[i + 1].qs), 1);
    __m512i xv = _mm512_loadu_si512((const void *)(xq + i * 32));
    __mmask64 neg = _mm512_movepi8_mask(wq);
    __m512i xs_signed = _mm512_mask_sub_epi8(xv, neg, zero, xv);
    __m512i dots = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wq), xs_signed);
    float s0 = _cvtsh_ss(b[i].d) * xd[i], s1 = _cvtsh_ss(b[i + 1].d) * xd[i + 1];
    return _mm512_mul_ps(_mm512_cvtepi32_ps(dots), pair_scale(s0, s1));
}

VNNI static float dot_q8_0_vnni(const void *w, const int8_t *xq, const float *xd,
                                const int32_t *xs, int64_t n)
{
    (void)xs;
    const tb_block_q8_0 *b = w;
    int64_t nb = n / 32, i = 0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    for (; i + 4 <= nb; i += 4) {
        TB_PREFETCH(b + i);
        TB_PREFETCH((const char *)(b + i) + 64);
        acc0 = _mm512_add_ps(acc0, q8_0_pair_dot(b, xq, xd, i));
        acc1 = _mm512_add_ps(acc1, q8_0_pair_dot(b, xq, xd, i + 2));
    }
    for (; i + 2 <= nb; i += 2)
        acc0 = _mm512_add_ps(acc0, q8_0_pair_dot(b, xq, xd, i));
    float tail = 0;
    for (; i < nb; i++) {
        int32_t dot = 0;
        for (int j = 0; j < 32; j++)
            dot += b[i].qs[j] * xq[i * 32 + j];
        tail += _cvtsh_ss(b[i].d) * xd[i] * (float)dot;
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + tail;
}

/* Two Q4 blocks' nibbles as 64 unsigned bytes in element order: elements
 * 0-15 of block i are its low nibbles, 16-31 its high ones. */
VNNI static inline __m512i q4_pair(const uint8_t *qs0, const uint8_t *qs1)
{
    __m256i v = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qs0)),
        _mm_loadu_si128((const __m128i *)qs1), 1);
    __m256i mask = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, mask);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    /* 128-bit lanes [lo_i, lo_i+1, hi_i, hi_i+1] -> [lo_i, hi_i, lo_i+1, hi_i+1] */
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}


/* Q4_0: sum (q - 8) x = sum q x - sum 8 x; both sums come from vpdpbusd
 * in the integer domain, so no per-block scalar correction is needed. */
VNNI static inline __m512 q4_0_pair_dot(const tb_block_q4_0 *b, const int8_t *xq,
                                        const float *xd, int64_t i)
{
    const __m512i eight = _mm512_set1_epi8(8);
    __m512i q = q4_pair(b[i].qs, b[i + 1].qs);
    __m512i xv = _mm512_loadu_si512((const void *)(xq + i * 32));
    __m512i dots = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xv);
    dots = _mm512_sub_epi32(dots, _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, xv));
    float s0 = _cvtsh_ss(b[i].d) * xd[i], s1 = _cvtsh_ss(b[i + 1].d) * xd[i + 1];
    return _mm512_mul_ps(_mm512_cvtepi32_ps(dots), pair_scale(s0, s1));
}

/* Q4_0: sum (q - 8) x = sum q x - sum 8 x; both sums come from vpdpbusd
 * in the integer domain.  Two accumulators keep consecutive block pairs
 * from waiting on each other's additions. */
VNNI static float dot_q4_0_vnni(const void *w, const int8_t *xq, const float *xd,
                                const int32_t *xs, int64_t n)
{
    const tb_block_q4_0 *b = w;
    int64_t nb = n / 32, i = 0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    for (; i + 4 <= nb; i += 4) {
        TB_PREFETCH(b + i);
        acc0 = _mm512_add_ps(acc0, q4_0_pair_dot(b, xq, xd, i));
        acc1 = _mm512_add_ps(acc1, q4_0_pair_dot(b, xq, xd, i + 2));
    }
    for (; i + 2 <= nb; i += 2)
        acc0 = _mm512_add_ps(acc0, q4_0_pair_dot(b, xq, xd, i));
    float tail = 0;
    for (; i < nb; i++) {
        int32_t dot = 0;
        for (int j = 0; j < 16; j++)
            dot += (b[i].qs[j] & 0x0f) * xq[i * 32 + j] + (b[i].qs[j] >> 4) * xq[i * 32 + 16 + j];
        tail += _cvtsh_ss(b[i].d) * xd[i] * (float)(dot - 8 * xs[i]);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + tail;
}

/* Q4_1: sum (d q + m) x = d sum q x + m sum x. */
VNNI static float dot_q4_1_vnni(const void *w, const int8_t *xq, const float *xd,
                                const int32_t *xs, int64_t n)
{
    const tb_block_q4_1 *b = w;
    int64_t nb = n / 32, i = 0;
    __m512 acc = _mm512_setzero_ps();
    float mins = 0;
    for (; i + 2 <= nb; i += 2) {
        TB_PREFETCH(b + i);
        __m512i q = q4_pair(b[i].qs, b[i + 1].qs);
        __m512i xv = _mm512_loadu_si512((const void *)(xq + i * 32));
        __m512i dots = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xv);
        float s0 = _cvtsh_ss(b[i].d) * xd[i], s1 = _cvtsh_ss(b[i + 1].d) * xd[i + 1];
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), pair_scale(s0, s1), acc);
        mins += _cvtsh_ss(b[i].m) * xd[i] * (float)xs[i] +
                _cvtsh_ss(b[i + 1].m) * xd[i + 1] * (float)xs[i + 1];
    }
    float tail = 0;
    for (; i < nb; i++) {
        int32_t dot = 0;
        for (int j = 0; j < 16; j++)
            dot += (b[i].qs[j] & 0x0f) * xq[i * 32 + j] + (b[i].qs[j] >> 4) * xq[i * 32 + 16 + j];
        tail += _cvtsh_ss(b[i].d) * xd[i] * (float)dot;
        mins += _cvtsh_ss(b[i].m) * xd[i] * (float)xs[i];
    }
    return _mm512_reduce_add_ps(acc) + tail + mins;
}

/* Packed block scale i as a float; the row need not be 2-byte aligned
 * (the vector loads of the scales do not care either). */
VNNI static inline float scale_at(const uint16_t *d, int64_t i)
{
    uint16_t h;
    memcpy(&h, (const char *)d + 2 * i, sizeof h);
    return _cvtsh_ss(h);
}

/* The scales of up to 16 packed blocks from i0 (weight scale times
 * activation scale, one per lane; lanes past the row's end are 0) and
 * how many blocks that is. */
VNNI static inline __m512 group_scales(const uint16_t *d, const float *xd, int64_t i0,
                                       int64_t nb, int64_t *cnt, __mmask16 *m)
{
    *cnt = nb - i0 < 16 ? nb - i0 : 16;
    *m = *cnt == 16 ? 0xffff : (__mmask16)((1u << *cnt) - 1);
    return _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(*m, d + i0)),
                         _mm512_maskz_loadu_ps(*m, xd + i0));
}

/* A partial last group of packed Q4_0 (fewer than 16 blocks, in block
 * order, activations quad-interleaved): four blocks' nibbles are one
 * 64-byte load whose low and high nibbles match the two interleaved
 * activation vectors lane for lane, so one vpdpbusd each and an add give
 * every block's dot in four lanes, scaled by one permute of the scales;
 * the last one to three blocks are summed one at a time. */
VNNI static inline void q4_0_partial_group(const uint8_t *qs, const uint16_t *d,
                                           const int8_t *xq, const float *xd, int64_t i0,
                                           int64_t cnt, __m512 S, __m512 *acc0, __m512 *acc1,
                                           float *tail)
{
    static const int32_t lane_block[4][16] = {
        {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
        {4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7},
        {8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11},
        {12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15}};
    const __m512i mask = _mm512_set1_epi8(0x0f);
    int64_t quads = cnt / 4;
    for (int64_t j = 0; j < quads; j++) {
        int64_t i = i0 + 4 * j;
        __m512i v = _mm512_loadu_si512((const void *)(qs + i * 16));
        __m512i lo = _mm512_and_si512(v, mask);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
        __m512i dots = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo,
                                           _mm512_loadu_si512((const void *)(xq + i * 32)));
        dots = _mm512_dpbusd_epi32(dots, hi, _mm512_loadu_si512((const void *)(xq + i * 32 + 64)));
        __m512 sc = _mm512_permutexvar_ps(_mm512_loadu_si512(lane_block[j]), S);
        if (j & 1)
            *acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), sc, *acc1);
        else
            *acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), sc, *acc0);
    }
    for (int64_t i = i0 + quads * 4; i < i0 + cnt; i++) {
        const uint8_t *b = qs + i * 16;
        int32_t dot = 0;
        for (int k = 0; k < 16; k++)
            dot += (b[k] & 0x0f) * xq[i * 32 + k] + (b[k] >> 4) * xq[i * 32 + 16 + k];
        *tail += scale_at(d, i) * xd[i] * (float)dot;
    }
}

/* Packed Q4_0 (tb_q4_0_pack, activations in arrange_q4_0's order).  A
 * whole group of 16 blocks is four 64-byte loads; in each, lane k holds
 * four bytes of block k, and the activations sit in the same lanes, so
 * eight vpdpbusd leave block k's integer dot in lane k of one
 * accumulator: one conversion and one multiply-add by the 16 scales
 * (converted at once) finish the group.  That is 22 vector operations
 * per 512 weights where a permute per four blocks took 32, and decoding
 * shares the core with the memory stalls.  The -8 offset is applied per
 * group from the activation sums.
 *
 * A row's sums live in a q4_0_row, advanced one group at a time, so the
 * one-row and the two-row routines (below) run the same operations on
 * each row and give bit-identical results. */
typedef struct q4_0_row {
    const uint16_t *d;
    const uint8_t *qs;
    __m512 acc, acc0, acc1, corr;
    float tail;
} q4_0_row;

VNNI static inline void q4_0_row_init(q4_0_row *r, const void *w, int64_t nb)
{
    int64_t nd = (nb + 31) / 32 * 32; /* tb_q4_0_pack's layout */
    r->d = w;
    r->qs = (const uint8_t *)w + nd * 2;
    r->acc = r->acc0 = r->acc1 = r->corr = _mm512_setzero_ps();
    r->tail = 0;
}

/* The group of blocks from i0 (a multiple of 16). */
VNNI static inline void q4_0_row_group(q4_0_row *r, const int8_t *xq, const float *xd,
                                       const int32_t *xs, int64_t i0, int64_t nb)
{
    int64_t cnt;
    __mmask16 m;
    __m512 S = group_scales(r->d, xd, i0, nb, &cnt, &m);
    r->corr = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, xs + i0)), S,
                              r->corr);
    if (cnt < 16) {
        q4_0_partial_group(r->qs, r->d, xq, xd, i0, cnt, S, &r->acc0, &r->acc1, &r->tail);
        return;
    }
    const __m512i mask = _mm512_set1_epi8(0x0f);
    const uint8_t *g = r->qs + i0 * 16;
    const int8_t *xg = xq + i0 * 32;
    __m512i dlo = _mm512_setzero_si512(), dhi = dlo;
    for (int j = 0; j < 4; j++) {
        TB_PREFETCH(g + 64 * j);
        __m512i v = _mm512_loadu_si512((const void *)(g + 64 * j));
        dlo = _mm512_dpbusd_epi32(dlo, _mm512_and_si512(v, mask),
                                  _mm512_loadu_si512((const void *)(xg + 128 * j)));
        dhi = _mm512_dpbusd_epi32(dhi, _mm512_andnot_si512(mask, v),
                                  _mm512_loadu_si512((const void *)(xg + 128 * j + 64)));
    }
    /* dhi holds 16 times the high nibbles' dots (they were not shifted
     * down: the shifts would share port 0 with vpdpbusd); 16 dlo + dhi is
     * exact in int32, and 1/16 of the scales is exact too. */
    __m512i t16 = _mm512_add_epi32(_mm512_slli_epi32(dlo, 4), dhi);
    r->acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t16), _mm512_mul_ps(S, _mm512_set1_ps(0.0625f)),
                             r->acc);
}

VNNI static inline float q4_0_row_sum(const q4_0_row *r)
{
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(r->acc0, r->acc1), r->acc)) +
           r->tail - 8.0f * _mm512_reduce_add_ps(r->corr);
}

VNNI static float dot_q4_0_packed(const void *w, const int8_t *xq, const float *xd,
                                  const int32_t *xs, int64_t n)
{
    int64_t nb = n / 32;
    q4_0_row r;
    q4_0_row_init(&r, w, nb);
    for (int64_t i0 = 0; i0 < nb; i0 += 16)
        q4_0_row_group(&r, xq, xd, xs, i0, nb);
    return q4_0_row_sum(&r);
}

/* Two rows side by side: the core has both rows' reads in flight at once,
 * and the activations are loaded once for both. */
VNNI static void dot2_q4_0_packed(const void *w0, const void *w1, const int8_t *xq,
                                  const float *xd, const int32_t *xs, int64_t n, float out[2])
{
    int64_t nb = n / 32;
    q4_0_row a, b;
    q4_0_row_init(&a, w0, nb);
    q4_0_row_init(&b, w1, nb);
    for (int64_t i0 = 0; i0 < nb; i0 += 16) {
        q4_0_row_group(&a, xq, xd, xs, i0, nb);
        q4_0_row_group(&b, xq, xd, xs, i0, nb);
    }
    out[0] = q4_0_row_sum(&a);
    out[1] = q4_0_row_sum(&b);
}

/* Packed Q8_0 (tb_q8_0_pack): two blocks' quants are one aligned 64-byte
 * load, their scales one permute of 16 converted at once, so a pair costs
 * nine vector instructions where the 34-byte blocks need about twenty
 * (two unaligned half loads, two scalar scale conversions, a broadcast).
 * As for Q4_0, a row's sums advance a group at a time in a q8_0_row. */
typedef struct q8_0_row {
    const uint16_t *d;
    const int8_t *qs;
    __m512 acc0, acc1;
    float tail;
} q8_0_row;

VNNI static inline void q8_0_row_init(q8_0_row *r, const void *w, int64_t nb)
{
    int64_t nd = (nb + 31) / 32 * 32;
    r->d = w;
    r->qs = (const int8_t *)w + nd * 2;
    r->acc0 = r->acc1 = _mm512_setzero_ps();
    r->tail = 0;
}

VNNI static inline void q8_0_row_group(q8_0_row *r, const int8_t *xq, const float *xd,
                                       int64_t i0, int64_t nb)
{
    const __m512i zero = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi32(1);
    int64_t cnt;
    __mmask16 m;
    __m512 S = group_scales(r->d, xd, i0, nb, &cnt, &m);
    (void)m;
    /* lanes 0-7 take block 2j's scale, lanes 8-15 block 2j+1's */
    __m512i idx = _mm512_srli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8,
                                                      7, 6, 5, 4, 3, 2, 1, 0), 3);
    int64_t pairs = cnt / 2;
    for (int64_t j = 0; j < pairs; j++) {
        int64_t i = i0 + 2 * j;
        TB_PREFETCH(r->qs + i * 32);
        __m512i wq = _mm512_loadu_si512((const void *)(r->qs + i * 32));
        __m512i xv = _mm512_loadu_si512((const void *)(xq + i * 32));
        __m512i xs_signed = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(wq), zero, xv);
        __m512i dots = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wq), xs_signed);
        __m512 sc = _mm512_permutexvar_ps(idx, S);
        idx = _mm512_add_epi32(idx, _mm512_add_epi32(one, one));
        if (j & 1)
            r->acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), sc, r->acc1);
        else
            r->acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), sc, r->acc0);
    }
    if (cnt & 1) { /* a row of an odd number of blocks ends with one */
        int64_t i = i0 + cnt - 1;
        int32_t dot = 0;
        for (int k = 0; k < 32; k++)
            dot += r->qs[i * 32 + k] * xq[i * 32 + k];
        r->tail += scale_at(r->d, i) * xd[i] * (float)dot;
    }
}

VNNI static inline float q8_0_row_sum(const q8_0_row *r)
{
    return _mm512_reduce_add_ps(_mm512_add_ps(r->acc0, r->acc1)) + r->tail;
}

VNNI static float dot_q8_0_packed(const void *w, const int8_t *xq, const float *xd,
                                  const int32_t *xs, int64_t n)
{
    (void)xs;
    int64_t nb = n / 32;
    q8_0_row r;
    q8_0_row_init(&r, w, nb);
    for (int64_t i0 = 0; i0 < nb; i0 += 16)
        q8_0_row_group(&r, xq, xd, i0, nb);
    return q8_0_row_sum(&r);
}

VNNI static void dot2_q8_0_packed(const void *w0, const void *w1, const int8_t *xq,
                                  const float *xd, const int32_t *xs, int64_t n, float out[2])
{
    (void)xs;
    int64_t nb = n / 32;
    q8_0_row a, b;
    q8_0_row_init(&a, w0, nb);
    q8_0_row_init(&b, w1, nb);
    for (int64_t i0 = 0; i0 < nb; i0 += 16) {
        q8_0_row_group(&a, xq, xd, i0, nb);
        q8_0_row_group(&b, xq, xd, i0, nb);
    }
    out[0] = q8_0_row_sum(&a);
    out[1] = q8_0_row_sum(&b);
}

tb_dot_q8_fn tb_dot_q8_packed_x86(uint32_t type, tb_isa isa);
tb_dot_q8_fn tb_dot_q8_packed_x86(uint32_t type, tb_isa isa)
{
    if (isa != TB_ISA_AVX512_VNNI)
        return NULL;
    return type == T_Q4_0 ? dot_q4_0_packed : type == T_Q8_0 ? dot_q8_0_packed : NULL;
}

tb_dot2_q8_fn tb_dot2_q8_x86(tb_dot_q8_fn dot);
tb_dot2_q8_fn tb_dot2_q8_x86(tb_dot_q8_fn dot)
{
    return dot == dot_q4_0_packed ? dot2_q4_0_packed
           : dot == dot_q8_0_packed ? dot2_q8_0_packed
                                    : NULL;
}

/* tb_quantize_x_q8 with AVX-512: the same operations in the same order
 * per element (|x| max, d = amax / 127, 1 / d, x * (1 / d) rounded to
 * nearest even as lrintf does), so the quants are bit-identical. */
AVX512 static void quantize_x_q8_512(const float *x, int64_t n, tb_xq8 *out)
{
    for (int64_t b = 0; b < n / 32; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
        _mm_storeu_si128((__m128i *)(out->q + b * 32), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(out->q + b * 32 + 16), _mm512_cvtsepi32_epi8(q1));
        out->d[b] = d;
        out->s[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

int tb_quantize_x_q8_x86(const float *x, int64_t n, tb_xq8 *out);
int tb_quantize_x_q8_x86(const float *x, int64_t n, tb_xq8 *out)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
        return -1;
    quantize_x_q8_512(x, n, out);
    return 0;
}

tb_dot_q8_fn tb_dot_q8_x86(uint32_t type, tb_isa isa);
tb_dot_q8_fn tb_dot_q8_x86(uint32_t type, tb_isa isa)
{
    if (isa != TB_ISA_AVX512_VNNI)
        return NULL;
    switch (type) {
    case T_Q8_0: return dot_q8_0_vnni;
    case T_Q4_0: return dot_q4_0_vnni;
    case T_Q4_1: return dot_q4_1_vnni;
    }
    return NULL;
}

AVX512 static void axpy_512(float *y, float a, const float *x, int64_t n)
{
    __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 yv = _mm512_maskz_loadu_ps(m, y + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), yv));
    }
}

AVX2 static void axpy_256(float *y, float a, const float *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* Sixteen vectors' horizontal sums as one vector, lane j the sum of
 * v[j]: a tree of 15 shuffles and adds where 16 separate reductions take
 * 64.  Each level halves the lanes each sum still spans. */
AVX512 static inline __m512 hsum16(const __m512 *v)
{
    __m512 a[8], b[4], c[2];
    for (int k = 0; k < 8; k++) /* 256-bit halves: lanes 0-7 v[2k], 8-15 v[2k+1] */
        a[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xee));
    for (int k = 0; k < 4; k++) /* 128-bit quarters: one per vector */
        b[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xdd));
    for (int k = 0; k < 2; k++) /* pairs of lanes */
        c[k] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0x44),
                             _mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0xee));
    __m512 d = _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88),
                             _mm512_shuffle_ps(c[0], c[1], 0xdd));
    /* the tree leaves the sums in this lane order */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, d);
}

/* One key row's partial products with a head's query, 16 lanes. */
AVX512 __attribute__((always_inline)) static inline __m512 key_dot(const float *row,
                                                                   const __m512 *qv, int nc)
{
    __m512 a = _mm512_mul_ps(_mm512_loadu_ps(row), qv[0]);
    for (int c = 1; c < nc; c++)
        a = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * c), qv[c], a);
    return a;
}

/* Attention scores of a group of query heads sharing one key head (head
 * g's query at q + g * hd, its scores at out + g * ldo) over n cached
 * keys (rows of `stride` floats); head size a multiple of 16 up to 256.
 * Sixteen keys at a time, their dot products reduced together; the block
 * stays in L1 while every head of the group reads it, so the cache is
 * streamed once per key head, not once per query head. */
#define INLINE_AVX512 AVX512 __attribute__((always_inline))

INLINE_AVX512 static inline void attn_scores_body(const float *k, size_t stride, int32_t n,
                                                  const float *q, int group, int hd,
                                                  float scale, float *out, size_t ldo,
                                                  const int nc)
{
    __m512 vs = _mm512_set1_ps(scale);
    for (int32_t t0 = 0; t0 < n; t0 += 16) {
        int32_t cnt = n - t0 < 16 ? n - t0 : 16;
        for (int g = 0; g < group; g++) {
            __m512 qv[16];
            for (int c = 0; c < nc; c++)
                qv[c] = _mm512_loadu_ps(q + (size_t)g * (size_t)hd + 16 * (size_t)c);
            float *o = out + (size_t)g * ldo + t0;
            if (cnt == 16) {
                __m512 acc[16];
                for (int j = 0; j < 16; j++)
                    acc[j] = key_dot(k + (size_t)(t0 + j) * stride, qv, nc);
                _mm512_storeu_ps(o, _mm512_mul_ps(hsum16(acc), vs));
            } else {
                for (int j = 0; j < cnt; j++)
                    o[j] = _mm512_reduce_add_ps(key_dot(k + (size_t)(t0 + j) * stride, qv,
                                                        nc)) * scale;
            }
        }
    }
}

/* The bodies are instantiated for the common head sizes (64, 128), where
 * a constant count of 16-float chunks lets every inner loop unroll into
 * registers. */
AVX512 static void attn_scores_512(const void *kv, size_t stride, int32_t n, const float *q,
                                   int group, int hd, float scale, float *out, size_t ldo)
{
    const float *k = kv;
    if (hd == 64)
        attn_scores_body(k, stride, n, q, group, hd, scale, out, ldo, 4);
    else if (hd == 128)
        attn_scores_body(k, stride, n, q, group, hd, scale, out, ldo, 8);
    else
        attn_scores_body(k, stride, n, q, group, hd, scale, out, ldo, hd / 16);
}

/* Adds rows t0..t1 of v, weighted by head g's a, to head g's sum; two
 * heads at once when `two`: the row loads are shared and the two heads'
 * chains of additions interleave, which hides the FMA latency that one
 * head's few chains leave exposed.  Each head's additions keep their
 * order. */
INLINE_AVX512 static inline void wsum_rows(const float *v, size_t stride, int32_t t0,
                                           int32_t t1, const float *a0, const float *a1,
                                           float *o0, float *o1, const int nc, const int two)
{
    __m512 acc0[16], acc1[16];
    for (int c = 0; c < nc; c++) {
        acc0[c] = _mm512_loadu_ps(o0 + 16 * c);
        if (two)
            acc1[c] = _mm512_loadu_ps(o1 + 16 * c);
    }
    for (int32_t t = t0; t < t1; t++) {
        const float *row = v + (size_t)t * stride;
        __m512 w0 = _mm512_set1_ps(a0[t]), w1 = two ? _mm512_set1_ps(a1[t]) : w0;
        for (int c = 0; c < nc; c++) {
            __m512 x = _mm512_loadu_ps(row + 16 * c);
            acc0[c] = _mm512_fmadd_ps(w0, x, acc0[c]);
            if (two)
                acc1[c] = _mm512_fmadd_ps(w1, x, acc1[c]);
        }
    }
    for (int c = 0; c < nc; c++) {
        _mm512_storeu_ps(o0 + 16 * c, acc0[c]);
        if (two)
            _mm512_storeu_ps(o1 + 16 * c, acc1[c]);
    }
}

/* Rows t0..t1 of v, weighted by a[g * lda + t], added to every head's
 * sum, two heads at a time. */
INLINE_AVX512 static inline void wsum_block_body(const float *v, size_t stride, int32_t t0,
                                                 int32_t t1, const float *a, size_t lda,
                                                 int group, int hd, float *out, const int nc)
{
    int g = 0;
    for (; g + 2 <= group; g += 2)
        wsum_rows(v, stride, t0, t1, a + (size_t)g * lda, a + (size_t)(g + 1) * lda,
                  out + (size_t)g * (size_t)hd, out + (size_t)(g + 1) * (size_t)hd, nc, 1);
    if (g < group)
        wsum_rows(v, stride, t0, t1, a + (size_t)g * lda, NULL, out + (size_t)g * (size_t)hd,
                  NULL, nc, 0);
}

/* wsum_block_body instantiated for the common head sizes (64, 128), where
 * a constant count of 16-float chunks lets every inner loop unroll into
 * registers. */
AVX512 static void wsum_block(const float *v, size_t stride, int32_t t0, int32_t t1,
                              const float *a, size_t lda, int group, int hd, float *out)
{
    if (hd == 64)
        wsum_block_body(v, stride, t0, t1, a, lda, group, hd, out, 4);
    else if (hd == 128)
        wsum_block_body(v, stride, t0, t1, a, lda, group, hd, out, 8);
    else
        wsum_block_body(v, stride, t0, t1, a, lda, group, hd, out, hd / 16);
}

/* out (group heads of hd) = sum over t < n of a[g * lda + t] * v row t,
 * in blocks of 64 rows that stay in L1 while each head's sum, held in
 * registers, takes them in; the same additions in the same order as one
 * pass per head. */
AVX512 static void attn_wsum_512(const void *vv, size_t stride, int32_t n, const float *a,
                                 size_t lda, int group, int hd, float *out)
{
    const float *v = vv;
    memset(out, 0, (size_t)group * (size_t)hd * sizeof *out);
    for (int32_t t0 = 0; t0 < n; t0 += 64)
        wsum_block(v, stride, t0, n - t0 < 64 ? n : t0 + 64, a, lda, group, hd, out);
}

/* An f16 cache: rows widened into an L1 buffer a block at a time, which
 * the f32 kernels then read as they read an f32 cache.  The conversion
 * is exact, so the arithmetic is the f32 kernels' on the stored values.
 * The cache's bytes halve; attention's time falls less (about 15% at
 * 512 positions on the 1.1B shape), as it waits on one core's chain of
 * misses as much as on bandwidth and the widening costs instructions. */
enum { ATTN_F16_ROWS = 32 };

AVX512 static void widen_rows(const uint16_t *src, size_t stride, int32_t rows, int hd,
                              float *dst)
{
    for (int32_t t = 0; t < rows; t++)
        for (int c = 0; c < hd; c += 16)
            _mm512_storeu_ps(dst + (size_t)t * (size_t)hd + c,
                             _mm512_cvtph_ps(_mm256_loadu_si256(
                                 (const __m256i *)(src + (size_t)t * stride + c))));
}

AVX512 static void attn_scores_f16_512(const void *k, size_t stride, int32_t n, const float *q,
                                       int group, int hd, float scale, float *out, size_t ldo)
{
    float rows[16 * 256];
    for (int32_t t0 = 0; t0 < n; t0 += 16) {
        int32_t cnt = n - t0 < 16 ? n - t0 : 16;
        widen_rows((const uint16_t *)k + (size_t)t0 * stride, stride, cnt, hd, rows);
        attn_scores_512(rows, (size_t)hd, cnt, q, group, hd, scale, out + t0, ldo);
    }
}

AVX512 static void attn_wsum_f16_512(const void *v, size_t stride, int32_t n, const float *a,
                                     size_t lda, int group, int hd, float *out)
{
    float rows[ATTN_F16_ROWS * 256];
    memset(out, 0, (size_t)group * (size_t)hd * sizeof *out);
    for (int32_t t0 = 0; t0 < n; t0 += ATTN_F16_ROWS) {
        int32_t cnt = n - t0 < ATTN_F16_ROWS ? n - t0 : ATTN_F16_ROWS;
        widen_rows((const uint16_t *)v + (size_t)t0 * stride, stride, cnt, hd, rows);
        wsum_block(rows, (size_t)hd, 0, cnt, a + t0, lda, group, hd, out);
    }
}

int tb_attn_x86(tb_isa isa, int hd, int kv_f16, tb_attn_scores_fn *scores,
                tb_attn_wsum_fn *wsum);
int tb_attn_x86(tb_isa isa, int hd, int kv_f16, tb_attn_scores_fn *scores,
                tb_attn_wsum_fn *wsum)
{
    if (isa < TB_ISA_AVX512 || hd % 16 != 0 || hd > 256 || hd == 0)
        return -1;
    *scores = kv_f16 ? attn_scores_f16_512 : attn_scores_512;
    *wsum = kv_f16 ? attn_wsum_f16_512 : attn_wsum_512;
    return 0;
}

/* e^x for 16 floats within 2 ulp of expf: x = n ln2 + r with |r| <= ln2/2
 * (ln2 in two parts so r keeps its bits), e^r by its Taylor series to r^7
 * (truncation below 1e-8 relative), then scaled by 2^n, which also gives
 * expf's inf, 0 and denormals at the ends of the range. */
AVX512 static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-150.0f)), _mm512_set1_ps(150.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* a = silu(a) * b, sixteen at a time. */
AVX512 static void swiglu_512(float *a, const float *b, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        __m512 y = _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)),
                                 _mm512_maskz_loadu_ps(m, b + i));
        _mm512_mask_storeu_ps(a + i, m, y);
    }
}

/* softmax in place: the maximum, e^(x - max) summed in float lanes (the
 * lanes then in a fixed order), one division. */
AVX512 static void softmax_512(float *x, int64_t n)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + i));
    }
    __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmax));
        _mm512_mask_storeu_ps(x + i, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
    }
}

int tb_elementwise_x86(tb_isa isa, tb_swiglu_fn *swiglu, tb_softmax_fn *softmax);
int tb_elementwise_x86(tb_isa isa, tb_swiglu_fn *swiglu, tb_softmax_fn *softmax)
{
    if (isa < TB_ISA_AVX512)
        return -1;
    *swiglu = swiglu_512;
    *softmax = softmax_512;
    return 0;
}

tb_axpy_fn tb_axpy_x86(tb_isa isa);
tb_axpy_fn tb_axpy_x86(tb_isa isa)
{
    return isa >= TB_ISA_AVX512 ? axpy_512 : isa == TB_ISA_AVX2 ? axpy_256 : NULL;
}

tb_dot_fn tb_dot_x86(uint32_t type, tb_isa isa);
tb_dot_fn tb_dot_x86(uint32_t type, tb_isa isa)
{
    if (isa >= TB_ISA_AVX512) {
        switch (type) {
        case T_F32: return dot_f32_512;
        case T_F16: return dot_f16_512;
        case T_BF16: return dot_bf16_512;
        case T_Q8_0: return dot_q8_0_512;
        case T_Q4_0: return dot_q4_0_512;
        case T_Q4_1: return dot_q4_1_512;
        }
    } else if (isa == TB_ISA_AVX2) {
        switch (type) {
        case T_F32: return dot_f32_256;
        case T_F16: return dot_f16_256;
        case T_BF16: return dot_bf16_256;
        case T_Q8_0: return dot_q8_0_256;
        case T_Q4_0: return dot_q4_0_256;
        case T_Q4_1: return dot_q4_1_256;
        }
    }
    return NULL;
}
