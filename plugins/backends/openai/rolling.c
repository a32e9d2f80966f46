/* rolling.c - rolling log-likelihoods over HTTP with the native backend's
 * window protocol: the server tokenizes each text (/tokenize, as vLLM and
 * trustbench serve offer), the windows are cut here exactly as the native
 * backend cuts them, and each window goes back as a token-id prompt with
 * echo + logprobs.  All windows of a call are in flight together. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "openai.h"

/* One window of one request. */
typedef struct window {
    size_t req;
    int64_t start;        /* first text token */
    int32_t span, len;    /* text tokens; tokens fed (with a prepended BOS) */
    int64_t scored_until; /* text tokens before this were scored earlier */
} window;

typedef struct text_ids {
    int32_t *ids;
    size_t n;
} text_ids;

static int check_tokens(const char *reply, char *why, size_t size)
{
    json_t *v = json_loads(reply, 0, NULL);
    json_t *t = json_object_get(v, "tokens");
    int ok = json_is_array(t);
    for (size_t i = 0; ok && i < json_array_size(t); i++)
        ok = json_is_integer(json_array_get(t, i));
    if (!ok)
        snprintf(why, size, v ? "no integer 'tokens' array" : "not JSON");
    json_decref(v);
    return ok ? 0 : -1;
}

static char *tokenize_body(const oa_session *s, const char *text, size_t len, int special)
{
    /* vLLM's and llama-server's spellings both. */
    json_t *t = json_stringn(text, len);
    json_t *v = json_pack("{s:s,s:O,s:o,s:b,s:b}", "model", s->model, "prompt", t, "content", t,
                          "add_special_tokens", special, "add_special", special);
    char *body = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    return body;
}

static void parse_tokens(const char *reply, text_ids *out)
{
    json_t *v = json_loads(reply, 0, NULL);
    json_t *t = json_object_get(v, "tokens");
    out->n = json_array_size(t);
    out->ids = calloc(out->n + 1, sizeof *out->ids);
    for (size_t i = 0; out->ids && i < out->n; i++)
        out->ids[i] = (int32_t)json_integer_value(json_array_get(t, i));
    json_decref(v);
}

static tb_status check_protocol(oa_session *s, const tb_rolling_request *r, tb_error *err)
{
    int32_t span = r->add_bos == 1 ? r->window - 1 : r->window;
    const char *bad = NULL;
    if (r->window < 2)
        bad = "the window must hold 2 tokens at least";
    else if (r->stride < 1 || r->stride > span)
        bad = "the stride must be between 1 and the text tokens a window holds";
    else if (r->add_bos < 0 || r->add_bos > 2)
        bad = "add_bos must be 0, 1 or 2";
    if (!bad)
        return TB_OK;
    s->be->api->errorf(err, "openai: rolling window %d, stride %d: %s", r->window, r->stride,
                       bad);
    return TB_ERR_INVALID;
}

/* Tokenizes every text, and "" with BOS to learn the BOS id. */
static tb_status tokenize_all(oa_session *s, const tb_rolling_request *const *reqs, size_t n,
                              text_ids *texts, int32_t *bos, tb_error *err)
{
    oa_call *calls = calloc(n + 1, sizeof *calls);
    if (!calls)
        return TB_ERR_NOMEM;
    for (size_t i = 0; i <= n; i++) {
        calls[i].path = "/tokenize";
        calls[i].root = 1;
        calls[i].body = i < n ? tokenize_body(s, reqs[i]->text, reqs[i]->text_len, 0)
                              : tokenize_body(s, "", 0, 1);
    }
    tb_status st = oa_http_run(s, calls, n + 1, check_tokens, err);
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        parse_tokens(calls[i].reply, &texts[i]);
        if (!texts[i].ids)
            st = TB_ERR_NOMEM;
    }
    if (st == TB_OK) {
        text_ids b = {NULL, 0};
        parse_tokens(calls[n].reply, &b);
        *bos = b.n ? b.ids[0] : -1;
        free(b.ids);
    }
    for (size_t i = 0; i <= n; i++) {
        free(calls[i].body);
        free(calls[i].reply);
    }
    free(calls);
    return st;
}

/* The windows of request r, as the native backend cuts them: every
 * `stride` tokens until one reaches the end. */
static size_t plan(const tb_rolling_request *r, size_t req, int64_t n_text, window *out)
{
    int32_t span = r->add_bos == 1 ? r->window - 1 : r->window;
    int64_t scored_until = r->add_bos == 1 ? 0 : 1; /* no context for token 0 */
    size_t k = 0;
    for (int64_t start = 0; start == 0 || start < n_text; start += r->stride) {
        int32_t sp = start + span > n_text ? (int32_t)(n_text - start) : span;
        if (out)
            out[k] = (window){req, start, sp, sp + (r->add_bos == 1), scored_until};
        k++;
        if (start + sp > scored_until)
            scored_until = start + sp;
        if (start + span >= n_text)
            break;
    }
    return k;
}

static char *window_body(const oa_session *s, const tb_rolling_request *r, const window *w,
                         const text_ids *t, int32_t bos)
{
    json_t *ids = json_array();
    int off = r->add_bos == 1;
    if (off)
        json_array_append_new(ids, json_integer(bos));
    for (int32_t i = 0; i < w->span; i++)
        json_array_append_new(ids, json_integer(t->ids[w->start + i]));
    if (r->add_bos == 2)
        json_array_set_new(ids, 0, json_integer(bos));
    json_t *v = json_pack("{s:s,s:o,s:i,s:b,s:i,s:f}", "model", s->model, "prompt", ids,
                          "max_tokens", 0, "echo", 1, "logprobs", 0, "temperature", 0.0);
    char *body = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    return body;
}

/* The scored positions' log-probabilities of one window's reply. */
static tb_status window_sum(oa_session *s, const tb_rolling_request *r, const window *w,
                            const char *reply, double *lp, int64_t *cnt, tb_error *err)
{
    json_t *v = json_loads(reply, 0, NULL);
    json_t *lps = json_object_get(json_object_get(json_array_get(json_object_get(v, "choices"),
                                                                 0), "logprobs"),
                                  "token_logprobs");
    tb_status st = TB_OK;
    if ((int32_t)json_array_size(lps) != w->len) {
        s->be->api->errorf(err, "openai: %s gave %zu prompt log-probabilities for a window of "
                                "%d token ids (token-id prompts with echo + logprobs are "
                                "needed for rolling log-likelihoods)", s->url,
                           json_array_size(lps), w->len);
        st = TB_ERR_UNSUPPORTED;
    }
    int off = r->add_bos == 1;
    *lp = 0;
    *cnt = 0;
    for (int32_t p = 0; st == TB_OK && p + 1 < w->len; p++) {
        int64_t t = w->start + p + 1 - off;
        int keep = r->score == TB_SCORE_SECOND_HALF ? p + 1 > w->len / 2
                   : r->score == TB_SCORE_ALL       ? 1
                                                    : t >= w->scored_until;
        if (!keep)
            continue;
        json_t *x = json_array_get(lps, (size_t)p + 1);
        if (!json_is_number(x)) {
            s->be->api->errorf(err, "openai: window token %d has no log-probability", p + 1);
            st = TB_ERR_BACKEND;
            break;
        }
        *lp += json_number_value(x);
        (*cnt)++;
    }
    json_decref(v);
    return st;
}

tb_status oa_rolling(void *session, const tb_rolling_request *const *reqs, size_t n,
                     tb_rolling_result *const *out, tb_error *err)
{
    oa_session *s = session;
    oa_reset(s);
    if (s->no_lp) { /* the probe at open found no prompt log-probabilities */
        s->be->api->errorf(err, "%s", s->no_lp);
        return TB_ERR_UNSUPPORTED;
    }
    for (size_t i = 0; i < n; i++)
        if (check_protocol(s, reqs[i], err) != TB_OK)
            return TB_ERR_INVALID;
    text_ids *texts = calloc(n ? n : 1, sizeof *texts);
    int32_t bos = -1;
    tb_status st = texts ? tokenize_all(s, reqs, n, texts, &bos, err) : TB_ERR_NOMEM;
    int need_bos = 0;
    for (size_t i = 0; i < n; i++)
        need_bos |= reqs[i]->add_bos != 0;
    if (st == TB_OK && need_bos && bos < 0) {
        s->be->api->errorf(err, "openai: the server's model has no BOS token");
        st = TB_ERR_INVALID;
    }
    size_t n_win = 0;
    for (size_t i = 0; st == TB_OK && i < n; i++)
        n_win += plan(reqs[i], i, (int64_t)texts[i].n, NULL);
    window *ws = st == TB_OK ? calloc(n_win ? n_win : 1, sizeof *ws) : NULL;
    oa_call *calls = ws ? calloc(n_win ? n_win : 1, sizeof *calls) : NULL;
    s->win_lp = calls ? calloc(n_win ? n_win : 1, sizeof *s->win_lp) : NULL;
    s->win_scored = calls ? calloc(n_win ? n_win : 1, sizeof *s->win_scored) : NULL;
    if (st == TB_OK && (!s->win_lp || !s->win_scored))
        st = TB_ERR_NOMEM;
    for (size_t i = 0, k = 0; st == TB_OK && i < n; i++)
        k += plan(reqs[i], i, (int64_t)texts[i].n, ws + k);
    for (size_t w = 0; st == TB_OK && w < n_win; w++) {
        calls[w].path = "/completions";
        calls[w].body = window_body(s, reqs[ws[w].req], &ws[w], &texts[ws[w].req], bos);
    }
    if (st == TB_OK)
        st = oa_http_run(s, calls, n_win, oa_check_score, err);
    for (size_t w = 0, i = 0; st == TB_OK && i < n; i++) {
        size_t first = w;
        double total = 0;
        int64_t scored = 0;
        for (; w < n_win && ws[w].req == i && st == TB_OK; w++) {
            st = window_sum(s, reqs[i], &ws[w], calls[w].reply, &s->win_lp[w],
                            &s->win_scored[w], err);
            total += s->win_lp[w];
            scored += s->win_scored[w];
        }
        out[i]->logprob = total;
        out[i]->n_scored = scored;
        out[i]->n_tokens = (int64_t)texts[i].n;
        out[i]->n_windows = w - first;
        out[i]->window_logprob = s->win_lp + first;
        out[i]->window_scored = s->win_scored + first;
    }
    if (st == TB_ERR_NOMEM && !err->message[0])
        s->be->api->errorf(err, "openai: out of memory");
    for (size_t w = 0; calls && w < n_win; w++) {
        free(calls[w].body);
        free(calls[w].reply);
    }
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i].ids);
    free(calls);
    free(ws);
    free(texts);
    return st;
}
