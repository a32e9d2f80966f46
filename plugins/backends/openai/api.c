/* api.c - the openai backend's requests and replies.
 *
 * generate: one request per sample (its own seed) to /completions, or to
 * /chat/completions when the request has messages.  loglikelihood and
 * rolling: the whole text with echo + logprobs and max_tokens 0; the
 * continuation's tokens are those whose text_offset is at or after the
 * context's end (its trailing spaces move to the continuation, as the
 * native backend and lm-evaluation-harness pair them).  Rolling
 * log-likelihoods are in rolling.c. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openai.h"

void oa_keep(oa_session *s, void *p)
{
    char **grown = realloc(s->kept, (s->n_kept + 1) * sizeof *grown);
    if (!grown) {
        free(p);
        return;
    }
    s->kept = grown;
    s->kept[s->n_kept++] = p;
}

void oa_reset(oa_session *s)
{
    for (size_t i = 0; i < s->n_kept; i++)
        free(s->kept[i]);
    free(s->kept);
    s->kept = NULL;
    s->n_kept = 0;
    free(s->win_lp);
    free(s->win_scored);
    s->win_lp = NULL;
    s->win_scored = NULL;
}

static void free_calls(oa_call *calls, size_t n)
{
    for (size_t i = 0; calls && i < n; i++) {
        free(calls[i].body);
        free(calls[i].reply);
    }
    free(calls);
}

static char *dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    return s;
}

/* ---- generate ---- */

static char *gen_body(const oa_session *s, const tb_gen_request *r)
{
    json_t *v = json_object();
    json_object_set_new(v, "model", json_string(s->model));
    if (r->n_messages) {
        json_t *msgs = json_array();
        for (size_t i = 0; i < r->n_messages; i++)
            json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", r->messages[i]->role,
                                                  "content", r->messages[i]->content));
        json_object_set_new(v, "messages", msgs);
    } else {
        json_object_set_new(v, "prompt", json_string(r->prompt ? r->prompt : ""));
    }
    json_object_set_new(v, "max_tokens", json_integer(r->max_tokens));
    json_object_set_new(v, "temperature", json_real(r->temperature));
    json_object_set_new(v, "top_p", json_real(r->top_p > 0 ? r->top_p : 1.0));
    /* The whole 64-bit seed as the signed integer with the same bits (vLLM
     * and trustbench serve take the int64 range), so the server samples
     * exactly what the native backend samples for this seed. */
    json_int_t seed = r->seed <= (uint64_t)INT64_MAX ? (json_int_t)r->seed
                                                      : -(json_int_t)(UINT64_MAX - r->seed) - 1;
    json_object_set_new(v, "seed", json_integer(seed));
    if (r->top_k > 0)
        json_object_set_new(v, "top_k", json_integer(r->top_k));
    if (r->min_tokens > 0)
        json_object_set_new(v, "min_tokens", json_integer(r->min_tokens));
    if (r->n_stop) {
        json_t *stop = json_array();
        for (size_t i = 0; i < r->n_stop; i++)
            json_array_append_new(stop, json_string(r->stop[i]));
        json_object_set_new(v, "stop", stop);
    }
    return dump(v);
}

/* choices[0]'s text (completions) or message content (chat). */
static const char *choice_text(json_t *reply, json_t **choice)
{
    *choice = json_array_get(json_object_get(reply, "choices"), 0);
    json_t *t = json_object_get(*choice, "text");
    if (!t)
        t = json_object_get(json_object_get(*choice, "message"), "content");
    return json_string_value(t);
}

static int check_gen(const char *reply, char *why, size_t size)
{
    json_t *v = json_loads(reply, 0, NULL), *ch = NULL;
    int ok = v && choice_text(v, &ch) != NULL;
    if (!ok)
        snprintf(why, size, v ? "no choices[0] text" : "not JSON");
    json_decref(v);
    return ok ? 0 : -1;
}

/* Servers that ignore stop strings still have them cut here. */
static void cut_stops(const tb_gen_request *r, char *text, tb_finish *finish)
{
    size_t at = strlen(text);
    for (size_t i = 0; i < r->n_stop; i++) {
        char *hit = r->stop[i][0] ? strstr(text, r->stop[i]) : NULL;
        if (hit && (size_t)(hit - text) < at) {
            at = (size_t)(hit - text);
            *finish = TB_FINISH_STOP;
        }
    }
    text[at] = '\0';
}

tb_status oa_generate(void *session, const tb_gen_request *const *reqs, size_t n,
                      tb_gen_result *const *out, tb_error *err)
{
    oa_session *s = session;
    oa_reset(s);
    oa_call *calls = calloc(n ? n : 1, sizeof *calls);
    if (!calls)
        return TB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        calls[i].path = reqs[i]->n_messages ? "/chat/completions" : "/completions";
        calls[i].body = gen_body(s, reqs[i]);
    }
    tb_status st = oa_http_run(s, calls, n, check_gen, err);
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        json_t *v = json_loads(calls[i].reply, 0, NULL), *ch = NULL;
        char *text = strdup(choice_text(v, &ch));
        const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
        json_t *reason = json_object_get(ch, "stop_reason");
        tb_finish f = fin && !strcmp(fin, "length") ? TB_FINISH_LENGTH
                      : json_is_string(reason)      ? TB_FINISH_STOP
                                                    : TB_FINISH_EOS;
        json_t *used = json_object_get(json_object_get(v, "usage"), "completion_tokens");
        cut_stops(reqs[i], text, &f);
        out[i]->text = text;
        out[i]->text_len = strlen(text);
        out[i]->n_tokens = json_is_integer(used) ? (int32_t)json_integer_value(used) : -1;
        out[i]->finish = f;
        oa_keep(s, text);
        json_decref(v);
    }
    free_calls(calls, n);
    return st;
}

/* ---- echo + logprobs ---- */

char *oa_score_body(const oa_session *s, const char *text)
{
    return dump(json_pack("{s:s,s:s,s:i,s:b,s:i,s:f}", "model", s->model, "prompt", text,
                          "max_tokens", 0, "echo", 1, "logprobs", 1, "temperature", 0.0));
}

int oa_check_score(const char *reply, char *why, size_t size)
{
    json_t *v = json_loads(reply, 0, NULL), *ch = NULL;
    int ok = v != NULL && choice_text(v, &ch) != NULL;
    json_t *lp = json_object_get(ch, "logprobs");
    /* A reply without log-probabilities is well formed: the caller turns
     * it into a clear error instead of retrying. */
    if (ok && json_is_object(lp)) {
        size_t n = json_array_size(json_object_get(lp, "tokens"));
        ok = json_array_size(json_object_get(lp, "token_logprobs")) == n &&
             json_array_size(json_object_get(lp, "text_offset")) == n;
    }
    if (!ok)
        snprintf(why, size, v ? "choices[0].logprobs is inconsistent" : "not JSON");
    json_decref(v);
    return ok ? 0 : -1;
}

typedef struct span_sum {
    double logprob;
    int32_t n;
    int greedy;
    int64_t n_tokens; /* tokens of the text, without a leading BOS */
} span_sum;

/* Sums the log-probabilities of the tokens starting in [from, to). */
static tb_status sum_span(oa_session *s, const char *reply, size_t from, size_t to,
                          span_sum *o, tb_error *err)
{
    json_t *v = json_loads(reply, 0, NULL), *ch = NULL;
    choice_text(v, &ch);
    json_t *lp = json_object_get(ch, "logprobs");
    tb_status st = TB_OK;
    memset(o, 0, sizeof *o);
    o->greedy = 1;
    if (!json_is_object(lp) || json_array_size(json_object_get(lp, "tokens")) == 0) {
        s->be->api->errorf(err, "openai: %s returned no prompt log-probabilities for echo + "
                                "logprobs, so it cannot score log-likelihoods (vLLM and "
                                "trustbench serve can; use a generation-based benchmark "
                                "setting otherwise)", s->url);
        json_decref(v);
        return TB_ERR_UNSUPPORTED;
    }
    json_t *toks = json_object_get(lp, "tokens"), *lps = json_object_get(lp, "token_logprobs");
    json_t *offs = json_object_get(lp, "text_offset"), *tops = json_object_get(lp, "top_logprobs");
    size_t n = json_array_size(toks);
    for (size_t i = 0; i < n && st == TB_OK; i++) {
        json_t *l = json_array_get(lps, i);
        const char *piece = json_string_value(json_array_get(toks, i));
        if (i == 0 && json_is_null(l) && piece && !*piece)
            continue; /* the BOS the server put first */
        o->n_tokens++;
        json_int_t off = json_integer_value(json_array_get(offs, i));
        if (off < (json_int_t)from || off >= (json_int_t)to)
            continue;
        if (!json_is_number(l)) {
            s->be->api->errorf(err, "openai: token %zu ('%s') has no log-probability: the "
                                    "server's model has no BOS token to condition it",
                               i, piece ? piece : "");
            st = TB_ERR_UNSUPPORTED;
            break;
        }
        double x = json_number_value(l);
        o->logprob += x;
        o->n++;
        const char *k;
        json_t *val;
        json_object_foreach(json_array_get(tops, i), k, val)
            if (json_number_value(val) > x + 1e-9)
                o->greedy = 0;
    }
    json_decref(v);
    return st;
}

tb_status oa_loglikelihood(void *session, const tb_ll_request *const *reqs, size_t n,
                           tb_ll_result *const *out, tb_error *err)
{
    oa_session *s = session;
    oa_reset(s);
    if (s->no_lp) { /* the probe at open found no prompt log-probabilities */
        s->be->api->errorf(err, "%s", s->no_lp);
        return TB_ERR_UNSUPPORTED;
    }
    oa_call *calls = calloc(n ? n : 1, sizeof *calls);
    size_t *ctx_end = calloc(n ? n : 1, sizeof *ctx_end);
    tb_status st = calls && ctx_end ? TB_OK : TB_ERR_NOMEM;
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        const char *ctx = reqs[i]->context ? reqs[i]->context : "";
        size_t cl = strlen(ctx);
        while (cl > 0 && ctx[cl - 1] == ' ')
            cl--;
        ctx_end[i] = cl;
        size_t len = strlen(ctx) + strlen(reqs[i]->continuation);
        char *text = malloc(len + 1);
        if (!text) {
            st = TB_ERR_NOMEM;
            break;
        }
        strcpy(text, ctx);
        strcat(text, reqs[i]->continuation);
        calls[i].path = "/completions";
        calls[i].body = oa_score_body(s, text);
        free(text);
    }
    if (st == TB_OK)
        st = oa_http_run(s, calls, n, oa_check_score, err);
    for (size_t i = 0; st == TB_OK && i < n; i++) {
        span_sum sum;
        size_t total = strlen(reqs[i]->context ? reqs[i]->context : "") +
                       strlen(reqs[i]->continuation);
        st = sum_span(s, calls[i].reply, ctx_end[i], total, &sum, err);
        if (st == TB_OK && sum.n == 0) {
            s->be->api->errorf(err, "openai: the continuation '%s' got no tokens of its own",
                               reqs[i]->continuation);
            st = TB_ERR_INVALID;
        }
        if (st == TB_OK) {
            out[i]->logprob = sum.logprob;
            out[i]->n_tokens = sum.n;
            out[i]->is_greedy = sum.greedy;
        }
    }
    if (st == TB_ERR_NOMEM && !err->message[0])
        s->be->api->errorf(err, "openai: out of memory");
    free(ctx_end);
    free_calls(calls, n);
    return st;
}
