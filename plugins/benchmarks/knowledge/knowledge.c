/*
 * knowledge - LLM-KICK-style knowledge probes (Jaiswal et al., "Compressing
 * LLMs: The Truth is Rarely Pure and Never Simple"): `task: freebaseqa`
 * (factoid QA by generation) or `task: mmlu` (multiple choice by
 * log-likelihood).  One plugin, two tasks, because they share the
 * question of what a compressed model still knows and most parameters;
 * a matrix lists it once per task.  Definitions:
 * doc/benchmarks/knowledge.md.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge.h"

static const tb_param params[] = {
    {"task", TB_PARAM_ENUM, "mmlu", 0, 0, "mmlu|freebaseqa",
     "mmlu: multiple choice by log-likelihood; freebaseqa: factoid QA by generation", 0},
    {"data", TB_PARAM_PATH, NULL, 0, 0, NULL,
     "mmlu: the folder holding dev/ and test/ (and val/); freebaseqa: "
     "FreebaseQA-eval.txt or a v1.0 FreebaseQA-*.json", 0},
    {"split", TB_PARAM_ENUM, "test", 0, 0, "test|val|dev", "mmlu: the split evaluated", 0},
    {"shots", TB_PARAM_INT, "5", 0, 16, NULL,
     "mmlu: examples from the subject's dev file (its first ones, in file order)",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"subjects", TB_PARAM_STRING_LIST, "[]", 0, 0, NULL,
     "mmlu: only these subjects (file names without _<split>.csv); []: all", 0},
    {"method", TB_PARAM_ENUM, "loglikelihood", 0, 0, "loglikelihood|generate|auto",
     "mmlu: the log-likelihood of ' A'..' D' (the original protocol), a greedy generated "
     "letter, or auto: log-likelihood when the backend session offers it, else generation",
     0},
    {"prompt", TB_PARAM_ENUM, "plain", 0, 0, "auto|chat|plain",
     "plain text (as the papers), the model's chat template, or chat when it has one", 0},
    /* LLM-KICK's prompt (factoid_qa/main_freebase.py), trailing space and
     * all; no stop string, as there. */
    {"template", TB_PARAM_STRING,
     "Please give answer to this question: {question}\\nThe answer is ", 0, 0, NULL,
     "freebaseqa: the prompt; {question} is replaced (\\n, \\t, \\\\ are escapes)", 0},
    {"max_tokens", TB_PARAM_INT, "0", 0, 4096, NULL,
     "freebaseqa: new tokens at most; 0: twice the prompt's tokens (LLM-KICK)",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"stop", TB_PARAM_STRING, "", 0, 0, NULL,
     "freebaseqa: generation stops at this text (escapes as in template); \"\": never", 0},
    {"batch", TB_PARAM_INT, "32", 1, 4096, NULL, "questions per backend call",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
};

void tb_knowledge_prefix_error(const tb_knowledge *k, tb_error *err)
{
    char why[TB_ERROR_SIZE];
    snprintf(why, sizeof why, "%s", err->message);
    k->kit.api->errorf(err, "knowledge: %s", why);
}

char *tb_knowledge_normalize(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ')
            out[k++] = (char)tolower((unsigned char)s[i]);
    out[k] = '\0';
    return out;
}

/* \n \t \r and \\ become the characters, so YAML plain and quoted
 * strings both work. */
static char *unescape(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && strchr("ntr\\", s[i + 1])) {
            char e = s[++i];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : '\\';
        }
        out[k++] = c;
    }
    out[k] = '\0';
    return out;
}

typedef struct instance {
    tb_knowledge k;
    const char *task;
    const char **subjects;
} instance;

static void knowledge_destroy(void *self)
{
    instance *in = self;
    if (!in)
        return;
    free(in->k.template_text);
    free(in->k.stop);
    free(in->subjects);
    free(in);
}

static tb_status read_subjects(const tb_host_api *api, const tb_config *cfg, instance *in,
                               tb_error *err)
{
    size_t n = 0;
    if (api->config_list_len(cfg, "subjects", &n) != TB_OK)
        return TB_ERR_INVALID;
    in->subjects = calloc(n ? n : 1, sizeof *in->subjects);
    if (!in->subjects) {
        api->errorf(err, "knowledge: out of memory");
        return TB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (api->config_list_item(cfg, "subjects", i, &in->subjects[i]) != TB_OK)
            return TB_ERR_INVALID;
    in->k.subjects = in->subjects;
    in->k.n_subjects = n;
    return TB_OK;
}

static tb_status knowledge_create(const tb_host_api *api, tb_host *host, const tb_config *cfg,
                                  void **out, tb_error *err)
{
    instance *in = calloc(1, sizeof *in);
    if (!in) {
        api->errorf(err, "knowledge: out of memory");
        return TB_ERR_NOMEM;
    }
    tb_knowledge *k = &in->k;
    k->kit = (tb_kit){api, host};
    const char *mode = "plain", *tmpl = "", *stop = "", *method = "loglikelihood";
    tb_status st = TB_OK;
    if (api->config_string(cfg, "task", &in->task) != TB_OK ||
        api->config_string(cfg, "data", &k->data) != TB_OK ||
        api->config_string(cfg, "split", &k->split) != TB_OK ||
        api->config_int(cfg, "shots", &k->shots) != TB_OK ||
        api->config_string(cfg, "prompt", &mode) != TB_OK ||
        api->config_string(cfg, "method", &method) != TB_OK ||
        api->config_string(cfg, "template", &tmpl) != TB_OK ||
        api->config_int(cfg, "max_tokens", &k->max_tokens) != TB_OK ||
        api->config_string(cfg, "stop", &stop) != TB_OK ||
        api->config_int(cfg, "batch", &k->batch) != TB_OK ||
        read_subjects(api, cfg, in, err) != TB_OK) {
        api->errorf(err, "knowledge: the host did not provide every declared parameter");
        st = TB_ERR_INVALID;
    }
    k->mc = !strcmp(method, "generate") ? TB_KNOWLEDGE_MC_GENERATE
            : !strcmp(method, "auto")   ? TB_KNOWLEDGE_MC_AUTO
                                        : TB_KNOWLEDGE_MC_LOGLIKELIHOOD;
    if (st == TB_OK && tb_kit_prompt_mode_parse(mode, &k->mode) != 0) {
        api->errorf(err, "knowledge: prompt '%s' is not auto, chat or plain", mode);
        st = TB_ERR_INVALID;
    }
    if (st == TB_OK && (!(k->template_text = unescape(tmpl)) || !(k->stop = unescape(stop)))) {
        api->errorf(err, "knowledge: out of memory");
        st = TB_ERR_NOMEM;
    }
    if (st == TB_OK && !strcmp(in->task, "freebaseqa") && !strstr(k->template_text, "{question}")) {
        api->errorf(err, "knowledge: the template '%s' has no {question}", tmpl);
        st = TB_ERR_INVALID;
    }
    if (st != TB_OK) {
        knowledge_destroy(in);
        return st;
    }
    *out = in;
    return TB_OK;
}

static tb_status knowledge_run(void *self, tb_error *err)
{
    instance *in = self;
    if (!strcmp(in->task, "freebaseqa")) {
        if (!(in->k.kit.api->backend_caps(in->k.kit.host) & TB_CAP_GENERATE)) {
            in->k.kit.api->errorf(err, "knowledge: freebaseqa needs text generation, which "
                                       "the backend does not offer");
            return TB_ERR_UNSUPPORTED;
        }
        return tb_knowledge_freebaseqa(&in->k, err);
    }
    uint32_t caps = in->k.kit.api->backend_caps(in->k.kit.host);
    if (in->k.mc == TB_KNOWLEDGE_MC_AUTO) {
        in->k.fell_back = !(caps & TB_CAP_LOGLIKELIHOOD);
        in->k.mc = in->k.fell_back ? TB_KNOWLEDGE_MC_GENERATE : TB_KNOWLEDGE_MC_LOGLIKELIHOOD;
    }
    if (in->k.mc == TB_KNOWLEDGE_MC_LOGLIKELIHOOD && !(caps & TB_CAP_LOGLIKELIHOOD)) {
        in->k.kit.api->errorf(err, "knowledge: mmlu needs log-likelihoods, which the backend "
                                   "does not offer (try method: generate or auto)");
        return TB_ERR_UNSUPPORTED;
    }
    if (in->k.mc == TB_KNOWLEDGE_MC_GENERATE && !(caps & TB_CAP_GENERATE)) {
        in->k.kit.api->errorf(err, "knowledge: mmlu with method generate needs text "
                                   "generation, which the backend does not offer");
        return TB_ERR_UNSUPPORTED;
    }
    return tb_knowledge_mmlu(&in->k, err);
}

static const tb_benchmark_vtable ops = {
    .struct_size = sizeof(tb_benchmark_vtable),
    .needs = 0, /* per task: checked in run */
    .run = knowledge_run,
};

static const tb_plugin_descriptor descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_BENCHMARK,
    .name = "knowledge",
    .version = "0.1.0",
    .description = "LLM-KICK knowledge probes: FreebaseQA by generation, MMLU by "
                   "log-likelihood",
    TB_PARAMS(params),
    .create = knowledge_create,
    .destroy = knowledge_destroy,
    .ops.benchmark = &ops,
};

TB_PLUGIN_DEFINE(descriptor)
