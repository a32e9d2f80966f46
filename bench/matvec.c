/*
 * bench/matvec - the decode kernels alone: one matrix-vector product per
 * weight type, as the engine runs it for one token, against the streaming
 * read rate measured in the same rounds.
 *
 *   bench/matvec [--shape OUTxIN] [--threads N] [--rounds R] [--mib M]
 *                [--types f32,f16,bf16,q8_0,q8_0p,q4_0,q4_0p,q4_1]
 *
 * Decoding one token reads every weight once, so a decode kernel should
 * run at the memory system's read rate.  Whole-model figures (bench/engine)
 * mix in attention, norms and the load of a shared machine; this isolates
 * the kernels.  Each round times, back to back, the stream probe (the f32
 * dot kernel reading 1 GiB) and every type's product over enough distinct
 * matrices (--mib, default 512 MiB of weights) that no weight comes from
 * cache; the table keeps each figure's best round, so a neighbour's burst
 * of load lowers neither side alone.  Weights are random bytes on the
 * type's grid (scales fixed at 1/64): speed does not depend on the values.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "../plugins/backends/native/kernels.h"

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q8_0 = 8, T_BF16 = 30 };

typedef struct kind {
    const char *name;
    uint32_t type;
    int packed;                /* q4_0p, q8_0p: the engine's repacked rows */
    uint64_t (*row_bytes)(int64_t in);
} kind;

static uint64_t rb_f32(int64_t in) { return (uint64_t)in * 4; }
static uint64_t rb_16(int64_t in) { return (uint64_t)in * 2; }
static uint64_t rb_q8_0(int64_t in) { return (uint64_t)(in / 32) * 34; }
static uint64_t rb_q4_0(int64_t in) { return (uint64_t)(in / 32) * 18; }
static uint64_t rb_q4_1(int64_t in) { return (uint64_t)(in / 32) * 20; }

static const kind KINDS[] = {
    {"f32", T_F32, 0, rb_f32},    {"f16", T_F16, 0, rb_16},
    {"bf16", T_BF16, 0, rb_16},   {"q8_0", T_Q8_0, 0, rb_q8_0},
    {"q8_0p", T_Q8_0, 1, tb_q8_0_packed_row_bytes},
    {"q4_0", T_Q4_0, 0, rb_q4_0}, {"q4_0p", T_Q4_0, 1, tb_q4_0_packed_row_bytes},
    {"q4_1", T_Q4_1, 0, rb_q4_1},
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

typedef struct args {
    int64_t out, in;
    int threads, rounds;
    size_t mib;
    char types[128];
} args;

/* Bytes on the type's grid: f16/bf16 words and block scales are set to a
 * small normal number so no kernel meets NaN or denormal slow paths. */
static void fill_weights(uint8_t *w, uint64_t bytes, const kind *k, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < bytes; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        w[i] = (uint8_t)s;
    }
    uint16_t one64 = 0x2400; /* f16 1/64 */
    if (k->type == T_F32) {
        float *f = (float *)w;
        for (uint64_t i = 0; i < bytes / 4; i++)
            f[i] = (float)((int)(w[i * 4] & 0x7f) - 64) / 4096.0f;
    } else if (k->type == T_F16 || k->type == T_BF16) {
        uint16_t *h = (uint16_t *)w;
        for (uint64_t i = 0; i < bytes / 2; i++)
            h[i] = (uint16_t)((h[i] & 0x83ff) | (k->type == T_F16 ? 0x2000 : 0x3c00));
    } else {
        uint64_t bb = k->type == T_Q8_0 ? 34 : k->type == T_Q4_0 ? 18 : 20;
        for (uint64_t b = 0; b + bb <= bytes; b += bb) {
            memcpy(w + b, &one64, 2);
            if (k->type == T_Q4_1)
                memcpy(w + b + 2, &one64, 2);
        }
    }
}

typedef struct mats {
    uint8_t **w;
    int n;
    uint64_t row_bytes;
} mats;

static int make_mats(const kind *k, const args *a, mats *m)
{
    tb_packing pk = {0};
    if (k->packed && tb_packing_for(k->type, tb_isa_detect(), &pk) != 0)
        return -1;
    uint64_t plain = k->packed ? (k->type == T_Q8_0 ? rb_q8_0(a->in) : rb_q4_0(a->in))
                               : k->row_bytes(a->in);
    m->row_bytes = k->row_bytes(a->in);
    uint64_t bytes = m->row_bytes * (uint64_t)a->out;
    m->n = (int)((a->mib << 20) / bytes) + 1;
    m->w = calloc((size_t)m->n, sizeof *m->w);
    uint8_t *tmp = k->packed ? malloc(plain * (uint64_t)a->out) : NULL;
    if (!m->w || (k->packed && !tmp))
        return -1;
    for (int i = 0; i < m->n; i++) {
        m->w[i] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!m->w[i])
            return -1;
        if (k->packed) {
            fill_weights(tmp, plain * (uint64_t)a->out, k, (uint64_t)i + 1);
            pk.pack(tmp, a->out, a->in, m->w[i]);
        } else {
            fill_weights(m->w[i], bytes, k, (uint64_t)i + 1);
        }
    }
    free(tmp);
    return 0;
}

static void free_mats(mats *m)
{
    for (int i = 0; m->w && i < m->n; i++)
        free(m->w[i]);
    free(m->w);
}

/* One pass over every matrix, as one decode step runs each layer's product;
 * returns the weight bytes read per second (GB/s). */
static double run_mats(const kind *k, const mats *m, const args *a, const float *x, float *y)
{
    tb_isa isa = tb_isa_detect();
    double t0 = tb_now_monotonic();
    for (int i = 0; i < m->n; i++) {
        if (k->type == T_F32 || k->type == T_F16 || k->type == T_BF16) {
            tb_matmul(tb_dot_for(k->type, isa), m->w[i], m->row_bytes, a->in, a->out, x, 1, y,
                      a->out, NULL, a->threads);
        } else {
            tb_packing pk = {0};
            if (k->packed && tb_packing_for(k->type, isa, &pk) != 0)
                return 0;
            tb_dot_q8_fn dot = k->packed ? pk.dot : tb_dot_q8_for(k->type, isa);
            if (!dot)
                return 0;
            tb_matmul_q8(dot, m->w[i], m->row_bytes, a->in, a->out, x, 1, y, a->out, NULL,
                         a->threads, pk.interleave);
        }
    }
    double s = tb_now_monotonic() - t0;
    return (double)m->row_bytes * (double)a->out * m->n / s / 1e9;
}

/* The f32 dot kernel over 1 GiB in 256 KiB calls: bench/engine's probe. */
static double stream_gbs(const float *buf, size_t n, int threads)
{
    tb_dot_fn dot = tb_dot_for(T_F32, tb_isa_detect());
    size_t chunk = 1 << 16;
    float total = 0;
    double t0 = tb_now_monotonic();
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (size_t b = 0; b < n / chunk; b++)
        total += dot(buf + b * chunk, buf + b * chunk, (int64_t)chunk);
    double s = tb_now_monotonic() - t0;
    volatile float sink = total;
    (void)sink;
    return (double)(n * sizeof *buf) / s / 1e9;
}

static int parse(int argc, char **argv, args *a)
{
    *a = (args){11008, 4096, 2, 8, 512, "f32,f16,bf16,q8_0,q8_0p,q4_0,q4_0p,q4_1"};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--shape") && v) {
            long long o, n;
            if (sscanf(v, "%lldx%lld", &o, &n) != 2 || o < 1 || n < 32 || n % 32)
                return -1;
            a->out = o, a->in = n;
        } else if (!strcmp(argv[i], "--threads") && v) {
            a->threads = atoi(v);
        } else if (!strcmp(argv[i], "--rounds") && v) {
            a->rounds = atoi(v);
        } else if (!strcmp(argv[i], "--mib") && v) {
            a->mib = (size_t)atol(v);
        } else if (!strcmp(argv[i], "--types") && v) {
            snprintf(a->types, sizeof a->types, "%s", v);
        } else {
            return -1;
        }
    }
    return a->threads < 1 || a->rounds < 1 || a->mib < 1 ? -1 : 0;
}

static int wanted(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    if (parse(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: bench/matvec [--shape OUTxIN] [--threads N] [--rounds R] "
                        "[--mib M] [--types f32,f16,bf16,q8_0,q8_0p,q4_0,q4_0p,q4_1]\n");
        return 2;
    }
    size_t n = (size_t)1 << 28;
    float *buf = malloc(n * sizeof *buf), *x = malloc((size_t)a.in * sizeof *x);
    float *y = malloc((size_t)a.out * sizeof *y);
    mats m[N_KINDS];
    memset(m, 0, sizeof m);
    if (!buf || !x || !y)
        return 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (float)(i & 7);
    for (int64_t i = 0; i < a.in; i++)
        x[i] = sinf((float)i);
    for (size_t k = 0; k < N_KINDS; k++)
        if (wanted(a.types, KINDS[k].name) && make_mats(&KINDS[k], &a, &m[k]) != 0) {
            fprintf(stderr, "bench/matvec: out of memory for %s\n", KINDS[k].name);
            return 1;
        }
    double best_stream = 0, best[N_KINDS] = {0};
    for (int r = 0; r < a.rounds; r++) {
        double s = stream_gbs(buf, n, a.threads);
        best_stream = s > best_stream ? s : best_stream;
        for (size_t k = 0; k < N_KINDS; k++) {
            if (!m[k].w)
                continue;
            double g = run_mats(&KINDS[k], &m[k], &a, x, y);
            best[k] = g > best[k] ? g : best[k];
        }
    }
    printf("shape %lldx%lld, %d thread%s, isa %s, best of %d rounds; stream %.1f GB/s\n\n",
           (long long)a.out, (long long)a.in, a.threads, a.threads == 1 ? "" : "s",
           tb_isa_name(tb_isa_detect()), a.rounds, best_stream);
    printf("| type | bytes/weight | GB/s | of stream | Gweights/s |\n|---|---|---|---|---|\n");
    for (size_t k = 0; k < N_KINDS; k++) {
        if (!m[k].w)
            continue;
        double bpw = (double)m[k].row_bytes / (double)a.in;
        printf("| %s | %.4f | %.1f | %.0f%% | %.2f |\n", KINDS[k].name, bpw, best[k],
               100 * best[k] / best_stream, best[k] / bpw);
        free_mats(&m[k]);
    }
    free(buf);
    free(x);
    free(y);
    return 0;
}
