/*
 * kernels.h - the arithmetic of the native engine: dot products of f32
 * activations with stored weight rows (F32, F16, BF16, Q8_0, Q4_0, Q4_1),
 * matrix-vector and small matrix products over them, and the element-wise
 * operations of a Llama block.
 *
 * Every output element is computed by one call of the same dot routine,
 * whatever the batch size or thread count, so results are bit-identical
 * across batch sizes and threads.  At start-up the engine picks the best
 * implementation the CPU offers (AVX-512, AVX2, or portable C); each is
 * tested against the portable one.
 */
#ifndef TB_NATIVE_KERNELS_H
#define TB_NATIVE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Dot product of n floats of x with n stored weights of `type` at w. */
typedef float (*tb_dot_fn)(const void *w, const float *x, int64_t n);

/* Activations quantized to int8 in 32-element blocks (scale d, sum of the
 * quants s), for integer dot products with block-quantized weights. */
typedef struct tb_xq8 {
    int8_t *q;  /* n */
    float *d;   /* n / 32 */
    int32_t *s; /* n / 32 */
} tb_xq8;

/* Dot product of a quantized activation row with n stored weights. */
typedef float (*tb_dot_q8_fn)(const void *w, const int8_t *xq, const float *xd,
                              const int32_t *xs, int64_t n);

/* Attention of a group of query heads that share one key/value head,
 * over n cached rows (stride elements apart; f32 or f16 as the kernels
 * were chosen for).  Scores: head g's query at q + g * hd;
 * out[g * ldo + t] = scale * dot(k row t, query g).  Weighted sum:
 * out[g * hd + i] = sum over t of a[g * lda + t] * v row t [i]. */
typedef void (*tb_attn_scores_fn)(const void *k, size_t stride, int32_t n, const float *q,
                                  int group, int hd, float scale, float *out, size_t ldo);
typedef void (*tb_attn_wsum_fn)(const void *v, size_t stride, int32_t n, const float *a,
                                size_t lda, int group, int hd, float *out);

/* y[i] += a * x[i] for i < n. */
typedef void (*tb_axpy_fn)(float *y, float a, const float *x, int64_t n);

typedef enum tb_isa {
    TB_ISA_PORTABLE = 0,
    TB_ISA_AVX2 = 1,
    TB_ISA_AVX512 = 2,
    TB_ISA_AVX512_VNNI = 3 /* AVX-512 plus VNNI: int8 dot products */
} tb_isa;

tb_isa tb_isa_detect(void);
const char *tb_isa_name(tb_isa isa);
/* The dot routine for a weight type on an ISA, NULL if the type is not
 * supported (then the engine refuses the model). */
tb_dot_fn tb_dot_for(uint32_t type, tb_isa isa);

tb_axpy_fn tb_axpy_for(tb_isa isa);

/* SIMD attention kernels for a head size on an ISA; -1 when there are
 * none (AVX-512 and a head size a multiple of 16 up to 256 are needed). */
int tb_attn_for(tb_isa isa, int hd, int kv_f16, tb_attn_scores_fn *scores,
                tb_attn_wsum_fn *wsum);

/* The int8-activation dot for a weight type on an ISA, NULL when the ISA
 * has none (then tb_dot_for's float path is used). */
tb_dot_q8_fn tb_dot_q8_for(uint32_t type, tb_isa isa);
/* Quantizes n floats (a multiple of 32) into x. */
void tb_quantize_x_q8(const float *x, int64_t n, tb_xq8 *out);

/* Q4_0 and Q8_0 rows repacked for the VNNI kernels: each row's block
 * scales together (f16, padded to a multiple of 32 blocks, so the quants
 * that follow start on a 64-byte line) followed by its quants, so 16
 * scales convert in one instruction and consecutive blocks' quants load
 * as one aligned vector.  Q4_0's quants are further transposed within
 * each whole group of 16 blocks (see arrange_q4_0 in kernels.c).  The
 * same bytes, reordered. */
uint64_t tb_q4_0_packed_row_bytes(int64_t n);
void tb_q4_0_pack(const void *src, int64_t rows, int64_t n, void *dst);
uint64_t tb_q8_0_packed_row_bytes(int64_t n);
void tb_q8_0_pack(const void *src, int64_t rows, int64_t n, void *dst);
/* How a weight type is repacked for its fastest kernel on an ISA (the
 * packed kernels need VNNI; packed Q4_0's reads the activations in its
 * own lane order: tb_matmul_q8 with interleave set). */
typedef struct tb_packing {
    uint64_t (*row_bytes)(int64_t n);
    void (*pack)(const void *src, int64_t rows, int64_t n, void *dst);
    tb_dot_q8_fn dot;
    int interleave; /* the dot reads activations in packed Q4_0's order */
} tb_packing;
/* 0 and *out filled when the type has a packed kernel on the ISA. */
int tb_packing_for(uint32_t type, tb_isa isa, tb_packing *out);

/* Two weight rows against one activation row: out[0] for w0, out[1] for
 * w1, each bit-identical to the one-row routine it is the twin of.  A core
 * reading two rows at once keeps more memory reads in flight, and loads
 * each activation once for both. */
typedef void (*tb_dot2_q8_fn)(const void *w0, const void *w1, const int8_t *xq,
                              const float *xd, const int32_t *xs, int64_t n, float out[2]);
/* The two-row twin of a one-row routine, or NULL when it has none. */
tb_dot2_q8_fn tb_dot2_q8_for(tb_dot_q8_fn dot);

/* Y[m][o] = dot(W row o, X[m]) (+ bias[o]) for m < M, o < out.
 * W has `out` rows of `in` weights of `type` (row_bytes each); X is M rows
 * of `in` floats (stride in); Y is M rows of `out` floats (stride ldy). */
void tb_matmul(tb_dot_fn dot, const void *w, uint64_t row_bytes, int64_t in,
               int64_t out, const float *x, int64_t M, float *y, int64_t ldy,
               const float *bias, int threads);
/* The same with int8 activations (dot from tb_dot_q8_for); -1 when out of
 * memory (nothing written). */
int tb_matmul_q8(tb_dot_q8_fn dot, const void *w, uint64_t row_bytes, int64_t in,
                 int64_t out, const float *x, int64_t M, float *y, int64_t ldy,
                 const float *bias, int threads, int interleave);

/* Several weights that read the same activations (q, k, v; gate, up):
 * one quantization of X and one parallel region over all their rows, so
 * the small ones do not each pay a fork, a join and an uneven split. */
typedef struct tb_q8_part {
    const void *w;
    uint64_t row_bytes;
    int64_t out;     /* rows of this weight */
    float *y;        /* M rows of out floats, stride ldy */
    int64_t ldy;
    const float *bias; /* or NULL */
} tb_q8_part;
int tb_matmul_q8_parts(tb_dot_q8_fn dot, const tb_q8_part *parts, int n_parts, int64_t in,
                       const float *x, int64_t M, int threads, int interleave);

void tb_rmsnorm(float *out, const float *x, const float *weight, int64_t n,
                float eps);
/* RoPE on one vector of n_heads heads of head_dim at position pos. */
void tb_rope(float *v, int n_heads, int head_dim, float pos, float theta,
             int neox);
void tb_softmax(float *x, int64_t n);
typedef void (*tb_softmax_fn)(float *x, int64_t n);
typedef void (*tb_swiglu_fn)(float *a, const float *b, int64_t n);
/* SIMD softmax and SwiGLU for an ISA (a vector e^x within 2 ulp of expf),
 * tb_softmax and tb_swiglu without one. */
void tb_elementwise_for(tb_isa isa, tb_swiglu_fn *swiglu, tb_softmax_fn *softmax);
/* a[i] = silu(a[i]) * b[i] */
void tb_swiglu(float *a, const float *b, int64_t n);

#endif
