/* compress.c - one model through one compressor into a GGUF file. */
#include "compress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "util.h"

static void add_line(void *ctx, const tb_layer_report *r)
{
    tb_compress_report *rep = ctx;
    void *items = rep->lines;
    tb_grow(&items, &rep->cap, rep->n + 1, sizeof *rep->lines);
    rep->lines = items;
    tb_compress_line *l = &rep->lines[rep->n++];
    l->tensor = tb_xstrdup(r->tensor);
    l->sparsity = r->sparsity;
    l->rel_error = r->rel_error;
    l->seconds = r->seconds;
    l->note = tb_xstrdup(r->note);
}

void tb_compress_report_free(tb_compress_report *rep)
{
    for (size_t i = 0; i < rep->n; i++) {
        free(rep->lines[i].tensor);
        free(rep->lines[i].note);
    }
    free(rep->lines);
    memset(rep, 0, sizeof *rep);
}

/* The calibration service over a fresh instance of the capture backend. */
typedef struct calib_side {
    tb_host host;
    void *backend;
    int32_t *tokens;
    tb_calibration *calib;
} calib_side;

static tb_status open_calibration(const tb_compress_job *job, tb_model *m, calib_side *cs,
                                  tb_error *err)
{
    memset(cs, 0, sizeof *cs);
    if (!job->calib) {
        tb_errorf(err, "compressor '%s' needs calibration data", job->compressor->name);
        return TB_ERR_INVALID;
    }
    tb_status st = tb_calib_tokens(m, job->calib, &cs->tokens, err);
    if (st != TB_OK)
        return st;
    const tb_plugin_descriptor *bd = job->backend->desc;
    tb_host_init_local(&cs->host, bd->name, job->console, job->seed,
                       (int)sysconf(_SC_NPROCESSORS_ONLN));
    st = bd->create(tb_host_api_table(), &cs->host, job->backend_config, &cs->backend, err);
    if (st != TB_OK)
        return st;
    cs->calib = tb_calibration_open(bd->ops.backend, cs->backend, m, cs->tokens,
                                    (int32_t)job->calib->samples, (int32_t)job->calib->seq_len,
                                    err);
    return cs->calib ? TB_OK : TB_ERR_BACKEND;
}

static void close_calibration(const tb_compress_job *job, calib_side *cs)
{
    tb_calibration_close(cs->calib);
    if (cs->backend)
        job->backend->desc->destroy(cs->backend);
    tb_host_release(&cs->host);
    free(cs->tokens);
}

tb_status tb_compress_run(const tb_compress_job *job, tb_compress_report *rep, tb_error *err)
{
    memset(rep, 0, sizeof *rep);
    double t0 = tb_now_monotonic();
    tb_model *m = NULL;
    tb_status st = tb_model_open(job->model_path, &job->model_opts, &m, err);
    if (st != TB_OK)
        return st;
    const tb_plugin_descriptor *d = job->compressor->desc;
    calib_side cs;
    memset(&cs, 0, sizeof cs);
    if (d->ops.compressor->flags & TB_COMPRESS_CALIBRATED)
        st = open_calibration(job, m, &cs, err);
    tb_host h;
    tb_host_init_local(&h, d->name, job->console, job->seed,
                       (int)sysconf(_SC_NPROCESSORS_ONLN));
    h.on_report = add_line;
    h.report_ctx = rep;
    void *inst = NULL;
    if (st == TB_OK)
        st = d->create(tb_host_api_table(), &h, job->compressor_config, &inst, err);
    if (st == TB_OK) {
        tb_compress_args args = {sizeof args, m, cs.calib};
        st = d->ops.compressor->compress(inst, &args, err);
        d->destroy(inst);
        if (st != TB_OK && !err->message[0])
            tb_errorf(err, "compressor '%s': %s", d->name, tb_status_name(st));
    }
    tb_host_release(&h);
    close_calibration(job, &cs);
    /* Packed: a rewritten matrix whose every 32-weight block lies exactly
     * on a Q4_0, Q4_1 or Q8_0 grid (the quantizers' scale_dtype f16) is
     * stored so; every other tensor as the compressor left it.  Lossless
     * either way. */
    if (st == TB_OK)
        st = tb_model_write_gguf(m, job->out_path, TB_DTYPE_PACKED, NULL, err);
    if (st == TB_OK && job->unpacked_path)
        st = tb_model_write_gguf(m, job->unpacked_path, TB_DTYPE_KEEP, NULL, err);
    tb_model_close(m);
    rep->seconds = tb_now_monotonic() - t0;
    return st;
}

tb_status tb_compress_report_save(const tb_compress_report *rep, const char *path,
                                  tb_error *err)
{
    char *tmp = tb_xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        tb_errorf(err, "cannot write %s", tmp);
        free(tmp);
        return TB_ERR_IO;
    }
    fprintf(f, "# tensor\tsparsity\trel_error\tseconds\tnote\n");
    for (size_t i = 0; i < rep->n; i++) {
        const tb_compress_line *l = &rep->lines[i];
        fprintf(f, "%s\t%.17g\t%.17g\t%.6f\t%s\n", l->tensor, l->sparsity, l->rel_error,
                l->seconds, l->note ? l->note : "");
    }
    fprintf(f, "# total seconds\t%.6f\n", rep->seconds);
    int bad = fclose(f) != 0 || rename(tmp, path) != 0;
    free(tmp);
    if (bad) {
        tb_errorf(err, "cannot write %s", path);
        return TB_ERR_IO;
    }
    return TB_OK;
}

tb_status tb_compress_report_load(tb_compress_report *rep, const char *path, tb_error *err)
{
    memset(rep, 0, sizeof *rep);
    size_t len;
    char *text = tb_read_file(path, &len, err);
    if (!text)
        return TB_ERR_IO;
    int line = 0;
    for (char *p = text, *next; p && *p; p = next) {
        line++;
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        if (!strncmp(p, "# total seconds\t", 16)) {
            rep->seconds = strtod(p + 16, NULL);
            continue;
        }
        if (*p == '#' || !*p)
            continue;
        char *f[5] = {p, NULL, NULL, NULL, NULL};
        for (int k = 1; k < 5 && f[k - 1]; k++) {
            char *tab = strchr(f[k - 1], '\t');
            if (tab) {
                *tab = '\0';
                f[k] = tab + 1;
            }
        }
        if (!f[3]) {
            tb_errorf(err, "%s:%d: a report line needs 4 or 5 tab-separated fields", path, line);
            free(text);
            tb_compress_report_free(rep);
            return TB_ERR_FORMAT;
        }
        tb_layer_report r = {sizeof r, f[0], strtod(f[1], NULL), strtod(f[2], NULL),
                             strtod(f[3], NULL), f[4] && *f[4] ? f[4] : NULL};
        add_line(rep, &r);
    }
    free(text);
    return TB_OK;
}
