/*
 * scripted - a deterministic test backend.  No model is run: every answer
 * and log-probability is a pure function of the request (and of the model
 * file's name), so runner and benchmark tests get stable numbers in
 * microseconds.  One token is one byte.
 *
 *   generate       the answer of an exactly matching prompt from `table`
 *                  (a TSV of prompt<TAB>answer; \n, \t and \\ escapes), else
 *                  "answer-XXXXXXXX" from a hash of (prompt, seed,
 *                  temperature); cut at stop strings and max_tokens.
 *                  A prompt may have several rows: the i-th request for it
 *                  in one session gets the (i mod count)-th of its answers
 *                  in file order (i from 0), so a test can script a
 *                  sequence.  A chat request (n_messages > 0) matches rows
 *                  whose prompt is the rendered chat text (chat_format
 *                  below) or the content of its last user message; the
 *                  matching rows of both kinds count together, in file
 *                  order.
 *   loglikelihood  the logprob of a row of `ll_table` whose context and
 *                  continuation equal the request's (a TSV of
 *                  context<TAB>continuation<TAB>logprob[<TAB>is_greedy],
 *                  same escapes; is_greedy 0 or 1, default 0; the logprob
 *                  is returned as written, without bias; the first
 *                  matching row wins); otherwise
 *                  -(bytes of continuation) * (0.5 + u) + bias, u in [0,1)
 *                  from a hash of (model file name, context, continuation),
 *                  greedy when u < 0.25.  n_tokens is always the bytes of
 *                  the continuation.
 *   rolling        per byte -(0.5 + u) + bias, u from a hash of (model file
 *                  name, text, position), scored per the window protocol
 *                  (a window's first token is predicted only after a BOS
 *                  that precedes it, add_bos 1).
 *   tokenize       bytes as ids; BOS is 256.
 *   chat_format    "<|role|>\ncontent\n" per message, then "<|assistant|>\n".
 *
 * It calls nothing of trustbench's but the host table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <trustbench/plugin.h>

#define SCRIPTED_BOS 256

typedef struct table_row {
    char *prompt;
    char *answer;
} table_row;

typedef struct ll_row {
    char *context;
    char *continuation;
    double logprob;
    int is_greedy;
} ll_row;

typedef struct scripted {
    const tb_host_api *api;
    tb_host *host;
    double bias;
    table_row *rows;
    size_t n_rows;
    ll_row *ll_rows;
    size_t n_ll_rows;
    int no_ll; /* sessions say they have no log-likelihoods (ABI 1.2) */
} scripted;

/* What a backend call returns stays valid until the next call on the same
 * session, so the session owns it and frees it at the start of each call. */
typedef struct session {
    scripted *owner;
    char *model_name;
    size_t *hits; /* per table row: requests answered from the rows that
                     row is the first match of */
    char **texts;
    size_t n_texts;
    double **window_lp;
    int64_t **window_n;
    size_t n_windows_bufs;
} session;

/* ------------------------------------------------------------------ */
/* Hashing                                                             */
/* ------------------------------------------------------------------ */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* A string and its terminator, so ("ab","c") and ("a","bc") differ. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv_bytes(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

/* Little-endian regardless of the machine, so hashes match everywhere. */
static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return fnv_bytes(h, b, sizeof b);
}

/* A final mix: FNV's low bits are weak, and u uses the high ones. */
static double unit_of(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------ */
/* The prompt table                                                    */
/* ------------------------------------------------------------------ */

static char *unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && strchr("nt\\", s[i + 1])) {
            char e = s[++i];
            out[k++] = e == 'n' ? '\n' : e == 't' ? '\t' : '\\';
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

static void free_rows(scripted *self)
{
    for (size_t i = 0; i < self->n_rows; i++) {
        free(self->rows[i].prompt);
        free(self->rows[i].answer);
    }
    free(self->rows);
    self->rows = NULL;
    self->n_rows = 0;
    for (size_t i = 0; i < self->n_ll_rows; i++) {
        free(self->ll_rows[i].context);
        free(self->ll_rows[i].continuation);
    }
    free(self->ll_rows);
    self->ll_rows = NULL;
    self->n_ll_rows = 0;
}

static tb_status add_row(scripted *self, const char *line, size_t len,
                         const char *path, size_t lineno, tb_error *err)
{
    const char *tab = memchr(line, '\t', len);
    if (!tab) {
        self->api->errorf(err, "scripted: %s:%zu: expected prompt<TAB>answer",
                          path, lineno);
        return TB_ERR_FORMAT;
    }
    table_row *rows = realloc(self->rows, (self->n_rows + 1) * sizeof *rows);
    if (!rows)
        goto nomem;
    self->rows = rows;
    table_row *r = &rows[self->n_rows];
    r->prompt = unescape(line, (size_t)(tab - line));
    r->answer = unescape(tab + 1, len - (size_t)(tab - line) - 1);
    self->n_rows++;
    if (r->prompt && r->answer)
        return TB_OK;
nomem:
    self->api->errorf(err, "scripted: out of memory reading %s", path);
    return TB_ERR_NOMEM;
}

/* context<TAB>continuation<TAB>logprob[<TAB>is_greedy] */
static tb_status add_ll_row(scripted *self, const char *line, size_t len,
                            const char *path, size_t lineno, tb_error *err)
{
    /* Up to five fields, so that a fifth is seen and refused. */
    const char *f[5];
    size_t flen[5], n = 0;
    const char *p = line, *end = line + len;
    while (n < 5) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        f[n] = p;
        flen[n++] = tab ? (size_t)(tab - p) : (size_t)(end - p);
        if (!tab)
            break;
        p = tab + 1;
    }
    char num[64];
    char *endp = NULL;
    double lp = 0;
    int ok = (n == 3 || n == 4) && flen[2] > 0 && flen[2] < sizeof num;
    if (ok) {
        memcpy(num, f[2], flen[2]);
        num[flen[2]] = '\0';
        lp = strtod(num, &endp);
        ok = *endp == '\0';
    }
    if (ok && n == 4)
        ok = flen[3] == 1 && (f[3][0] == '0' || f[3][0] == '1');
    if (!ok) {
        self->api->errorf(err, "scripted: %s:%zu: expected context<TAB>continuation"
                               "<TAB>logprob[<TAB>0|1]", path, lineno);
        return TB_ERR_FORMAT;
    }
    ll_row *rows = realloc(self->ll_rows, (self->n_ll_rows + 1) * sizeof *rows);
    if (!rows)
        goto nomem;
    self->ll_rows = rows;
    ll_row *r = &rows[self->n_ll_rows];
    r->context = unescape(f[0], flen[0]);
    r->continuation = unescape(f[1], flen[1]);
    r->logprob = lp;
    r->is_greedy = n == 4 && f[3][0] == '1';
    self->n_ll_rows++;
    if (r->context && r->continuation)
        return TB_OK;
nomem:
    self->api->errorf(err, "scripted: out of memory reading %s", path);
    return TB_ERR_NOMEM;
}

typedef tb_status (*row_fn)(scripted *self, const char *line, size_t len,
                            const char *path, size_t lineno, tb_error *err);

static tb_status load_table(scripted *self, const char *path, row_fn add, tb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        self->api->errorf(err, "scripted: cannot read the table %s: %s", path,
                          strerror(errno));
        return TB_ERR_IO;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    tb_status st = TB_OK;
    while (st == TB_OK && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        st = add(self, line, len, path, lineno, err);
    }
    if (st == TB_OK && ferror(f)) {
        self->api->errorf(err, "scripted: error reading %s", path);
        st = TB_ERR_IO;
    }
    free(line);
    fclose(f);
    return st;
}

/* The answer for a prompt (or, for chat, either of two texts): the rows
 * that match, in file order, are used in turn; the count is kept on the
 * first matching row. */
static const char *lookup(session *s, const char *prompt, const char *alt)
{
    const scripted *self = s->owner;
    size_t count = 0, first = 0;
    for (size_t i = 0; i < self->n_rows; i++) {
        const char *p = self->rows[i].prompt;
        if (strcmp(p, prompt) == 0 || (alt && strcmp(p, alt) == 0)) {
            if (count++ == 0)
                first = i;
        }
    }
    if (count == 0)
        return NULL;
    size_t want = s->hits[first]++ % count;
    for (size_t i = first; i < self->n_rows; i++) {
        const char *p = self->rows[i].prompt;
        if ((strcmp(p, prompt) == 0 || (alt && strcmp(p, alt) == 0)) && want-- == 0)
            return self->rows[i].answer;
    }
    return NULL;
}

static const ll_row *ll_lookup(const scripted *self, const char *context,
                               const char *continuation)
{
    for (size_t i = 0; i < self->n_ll_rows; i++)
        if (strcmp(self->ll_rows[i].context, context) == 0 &&
            strcmp(self->ll_rows[i].continuation, continuation) == 0)
            return &self->ll_rows[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Instance                                                            */
/* ------------------------------------------------------------------ */

static void scripted_destroy(void *instance)
{
    scripted *self = instance;
    if (!self)
        return;
    free_rows(self);
    free(self);
}

static tb_status scripted_create(const tb_host_api *api, tb_host *host,
                                 const tb_config *config, void **instance,
                                 tb_error *err)
{
    scripted *self = calloc(1, sizeof *self);
    if (!self) {
        api->errorf(err, "scripted: out of memory");
        return TB_ERR_NOMEM;
    }
    self->api = api;
    self->host = host;
    const char *table = "", *ll_table = "";
    if (api->config_float(config, "bias", &self->bias) != TB_OK ||
        api->config_string(config, "table", &table) != TB_OK ||
        api->config_string(config, "ll_table", &ll_table) != TB_OK ||
        api->config_bool(config, "no_loglikelihood", &self->no_ll) != TB_OK) {
        api->errorf(err, "scripted: the host did not provide 'bias', 'table', "
                         "'ll_table' and 'no_loglikelihood'");
        free(self);
        return TB_ERR_INVALID;
    }
    tb_status st = TB_OK;
    if (table && *table)
        st = load_table(self, table, add_row, err);
    if (st == TB_OK && ll_table && *ll_table)
        st = load_table(self, ll_table, add_ll_row, err);
    if (st != TB_OK) {
        scripted_destroy(self);
        return st;
    }
    *instance = self;
    return TB_OK;
}

static void release_results(session *s)
{
    for (size_t i = 0; i < s->n_texts; i++)
        free(s->texts[i]);
    free(s->texts);
    s->texts = NULL;
    s->n_texts = 0;
    for (size_t i = 0; i < s->n_windows_bufs; i++) {
        free(s->window_lp[i]);
        free(s->window_n[i]);
    }
    free(s->window_lp);
    free(s->window_n);
    s->window_lp = NULL;
    s->window_n = NULL;
    s->n_windows_bufs = 0;
}

static void scripted_close(void *instance, void *sess)
{
    (void)instance;
    session *s = sess;
    if (!s)
        return;
    release_results(s);
    free(s->model_name);
    free(s->hits);
    free(s);
}

static tb_status scripted_open(void *instance, const tb_backend_open_args *args,
                               void **out, tb_error *err)
{
    scripted *self = instance;
    const char *path = args ? args->model_path : NULL;
    if (!path || !*path) {
        self->api->errorf(err, "scripted: no model path given");
        return TB_ERR_INVALID;
    }
    /* A folder opens but does not read: try one byte. */
    FILE *f = fopen(path, "rb");
    int failed = !f, e = errno;
    if (f) {
        char c;
        if (fread(&c, 1, 1, f) == 0 && ferror(f)) {
            failed = 1;
            e = errno;
        }
        fclose(f);
    }
    if (failed) {
        self->api->errorf(err, "scripted: cannot read the model file %s: %s", path,
                          strerror(e));
        return TB_ERR_IO;
    }
    session *s = calloc(1, sizeof *s);
    const char *base = strrchr(path, '/');
    if (s) {
        s->model_name = strdup(base ? base + 1 : path);
        s->hits = calloc(self->n_rows ? self->n_rows : 1, sizeof *s->hits);
    }
    if (!s || !s->model_name || !s->hits) {
        if (s) {
            free(s->model_name);
            free(s->hits);
        }
        free(s);
        self->api->errorf(err, "scripted: out of memory");
        return TB_ERR_NOMEM;
    }
    s->owner = self;
    *out = s;
    return TB_OK;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

static tb_status nomem(session *s, tb_error *err)
{
    s->owner->api->errorf(err, "scripted: out of memory");
    return TB_ERR_NOMEM;
}

static tb_status reserve_texts(session *s, size_t n, tb_error *err)
{
    release_results(s);
    s->texts = calloc(n ? n : 1, sizeof *s->texts);
    if (!s->texts)
        return nomem(s, err);
    s->n_texts = n;
    return TB_OK;
}

/* The chat template: the same text chat_format returns. */
static char *render_chat(const tb_message *const *messages, size_t n, int add_prompt)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++)
        need += strlen(messages[i]->role) + strlen(messages[i]->content) + 6;
    need += add_prompt ? 15 : 0;
    char *buf = malloc(need);
    if (!buf)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, need - k, "<|%s|>\n%s\n", messages[i]->role,
                              messages[i]->content);
    if (add_prompt)
        snprintf(buf + k, need - k, "<|assistant|>\n");
    return buf;
}

static int messages_valid(const tb_message *const *messages, size_t n)
{
    if (n && !messages)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!messages[i] || !messages[i]->role || !messages[i]->content)
            return 0;
    return 1;
}

/* One generation: the whole answer first, then what a decoder would have
 * emitted of it under max_tokens, stop strings and min_tokens. */
static tb_status generate_one(session *s, const tb_gen_request *r,
                              tb_gen_result *out, size_t index, tb_error *err)
{
    const tb_host_api *api = s->owner->api;
    if (!r || !out || !TB_HAS_MEMBER(r, tb_gen_request, n_stop) ||
        !TB_HAS_MEMBER(out, tb_gen_result, finish)) {
        api->errorf(err, "scripted: request %zu or its result is missing or too "
                         "small", index);
        return TB_ERR_INVALID;
    }
    if (!messages_valid(r->messages, r->n_messages) || (!r->n_messages && !r->prompt)) {
        api->errorf(err, "scripted: request %zu has no prompt", index);
        return TB_ERR_INVALID;
    }
    char *chat = NULL;
    const char *prompt = r->prompt, *last_user = NULL;
    if (r->n_messages) {
        chat = render_chat(r->messages, r->n_messages, 1);
        if (!chat)
            return nomem(s, err);
        prompt = chat;
        for (size_t i = r->n_messages; i-- > 0 && !last_user;)
            if (strcmp(r->messages[i]->role, "user") == 0)
                last_user = r->messages[i]->content;
    }
    const char *answer = lookup(s, prompt, last_user);
    char made[32];
    if (!answer) {
        uint64_t h = fnv_str(FNV_OFFSET, prompt);
        h = fnv_u64(h, r->seed);
        uint32_t tbits;
        memcpy(&tbits, &r->temperature, sizeof tbits);
        h = fnv_u64(h, tbits);
        snprintf(made, sizeof made, "answer-%08x", (unsigned)(h & 0xffffffffu));
        answer = made;
    }
    free(chat);
    size_t len = strlen(answer);
    size_t max = r->max_tokens > 0 ? (size_t)r->max_tokens : 0;
    size_t min = r->min_tokens > 0 ? (size_t)r->min_tokens : 0;
    if (min > max)
        min = max;
    tb_finish finish = TB_FINISH_EOS;
    if (len > max) {
        len = max;
        finish = TB_FINISH_LENGTH;
    }
    for (size_t i = 0; i < r->n_stop; i++) {
        const char *stop = r->stop ? r->stop[i] : NULL;
        if (!stop || !*stop)
            continue;
        const char *hit = NULL;
        for (size_t at = 0; at + strlen(stop) <= len && !hit; at++)
            if (memcmp(answer + at, stop, strlen(stop)) == 0)
                hit = answer + at;
        if (hit && (size_t)(hit - answer) < len) {
            len = (size_t)(hit - answer);
            finish = TB_FINISH_STOP;
        }
    }
    /* EOS before min_tokens is ignored: pad with '.' as if the model went on. */
    size_t total = finish == TB_FINISH_EOS && len < min ? min : len;
    char *text = malloc(total + 1);
    if (!text)
        return nomem(s, err);
    memcpy(text, answer, len);
    memset(text + len, '.', total - len);
    text[total] = '\0';
    if (total > len)
        finish = total == max ? TB_FINISH_LENGTH : TB_FINISH_EOS;
    s->texts[index] = text;
    out->text = text;
    out->text_len = total;
    out->n_tokens = (int32_t)total;
    out->finish = finish;
    return TB_OK;
}

static tb_status scripted_generate(void *sess, const tb_gen_request *const *reqs,
                                   size_t n, tb_gen_result *const *out,
                                   tb_error *err)
{
    session *s = sess;
    if (n && (!reqs || !out)) {
        s->owner->api->errorf(err, "scripted: generate needs requests and results");
        return TB_ERR_INVALID;
    }
    tb_status st = reserve_texts(s, n, err);
    for (size_t i = 0; st == TB_OK && i < n; i++)
        st = generate_one(s, reqs[i], out[i], i, err);
    return st;
}

static tb_status scripted_loglikelihood(void *sess, const tb_ll_request *const *reqs,
                                        size_t n, tb_ll_result *const *out,
                                        tb_error *err)
{
    session *s = sess;
    const tb_host_api *api = s->owner->api;
    if (n && (!reqs || !out)) {
        api->errorf(err, "scripted: loglikelihood needs requests and results");
        return TB_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        const tb_ll_request *r = reqs[i];
        tb_ll_result *o = out[i];
        if (!r || !o || !TB_HAS_MEMBER(r, tb_ll_request, continuation) ||
            !TB_HAS_MEMBER(o, tb_ll_result, is_greedy)) {
            api->errorf(err, "scripted: request %zu or its result is missing or "
                             "too small", i);
            return TB_ERR_INVALID;
        }
        if (!r->continuation || !*r->continuation) {
            api->errorf(err, "scripted: request %zu: the continuation is empty", i);
            return TB_ERR_INVALID;
        }
        size_t bytes = strlen(r->continuation);
        o->n_tokens = (int32_t)bytes;
        const ll_row *row = ll_lookup(s->owner, r->context ? r->context : "",
                                      r->continuation);
        if (row) {
            o->logprob = row->logprob;
            o->is_greedy = row->is_greedy;
            continue;
        }
        uint64_t h = fnv_str(FNV_OFFSET, s->model_name);
        h = fnv_str(h, r->context ? r->context : "");
        h = fnv_str(h, r->continuation);
        double u = unit_of(h);
        o->logprob = -(double)bytes * (0.5 + u) + s->owner->bias;
        o->is_greedy = u < 0.25;
    }
    return TB_OK;
}

static double token_logprob(const session *s, const char *text, size_t len,
                            int64_t pos)
{
    uint64_t h = fnv_str(FNV_OFFSET, s->model_name);
    h = fnv_bytes(h, text, len);
    h = fnv_u64(h, (uint64_t)pos);
    return -(0.5 + unit_of(h)) + s->owner->bias;
}

/* Whether text token t of a window [start, end) is scored.  Unless a BOS
 * precedes the window (add_bos 1), its first token has no context (add_bos
 * 0) or was replaced by BOS (add_bos 2), and is never predicted. */
static int scored(const tb_rolling_request *r, int64_t t, int64_t start,
                  int64_t span, int64_t prev_end)
{
    if (r->add_bos != 1 && t == start)
        return 0;
    switch (r->score) {
    case TB_SCORE_NEW: return t >= prev_end;
    case TB_SCORE_SECOND_HALF: { /* llama.cpp: window positions after len/2 */
        int64_t pos = t - start + (r->add_bos == 1), len = span + (r->add_bos == 1);
        return pos > len / 2;
    }
    case TB_SCORE_ALL: return 1;
    }
    return 0;
}

static tb_status rolling_one(session *s, const tb_rolling_request *r,
                             tb_rolling_result *o, size_t index, tb_error *err)
{
    const tb_host_api *api = s->owner->api;
    int64_t n = (int64_t)r->text_len;
    /* Text tokens per window: with add_bos 1 the window holds BOS too. */
    int64_t span = (int64_t)r->window - (r->add_bos == 1 ? 1 : 0);
    if (span < 1 || r->stride < 1 || !r->text || r->add_bos < 0 || r->add_bos > 2 ||
        (r->score != TB_SCORE_NEW && r->score != TB_SCORE_SECOND_HALF &&
         r->score != TB_SCORE_ALL)) {
        api->errorf(err, "scripted: rolling request %zu: need a text, a window "
                         "longer than its BOS, stride >= 1, add_bos 0-2 and a "
                         "known score mode", index);
        return TB_ERR_INVALID;
    }
    /* A stride longer than the text part of the window would skip tokens. */
    int64_t stride = r->stride < span ? r->stride : span;
    size_t windows = n == 0 ? 0 : (size_t)(n <= span ? 1 : 1 + (n - span + stride - 1) / stride);
    double *lp = calloc(windows ? windows : 1, sizeof *lp);
    int64_t *cnt = calloc(windows ? windows : 1, sizeof *cnt);
    if (!lp || !cnt) {
        free(lp);
        free(cnt);
        return nomem(s, err);
    }
    s->window_lp[index] = lp;
    s->window_n[index] = cnt;
    double total = 0;
    int64_t total_n = 0, prev_end = 0;
    for (size_t w = 0; w < windows; w++) {
        int64_t start = (int64_t)w * stride;
        int64_t end = start + span < n ? start + span : n;
        for (int64_t t = start; t < end; t++) {
            if (!scored(r, t, start, end - start, prev_end))
                continue;
            lp[w] += token_logprob(s, r->text, r->text_len, t);
            cnt[w]++;
        }
        prev_end = end;
        total += lp[w];
        total_n += cnt[w];
    }
    o->logprob = total;
    o->n_scored = total_n;
    o->n_tokens = n;
    o->n_windows = windows;
    o->window_logprob = lp;
    o->window_scored = cnt;
    return TB_OK;
}

static tb_status scripted_rolling(void *sess, const tb_rolling_request *const *reqs,
                                  size_t n, tb_rolling_result *const *out,
                                  tb_error *err)
{
    session *s = sess;
    const tb_host_api *api = s->owner->api;
    if (n && (!reqs || !out)) {
        api->errorf(err, "scripted: rolling needs requests and results");
        return TB_ERR_INVALID;
    }
    release_results(s);
    s->window_lp = calloc(n ? n : 1, sizeof *s->window_lp);
    s->window_n = calloc(n ? n : 1, sizeof *s->window_n);
    if (!s->window_lp || !s->window_n)
        return nomem(s, err);
    s->n_windows_bufs = n;
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i] || !out[i] || !TB_HAS_MEMBER(reqs[i], tb_rolling_request, score) ||
            !TB_HAS_MEMBER(out[i], tb_rolling_result, window_scored)) {
            api->errorf(err, "scripted: rolling request %zu or its result is "
                             "missing or too small", i);
            return TB_ERR_INVALID;
        }
        tb_status st = rolling_one(s, reqs[i], out[i], i, err);
        if (st != TB_OK)
            return st;
    }
    return TB_OK;
}

static tb_status scripted_tokenize(void *sess, const char *text, size_t len,
                                   int add_bos, int32_t *ids, size_t cap,
                                   size_t *n_ids, tb_error *err)
{
    session *s = sess;
    if ((!text && len) || !n_ids || (cap && !ids)) {
        s->owner->api->errorf(err, "scripted: tokenize needs text, ids and n_ids");
        return TB_ERR_INVALID;
    }
    size_t k = 0;
    if (add_bos) {
        if (k < cap)
            ids[k] = SCRIPTED_BOS;
        k++;
    }
    for (size_t i = 0; i < len; i++, k++)
        if (k < cap)
            ids[k] = (int32_t)(unsigned char)text[i];
    *n_ids = k;
    /* As a real backend: a full count with no room for it is an error the
     * caller can size a buffer from. */
    if (k > cap) {
        s->owner->api->errorf(err, "scripted: %zu ids do not fit in %zu", k, cap);
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

static tb_status scripted_chat_format(void *sess, const tb_message *const *messages,
                                      size_t n, int add_generation_prompt,
                                      char *buf, size_t cap, size_t *len,
                                      tb_error *err)
{
    session *s = sess;
    if (!messages_valid(messages, n) || !len || (cap && !buf)) {
        s->owner->api->errorf(err, "scripted: chat_format needs messages with a "
                                   "role and content, and len");
        return TB_ERR_INVALID;
    }
    char *text = render_chat(messages, n, add_generation_prompt);
    if (!text)
        return nomem(s, err);
    /* Like snprintf: *len is the full length; the text fits when *len < cap. */
    *len = strlen(text);
    if (cap) {
        size_t k = *len < cap ? *len : cap - 1;
        memcpy(buf, text, k);
        buf[k] = '\0';
    }
    free(text);
    return TB_OK;
}

static const tb_param scripted_params[] = {
    {"table", TB_PARAM_PATH, "", 0, 0, NULL,
     "TSV of prompt<TAB>answer lines that generate answers verbatim",
     TB_PARAM_OPTIONAL},
    {"bias", TB_PARAM_FLOAT, "0.0", 0, 0, NULL,
     "added to every log-probability, to make two variants differ", 0},
    {"ll_table", TB_PARAM_PATH, "", 0, 0, NULL,
     "TSV of context<TAB>continuation<TAB>logprob[<TAB>is_greedy] lines that "
     "loglikelihood returns verbatim", TB_PARAM_OPTIONAL},
    {"no_loglikelihood", TB_PARAM_BOOL, "false", 0, 0, NULL,
     "open sessions report no log-likelihoods (session_caps), as a server without "
     "prompt log-probabilities does", 0},
};

/* ABI 1.2: a session can offer less than the backend declares. */
static uint32_t scripted_session_caps(void *sess)
{
    const session *s = sess;
    uint32_t all = TB_CAP_GENERATE | TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING | TB_CAP_TOKENIZE |
                   TB_CAP_CHAT;
    return s->owner->no_ll ? all & ~(uint32_t)(TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING) : all;
}

static const tb_backend_vtable scripted_ops = {
    .struct_size = sizeof(tb_backend_vtable),
    .caps = TB_CAP_GENERATE | TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING |
            TB_CAP_TOKENIZE | TB_CAP_CHAT,
    .open = scripted_open,
    .close = scripted_close,
    .generate = scripted_generate,
    .loglikelihood = scripted_loglikelihood,
    .loglikelihood_rolling = scripted_rolling,
    .tokenize = scripted_tokenize,
    .chat_format = scripted_chat_format,
    .session_caps = scripted_session_caps,
};

static const tb_plugin_descriptor scripted_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_BACKEND,
    .name = "scripted",
    .version = "1.0.0",
    .description = "deterministic test backend: hashed answers and log-probs, no model",
    TB_PARAMS(scripted_params),
    .create = scripted_create,
    .destroy = scripted_destroy,
    .ops.backend = &scripted_ops,
};

TB_PLUGIN_DEFINE(scripted_descriptor)
