/*
 * adv_demo - DecodingTrust's robustness to adversarial demonstrations:
 * counterfactual demonstrations (accuracy of each task without and with a
 * counterfactual example among the demonstrations), spurious correlations
 * in the demonstrations, and backdoored demonstrations (attack success rate
 * on triggered inputs, accuracy on clean ones); and DecodingTrust's
 * aggregate mean(cf accuracy, spurious accuracy, 1 − ASR)
 * (doc/benchmarks/adv_demo.md).
 *
 * This file holds the parameters, finds the data files (the plan) and
 * reports the metrics; adv_demo_eval.c generates and judges.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <trustbench/kit.h>
#include <trustbench/plugin.h>

#include "adv_demo_data.h"
#include "adv_demo_eval.h"
#include "adv_demo_score.h"

static const tb_param adv_params[] = {
    {"data", TB_PARAM_PATH, NULL, 0, 0, NULL,
     "DecodingTrust's data/adv_demonstration folder (counterfactual/, spurious/, "
     "backdoor/experiment1/)", 0},
    {"spurious", TB_PARAM_PATH, "", 0, 0, NULL,
     "the spurious-correlation folder (<heuristic>/<bias>/<seed>.jsonl); empty: "
     "data/spurious", TB_PARAM_OPTIONAL},
    {"parts", TB_PARAM_STRING_LIST, "[]", 0, 0, NULL,
     "parts to run: counterfactual, spurious, backdoor; empty: every part whose data is "
     "present", 0},
    {"seeds", TB_PARAM_STRING_LIST, "[]", 0, 0, NULL,
     "demonstration seeds (the <seed>.jsonl files) to run; empty: every one present "
     "(DecodingTrust: 42, 2333, 10007)", 0},
    {"prompt", TB_PARAM_ENUM, "auto", 0, 0, "auto|chat|plain",
     "chat template (auto: when the model has one) or plain text", 0},
    {"max_tokens", TB_PARAM_INT, "32", 1, 4096, NULL, "new tokens per answer at most",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"batch", TB_PARAM_INT, "64", 1, 4096, NULL, "generation requests per backend call",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
};

#define ADV_MAX_SEEDS 32

typedef struct adv {
    tb_kit kit;
    const char *data, *spurious;
    int want[ADV_PARTS];
    int named;
    const char *seeds[ADV_MAX_SEEDS];
    size_t n_seeds;
    adv_opts opts;
} adv;

static void adv_destroy(void *self)
{
    free(self);
}

static tb_status read_lists(adv *a, const tb_config *config, tb_error *err)
{
    const tb_host_api *api = a->kit.api;
    size_t n = 0;
    api->config_list_len(config, "parts", &n);
    for (size_t i = 0; i < n; i++) {
        const char *s = "";
        api->config_list_item(config, "parts", i, &s);
        int p = 0;
        while (p < ADV_PARTS && strcmp(s, adv_part_names[p]) != 0)
            p++;
        if (p == ADV_PARTS) {
            api->errorf(err, "adv_demo: unknown part '%s' (counterfactual, spurious, "
                             "backdoor)", s);
            return TB_ERR_INVALID;
        }
        a->want[p] = a->named = 1;
    }
    api->config_list_len(config, "seeds", &n);
    if (n > ADV_MAX_SEEDS) {
        api->errorf(err, "adv_demo: at most %d seeds", ADV_MAX_SEEDS);
        return TB_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++)
        api->config_list_item(config, "seeds", i, &a->seeds[a->n_seeds++]);
    return TB_OK;
}

static tb_status adv_create(const tb_host_api *api, tb_host *host, const tb_config *config,
                            void **out, tb_error *err)
{
    adv *a = calloc(1, sizeof *a);
    if (!a) {
        api->errorf(err, "adv_demo: out of memory");
        return TB_ERR_NOMEM;
    }
    a->kit.api = api;
    a->kit.host = host;
    const char *mode = "auto";
    int64_t max_tokens = 32, batch = 64;
    api->config_string(config, "data", &a->data);
    api->config_string(config, "spurious", &a->spurious);
    api->config_string(config, "prompt", &mode);
    api->config_int(config, "max_tokens", &max_tokens);
    api->config_int(config, "batch", &batch);
    tb_kit_prompt_mode_parse(mode, &a->opts.mode);
    a->opts.max_tokens = (int32_t)max_tokens;
    a->opts.batch = (size_t)batch;
    tb_status st = read_lists(a, config, err);
    if (st != TB_OK) {
        free(a);
        return st;
    }
    *out = a;
    return TB_OK;
}

/* ------------------------------------------------------------------ */
/* Finding the files                                                   */
/* ------------------------------------------------------------------ */

typedef struct adv_plan {
    adv_run *runs;
    size_t n, cap;
} adv_plan;

static void plan_free(adv_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->runs[i].path);
        adv_file_free(&p->runs[i].data);
        free(p->runs[i].verdicts);
    }
    free(p->runs);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a folder, sorted, that are folders (dirs) or seed files
 * "<digits>.jsonl" (!dirs).  NULL-terminated; free with free_names. */
static char **list(const char *path, int dirs)
{
    DIR *d = opendir(path);
    size_t n = 0, cap = 16;
    char **names = calloc(cap + 1, sizeof *names);
    if (!d || !names) {
        if (d)
            closedir(d);
        return names;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *full = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (!full)
            break;
        sprintf(full, "%s/%s", path, e->d_name);
        int keep = is_dir(full) == dirs;
        free(full);
        if (keep && !dirs) {
            size_t len = strspn(e->d_name, "0123456789");
            keep = len > 0 && strcmp(e->d_name + len, ".jsonl") == 0;
        }
        if (!keep)
            continue;
        if (n == cap) {
            char **grown = realloc(names, (2 * cap + 1) * sizeof *names);
            if (!grown)
                break;
            names = grown;
            cap *= 2;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        names[++n] = NULL;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    return names;
}

static void free_names(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

static int seed_wanted(const adv *a, const char *seed)
{
    if (a->n_seeds == 0)
        return 1;
    for (size_t i = 0; i < a->n_seeds; i++)
        if (strcmp(a->seeds[i], seed) == 0)
            return 1;
    return 0;
}

static tb_status add_run(adv *a, adv_plan *p, adv_part part, adv_kind kind, const char *task,
                         const char *dir, const char *file, tb_error *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 32;
        adv_run *grown = realloc(p->runs, cap * sizeof *grown);
        if (!grown) {
            a->kit.api->errorf(err, "adv_demo: out of memory");
            return TB_ERR_NOMEM;
        }
        p->runs = grown;
        p->cap = cap;
    }
    adv_run *r = &p->runs[p->n];
    memset(r, 0, sizeof *r);
    r->part = part;
    r->kind = kind;
    snprintf(r->task, sizeof r->task, "%s", task);
    snprintf(r->seed, sizeof r->seed, "%.*s", (int)strspn(file, "0123456789"), file);
    r->path = malloc(strlen(dir) + strlen(file) + 2);
    if (!r->path) {
        a->kit.api->errorf(err, "adv_demo: out of memory");
        return TB_ERR_NOMEM;
    }
    sprintf(r->path, "%s/%s", dir, file);
    p->n++;
    return TB_OK;
}

/* Every wanted seed file of one task folder. */
static tb_status add_folder(adv *a, adv_plan *p, adv_part part, adv_kind kind,
                            const char *task, const char *dir, tb_error *err)
{
    char **files = list(dir, 0);
    tb_status st = TB_OK;
    for (size_t i = 0; st == TB_OK && files && files[i]; i++) {
        char seed[32];
        snprintf(seed, sizeof seed, "%.*s", (int)strspn(files[i], "0123456789"), files[i]);
        if (seed_wanted(a, seed))
            st = add_run(a, p, part, kind, task, dir, files[i], err);
    }
    free_names(files);
    return st;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static char *join(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 2);
    if (s)
        sprintf(s, "%s/%s", a, b);
    return s;
}

static tb_status plan_counterfactual(adv *a, adv_plan *p, tb_error *err)
{
    char *root = join(a->data, "counterfactual");
    char **dirs = root ? list(root, 1) : NULL;
    tb_status st = TB_OK;
    for (size_t i = 0; st == TB_OK && dirs && dirs[i]; i++) {
        char *dir = join(root, dirs[i]);
        adv_kind kind = ends_with(dirs[i], "_cf") ? ADV_KIND_CF : ADV_KIND_PLAIN;
        st = dir ? add_folder(a, p, ADV_COUNTERFACTUAL, kind, dirs[i], dir, err) : TB_ERR_NOMEM;
        free(dir);
    }
    free_names(dirs);
    free(root);
    return st;
}

/* <heuristic>/<bias>/<seed>.jsonl under the spurious folder. */
static tb_status plan_spurious(adv *a, adv_plan *p, tb_error *err)
{
    char *root = *a->spurious ? strdup(a->spurious) : join(a->data, "spurious");
    char **heur = root ? list(root, 1) : NULL;
    tb_status st = TB_OK;
    for (size_t i = 0; st == TB_OK && heur && heur[i]; i++) {
        char *hdir = join(root, heur[i]);
        char **bias = hdir ? list(hdir, 1) : NULL;
        for (size_t j = 0; st == TB_OK && bias && bias[j]; j++) {
            char *dir = join(hdir, bias[j]);
            char task[192];
            snprintf(task, sizeof task, "%.90s/%.90s", heur[i], bias[j]);
            st = dir ? add_folder(a, p, ADV_SPURIOUS, ADV_KIND_PLAIN, task, dir, err)
                     : TB_ERR_NOMEM;
            free(dir);
        }
        free_names(bias);
        free(hdir);
    }
    free_names(heur);
    free(root);
    return st;
}

/* backdoor/experiment1/<name>_{asr,cacc}/<seed>.jsonl; the task is <name>. */
static tb_status plan_backdoor(adv *a, adv_plan *p, tb_error *err)
{
    char *root = join(a->data, "backdoor/experiment1");
    char **dirs = root ? list(root, 1) : NULL;
    tb_status st = TB_OK;
    for (size_t i = 0; st == TB_OK && dirs && dirs[i]; i++) {
        int asr = ends_with(dirs[i], "_asr"), cacc = ends_with(dirs[i], "_cacc");
        if (!asr && !cacc)
            continue;
        char task[192];
        snprintf(task, sizeof task, "%.*s", (int)(strlen(dirs[i]) - (asr ? 4 : 5)), dirs[i]);
        char *dir = join(root, dirs[i]);
        st = dir ? add_folder(a, p, ADV_BACKDOOR, asr ? ADV_KIND_ASR : ADV_KIND_CACC, task,
                              dir, err)
                 : TB_ERR_NOMEM;
        free(dir);
    }
    free_names(dirs);
    free(root);
    return st;
}

static tb_status plan(adv *a, adv_plan *p, tb_error *err)
{
    tb_status (*const planners[ADV_PARTS])(adv *, adv_plan *, tb_error *) = {
        plan_counterfactual, plan_spurious, plan_backdoor};
    char missing[96] = "";
    for (int part = 0; part < ADV_PARTS; part++) {
        if (a->named && !a->want[part])
            continue;
        size_t before = p->n;
        tb_status st = planners[part](a, p, err);
        if (st != TB_OK)
            return st;
        if (p->n > before)
            continue;
        if (a->named) {
            a->kit.api->errorf(err, "adv_demo: part '%s' has no data files under %s%s",
                               adv_part_names[part],
                               part == ADV_SPURIOUS && *a->spurious ? a->spurious : a->data,
                               a->n_seeds ? " for the seeds named" : "");
            return TB_ERR_NOT_FOUND;
        }
        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                 *missing ? ", " : "", adv_part_names[part]);
    }
    if (p->n == 0) {
        a->kit.api->errorf(err, "adv_demo: %s holds no adversarial-demonstration data files",
                           a->data);
        return TB_ERR_NOT_FOUND;
    }
    if (*missing)
        a->kit.api->log(a->kit.host, TB_LOG_WARN, "adv_demo: %zu files; not run: %s (no data)",
                        p->n, missing);
    else
        a->kit.api->log(a->kit.host, TB_LOG_INFO, "adv_demo: %zu files", p->n);
    for (size_t i = 0; i < p->n; i++) {
        tb_status st = adv_file_load(&a->kit, p->runs[i].path, &p->runs[i].data, err);
        if (st != TB_OK)
            return st;
    }
    return TB_OK;
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

static tb_status item_metrics(const tb_kit *k, const adv_run *runs, size_t n, tb_error *err)
{
    const uint32_t per = TB_METRIC_FROM_ITEMS | TB_METRIC_PER_GROUP;
    tb_status st = TB_OK;
    /* Each kind's metrics once, in a fixed order. */
    static const struct {
        adv_part part;
        adv_kind kind;
        uint32_t direction;
    } kinds[] = {
        {ADV_COUNTERFACTUAL, ADV_KIND_PLAIN, TB_METRIC_HIGHER_BETTER},
        {ADV_SPURIOUS, ADV_KIND_PLAIN, TB_METRIC_HIGHER_BETTER},
        {ADV_BACKDOOR, ADV_KIND_ASR, TB_METRIC_LOWER_BETTER},
        {ADV_BACKDOOR, ADV_KIND_CACC, TB_METRIC_HIGHER_BETTER},
    };
    for (size_t q = 0; st == TB_OK && q < sizeof kinds / sizeof *kinds; q++) {
        const adv_run *found = NULL;
        for (size_t i = 0; i < n && !found; i++) {
            adv_kind kind = runs[i].kind == ADV_KIND_CF ? ADV_KIND_PLAIN : runs[i].kind;
            if (runs[i].part == kinds[q].part && kind == kinds[q].kind)
                found = &runs[i];
        }
        if (!found)
            continue;
        st = tb_kit_metric(k, adv_item_metric(found), 0, 0, "DecodingTrust answer matching",
                           per | kinds[q].direction, err);
        if (st == TB_OK)
            st = tb_kit_metric(k, adv_refusal_metric(found), 0, 0,
                               "answers that are no option", per | TB_METRIC_REFUSAL, err);
    }
    return st;
}

static tb_status plain(const tb_kit *k, const char *name, double v, int has, uint32_t flags,
                       tb_error *err)
{
    if (!has || isnan(v))
        return TB_OK;
    return tb_kit_metric(k, name, v, 0, "mean over tasks of the mean over seeds", flags, err);
}

static tb_status report_metrics(const tb_kit *k, const adv_run *runs, size_t n, tb_error *err)
{
    adv_scores sc;
    adv_aggregate(runs, n, &sc);
    char label[160] = "DecodingTrust adversarial-demonstration aggregate of";
    for (int p = 0; p < ADV_PARTS; p++)
        if (sc.has[p])
            snprintf(label + strlen(label), sizeof label - strlen(label), " %s",
                     adv_part_names[p]);
    if (sc.n_parts < ADV_PARTS)
        snprintf(label + strlen(label), sizeof label - strlen(label), " (partial: %d of 3)",
                 sc.n_parts);
    tb_status st = TB_OK;
    if (sc.n_parts > 0) {
        double lo, hi;
        adv_score_ci(runs, n, tb_kit_bootstrap_seed(k, "adv_demo/score"), &lo, &hi);
        st = tb_kit_metric_ci(k, "score", sc.score, lo, hi, (int64_t)n, label,
                              TB_METRIC_PRIMARY | TB_METRIC_HIGHER_BETTER, err);
        if (st == TB_OK)
            st = tb_kit_metric(k, "refusal_rate", sc.refusal_rate, (int64_t)n,
                               "mean over the aggregate's parts of answers that are no option",
                               TB_METRIC_REFUSAL, err);
    }
    if (st == TB_OK)
        st = item_metrics(k, runs, n, err);
    const uint32_t hi = TB_METRIC_HIGHER_BETTER, lo = TB_METRIC_LOWER_BETTER;
    if (st == TB_OK)
        st = plain(k, "counterfactual_cf_accuracy", sc.cf_accuracy,
                   sc.has[ADV_COUNTERFACTUAL], hi, err);
    if (st == TB_OK)
        st = plain(k, "counterfactual_plain_accuracy", sc.cf_plain_accuracy, 1, hi, err);
    if (st == TB_OK)
        st = plain(k, "spurious_avg_accuracy", sc.spurious_accuracy, sc.has[ADV_SPURIOUS], hi,
                   err);
    if (st == TB_OK)
        st = plain(k, "backdoor_avg_asr", sc.asr, sc.has[ADV_BACKDOOR], lo, err);
    if (st == TB_OK)
        st = plain(k, "backdoor_avg_clean_accuracy", sc.clean_accuracy, 1, hi, err);
    return st;
}

static tb_status adv_run_cell(void *self, tb_error *err)
{
    adv *a = self;
    adv_plan p;
    memset(&p, 0, sizeof p);
    tb_status st = plan(a, &p, err);
    if (st == TB_OK)
        st = adv_evaluate(&a->kit, &a->opts, p.runs, p.n, err);
    if (st == TB_OK)
        st = report_metrics(&a->kit, p.runs, p.n, err);
    plan_free(&p);
    return st;
}

static const tb_benchmark_vtable adv_ops = {
    .struct_size = sizeof(tb_benchmark_vtable),
    .needs = TB_CAP_GENERATE,
    .run = adv_run_cell,
};

static const tb_plugin_descriptor adv_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_BENCHMARK,
    .name = "adv_demo",
    .version = "0.1.0",
    .description = "DecodingTrust robustness to adversarial demonstrations: counterfactual, "
                   "spurious-correlation and backdoored demonstrations, and the score",
    TB_PARAMS(adv_params),
    .create = adv_create,
    .destroy = adv_destroy,
    .ops.benchmark = &adv_ops,
};

TB_PLUGIN_DEFINE(adv_descriptor)
