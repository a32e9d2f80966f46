/*
 * mmlu.c - MMLU (Hendrycks et al.) multiple choice by log-likelihood, in
 * the original evaluation's prompt layout:
 *
 *   The following are multiple choice questions (with answers) about
 *   <subject with spaces>.\n\n
 *   <k dev examples, each: question\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer: X\n\n>
 *   <question>\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:
 *
 * scored with the continuations " A" .. " D"; the pick is the largest
 * log-probability (lm-evaluation-harness "acc").  The k examples are the
 * first k rows of the subject's dev file, as the original script takes
 * them.  Files: <data>/<split>/<subject>_<split>.csv, headerless
 * question,A,B,C,D,answer; ids "<subject>:<line>".
 */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge.h"

static const char *const columns[] = {"question", "A", "B", "C", "D", "answer"};
static const char *const letters[] = {"A", "B", "C", "D"};

typedef struct subject {
    char *name;
    tb_kit_table *rows; /* the split evaluated */
    tb_kit_table *dev;  /* few-shot examples; NULL with 0 shots */
    size_t n, correct;  /* items evaluated and right */
} subject;

typedef struct question {
    size_t subject, row;
    char id[160];
} question;

typedef struct mmlu {
    subject *subjects;
    size_t n_subjects;
    question *qs;
    size_t n_qs;
} mmlu;

static void mmlu_free(mmlu *m)
{
    for (size_t i = 0; i < m->n_subjects; i++) {
        free(m->subjects[i].name);
        tb_kit_table_free(m->subjects[i].rows);
        tb_kit_table_free(m->subjects[i].dev);
    }
    free(m->subjects);
    free(m->qs);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ */
/* A growing string                                                    */
/* ------------------------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) TB_PRINTF(2, 3);
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || b->n + (size_t)need + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (need > 0 ? (size_t)need : 0);
        char *s = need < 0 ? NULL : realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static int letter_of(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    int c = toupper((unsigned char)*s);
    if (c < 'A' || c > 'D')
        return -1;
    s++;
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s ? -1 : c - 'A';
}

static tb_status check_rows(const tb_knowledge *k, const tb_kit_table *t, tb_error *err)
{
    for (size_t i = 0; i < tb_kit_rows(t); i++) {
        for (size_t c = 0; c < 6; c++)
            if (!tb_kit_need_str(t, i, columns[c], err))
                return TB_ERR_FORMAT;
        const char *a = tb_kit_str(tb_kit_row(t, i), "answer");
        if (letter_of(a) < 0) {
            k->kit.api->errorf(err,
                     "%s: the answer '%s' is not A, B, C or D", tb_kit_where(t, i), a);
            return TB_ERR_FORMAT;
        }
    }
    return TB_OK;
}

static tb_status read_csv(tb_knowledge *k, const char *path, tb_kit_table **out, tb_error *err)
{
    tb_kit_read_opts o = {sizeof o, TB_KIT_FORMAT_CSV, TB_KIT_BAD_FAIL, NULL, 1, columns, 6};
    tb_status st = tb_kit_read(&k->kit, path, &o, out, err);
    if (st == TB_OK)
        st = check_rows(k, *out, err);
    return st;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subject names of <data>/<split>/<name>_<split>.csv, sorted. */
static tb_status list_subjects(tb_knowledge *k, char ***names, size_t *n, tb_error *err)
{
    char dir[4096], suffix[32];
    snprintf(dir, sizeof dir, "%s/%s", k->data, k->split);
    snprintf(suffix, sizeof suffix, "_%s.csv", k->split);
    *names = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp) {
        k->kit.api->errorf(err,
                 "%s: cannot open the folder (data must be MMLU's folder holding dev/ and "
                 "%s/)", dir, k->split);
        return TB_ERR_NOT_FOUND;
    }
    size_t sl = strlen(suffix);
    struct dirent *e;
    tb_status st = TB_OK;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        char **grown = realloc(*names, (*n + 1) * sizeof **names);
        char *name = grown ? strndup(e->d_name, len - sl) : NULL;
        if (grown)
            *names = grown;
        if (!name) {
            k->kit.api->errorf(err, "%s: out of memory", dir);
            st = TB_ERR_NOMEM;
            break;
        }
        (*names)[(*n)++] = name;
    }
    closedir(dp);
    if (st == TB_OK && *n == 0) {
        k->kit.api->errorf(err, "%s: no *%s files", dir, suffix);
        st = TB_ERR_NOT_FOUND;
    }
    if (*names)
        qsort(*names, *n, sizeof **names, by_name);
    return st;
}

static int wanted(const tb_knowledge *k, const char *name)
{
    if (k->n_subjects == 0)
        return 1;
    for (size_t i = 0; i < k->n_subjects; i++)
        if (!strcmp(k->subjects[i], name))
            return 1;
    return 0;
}

static tb_status check_wanted(const tb_knowledge *k, char **names, size_t n, tb_error *err)
{
    for (size_t i = 0; i < k->n_subjects; i++) {
        int found = 0;
        for (size_t j = 0; j < n && !found; j++)
            found = !strcmp(k->subjects[i], names[j]);
        if (!found) {
            k->kit.api->errorf(err,
                     "subject '%s' has no %s/%s/%s_%s.csv", k->subjects[i], k->data, k->split,
                     k->subjects[i], k->split);
            return TB_ERR_NOT_FOUND;
        }
    }
    return TB_OK;
}

static tb_status load_subject(tb_knowledge *k, subject *s, tb_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s_%s.csv", k->data, k->split, s->name, k->split);
    tb_status st = read_csv(k, path, &s->rows, err);
    if (st != TB_OK || k->shots == 0)
        return st;
    snprintf(path, sizeof path, "%s/dev/%s_dev.csv", k->data, s->name);
    st = read_csv(k, path, &s->dev, err);
    if (st == TB_OK && tb_kit_rows(s->dev) < (size_t)k->shots) {
        k->kit.api->errorf(err,
                 "%s: %zu examples, fewer than the %lld shots asked for", path,
                 tb_kit_rows(s->dev), (long long)k->shots);
        st = TB_ERR_FORMAT;
    }
    return st;
}

static tb_status add_questions(const tb_knowledge *k, mmlu *m, size_t si, tb_error *err)
{
    const subject *s = &m->subjects[si];
    size_t rows = tb_kit_rows(s->rows);
    question *qs = realloc(m->qs, (m->n_qs + rows + 1) * sizeof *qs);
    if (!qs) {
        k->kit.api->errorf(err, "out of memory");
        return TB_ERR_NOMEM;
    }
    m->qs = qs;
    for (size_t r = 0; r < rows; r++) {
        question *q = &m->qs[m->n_qs++];
        q->subject = si;
        q->row = r;
        const char *where = tb_kit_where(s->rows, r);
        const char *colon = strrchr(where, ':');
        snprintf(q->id, sizeof q->id, "%s:%s", s->name, colon ? colon + 1 : where);
    }
    return TB_OK;
}

static tb_status load(tb_knowledge *k, mmlu *m, tb_error *err)
{
    char **names = NULL;
    size_t n = 0;
    tb_status st = list_subjects(k, &names, &n, err);
    if (st == TB_OK)
        st = check_wanted(k, names, n, err);
    if (st == TB_OK && !(m->subjects = calloc(n, sizeof *m->subjects))) {
        k->kit.api->errorf(err, "out of memory");
        st = TB_ERR_NOMEM;
    }
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        if (!wanted(k, names[i]))
            continue;
        subject *s = &m->subjects[m->n_subjects++];
        s->name = names[i];
        names[i] = NULL;
        st = load_subject(k, s, err);
        if (st == TB_OK)
            st = add_questions(k, m, m->n_subjects - 1, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

/* ------------------------------------------------------------------ */
/* Prompts                                                             */
/* ------------------------------------------------------------------ */

static void format_example(sbuf *b, const tb_kit_value *row, int with_answer)
{
    sb_add(b, "%s", tb_kit_str(row, "question"));
    for (int c = 0; c < 4; c++)
        sb_add(b, "\n%s. %s", letters[c], tb_kit_str(row, letters[c]));
    sb_add(b, "\nAnswer:");
    if (with_answer)
        sb_add(b, " %s\n\n", letters[letter_of(tb_kit_str(row, "answer"))]);
}

/* The context of one question, rendered in the prompt mode; malloc'd. */
static char *context_of(tb_knowledge *k, const subject *s, size_t row, tb_kit_prompt *pr,
                        tb_error *err)
{
    sbuf b = {0};
    sb_add(&b, "The following are multiple choice questions (with answers) about ");
    for (const char *c = s->name; *c; c++)
        sb_add(&b, "%c", *c == '_' ? ' ' : *c);
    sb_add(&b, ".\n\n");
    for (int64_t i = 0; i < k->shots; i++)
        format_example(&b, tb_kit_row(s->dev, (size_t)i), 1);
    format_example(&b, tb_kit_row(s->rows, row), 0);
    if (b.oom) {
        free(b.s);
        k->kit.api->errorf(err, "knowledge: out of memory");
        return NULL;
    }
    tb_kit_prompt_clear(pr);
    tb_kit_prompt_add(pr, "user", "%s", b.s);
    free(b.s);
    const char *text = NULL;
    if (tb_kit_prompt_text(&k->kit, pr, k->mode, &text, NULL, err) != TB_OK)
        return NULL;
    char *out = strdup(text);
    if (!out)
        k->kit.api->errorf(err, "knowledge: out of memory");
    return out;
}

/* ------------------------------------------------------------------ */
/* Scoring                                                             */
/* ------------------------------------------------------------------ */

/* method generate: each context continued greedily for a few tokens; the
 * texts are copied out (malloc'd) because the session owns its results. */
static tb_status generate_letters(tb_knowledge *k, const char *const *ctx, size_t n,
                                  char ***out, tb_error *err)
{
    tb_gen_request *req = calloc(n, sizeof *req);
    tb_gen_result *res = calloc(n, sizeof *res);
    const tb_gen_request **rp = calloc(n, sizeof *rp);
    tb_gen_result **op = calloc(n, sizeof *op);
    char **said = calloc(n, sizeof *said);
    static const char *const stop[] = {"\n"};
    tb_status st = req && res && rp && op && said ? TB_OK : TB_ERR_NOMEM;
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        /* 16 tokens: room for "The answer is (B)" and its kin. */
        req[i] = (tb_gen_request){sizeof req[i], ctx[i], NULL, 0, 16, 0, 0.0f, 1.0f, 0, 0,
                                  stop, 1};
        res[i].struct_size = sizeof res[i];
        rp[i] = &req[i];
        op[i] = &res[i];
    }
    if (st == TB_OK)
        st = k->kit.api->generate(k->kit.host, rp, n, op, err);
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        said[i] = malloc(res[i].text_len + 1);
        if (!said[i]) {
            st = TB_ERR_NOMEM;
            break;
        }
        if (res[i].text_len)
            memcpy(said[i], res[i].text, res[i].text_len);
        said[i][res[i].text_len] = '\0';
    }
    if (st == TB_ERR_NOMEM)
        k->kit.api->errorf(err, "knowledge: out of memory");
    free(req);
    free(res);
    free(rp);
    free(op);
    if (st != TB_OK && said) {
        for (size_t i = 0; i < n; i++)
            free(said[i]);
        free(said);
        said = NULL;
    }
    *out = said;
    return st;
}

static tb_status score_batch(tb_knowledge *k, mmlu *m, const size_t *chosen, size_t n,
                             tb_kit_prompt *pr, tb_error *err)
{
    char **ctx = calloc(n, sizeof *ctx);
    tb_kit_mc_question *qs = calloc(n, sizeof *qs);
    tb_kit_mc_answer *ans = calloc(n, sizeof *ans);
    tb_status st = TB_OK;
    if (!ctx || !qs || !ans) {
        k->kit.api->errorf(err, "knowledge: out of memory");
        st = TB_ERR_NOMEM;
    }
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        const question *q = &m->qs[chosen[i]];
        if (!(ctx[i] = context_of(k, &m->subjects[q->subject], q->row, pr, err)))
            st = TB_ERR_NOMEM;
        qs[i] = (tb_kit_mc_question){ctx[i], letters, 4};
    }
    char **said = NULL; /* method generate: the generated texts */
    if (st == TB_OK && k->mc == TB_KNOWLEDGE_MC_GENERATE)
        st = generate_letters(k, (const char *const *)ctx, n, &said, err);
    else if (st == TB_OK)
        st = tb_kit_mc_loglikelihood(&k->kit, qs, n, " ", ans, err);
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        const question *q = &m->qs[chosen[i]];
        subject *s = &m->subjects[q->subject];
        int right = letter_of(tb_kit_str(tb_kit_row(s->rows, q->row), "answer"));
        int pick = said ? tb_kit_parse_letter(said[i], 4) : (int)ans[i].best_sum;
        int ok = pick == right; /* an unparsed answer (-1) is wrong */
        s->n++;
        s->correct += (size_t)ok;
        st = tb_kit_item(&k->kit, q->id, "accuracy", s->name, ctx[i],
                         said ? said[i] : letters[pick], letters[right], ok, err);
    }
    for (size_t i = 0; said && i < n; i++)
        free(said[i]);
    free(said);
    for (size_t i = 0; ctx && i < n; i++)
        free(ctx[i]);
    free(ctx);
    free(qs);
    free(ans);
    return st;
}

static tb_status report_metrics(tb_knowledge *k, const mmlu *m, tb_error *err)
{
    char label[256];
    snprintf(label, sizeof label, "mmlu: %lld-shot, split=%s, %s, prompt=%s",
             (long long)k->shots, k->split,
             k->mc != TB_KNOWLEDGE_MC_GENERATE ? "argmax log-likelihood of ' A'..' D'"
             : k->fell_back ? "greedy generated letter (method auto, no log-likelihoods)"
                            : "greedy generated letter",
             k->mode == TB_KIT_PROMPT_CHAT ? "chat"
             : k->mode == TB_KIT_PROMPT_AUTO ? "auto" : "plain");
    tb_status st = tb_kit_metric(&k->kit, "accuracy", 0, 0, label,
                                 TB_METRIC_FROM_ITEMS | TB_METRIC_PER_GROUP |
                                     TB_METRIC_HIGHER_BETTER | TB_METRIC_PRIMARY, err);
    double sum = 0;
    size_t used = 0;
    for (size_t i = 0; i < m->n_subjects; i++)
        if (m->subjects[i].n) {
            sum += (double)m->subjects[i].correct / (double)m->subjects[i].n;
            used++;
        }
    if (st == TB_OK)
        st = tb_kit_metric(&k->kit, "accuracy_macro", used ? sum / (double)used : 0.0,
                           (int64_t)used, label, TB_METRIC_HIGHER_BETTER, err);
    return st;
}

tb_status tb_knowledge_mmlu(tb_knowledge *k, tb_error *err)
{
    mmlu m = {0};
    tb_status st = load(k, &m, err);
    if (st != TB_OK) {
        tb_knowledge_prefix_error(k, err);
        mmlu_free(&m);
        return st;
    }
    const char **ids = malloc((m.n_qs ? m.n_qs : 1) * sizeof *ids);
    size_t *chosen = malloc((m.n_qs ? m.n_qs : 1) * sizeof *chosen), n = 0;
    tb_kit_prompt *pr = tb_kit_prompt_new();
    if (!ids || !chosen || !pr) {
        k->kit.api->errorf(err, "knowledge: out of memory");
        st = TB_ERR_NOMEM;
    }
    for (size_t i = 0; st == TB_OK && i < m.n_qs; i++)
        ids[i] = m.qs[i].id;
    if (st == TB_OK)
        n = tb_kit_sample(k->kit.api->seed(k->kit.host), ids, m.n_qs,
                          k->kit.api->limit(k->kit.host), chosen);
    size_t step = k->batch > 0 ? (size_t)k->batch : 32;
    for (size_t at = 0; st == TB_OK && at < n; at += step) {
        if (k->kit.api->cancelled(k->kit.host)) {
            k->kit.api->errorf(err, "knowledge: cancelled");
            st = TB_ERR_CANCELLED;
            break;
        }
        size_t c = n - at < step ? n - at : step;
        st = score_batch(k, &m, chosen + at, c, pr, err);
        k->kit.api->progress(k->kit.host, at + c, n);
    }
    if (st == TB_OK)
        st = report_metrics(k, &m, err);
    tb_kit_prompt_free(pr);
    free(ids);
    free(chosen);
    mmlu_free(&m);
    return st;
}
