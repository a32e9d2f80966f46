/*
 * compress.h - compressing one model with one compressor into a GGUF file:
 * open the model, draw the calibration windows and open the calibration
 * service when the compressor asks for it, run the compressor, write the
 * result.  `trustbench compress` calls it directly; the runner calls it in
 * a child process (a process that has run OpenMP must not fork and use
 * OpenMP again, and the runner forks cells) and caches the file.
 */
#ifndef TB_COMPRESS_H
#define TB_COMPRESS_H

#include "calib.h"
#include "console.h"
#include "loader.h"
#include "model_io.h"

typedef struct tb_compress_job {
    const char *model_path;
    tb_model_open_opts model_opts;
    const tb_plugin_entry *compressor;
    const tb_config *compressor_config;
    const tb_calib_spec *calib;           /* NULL: none given */
    const tb_plugin_entry *backend;       /* captures for calibration */
    const tb_config *backend_config;
    const char *out_path;                 /* the compressed model, GGUF */
    tb_console *console;
    uint64_t seed;
    const char *unpacked_path; /* non-NULL: the same model also written
                                  here never packed (rewritten tensors as
                                  F32), so tests compare the compressor's
                                  own values with the packed file's */
} tb_compress_job;

typedef struct tb_compress_line {
    char *tensor;
    double sparsity, rel_error, seconds;
    char *note;
} tb_compress_line;

typedef struct tb_compress_report {
    tb_compress_line *lines;
    size_t n, cap;
    double seconds;
} tb_compress_report;

tb_status tb_compress_run(const tb_compress_job *job, tb_compress_report *rep, tb_error *err);
void tb_compress_report_free(tb_compress_report *rep);
/* As TSV (tensor, sparsity, rel_error, seconds, note), and back. */
tb_status tb_compress_report_save(const tb_compress_report *rep, const char *path,
                                  tb_error *err);
tb_status tb_compress_report_load(tb_compress_report *rep, const char *path, tb_error *err);

#endif
