/* serve_api.c - the OpenAI-compatible endpoints: /health, /v1/models,
 * /v1/completions (echo + logprobs: prompt token log-probabilities) and
 * /v1/chat/completions (messages through the model's chat template).
 * Requests are parsed here; the work goes through the queue. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_internal.h"
#include "util.h"

#define MAX_STOP 16
#define MAX_N 128
#define MAX_PROMPTS 256
#define MAX_LOGPROBS 20

/* The sampling fields both endpoints share. */
typedef struct sampling {
    int32_t max_tokens, top_k, n, min_tokens;
    double temperature, top_p;
    uint64_t seed;
    const char *stop[MAX_STOP];
    size_t n_stop;
} sampling;

/* One prompt of /v1/completions: text, or token ids. */
typedef struct prompt_in {
    const char *text;
    size_t text_len;
    int32_t *ids;
    size_t n_ids;
} prompt_in;

static int get_int(json_t *req, const char *key, long long lo, long long hi, long long *out,
                   tb_serve_reply *r)
{
    json_t *v = json_object_get(req, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        tb_serve_error(r, 400, "invalid_request_error", "'%s' must be an integer in [%lld, %lld]",
                       key, lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_num(json_t *req, const char *key, double lo, double hi, double *out,
                   tb_serve_reply *r)
{
    json_t *v = json_object_get(req, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        tb_serve_error(r, 400, "invalid_request_error", "'%s' must be a number in [%g, %g]", key,
                       lo, hi);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int parse_stop(json_t *req, sampling *s, tb_serve_reply *r)
{
    json_t *v = json_object_get(req, "stop");
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        s->stop[s->n_stop++] = json_string_value(v);
        return 0;
    }
    size_t i;
    json_t *e;
    if (json_is_array(v) && json_array_size(v) <= MAX_STOP) {
        json_array_foreach(v, i, e) {
            if (!json_is_string(e))
                break;
            s->stop[s->n_stop++] = json_string_value(e);
        }
        if (i == json_array_size(v))
            return 0;
    }
    tb_serve_error(r, 400, "invalid_request_error",
                   "'stop' must be a string or an array of at most %d strings", MAX_STOP);
    return -1;
}

static int parse_sampling(json_t *req, int32_t default_max, sampling *s, tb_serve_reply *r)
{
    memset(s, 0, sizeof *s);
    long long max_tokens = default_max, n = 1, seed = 0, top_k = 0, min_tokens = 0;
    s->temperature = 1.0; /* OpenAI's default */
    s->top_p = 1.0;
    json_t *stream = json_object_get(req, "stream");
    if (stream && json_is_true(stream)) {
        tb_serve_error(r, 400, "invalid_request_error", "'stream' is not supported");
        return -1;
    }
    if (get_int(req, "max_tokens", 0, 1 << 20, &max_tokens, r) ||
        get_int(req, "n", 1, MAX_N, &n, r) ||
        get_int(req, "seed", LLONG_MIN, LLONG_MAX, &seed, r) ||
        get_int(req, "top_k", -1, 1 << 20, &top_k, r) ||
        get_int(req, "min_tokens", 0, 1 << 20, &min_tokens, r) ||
        get_num(req, "temperature", 0, 100, &s->temperature, r) ||
        get_num(req, "top_p", 1e-9, 1, &s->top_p, r) || parse_stop(req, s, r))
        return -1;
    s->max_tokens = (int32_t)max_tokens;
    s->n = (int32_t)n;
    s->seed = (uint64_t)seed; /* a negative seed is the same 64 bits unsigned */
    s->top_k = top_k < 0 ? 0 : (int32_t)top_k;
    s->min_tokens = (int32_t)min_tokens;
    return 0;
}

/* Sample j of a request: seeds seed, seed+1, ... as `trustbench generate`
 * does, so n samples differ and a rerun repeats them. */
static void fill_request(tb_gen_request *g, const sampling *s, int32_t j)
{
    memset(g, 0, sizeof *g);
    g->struct_size = sizeof *g;
    g->max_tokens = s->max_tokens;
    g->min_tokens = s->min_tokens;
    g->temperature = (float)s->temperature;
    g->top_p = (float)s->top_p;
    g->top_k = s->top_k;
    g->seed = s->seed + (uint64_t)j;
    g->stop = s->stop;
    g->n_stop = s->n_stop;
}

static const char *finish_name(tb_finish f)
{
    return f == TB_FINISH_LENGTH ? "length" : "stop";
}

/* vLLM's stop_reason: the stop string that ended the text, null for the
 * end-of-sequence token.  The backend does not say which of several stop
 * strings matched, so the first one that can is named. */
static json_t *stop_reason(const tb_serve_gen *g)
{
    if (!g->text || g->finish != TB_FINISH_STOP || g->req.n_stop == 0)
        return json_null();
    return json_string(g->req.stop[0]);
}

static unsigned status_of(tb_status st)
{
    return st == TB_ERR_INVALID || st == TB_ERR_UNSUPPORTED ? 400 : 500;
}

static json_t *usage(long long prompt, long long completion)
{
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
                     (json_int_t)completion, "total_tokens", (json_int_t)(prompt + completion));
}

/* ---- /v1/completions ---- */

static int parse_ids(json_t *arr, prompt_in *p, tb_serve_reply *r)
{
    p->n_ids = json_array_size(arr);
    p->ids = tb_xcalloc(p->n_ids + 1, sizeof *p->ids);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) > INT32_MAX) {
            tb_serve_error(r, 400, "invalid_request_error",
                           "'prompt' token ids must be non-negative integers");
            return -1;
        }
        p->ids[i] = (int32_t)json_integer_value(e);
    }
    return 0;
}

/* prompt: a string, an array of strings, an array of token ids, or an
 * array of arrays of token ids. */
static int parse_prompts(json_t *req, prompt_in **out, size_t *n, tb_serve_reply *r)
{
    json_t *v = json_object_get(req, "prompt");
    *n = 0;
    *out = NULL;
    if (json_is_string(v)) {
        *out = tb_xcalloc(1, sizeof **out);
        (*out)[0].text = json_string_value(v);
        (*out)[0].text_len = json_string_length(v);
        *n = 1;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_PROMPTS) {
        tb_serve_error(r, 400, "invalid_request_error",
                       "'prompt' must be a string, token ids, or a non-empty array of at most "
                       "%d of them", MAX_PROMPTS);
        return -1;
    }
    if (json_is_integer(json_array_get(v, 0))) {
        *out = tb_xcalloc(1, sizeof **out);
        *n = 1;
        return parse_ids(v, &(*out)[0], r);
    }
    *out = tb_xcalloc(json_array_size(v), sizeof **out);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        *n = i + 1;
        if (json_is_string(e)) {
            (*out)[i].text = json_string_value(e);
            (*out)[i].text_len = json_string_length(e);
        } else if (!json_is_array(e) || parse_ids(e, &(*out)[i], r) != 0) {
            if (!r->body)
                tb_serve_error(r, 400, "invalid_request_error",
                               "'prompt' array items must be strings or arrays of token ids");
            return -1;
        }
    }
    return 0;
}

static void free_prompts(prompt_in *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        free(p[i].ids);
    free(p);
}

/* The logprobs object of tokens [from, s->n) of a scored text. */
static json_t *logprobs_json(const tb_serve_score *s, size_t from)
{
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(),
           *offs = json_array();
    size_t k = (size_t)(s->k > 0 ? s->k : 0);
    for (size_t i = from; i < s->n; i++) {
        json_array_append_new(tokens, tb_serve_json_token(s->pieces[i]));
        json_array_append_new(offs, json_integer((json_int_t)s->offset[i]));
        if (i == 0 || isnan(s->logprob[i])) {
            json_array_append_new(lps, json_null());
            json_array_append_new(tops, json_null());
            continue;
        }
        json_array_append_new(lps, json_real(s->logprob[i]));
        json_t *top = json_object();
        for (size_t t = 0; t < k; t++) {
            json_t *key = tb_serve_json_token(s->top_pieces[i * k + t]);
            json_object_set_new(top, json_string_value(key), json_real(s->top_lp[i * k + t]));
            json_decref(key);
        }
        /* OpenAI always includes the chosen token. */
        json_t *key = tb_serve_json_token(s->pieces[i]);
        if (!json_object_get(top, json_string_value(key)))
            json_object_set_new(top, json_string_value(key), json_real(s->logprob[i]));
        json_decref(key);
        json_array_append_new(tops, top);
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "tokens", tokens, "token_logprobs", lps,
                     "top_logprobs", tops, "text_offset", offs);
}

typedef struct completion {
    prompt_in *prompts;
    size_t n_prompts;
    sampling s;
    int echo;
    int logprobs; /* -1: not asked */
    tb_serve_gen *gens;
    size_t n_gens;
    long long prompt_tokens, completion_tokens;
} completion;

static int run_generate(tb_serve_ctx *c, completion *q, tb_serve_reply *r)
{
    q->n_gens = q->n_prompts * (size_t)q->s.n;
    q->gens = tb_xcalloc(q->n_gens, sizeof *q->gens);
    int need = q->s.max_tokens > 0 || q->logprobs < 0;
    for (size_t p = 0; p < q->n_prompts; p++)
        for (int32_t j = 0; j < q->s.n; j++) {
            tb_serve_gen *g = &q->gens[p * (size_t)q->s.n + (size_t)j];
            fill_request(&g->req, &q->s, j);
            g->req.prompt = q->prompts[p].text;
            if (need && q->prompts[p].ids) {
                tb_serve_error(r, 400, "invalid_request_error",
                               "token-id prompts are scored only: send max_tokens 0 with "
                               "logprobs, or send text");
                return -1;
            }
            if (need && memchr(q->prompts[p].text, 0, q->prompts[p].text_len)) {
                tb_serve_error(r, 400, "invalid_request_error", "'prompt' contains a NUL");
                return -1;
            }
        }
    if (!need)
        return 0;
    tb_serve_job job = {.kind = TB_SERVE_GENERATE, .gens = q->gens, .n_gens = q->n_gens};
    tb_serve_queue_run(c->queue, &job);
    if (job.status != TB_OK) {
        tb_serve_error(r, status_of(job.status), "invalid_request_error", "%s",
                       job.err.message);
        return -1;
    }
    for (size_t i = 0; i < q->n_gens; i++) {
        q->completion_tokens += q->gens[i].n_tokens;
        if (i % (size_t)q->s.n == 0)
            q->prompt_tokens += q->gens[i].prompt_tokens;
    }
    return 0;
}

/* Choice i: its text and, when asked, its log-probabilities (the prompt's
 * too with echo) from one scoring pass over prompt + completion. */
static json_t *choice_json(tb_serve_ctx *c, completion *q, size_t i, tb_serve_reply *r)
{
    const prompt_in *p = &q->prompts[i / (size_t)q->s.n];
    tb_serve_gen *g = &q->gens[i];
    tb_buf text = {0};
    tb_serve_score sc;
    memset(&sc, 0, sizeof sc);
    json_t *lp = json_null();
    if (q->logprobs >= 0 || (q->echo && p->ids)) {
        char *joined = NULL;
        if (p->ids) {
            sc.in_ids = p->ids;
            sc.n_in = p->n_ids;
        } else {
            joined = tb_xasprintf("%.*s%.*s", (int)p->text_len, p->text, (int)g->text_len,
                                  g->text ? g->text : "");
            sc.text = joined;
            sc.text_len = p->text_len + g->text_len;
        }
        sc.k = q->logprobs > 0 ? q->logprobs : 0;
        tb_serve_job job = {.kind = TB_SERVE_SCORE, .score = &sc};
        tb_serve_queue_run(c->queue, &job);
        free(joined);
        if (job.status != TB_OK) {
            tb_serve_error(r, status_of(job.status), "invalid_request_error", "%s",
                           job.err.message);
            tb_serve_score_free(&sc);
            json_decref(lp);
            return NULL;
        }
        if ((p->ids || !g->text) && i % (size_t)q->s.n == 0)
            q->prompt_tokens += (long long)sc.n;
        /* Without echo, only the completion's tokens: those starting at or
         * after the prompt's end. */
        size_t from = 0;
        if (!q->echo && !p->ids)
            while (from < sc.n && sc.offset[from] < p->text_len)
                from++;
        if (!q->echo && p->ids)
            from = sc.n;
        if (q->logprobs >= 0) {
            json_decref(lp);
            lp = logprobs_json(&sc, from);
        }
        if (q->echo && p->ids)
            for (size_t t = 0; t < sc.n; t++)
                tb_buf_puts(&text, sc.pieces[t]);
    }
    if (q->echo && !p->ids)
        tb_buf_append(&text, p->text, p->text_len);
    if (g->text)
        tb_buf_append(&text, g->text, g->text_len);
    tb_serve_score_free(&sc);
    json_t *ch = json_pack("{s:I,s:o,s:o,s:s,s:o}", "index", (json_int_t)i, "text",
                           tb_serve_json_text(tb_buf_str(&text), text.len), "logprobs", lp,
                           "finish_reason", g->text ? finish_name(g->finish) : "length",
                           "stop_reason", stop_reason(g));
    tb_buf_free(&text);
    return ch;
}

static void completions(tb_serve_ctx *c, json_t *req, tb_serve_reply *r)
{
    completion q;
    memset(&q, 0, sizeof q);
    q.logprobs = -1;
    long long lp = -1;
    json_t *echo = json_object_get(req, "echo");
    q.echo = echo && json_is_true(echo);
    json_t *jlp = json_object_get(req, "logprobs");
    if (jlp && !json_is_null(jlp) && get_int(req, "logprobs", 0, MAX_LOGPROBS, &lp, r) != 0)
        return;
    q.logprobs = (int)lp;
    if (parse_sampling(req, 16, &q.s, r) != 0 ||
        parse_prompts(req, &q.prompts, &q.n_prompts, r) != 0 || run_generate(c, &q, r) != 0)
        goto done;
    json_t *choices = json_array();
    for (size_t i = 0; i < q.n_gens; i++) {
        json_t *ch = choice_json(c, &q, i, r);
        if (!ch) {
            json_decref(choices);
            goto done;
        }
        json_array_append_new(choices, ch);
    }
    unsigned long long id = __atomic_fetch_add(&c->next_id, 1, __ATOMIC_RELAXED);
    char sid[40];
    snprintf(sid, sizeof sid, "cmpl-%llu", id);
    tb_serve_json_reply(r, 200, json_pack("{s:s,s:s,s:I,s:s,s:o,s:o}", "id", sid, "object",
                                          "text_completion", "created", (json_int_t)time(NULL),
                                          "model", c->eng->name, "choices", choices, "usage",
                                          usage(q.prompt_tokens, q.completion_tokens)));
done:
    for (size_t i = 0; i < q.n_gens; i++)
        free(q.gens[i].text);
    free(q.gens);
    free_prompts(q.prompts, q.n_prompts);
}

/* ---- /v1/chat/completions ---- */

/* content: a string, or an array of {"type": "text", "text": ...} parts. */
static char *message_content(json_t *content)
{
    if (json_is_string(content))
        return tb_xstrdup(json_string_value(content));
    if (!json_is_array(content))
        return NULL;
    tb_buf b = {0};
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *t = json_object_get(part, "text");
        if (!json_is_string(t)) {
            tb_buf_free(&b);
            return NULL;
        }
        tb_buf_puts(&b, json_string_value(t));
    }
    return b.data ? tb_buf_steal(&b) : tb_xstrdup("");
}

static void chat(tb_serve_ctx *c, json_t *req, tb_serve_reply *r)
{
    json_t *msgs = json_object_get(req, "messages");
    sampling s;
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        tb_serve_error(r, 400, "invalid_request_error", "'messages' must be a non-empty array");
        return;
    }
    if (parse_sampling(req, 256, &s, r) != 0)
        return;
    size_t n = json_array_size(msgs);
    tb_message *m = tb_xcalloc(n, sizeof *m);
    const tb_message **mp = tb_xcalloc(n, sizeof *mp);
    char **contents = tb_xcalloc(n, sizeof *contents);
    tb_serve_gen *gens = tb_xcalloc((size_t)s.n, sizeof *gens);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(msgs, i);
        json_t *role = json_object_get(e, "role");
        contents[i] = message_content(json_object_get(e, "content"));
        if (!json_is_string(role) || !contents[i]) {
            tb_serve_error(r, 400, "invalid_request_error",
                           "messages[%zu] needs a string 'role' and a text 'content'", i);
            goto done;
        }
        m[i] = (tb_message){sizeof m[i], json_string_value(role), contents[i]};
        mp[i] = &m[i];
    }
    for (int32_t j = 0; j < s.n; j++) {
        fill_request(&gens[j].req, &s, j);
        gens[j].req.messages = mp;
        gens[j].req.n_messages = n;
    }
    tb_serve_job job = {.kind = TB_SERVE_GENERATE, .gens = gens, .n_gens = (size_t)s.n};
    tb_serve_queue_run(c->queue, &job);
    if (job.status != TB_OK) {
        tb_serve_error(r, status_of(job.status), "invalid_request_error", "%s",
                       job.err.message);
        goto done;
    }
    json_t *choices = json_array();
    long long completion_tokens = 0;
    for (int32_t j = 0; j < s.n; j++) {
        completion_tokens += gens[j].n_tokens;
        json_array_append_new(
            choices, json_pack("{s:i,s:{s:s,s:o},s:n,s:s,s:o}", "index", (int)j, "message",
                               "role", "assistant", "content",
                               tb_serve_json_text(gens[j].text, gens[j].text_len), "logprobs",
                               "finish_reason", finish_name(gens[j].finish), "stop_reason",
                               stop_reason(&gens[j])));
    }
    unsigned long long id = __atomic_fetch_add(&c->next_id, 1, __ATOMIC_RELAXED);
    char sid[40];
    snprintf(sid, sizeof sid, "chatcmpl-%llu", id);
    tb_serve_json_reply(r, 200, json_pack("{s:s,s:s,s:I,s:s,s:o,s:o}", "id", sid, "object",
                                          "chat.completion", "created", (json_int_t)time(NULL),
                                          "model", c->eng->name, "choices", choices, "usage",
                                          usage(gens[0].prompt_tokens, completion_tokens)));
done:
    for (int32_t j = 0; j < s.n; j++)
        free(gens[j].text);
    for (size_t i = 0; i < n; i++)
        free(contents[i]);
    free(gens);
    free(contents);
    free(mp);
    free(m);
}

/* ---- /tokenize ---- */

/* vLLM's {"prompt", "add_special_tokens"} or llama-server's {"content",
 * "add_special"}; answers {"tokens", "count", "max_model_len"}.  Clients
 * that window a text themselves (rolling log-likelihoods) need the ids. */
static void tokenize(tb_serve_ctx *c, json_t *req, tb_serve_reply *r)
{
    json_t *text = json_object_get(req, "prompt");
    if (!text)
        text = json_object_get(req, "content");
    json_t *special = json_object_get(req, "add_special_tokens");
    if (!special)
        special = json_object_get(req, "add_special");
    if (!json_is_string(text) || (special && !json_is_boolean(special))) {
        tb_serve_error(r, 400, "invalid_request_error", "/tokenize takes a string 'prompt' "
                       "(or 'content') and a boolean 'add_special_tokens' (or 'add_special')");
        return;
    }
    tb_serve_score sc;
    memset(&sc, 0, sizeof sc);
    sc.text = json_string_value(text);
    sc.text_len = json_string_length(text);
    sc.no_bos = special && json_is_false(special);
    tb_serve_job job = {.kind = TB_SERVE_TOKENIZE, .score = &sc};
    tb_serve_queue_run(c->queue, &job);
    if (job.status != TB_OK) {
        tb_serve_error(r, status_of(job.status), "invalid_request_error", "%s", job.err.message);
        tb_serve_score_free(&sc);
        return;
    }
    json_t *ids = json_array();
    for (size_t i = 0; i < sc.n; i++)
        json_array_append_new(ids, json_integer(sc.ids[i]));
    tb_serve_json_reply(r, 200, json_pack("{s:o,s:I,s:I}", "tokens", ids, "count",
                                          (json_int_t)sc.n, "max_model_len",
                                          (json_int_t)c->eng->model->params.n_ctx_train));
    tb_serve_score_free(&sc);
}

/* ---- routing ---- */

static void models(tb_serve_ctx *c, tb_serve_reply *r)
{
    tb_serve_json_reply(r, 200, json_pack("{s:s,s:[{s:s,s:s,s:I,s:s}]}", "object", "list",
                                          "data", "id", c->eng->name, "object", "model",
                                          "created", (json_int_t)c->started, "owned_by",
                                          "trustbench"));
}

void tb_serve_handle(tb_serve_ctx *c, const char *method, const char *url, const char *body,
                     size_t body_len, tb_serve_reply *out)
{
    memset(out, 0, sizeof *out);
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    int is_health = !strcmp(url, "/health"), is_models = !strcmp(url, "/v1/models");
    int is_cmpl = !strcmp(url, "/v1/completions"), is_chat = !strcmp(url, "/v1/chat/completions");
    int is_tok = !strcmp(url, "/tokenize");
    if (!is_health && !is_models && !is_cmpl && !is_chat && !is_tok) {
        tb_serve_error(out, 404, "not_found_error", "no endpoint %s (this server has /health, "
                       "/v1/models, /v1/completions, /v1/chat/completions, /tokenize)", url);
        return;
    }
    if ((is_health || is_models) ? !get : !post) {
        tb_serve_error(out, 405, "invalid_request_error", "%s takes %s", url,
                       is_health || is_models ? "GET" : "POST");
        return;
    }
    if (is_health) {
        tb_serve_json_reply(out, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (is_models) {
        models(c, out);
        return;
    }
    json_error_t jerr;
    json_t *req = json_loadb(body ? body : "", body_len, 0, &jerr);
    if (!json_is_object(req)) {
        if (req)
            tb_serve_error(out, 400, "invalid_request_error", "the body must be a JSON object");
        else
            tb_serve_error(out, 400, "invalid_request_error", "the body is not JSON: %s at "
                           "line %d column %d", jerr.text, jerr.line, jerr.column);
        json_decref(req);
        return;
    }
    if (is_cmpl)
        completions(c, req, out);
    else if (is_tok)
        tokenize(c, req, out);
    else
        chat(c, req, out);
    json_decref(req);
}
