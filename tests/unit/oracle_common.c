/* oracle_common.c - see oracle_common.h. */
#include "oracle_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "model_io.h"
#include "tb_test.h"
#include "util.h"
#include "../../plugins/backends/native/engine.h"

int oc_plug_open(oc_plug *p, const char *name)
{
    memset(p, 0, sizeof *p);
    p->reg = tb_registry_new();
    tb_registry_scan_default(p->reg, NULL, 0);
    p->e = tb_registry_find(p->reg, TB_KIND_COMPRESSOR, name);
    CU_ASSERT_PTR_NOT_NULL(p->e);
    if (!p->e) {
        tb_registry_free(p->reg);
        return -1;
    }
    p->cfg = tb_config_new();
    tb_console_init(&p->con, stderr, 0, 0);
    tb_host_init_local(&p->host, name, &p->con, 0, 2);
    return 0;
}

void oc_plug_set(oc_plug *p, const char *name, const char *value)
{
    tb_param_value v;
    memset(&v, 0, sizeof v);
    char why[256];
    const tb_param *def = tb_param_find(p->e->desc, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(def);
    CU_ASSERT_EQUAL_FATAL(tb_param_parse(def, value, ".", &v, why, sizeof why), 0);
    tb_config_set(p->cfg, &v);
}

void oc_plug_close(oc_plug *p)
{
    tb_config_free(p->cfg);
    tb_registry_free(p->reg);
}

char *oc_oracle(const char *name)
{
    char *rel = tb_xasprintf("reference/oracle/stories260K/%s", name);
    char *p = tb_test_shared_path(rel);
    free(rel);
    return p;
}

char *oc_compress(const char *method, const char *const *sets, tb_compress_report *rep,
                  tb_error *err)
{
    return oc_compress_as(method, sets, 16, NULL, rep, err);
}

char *oc_compress_as(const char *method, const char *const *sets, int64_t samples,
                     char **unpacked, tb_compress_report *rep, tb_error *err)
{
    memset(rep, 0, sizeof *rep);
    memset(err, 0, sizeof *err);
    char *model = tb_test_shared_path("models/stories260K/stories260K.gguf");
    char *text = oc_oracle("calib.txt");
    oc_plug p;
    if (!model || !text || oc_plug_open(&p, method) != 0) {
        free(model);
        free(text);
        return NULL;
    }
    for (size_t i = 0; sets && sets[i]; i += 2)
        oc_plug_set(&p, sets[i], sets[i + 1]);
    char why[256];
    CU_ASSERT_EQUAL_FATAL(tb_config_fill_defaults(p.cfg, p.e->desc, ".", why, sizeof why), 0);
    const tb_plugin_entry *back = tb_registry_find(p.reg, TB_KIND_BACKEND, "native");
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    tb_config *bcfg = tb_config_new();
    CU_ASSERT_EQUAL_FATAL(tb_config_fill_defaults(bcfg, back->desc, ".", why, sizeof why), 0);
    static int serial; /* distinct outputs within one test program */
    char *out = tb_xasprintf("%s/%s-%d.gguf", tb_test_tmpdir(), method, serial++);
    tb_calib_spec calib = {text, samples, 256, "sequential", "text", "none", 0};
    tb_compress_job job;
    memset(&job, 0, sizeof job);
    job.model_path = model;
    job.compressor = p.e;
    job.compressor_config = p.cfg;
    job.calib = &calib;
    job.backend = back;
    job.backend_config = bcfg;
    job.out_path = out;
    job.console = &p.con;
    char *plain = unpacked ? tb_xasprintf("%s.f32.gguf", out) : NULL;
    job.unpacked_path = plain;
    if (tb_compress_run(&job, rep, err) != TB_OK) {
        free(out);
        free(plain);
        out = plain = NULL;
    }
    if (unpacked)
        *unpacked = plain;
    tb_config_free(bcfg);
    oc_plug_close(&p);
    free(model);
    free(text);
    return out;
}

/* Adds to nll the negative log-likelihood of positions 1..win-1 of one
 * window given its earlier tokens, from the window's logits (one running
 * sum, so the total does not depend on how the windows are grouped). */
static double window_nll(double nll, const float *logits, const int32_t *ids, int32_t win,
                         int32_t nv)
{
    for (int32_t p = 1; p < win; p++) {
        const float *l = logits + (size_t)(p - 1) * (size_t)nv;
        double mx = l[0], z = 0;
        for (int32_t v = 1; v < nv; v++)
            mx = fmax(mx, l[v]);
        for (int32_t v = 0; v < nv; v++)
            z += exp(l[v] - mx);
        nll -= l[ids[p]] - mx - log(z);
    }
    return nll;
}

/* eval.txt tokenized whole with one BOS, 256-token windows (the partial
 * one dropped), positions 1..255 of each scored given the window's
 * earlier tokens. */
double oc_perplexity(const char *path)
{
    char *eval = oc_oracle("eval.txt");
    tb_model *m = NULL;
    tb_error err;
    size_t len = 0, n = 0;
    char *text = eval ? tb_read_file(eval, &len, &err) : NULL;
    if (!text || tb_model_open(path, NULL, &m, &err) != TB_OK) {
        free(eval);
        free(text);
        return NAN;
    }
    m->ops->tokenize(m, text, len, TB_TOKENIZE_ADD_BOS, NULL, 0, &n, &err);
    CU_ASSERT_EQUAL(n, 55752);
    int32_t *ids = malloc(n * sizeof *ids);
    CU_ASSERT_EQUAL(m->ops->tokenize(m, text, len, TB_TOKENIZE_ADD_BOS, ids, n, &n, &err), TB_OK);
    tb_engine e;
    tb_kv kv;
    double nll = 0;
    int64_t scored = 0;
    const int32_t win = 256, nv = m->params.n_vocab;
    if (tb_engine_init(&e, m, 2, tb_isa_detect(), &err) == TB_OK &&
        tb_kv_init(&kv, &e, win, &err) == TB_OK) {
        e.compute = TB_COMPUTE_F32; /* oneDNN's f32 GEMMs: 10x faster here */
        float *logits = malloc((size_t)win * (size_t)nv * sizeof *logits);
        int32_t seq[256] = {0}, pos[256];
        uint8_t want[256];
        memset(want, 1, sizeof want);
        for (int32_t i = 0; i < win; i++)
            pos[i] = i;
        for (size_t s = 0; s + (size_t)win <= n; s += (size_t)win) {
            kv.n_past = 0;
            tb_batch b = {win, ids + s, seq, pos, want};
            CU_ASSERT_EQUAL_FATAL(tb_engine_forward(&e, &kv, &b, logits, &err), TB_OK);
            nll = window_nll(nll, logits, ids + s, win, nv);
            scored += win - 1;
        }
        free(logits);
        tb_kv_free(&kv);
        tb_engine_free(&e);
    }
    CU_ASSERT_EQUAL(scored, 55335);
    tb_model_close(m);
    free(ids);
    free(text);
    free(eval);
    return exp(nll / (double)scored);
}

int oc_calib_open(oc_calib *s, int64_t samples)
{
    memset(s, 0, sizeof *s);
    char *path = tb_test_shared_path("models/stories260K/stories260K.gguf");
    char *text = oc_oracle("calib.txt");
    if (!path || !text) {
        free(path);
        free(text);
        return 1;
    }
    tb_error err;
    char why[128];
    CU_ASSERT_EQUAL_FATAL(oc_plug_open(&s->p, "none"), 0);
    s->backend_entry = tb_registry_find(s->p.reg, TB_KIND_BACKEND, "native");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->backend_entry);
    const tb_plugin_descriptor *bd = s->backend_entry->desc;
    s->backend_cfg = tb_config_new();
    CU_ASSERT_EQUAL_FATAL(tb_config_fill_defaults(s->backend_cfg, bd, ".", why, sizeof why), 0);
    CU_ASSERT_EQUAL_FATAL(bd->create(tb_host_api_table(), &s->p.host, s->backend_cfg,
                                     &s->backend, &err), TB_OK);
    CU_ASSERT_EQUAL_FATAL(tb_model_open(path, NULL, &s->m, &err), TB_OK);
    tb_calib_spec spec = {text, samples, 256, "sequential", "text", "none", 0};
    CU_ASSERT_EQUAL_FATAL(tb_calib_tokens(s->m, &spec, &s->tokens, &err), TB_OK);
    s->c = tb_calibration_open(bd->ops.backend, s->backend, s->m, s->tokens, (int32_t)samples,
                               256, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->c);
    free(path);
    free(text);
    return 0;
}

void oc_calib_close(oc_calib *s)
{
    tb_calibration_close(s->c);
    free(s->tokens);
    tb_model_close(s->m);
    if (s->backend)
        s->backend_entry->desc->destroy(s->backend);
    tb_config_free(s->backend_cfg);
    oc_plug_close(&s->p);
    memset(s, 0, sizeof *s);
}

float *oc_logits(const tb_model *m, const int32_t *ids, int32_t n_seqs, int32_t len)
{
    tb_engine e;
    tb_kv kv;
    tb_error err;
    const size_t nv = (size_t)m->params.n_vocab;
    float *out = malloc((size_t)n_seqs * (size_t)len * nv * sizeof *out);
    int32_t *seq = calloc((size_t)len, sizeof *seq), *pos = malloc((size_t)len * sizeof *pos);
    uint8_t *want = malloc((size_t)len);
    if (!out || !seq || !pos || !want ||
        tb_engine_init(&e, m, 2, tb_isa_detect(), &err) != TB_OK) {
        free(out);
        free(seq);
        free(pos);
        free(want);
        return NULL;
    }
    memset(want, 1, (size_t)len);
    for (int32_t i = 0; i < len; i++)
        pos[i] = i;
    tb_status st = tb_kv_init(&kv, &e, len, &err);
    int kv_open = st == TB_OK; /* a failed init frees what it took */
    for (int32_t s = 0; st == TB_OK && s < n_seqs; s++) {
        kv.n_past = 0;
        tb_batch b = {len, ids + (size_t)s * (size_t)len, seq, pos, want};
        st = tb_engine_forward(&e, &kv, &b, out + (size_t)s * (size_t)len * nv, &err);
    }
    if (kv_open)
        tb_kv_free(&kv);
    tb_engine_free(&e);
    free(seq);
    free(pos);
    free(want);
    if (st != TB_OK) {
        free(out);
        return NULL;
    }
    return out;
}
