/* wanda_prune.c - |W| sqrt(norm) scores, selected per output row. */
#include "wanda_prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tb_wanda_scaler(const double *sq_sum, int64_t cols, int32_t n_seqs, float *scaler)
{
    for (int64_t j = 0; j < cols; j++) {
        scaler[j] = (float)(sq_sum[j] / (n_seqs > 0 ? n_seqs : 1));
        if (!isfinite(scaler[j]))
            return -1;
    }
    return 0;
}

/* Scores are |w| sqrt(scaler) >= 0 (or NaN), so their IEEE bits sort as
 * the values do; the top 12 bits (exponent and 3 mantissa bits) make
 * buckets of a few percent of a row. */
#define WANDA_BUCKET_SHIFT 20
#define WANDA_BUCKETS (1u << 12)

static uint32_t score_bits(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* Unstructured, one row, in three passes instead of a general selection:
 * scores and a histogram of their top bits; the bucket holding the k-th
 * lowest, whose few members are selected exactly; then every weight below
 * the threshold, and of those equal to it the first ones, set to zero
 * (the same weights tb_prune_mask_lowest picks, ties to the lower index).
 * The row's pruning is about half of Wanda's time on a real layer. */
static void prune_row_lowest(float *wr, int64_t cols, const float *root, int64_t k, float *s,
                             float *scratch, uint32_t *hist)
{
    if (k <= 0)
        return;
    if (k >= cols) {
        memset(wr, 0, (size_t)cols * sizeof *wr);
        return;
    }
    memset(hist, 0, WANDA_BUCKETS * sizeof *hist);
    for (int64_t j = 0; j < cols; j++) {
        s[j] = fabsf(wr[j]) * root[j];
        hist[score_bits(s[j]) >> WANDA_BUCKET_SHIFT]++;
    }
    /* The bucket of the k-th lowest (0-based k - 1) and how many lie below it. */
    uint32_t b = 0;
    int64_t below = 0, want = k - 1;
    while (below + hist[b] <= want)
        below += hist[b++];
    int64_t m = 0;
    for (int64_t j = 0; j < cols; j++) {
        scratch[m] = s[j];
        m += (score_bits(s[j]) >> WANDA_BUCKET_SHIFT) == b;
    }
    float t = tb_prune_kth(scratch, m, want - below, scratch + m);
    int64_t less = below;
    for (int64_t i = 0; i < m; i++)
        less += scratch[i] < t;
    /* Half the weights go, in no pattern a branch predictor could learn:
     * clear them with a bit mask, no branch (at -O2 the compiler neither
     * vectorizes nor if-converts a float select here), then the few ties
     * in order. */
    for (int64_t j = 0; j < cols; j++) {
        uint32_t bits, keep = (uint32_t)0 - (uint32_t)!(s[j] < t);
        memcpy(&bits, &wr[j], sizeof bits);
        bits &= keep;
        memcpy(&wr[j], &bits, sizeof bits);
    }
    int64_t ties = k - less; /* how many scores equal to t go, first ones first */
    for (int64_t j = 0; j < cols && ties > 0; j++)
        if (s[j] == t) {
            wr[j] = 0.0f;
            ties--;
        }
}

/* One row: scores in f32 as the reference computes them, then the mask. */
static void prune_row(float *wr, int64_t cols, const float *root, const tb_prune_spec *spec,
                      int64_t k, float *s, float *scratch, uint8_t *mask, uint32_t *hist)
{
    if (!spec->m) {
        prune_row_lowest(wr, cols, root, k, s, scratch, hist);
        return;
    }
    for (int64_t j = 0; j < cols; j++)
        s[j] = fabsf(wr[j]) * root[j];
    tb_prune_mask_nm(s, cols, spec->n, spec->m, mask);
    for (int64_t j = 0; j < cols; j++)
        if (mask[j])
            wr[j] = 0.0f;
}

int tb_wanda_prune(float *w, int64_t rows, int64_t cols, const float *scaler,
                   const tb_prune_spec *spec, int threads)
{
    int64_t k = tb_prune_count(cols, spec->sparsity);
    float *root = malloc((size_t)cols * sizeof *root);
    if (!root)
        return -1;
    for (int64_t j = 0; j < cols; j++)
        root[j] = sqrtf(scaler[j]);
    int failed = 0;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        float *s = malloc((size_t)cols * sizeof *s);
        float *scratch = malloc((size_t)(2 * cols) * sizeof *scratch);
        uint8_t *mask = malloc((size_t)cols);
        uint32_t *hist = malloc(WANDA_BUCKETS * sizeof *hist);
        int ok = s && scratch && mask && hist;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            if (ok)
                prune_row(w + r * cols, cols, root, spec, k, s, scratch, mask, hist);
        free(s);
        free(hist);
        free(scratch);
        free(mask);
    }
    free(root);
    return failed ? -1 : 0;
}
