/*
 * oracle_common.h - what the pruner and quantizer tests share to check a
 * compressor against the original authors' outputs on stories260K
 * (../shared/reference/oracle/stories260K): the compressor plugins opened
 * as the runner opens them, compression through tb_compress_run (the path
 * of `trustbench compress`) with the oracle's calibration, and the
 * oracle's perplexity protocol.
 */
#ifndef TB_ORACLE_COMMON_H
#define TB_ORACLE_COMMON_H

#include "compress.h"
#include "console.h"
#include "host.h"
#include "loader.h"
#include "params.h"

/* A compressor plugin found by the registry, with a config to fill and a
 * local host for its create. */
typedef struct oc_plug {
    tb_registry *reg;
    const tb_plugin_entry *e;
    tb_config *cfg;
    tb_console con;
    tb_host host;
} oc_plug;

/* Opens compressor `name`; -1 (and a failed assertion) when it is not
 * found, with nothing left to close. */
int oc_plug_open(oc_plug *p, const char *name);
/* Sets parameter `name` from its text, as a matrix entry would. */
void oc_plug_set(oc_plug *p, const char *name, const char *value);
void oc_plug_close(oc_plug *p);

/* The path of an oracle file in ../shared (NULL when absent). */
char *oc_oracle(const char *name);

/* Compresses stories260K with the oracle's calibration (its 16 sequential
 * windows of 256 tokens) through tb_compress_run.  sets: name, value
 * pairs, NULL-terminated (or NULL).  Returns the output path, or NULL with
 * the error in err. */
char *oc_compress(const char *method, const char *const *sets, tb_compress_report *rep,
                  tb_error *err);
/* The same on the first `samples` oracle windows; with `unpacked`
 * non-NULL, *unpacked receives the path of the same compression written
 * unpacked (the job's unpacked_path: rewritten tensors as F32). */
char *oc_compress_as(const char *method, const char *const *sets, int64_t samples,
                     char **unpacked, tb_compress_report *rep, tb_error *err);

/* The oracle's perplexity protocol on the model at path (NaN when
 * ../shared is absent or the model does not open). */
double oc_perplexity(const char *path);

/* stories260K opened with the calibration service over the native
 * backend on the first `samples` oracle windows (sequential, 256 tokens
 * of calib.txt): what a calibrated compressor sees, for tests that drive
 * the algorithms block by block themselves. */
typedef struct oc_calib {
    oc_plug p;          /* registry and a local host (compressor `none`) */
    const tb_plugin_entry *backend_entry;
    tb_config *backend_cfg;
    void *backend;
    tb_model *m;
    int32_t *tokens;
    tb_calibration *c;
} oc_calib;

/* 0 when open; 1 when ../shared is absent (nothing to close); a failed
 * assertion otherwise. */
int oc_calib_open(oc_calib *s, int64_t samples);
void oc_calib_close(oc_calib *s);

/* The logits (n_seqs x len x n_vocab, malloc'd) of n_seqs token windows of
 * len tokens each, every position, through the native engine's exact
 * kernels; NULL on failure. */
float *oc_logits(const tb_model *m, const int32_t *ids, int32_t n_seqs, int32_t len);

#endif
