/* kernels.c - portable kernels, the SIMD dispatch, and the threaded matmul. */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

/* ggml type numbers */
enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q8_0 = 8, T_BF16 = 30 };

/* Eight partial sums, combined in a fixed order: vectorisable without
 * -ffast-math, and the same result every time. */
static float dot_f32(const void *w, const float *x, int64_t n)
{
    const float *a = w;
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * x[i + k];
    for (int k = 0; i < n; i++, k++)
        s[k] += a[i] * x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_f16(const void *w, const float *x, int64_t n)
{
    const uint16_t *a = w;
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += tb_fp16_to_f32(a[i + k]) * x[i + k];
    for (int k = 0; i < n; i++, k++)
        s[k] += tb_fp16_to_f32(a[i]) * x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_bf16(const void *w, const float *x, int64_t n)
{
    const uint16_t *a = w;
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += tb_bf16_to_f32(a[i + k]) * x[i + k];
    for (int k = 0; i < n; i++, k++)
        s[k] += tb_bf16_to_f32(a[i]) * x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Block formats: the scale multiplies the block's integer-weighted sum, the
 * order every implementation here follows. */
static float dot_q8_0(const void *w, const float *x, int64_t n)
{
    const tb_block_q8_0 *b = w;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float s[8] = {0};
        for (int j = 0; j < 32; j += 8)
            for (int k = 0; k < 8; k++)
                s[k] += (float)b[i].qs[j + k] * x[j + k];
        float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        sum += t * tb_fp16_to_f32(b[i].d);
    }
    return sum;
}

static float dot_q4_0(const void *w, const float *x, int64_t n)
{
    const tb_block_q4_0 *b = w;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float s[8] = {0};
        for (int j = 0; j < 16; j += 8)
            for (int k = 0; k < 8; k++) {
                s[k] += (float)((b[i].qs[j + k] & 0x0f) - 8) * x[j + k];
            }
        for (int j = 0; j < 16; j += 8)
            for (int k = 0; k < 8; k++)
                s[k] += (float)((b[i].qs[j + k] >> 4) - 8) * x[16 + j + k];
        float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        sum += t * tb_fp16_to_f32(b[i].d);
    }
    return sum;
}

static float dot_q4_1(const void *w, const float *x, int64_t n)
{
    const tb_block_q4_1 *b = w;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float s[8] = {0}, xs[8] = {0};
        for (int j = 0; j < 16; j += 8)
            for (int k = 0; k < 8; k++) {
                s[k] += (float)(b[i].qs[j + k] & 0x0f) * x[j + k];
                xs[k] += x[j + k];
            }
        for (int j = 0; j < 16; j += 8)
            for (int k = 0; k < 8; k++) {
                s[k] += (float)(b[i].qs[j + k] >> 4) * x[16 + j + k];
                xs[k] += x[16 + j + k];
            }
        float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        float u = ((xs[0] + xs[1]) + (xs[2] + xs[3])) + ((xs[4] + xs[5]) + (xs[6] + xs[7]));
        sum += t * tb_fp16_to_f32(b[i].d) + u * tb_fp16_to_f32(b[i].m);
    }
    return sum;
}

tb_dot_fn tb_dot_portable(uint32_t type);
tb_dot_fn tb_dot_portable(uint32_t type)
{
    switch (type) {
    case T_F32: return dot_f32;
    case T_F16: return dot_f16;
    case T_BF16: return dot_bf16;
    case T_Q8_0: return dot_q8_0;
    case T_Q4_0: return dot_q4_0;
    case T_Q4_1: return dot_q4_1;
    }
    return NULL;
}

#ifdef TB_HAVE_X86_KERNELS
/* Implemented in kernels_x86.c with target attributes. */
tb_dot_fn tb_dot_x86(uint32_t type, tb_isa isa);
tb_dot_q8_fn tb_dot_q8_x86(uint32_t type, tb_isa isa);
#endif

static void axpy_portable(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

#ifdef TB_HAVE_X86_KERNELS
tb_axpy_fn tb_axpy_x86(tb_isa isa);
#endif

tb_axpy_fn tb_axpy_for(tb_isa isa)
{
#ifdef TB_HAVE_X86_KERNELS
    tb_axpy_fn f = tb_axpy_x86(isa);
    if (f)
        return f;
#else
    (void)isa;
#endif
    return axpy_portable;
}

#ifdef TB_HAVE_X86_KERNELS
int tb_elementwise_x86(tb_isa isa, tb_swiglu_fn *swiglu, tb_softmax_fn *softmax);
#endif

void tb_elementwise_for(tb_isa isa, tb_swiglu_fn *swiglu, tb_softmax_fn *softmax)
{
#ifdef TB_HAVE_X86_KERNELS
    if (tb_elementwise_x86(isa, swiglu, softmax) == 0)
        return;
#else
    (void)isa;
#endif
    *swiglu = tb_swiglu;
    *softmax = tb_softmax;
}

#ifdef TB_HAVE_X86_KERNELS
int tb_attn_x86(tb_isa isa, int hd, int kv_f16, tb_attn_scores_fn *scores,
                tb_attn_wsum_fn *wsum);
#endif

int tb_attn_for(tb_isa isa, int hd, int kv_f16, tb_attn_scores_fn *scores,
                tb_attn_wsum_fn *wsum)
{
#ifdef TB_HAVE_X86_KERNELS
    return tb_attn_x86(isa, hd, kv_f16, scores, wsum);
#else
    (void)isa;
    (void)hd;
    (void)kv_f16;
    (void)scores;
    (void)wsum;
    return -1;
#endif
}

tb_dot_q8_fn tb_dot_q8_for(uint32_t type, tb_isa isa)
{
#ifdef TB_HAVE_X86_KERNELS
    if (isa == TB_ISA_AVX512_VNNI)
        return tb_dot_q8_x86(type, isa);
#endif
    (void)type;
    (void)isa;
    return NULL;
}

#ifdef TB_HAVE_X86_KERNELS
int tb_quantize_x_q8_x86(const float *x, int64_t n, tb_xq8 *out);
#endif

void tb_quantize_x_q8(const float *x, int64_t n, tb_xq8 *out)
{
#ifdef TB_HAVE_X86_KERNELS
    if (tb_quantize_x_q8_x86(x, n, out) == 0)
        return;
#endif
    for (int64_t b = 0; b < n / 32; b++) {
        const float *v = x + b * 32;
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)lrintf(v[j] * id);
            out->q[b * 32 + j] = (int8_t)q;
            sum += q;
        }
        out->d[b] = d;
        out->s[b] = sum;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* F16C is read from CPUID directly: clang's __builtin_cpu_supports does
 * not know the name. */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

tb_isa tb_isa_detect(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!has_f16c() || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return TB_ISA_PORTABLE;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return __builtin_cpu_supports("avx512vnni") ? TB_ISA_AVX512_VNNI : TB_ISA_AVX512;
    return TB_ISA_AVX2;
#else
    return TB_ISA_PORTABLE;
#endif
}

const char *tb_isa_name(tb_isa isa)
{
    switch (isa) {
    case TB_ISA_AVX512_VNNI: return "avx512-vnni";
    case TB_ISA_AVX512: return "avx512";
    case TB_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}

tb_dot_fn tb_dot_for(uint32_t type, tb_isa isa)
{
    tb_dot_fn f = NULL;
#ifdef TB_HAVE_X86_KERNELS
    if (isa != TB_ISA_PORTABLE)
        f = tb_dot_x86(type, isa);
#else
    (void)isa;
#endif
    return f ? f : tb_dot_portable(type);
}

/* One core keeps more of its memory reads in flight when it streams two
 * runs of weight rows at once than one: the hardware prefetcher follows
 * each run on its own, and each pauses where a page ends.  So the threads
 * take chunks of TB_CHUNK_ROWS rows and read row j of a chunk's first half
 * beside row j of its second half: through the kernel's two-row twin when
 * it has one (packed Q8_0, Q4_0), else one row after the other.  Every
 * output is still the one-row routine's result; only the order of work
 * changes.  Decoding the 1.1B shape, the two halves in turn gained 4-9%
 * tokens/s for Q4_0 over chunks of 64 read in order, and 6-10% for BF16
 * over a static split; the two-row kernels gained 3-10% more
 * (doc/performance.md). */
enum { TB_CHUNK_ROWS = 128 };

/* The k-th row visited (k < hi - lo) in the chunk [lo, hi) when the
 * kernel reads one row at a time: lo, lo + half, lo + 1, lo + half + 1 ... */
static inline int64_t chunk_row(int64_t lo, int64_t hi, int64_t k)
{
    int64_t half = (hi - lo + 1) / 2;
    return lo + k / 2 + (k & 1) * half;
}

void tb_matmul(tb_dot_fn dot, const void *w, uint64_t row_bytes, int64_t in,
               int64_t out, const float *x, int64_t M, float *y, int64_t ldy,
               const float *bias, int threads)
{
    const uint8_t *wb = w;
    /* Rows of activations in tiles of about 512 KiB, so a tile stays in L2
     * while every weight row streams past it once; each output is still one
     * dot call, so tiling changes no result. */
    int64_t tile = (int64_t)(131072 / (in > 0 ? in : 1));
    if (tile < 1)
        tile = 1;
    for (int64_t m0 = 0; m0 < M; m0 += tile) {
        int64_t m1 = m0 + tile < M ? m0 + tile : M;
        /* Two read streams per core, as in tb_matmul_q8_parts below. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && out * (m1 - m0) * in > 65536)
        for (int64_t c = 0; c < (out + TB_CHUNK_ROWS - 1) / TB_CHUNK_ROWS; c++) {
            int64_t lo = c * TB_CHUNK_ROWS, hi = lo + TB_CHUNK_ROWS < out ? lo + TB_CHUNK_ROWS : out;
            for (int64_t k = 0; k < hi - lo; k++) {
                int64_t o = chunk_row(lo, hi, k);
                const void *row = wb + (uint64_t)o * row_bytes;
                float b = bias ? bias[o] : 0.0f;
                for (int64_t m = m0; m < m1; m++)
                    y[m * ldy + o] = dot(row, x + m * in, in) + b;
            }
        }
    }
}

/* The packed Q4_0 kernel's order of a row's int8 activations.
 *
 * A whole group of 16 blocks is read as four weight vectors, vector j
 * holding bytes 4j..4j+3 of every block, block k in lane k (tb_q4_0_pack).
 * Its low nibbles are elements 4j..4j+3 of each block, its high nibbles
 * elements 16+4j..16+4j+3, so the activations go in the same lanes:
 * vector j's low half at 128 j, its high half at 128 j + 64.  Then every
 * lane of one integer accumulator sums one block, and a group needs one
 * conversion and one multiply by its 16 scales.
 *
 * A last partial group keeps the older quad order, [a 0-15, b 0-15, c
 * 0-15, d 0-15, a 16-31, ... d 16-31] per four blocks and any last one to
 * three blocks as they are, which its weights keep too. */
static void arrange_q4_0(int8_t *q, int64_t nb)
{
    int8_t tmp[512];
    int64_t i0 = 0;
    for (; i0 + 16 <= nb; i0 += 16) {
        int8_t *a = q + i0 * 32;
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 16; k++) {
                memcpy(tmp + 128 * j + 4 * k, a + 32 * k + 4 * j, 4);
                memcpy(tmp + 128 * j + 64 + 4 * k, a + 32 * k + 16 + 4 * j, 4);
            }
        memcpy(a, tmp, sizeof tmp);
    }
    for (int64_t i = i0; i + 3 < nb; i += 4) {
        int8_t *a = q + i * 32;
        for (int k = 0; k < 4; k++) {
            memcpy(tmp + 16 * k, a + 32 * k, 16);
            memcpy(tmp + 64 + 16 * k, a + 32 * k + 16, 16);
        }
        memcpy(a, tmp, 128);
    }
}

/* Scales per packed row: whole 64-byte lines of f16. */
static int64_t packed_scales(int64_t nb)
{
    return (nb + 31) / 32 * 32;
}

uint64_t tb_q4_0_packed_row_bytes(int64_t n)
{
    int64_t nb = n / 32;
    return (uint64_t)(packed_scales(nb) * 2 + nb * 16);
}

uint64_t tb_q8_0_packed_row_bytes(int64_t n)
{
    int64_t nb = n / 32;
    return (uint64_t)(packed_scales(nb) * 2 + nb * 32);
}

/* Splits rows of blocks (block_bytes each, an f16 scale first, then
 * qs_bytes of quants) into scales, then quants. */
static void pack_rows(const uint8_t *src, int64_t rows, int64_t nb, size_t block_bytes,
                      size_t qs_bytes, uint64_t out_row, uint8_t *dst)
{
    int64_t nd = packed_scales(nb);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *o = dst + (uint64_t)r * out_row;
        uint8_t *qs = o + nd * 2;
        memset(o, 0, (size_t)nd * 2);
        for (int64_t i = 0; i < nb; i++) {
            const uint8_t *blk = src + ((uint64_t)r * (uint64_t)nb + (uint64_t)i) * block_bytes;
            memcpy(o + i * 2, blk, 2);
            memcpy(qs + (size_t)i * qs_bytes, blk + 2, qs_bytes);
        }
    }
}

/* Q4_0's quants in the order arrange_q4_0 describes: in each whole
 * group of 16 blocks, four 64-byte vectors, vector j lane k holding bytes
 * 4j..4j+3 of block k; a last partial group in block order. */
static void transpose_q4_0_groups(uint8_t *qs, int64_t nb)
{
    uint8_t tmp[256];
    for (int64_t i0 = 0; i0 + 16 <= nb; i0 += 16) {
        uint8_t *g = qs + i0 * 16;
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 16; k++)
                memcpy(tmp + 64 * j + 4 * k, g + 16 * k + 4 * j, 4);
        memcpy(g, tmp, sizeof tmp);
    }
}

void tb_q4_0_pack(const void *src, int64_t rows, int64_t n, void *dst)
{
    int64_t nb = n / 32;
    uint64_t rb = tb_q4_0_packed_row_bytes(n);
    pack_rows(src, rows, nb, sizeof(tb_block_q4_0), 16, rb, dst);
    for (int64_t r = 0; r < rows; r++)
        transpose_q4_0_groups((uint8_t *)dst + (uint64_t)r * rb + packed_scales(nb) * 2, nb);
}

void tb_q8_0_pack(const void *src, int64_t rows, int64_t n, void *dst)
{
    pack_rows(src, rows, n / 32, sizeof(tb_block_q8_0), 32, tb_q8_0_packed_row_bytes(n), dst);
}

#ifdef TB_HAVE_X86_KERNELS
tb_dot_q8_fn tb_dot_q8_packed_x86(uint32_t type, tb_isa isa);
tb_dot2_q8_fn tb_dot2_q8_x86(tb_dot_q8_fn dot);
#endif

tb_dot2_q8_fn tb_dot2_q8_for(tb_dot_q8_fn dot)
{
#ifdef TB_HAVE_X86_KERNELS
    return tb_dot2_q8_x86(dot);
#else
    (void)dot;
    return NULL;
#endif
}

int tb_packing_for(uint32_t type, tb_isa isa, tb_packing *out)
{
    tb_packing p = {NULL, NULL, NULL, 0};
#ifdef TB_HAVE_X86_KERNELS
    if (type == T_Q4_0)
        p = (tb_packing){tb_q4_0_packed_row_bytes, tb_q4_0_pack, NULL, 1};
    else if (type == T_Q8_0)
        p = (tb_packing){tb_q8_0_packed_row_bytes, tb_q8_0_pack, NULL, 0};
    p.dot = tb_dot_q8_packed_x86(type, isa);
#else
    (void)type;
    (void)isa;
#endif
    if (!p.dot || !p.pack)
        return -1;
    *out = p;
    return 0;
}

int tb_matmul_q8(tb_dot_q8_fn dot, const void *w, uint64_t row_bytes, int64_t in,
                 int64_t out, const float *x, int64_t M, float *y, int64_t ldy,
                 const float *bias, int threads, int interleave)
{
    tb_q8_part part = {w, row_bytes, out, y, ldy, bias};
    return tb_matmul_q8_parts(dot, &part, 1, in, x, M, threads, interleave);
}

/* Row o of the parts' concatenation: its part and the row within it. */
static const tb_q8_part *part_of(const tb_q8_part *parts, int n_parts, int64_t *o)
{
    int p = 0;
    while (p + 1 < n_parts && *o >= parts[p].out)
        *o -= parts[p++].out;
    return &parts[p];
}

/* Row o of the parts' concatenation: where its weights are, and its part. */
static const void *row_of(const tb_q8_part *parts, int n_parts, int64_t o, int64_t *r,
                          const tb_q8_part **pt)
{
    *r = o;
    *pt = part_of(parts, n_parts, r);
    return (const uint8_t *)(*pt)->w + (uint64_t)*r * (*pt)->row_bytes;
}

int tb_matmul_q8_parts(tb_dot_q8_fn dot, const tb_q8_part *parts, int n_parts, int64_t in,
                       const float *x, int64_t M, int threads, int interleave)
{
    /* Each activation row is quantized once and reused by every weight
     * row of every part; the quantization of a row never depends on other
     * rows, so results stay independent of the batch size. */
    size_t nb = (size_t)(in / 32);
    int8_t *q = malloc((size_t)M * (size_t)in);
    float *d = malloc((size_t)M * nb * sizeof *d);
    int32_t *sm = malloc((size_t)M * nb * sizeof *sm);
    if (!q || !d || !sm) {
        free(q);
        free(d);
        free(sm);
        return -1;
    }
    for (int64_t m = 0; m < M; m++) {
        tb_xq8 xq = {q + m * in, d + (size_t)m * nb, sm + (size_t)m * nb};
        tb_quantize_x_q8(x + m * in, in, &xq);
        if (interleave)
            arrange_q4_0(q + m * in, (int64_t)nb);
    }
    int64_t out = 0;
    for (int p = 0; p < n_parts; p++)
        out += parts[p].out;
    tb_dot2_q8_fn dot2 = tb_dot2_q8_for(dot);
    int64_t tile = (int64_t)(262144 / (in > 0 ? in : 1));
    if (tile < 1)
        tile = 1;
    for (int64_t m0 = 0; m0 < M; m0 += tile) {
        int64_t m1 = m0 + tile < M ? m0 + tile : M;
        int64_t chunks = (out + TB_CHUNK_ROWS - 1) / TB_CHUNK_ROWS;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && out * (m1 - m0) * in > 65536)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t lo = c * TB_CHUNK_ROWS, hi = lo + TB_CHUNK_ROWS < out ? lo + TB_CHUNK_ROWS : out;
            int64_t half = (hi - lo + 1) / 2;
            for (int64_t j = 0; j < half; j++) {
                int64_t ra, rb = 0;
                const tb_q8_part *pa, *pb = NULL;
                const void *wa = row_of(parts, n_parts, lo + j, &ra, &pa);
                int pair = lo + half + j < hi; /* an odd chunk's middle row is alone */
                const void *wb = pair ? row_of(parts, n_parts, lo + half + j, &rb, &pb) : NULL;
                for (int64_t m = m0; m < m1; m++) {
                    const int8_t *xq = q + m * in;
                    const float *xd = d + (size_t)m * nb;
                    const int32_t *xs = sm + (size_t)m * nb;
                    float o[2];
                    if (pair && dot2) {
                        dot2(wa, wb, xq, xd, xs, in, o);
                    } else {
                        o[0] = dot(wa, xq, xd, xs, in);
                        o[1] = pair ? dot(wb, xq, xd, xs, in) : 0.0f;
                    }
                    pa->y[m * pa->ldy + ra] = o[0] + (pa->bias ? pa->bias[ra] : 0.0f);
                    if (pair)
                        pb->y[m * pb->ldy + rb] = o[1] + (pb->bias ? pb->bias[rb] : 0.0f);
                }
            }
        }
    }
    free(q);
    free(d);
    free(sm);
    return 0;
}

void tb_rmsnorm(float *out, const float *x, const float *weight, int64_t n,
                float eps)
{
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * scale * weight[i];
}

void tb_rope(float *v, int n_heads, int head_dim, float pos, float theta, int neox)
{
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float freq = powf(theta, -2.0f * (float)i / (float)head_dim);
        float angle = pos * freq;
        float c = cosf(angle), s = sinf(angle);
        for (int h = 0; h < n_heads; h++) {
            float *p = v + h * head_dim;
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = p[a], x1 = p[b];
            p[a] = x0 * c - x1 * s;
            p[b] = x0 * s + x1 * c;
        }
    }
}

void tb_softmax(float *x, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void tb_swiglu(float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}
