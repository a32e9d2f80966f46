/*
 * bench/engine - prefill and decode speed of the native engine on
 * synthetic models of real shapes, against the machine's memory bandwidth.
 *
 *   bench/engine [--dir DIR] [--presets a,b] [--types f32,bf16,q8_0,q4_0]
 *                [--threads 1,2] [--prefill N] [--decode N] [--kv f32|f16]
 *                [--json FILE]
 *
 * For every preset x type x thread count, in a fresh child process (so
 * caches, lazily converted weights and peak memory belong to that row):
 * one prefill of N tokens through the exact kernels and through oneDNN
 * bf16, then N decode steps.  The decode limit is the read bandwidth
 * divided by the weight bytes one token reads.  Every decode step sits
 * between two slices of the bandwidth probe that each read as many bytes
 * as the step's weights, so each step's ratio compares figures taken tens
 * of milliseconds apart on this drifting VM; the table prints the steps'
 * median ratio and quartiles, beside it the ratio against the best probe
 * ever seen (the pessimistic bound), and where a decode step's time
 * goes.  Models are written to DIR on first use.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_io.h"
#include "util.h"
#include "../plugins/backends/native/engine.h"

typedef struct row {
    char preset[32], type[8];
    int threads;
    int kv_f16; /* --kv f16: the engine's f16 key/value cache */
    double prefill_exact, prefill_bf16, decode; /* tokens per second */
    double weight_gb, limit, ratio, ratio_p25, ratio_p75; /* steps' median, quartiles */
    double bandwidth;      /* median probe slice around the decode steps */
    double peak_bandwidth; /* best of 5 probes in the row's process */
    double phase_ms[TB_PHASE_COUNT]; /* per decode step */
    double peak_mib;
} row;

/* In a child: a process that has run an OpenMP region must not fork and
 * run OpenMP again in the child (libgomp's pool does not survive fork), so
 * the parent of the measurement children never runs one itself. */
static double bandwidth_in_child(int threads);

/* The read-bandwidth probe: 1 GiB streamed through the engine's own f32
 * dot kernel, one read stream as a weight matrix is read in decoding. */
typedef struct probe {
    float *a;
    size_t n;
    int threads;
    size_t next; /* probe_slice: the chunk the next slice starts at */
} probe;

static int probe_init(probe *p, int threads)
{
    p->n = (size_t)1 << 28;
    p->threads = threads;
    p->next = 0;
    /* On 2 MiB pages with huge pages advised, as the engine keeps the
     * weights it streams (alloc_streamed), so the probe is not slowed by
     * TLB misses the decode does not have. */
    void *mem = NULL;
    if (posix_memalign(&mem, (size_t)2 << 20, p->n * sizeof *p->a) != 0)
        return -1;
    madvise(mem, p->n * sizeof *p->a, MADV_HUGEPAGE);
    p->a = mem;
#pragma omp parallel for num_threads(threads)
    for (size_t i = 0; i < p->n; i++)
        p->a[i] = (float)(i & 7);
    return 0;
}

/* A slice of `bytes` (rounded up to the probe's 256 KiB chunks, the size
 * of a block of weight rows) from where the last slice ended, wrapping
 * around the buffer, which is larger than the caches, so every slice
 * streams from memory; GB/s. */
static double probe_slice(probe *p, double bytes)
{
    tb_dot_fn dot = tb_dot_for(0, tb_isa_detect());
    size_t chunk = 1 << 16, total_chunks = p->n / chunk, start = p->next;
    size_t count = (size_t)ceil(bytes / (double)(chunk * sizeof *p->a));
    if (count < 1)
        count = 1;
    float total = 0;
    double t0 = tb_now_monotonic();
#pragma omp parallel for num_threads(p->threads) reduction(+ : total) schedule(static)
    for (size_t c = 0; c < count; c++) {
        const float *a = p->a + (start + c) % total_chunks * chunk;
        total += dot(a, a, (int64_t)chunk);
    }
    double dt = tb_now_monotonic() - t0;
    volatile float sink = total;
    (void)sink;
    p->next = (start + count) % total_chunks;
    return (double)(count * chunk * sizeof *p->a) / dt / 1e9;
}

/* The best of five passes over the whole buffer; GB/s. */
static double probe_best(probe *p)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double g = probe_slice(p, (double)(p->n * sizeof *p->a));
        best = g > best ? g : best;
    }
    return best;
}

static double bandwidth_gbs(int threads)
{
    probe p;
    if (probe_init(&p, threads) != 0)
        return 0;
    double best = probe_best(&p);
    free(p.a);
    return best;
}

static double bandwidth_in_child(int threads)
{
    int p[2];
    if (pipe(p) != 0)
        return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        double v = bandwidth_gbs(threads);
        ssize_t w = write(p[1], &v, sizeof v);
        _exit(w == (ssize_t)sizeof v ? 0 : 1);
    }
    close(p[1]);
    double v = 0;
    if (read(p[0], &v, sizeof v) != (ssize_t)sizeof v)
        v = 0;
    close(p[0]);
    waitpid(pid, NULL, 0);
    return v;
}

/* Bytes of weights one decode step reads: every matrix but the embedding
 * table (one row of it). */
static double weight_bytes(const tb_model *m)
{
    double b = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tb_tensor *t = &m->tensors[i];
        if (strcmp(t->name, "token_embd.weight") == 0 && !m->params.tied_output)
            b += (double)t->n_bytes / (double)t->ne[1];
        else
            b += (double)t->n_bytes;
    }
    return b;
}

static double run_prefill(tb_engine *e, tb_kv *kv, const int32_t *toks, int32_t n,
                          float *logits)
{
    int32_t *seq = calloc((size_t)n, sizeof *seq), *pos = malloc((size_t)n * sizeof *pos);
    for (int32_t i = 0; i < n; i++)
        pos[i] = i;
    kv->n_past = 0;
    tb_batch b = {n, toks, seq, pos, NULL};
    tb_error err;
    double t0 = tb_now_monotonic();
    tb_status st = tb_engine_forward(e, kv, &b, logits, &err);
    double dt = tb_now_monotonic() - t0;
    free(seq);
    free(pos);
    return st == TB_OK ? (double)n / dt : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Decoding with a probe slice before every step and after the last: the
 * VM's bandwidth drifts by tens of percent within seconds, so a ratio is
 * only meaningful between figures taken side by side.  A step's bandwidth
 * is the mean of the slices on both sides, time-weighted (each reads the
 * step's weight bytes).  r gets the overall tokens/s, the median slice
 * and the steps' median ratio and quartiles. */
static int run_decode(tb_engine *e, tb_kv *kv, int32_t start, int32_t n, float *logits,
                      probe *pr, double bytes_per_token, row *r)
{
    tb_error err;
    int32_t tok = 1, seq = 0;
    double total = 0, *bws = tb_xcalloc((size_t)n, sizeof *bws);
    double *ratios = tb_xcalloc((size_t)n, sizeof *ratios);
    double before = probe_slice(pr, bytes_per_token);
    int rc = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t pos = start + i;
        tb_batch b = {1, &tok, &seq, &pos, NULL};
        double t0 = tb_now_monotonic();
        if (tb_engine_forward(e, kv, &b, logits, &err) != TB_OK) {
            fprintf(stderr, "%s\n", err.message);
            rc = -1;
            break;
        }
        double dt = tb_now_monotonic() - t0;
        total += dt;
        tok = (tok * 7 + 3) % 200 + 3;
        double after = probe_slice(pr, bytes_per_token);
        bws[i] = 2.0 / (1.0 / before + 1.0 / after);
        ratios[i] = bytes_per_token / dt / 1e9 / bws[i];
        before = after;
    }
    if (rc == 0 && n > 0) {
        r->decode = (double)n / total;
        r->bandwidth = median(bws, n);
        r->ratio = median(ratios, n); /* sorts ratios */
        r->ratio_p25 = ratios[(n - 1) / 4];
        r->ratio_p75 = ratios[(3 * (n - 1) + 3) / 4];
    }
    free(bws);
    free(ratios);
    return rc;
}

static void measure(const char *path, int threads, int32_t prefill, int32_t decode, row *r)
{
    tb_model *m = NULL;
    tb_error err;
    if (tb_model_open(path, NULL, &m, &err) != TB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    tb_engine e;
    tb_kv kv;
    int ok = tb_engine_init(&e, m, threads, tb_isa_detect(), &err) == TB_OK;
    if (ok)
        tb_engine_kv_f16(&e, r->kv_f16);
    if (!ok || tb_kv_init(&kv, &e, prefill + decode + 1, &err) != TB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    int32_t *toks = malloc((size_t)prefill * sizeof *toks);
    for (int32_t i = 0; i < prefill; i++)
        toks[i] = (i * 131 + 7) % (m->params.n_vocab - 3) + 3;
    float *logits = malloc((size_t)m->params.n_vocab * sizeof *logits);
    r->weight_gb = weight_bytes(m) / 1e9;
    e.compute = TB_COMPUTE_EXACT;
    r->prefill_exact = run_prefill(&e, &kv, toks, prefill, logits);
    e.compute = TB_COMPUTE_BF16;
    run_prefill(&e, &kv, toks, prefill, logits); /* converts weights once */
    r->prefill_bf16 = run_prefill(&e, &kv, toks, prefill, logits);
    e.compute = TB_COMPUTE_EXACT;
    probe pr;
    if (probe_init(&pr, threads) == 0) {
        r->peak_bandwidth = probe_best(&pr);
        double ph[TB_PHASE_COUNT] = {0};
        e.phase_seconds = ph;
        if (run_decode(&e, &kv, prefill, decode, logits, &pr, r->weight_gb * 1e9, r) != 0)
            r->decode = 0;
        e.phase_seconds = NULL;
        for (int k = 0; k < TB_PHASE_COUNT; k++)
            r->phase_ms[k] = ph[k] / (double)decode * 1e3;
        free(pr.a);
    }
    free(toks);
    free(logits);
    tb_kv_free(&kv);
    tb_engine_free(&e);
    tb_model_close(m);
}

/* One row in a child process; the result comes back through a pipe. */
static int measure_child(const char *path, int threads, int32_t prefill, int32_t decode,
                         row *r)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        measure(path, threads, prefill, decode, r);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        r->peak_mib = (double)ru.ru_maxrss / 1024.0;
        ssize_t w = write(p[1], r, sizeof *r);
        _exit(w == (ssize_t)sizeof *r ? 0 : 1);
    }
    close(p[1]);
    ssize_t got = read(p[0], r, sizeof *r);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return got == (ssize_t)sizeof *r && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int parse_type(const char *s, tb_dtype *t)
{
    static const struct { const char *n; tb_dtype t; } k[] = {
        {"f32", TB_DTYPE_F32}, {"f16", TB_DTYPE_F16}, {"bf16", TB_DTYPE_BF16},
        {"q8_0", TB_DTYPE_Q8_0}, {"q4_0", TB_DTYPE_Q4_0}, {"q4_1", TB_DTYPE_Q4_1}};
    for (size_t i = 0; i < TB_ARRAY_LEN(k); i++)
        if (!strcmp(s, k[i].n)) {
            *t = k[i].t;
            return 0;
        }
    return -1;
}

static char **split(const char *s, size_t *n)
{
    char *copy = tb_xstrdup(s);
    char **out = tb_xcalloc(strlen(s) + 1, sizeof *out);
    *n = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
        out[(*n)++] = tb_xstrdup(tok);
    free(copy);
    return out;
}

int main(int argc, char **argv)
{
    const char *dir = "bench-models", *presets = "stories110M,tinyllama-1.1b";
    const char *types = "f32,bf16,q8_0,q4_0", *threads = "1,2", *json = NULL;
    int32_t prefill = 512, decode = 128;
    int kv_f16 = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--presets")) presets = argv[i + 1];
        else if (!strcmp(argv[i], "--types")) types = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = argv[i + 1];
        else if (!strcmp(argv[i], "--prefill")) prefill = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--decode")) decode = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--json")) json = argv[i + 1];
        else if (!strcmp(argv[i], "--kv") && (!strcmp(argv[i + 1], "f32") ||
                                               !strcmp(argv[i + 1], "f16")))
            kv_f16 = !strcmp(argv[i + 1], "f16");
        else {
            fprintf(stderr, "bench/engine: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    size_t np, nt, nth;
    char **ps = split(presets, &np), **ts = split(types, &nt), **ths = split(threads, &nth);
    double bw[64] = {0};
    for (size_t k = 0; k < nth; k++) {
        int t = atoi(ths[k]);
        bw[k] = bandwidth_in_child(t);
        printf("read bandwidth, %d thread%s: %.1f GB/s\n", t, t == 1 ? "" : "s", bw[k]);
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    printf("\nKV cache: %s\n", kv_f16 ? "f16" : "f32");
    printf("\n| model | type | threads | prefill %d exact (tok/s) | prefill %d oneDNN bf16 (tok/s) "
           "| bf16/exact | decode (tok/s) | weights read/token (GB) | bandwidth, paired (GB/s) "
           "| decode limit (tok/s) | reached: median of steps (quartiles) | best probe (GB/s) "
           "| reached vs best "
           "| ms/token: matmul / attention / other / head | peak RSS (MiB) |\n",
           prefill, prefill);
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    tb_buf js = {0};
    tb_buf_puts(&js, "{\"rows\":[");
    int first = 1;
    for (size_t a = 0; a < np; a++) {
        for (size_t b = 0; b < nt; b++) {
            tb_synth_spec s;
            memset(&s, 0, sizeof s);
            tb_error err;
            if (parse_type(ts[b], &s.type) != 0 || tb_synth_preset(ps[a], &s, &err) != TB_OK) {
                fprintf(stderr, "bench/engine: bad preset or type %s/%s\n", ps[a], ts[b]);
                return 2;
            }
            char *path = tb_xasprintf("%s/%s-%s.gguf", dir, ps[a], ts[b]);
            if (!tb_path_is_file(path) && tb_synth_write(&s, path, &err) != TB_OK) {
                fprintf(stderr, "%s\n", err.message);
                return 1;
            }
            for (size_t k = 0; k < nth; k++) {
                row r;
                memset(&r, 0, sizeof r);
                snprintf(r.preset, sizeof r.preset, "%s", ps[a]);
                snprintf(r.type, sizeof r.type, "%s", ts[b]);
                r.threads = atoi(ths[k]);
                r.kv_f16 = kv_f16;
                if (measure_child(path, r.threads, prefill, decode, &r) != 0) {
                    fprintf(stderr, "bench/engine: %s with %d threads failed\n", path, r.threads);
                    continue;
                }
                /* The paired ratio is the figure; against the best probe
                 * the process or the run ever saw is the pessimistic one. */
                double peak = r.peak_bandwidth > bw[k] ? r.peak_bandwidth : bw[k];
                r.limit = r.bandwidth / r.weight_gb;
                double vs_peak = r.decode / (peak / r.weight_gb);
                printf("| %s | %s | %d | %.1f | %.1f | %.1fx | %.2f | %.3f | %.1f | %.2f | "
                       "%.0f%% (%.0f-%.0f%%) | "
                       "%.1f | %.0f%% | %.1f / %.2f / %.2f / %.2f | %.0f |\n",
                       r.preset, r.type, r.threads, r.prefill_exact, r.prefill_bf16,
                       r.prefill_bf16 / r.prefill_exact, r.decode, r.weight_gb, r.bandwidth,
                       r.limit, 100 * r.ratio, 100 * r.ratio_p25, 100 * r.ratio_p75, peak,
                       100 * vs_peak, r.phase_ms[TB_PHASE_MATMUL],
                       r.phase_ms[TB_PHASE_ATTENTION], r.phase_ms[TB_PHASE_OTHER],
                       r.phase_ms[TB_PHASE_HEAD], r.peak_mib);
                fflush(stdout);
                tb_buf_printf(&js, "%s{\"model\":\"%s\",\"type\":\"%s\",\"threads\":%d,"
                              "\"prefill_exact_tps\":%.3f,\"prefill_bf16_tps\":%.3f,"
                              "\"decode_tps\":%.3f,\"weight_gb_per_token\":%.4f,"
                              "\"bandwidth_gbs\":%.2f,\"decode_limit_tps\":%.3f,"
                              "\"decode_ratio\":%.4f,\"decode_ratio_p25\":%.4f,"
                              "\"decode_ratio_p75\":%.4f,\"peak_bandwidth_gbs\":%.2f,"
                              "\"decode_ratio_vs_peak\":%.4f,\"decode_ms\":{\"matmul\":%.3f,"
                              "\"attention\":%.3f,\"other\":%.3f,\"head\":%.3f},"
                              "\"peak_rss_mib\":%.0f,\"kv_cache\":\"%s\"}",
                              first ? "" : ",", r.preset, r.type, r.threads, r.prefill_exact,
                              r.prefill_bf16, r.decode, r.weight_gb, r.bandwidth, r.limit, r.ratio,
                              r.ratio_p25, r.ratio_p75, peak, vs_peak, r.phase_ms[TB_PHASE_MATMUL],
                              r.phase_ms[TB_PHASE_ATTENTION], r.phase_ms[TB_PHASE_OTHER],
                              r.phase_ms[TB_PHASE_HEAD], r.peak_mib, r.kv_f16 ? "f16" : "f32");
                first = 0;
            }
            free(path);
        }
    }
    tb_buf_puts(&js, "]}\n");
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fputs(tb_buf_str(&js), f);
            fclose(f);
        }
    }
    tb_buf_free(&js);
    return 0;
}
