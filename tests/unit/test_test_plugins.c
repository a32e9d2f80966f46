/*
 * test_test_plugins.c - the test plugins other suites rely on behave as
 * documented: the scripted backend's answers, log-probabilities, windows,
 * tokens and chat template; probe's items, metrics, limit, failure and
 * cancellation; crash's SIGSEGV; hang ignoring cancellation.  They run
 * under the mock host, with scripted as probe's backend.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "mock_host.h"
#include "params.h"
#include "tb_test.h"
#include "util.h"

static tb_registry *reg;

static const tb_plugin_descriptor *plugin(tb_plugin_kind kind, const char *name)
{
    const tb_plugin_entry *e = tb_registry_find(reg, kind, name);
    if (!e) {
        fprintf(stderr, "test plugin %s not built\n", name);
        exit(99);
    }
    return e->desc;
}

/* A config from "name=value" settings plus the defaults. */
static tb_config *config_of(const tb_plugin_descriptor *d, const char *const *settings,
                            size_t n, const char *dir)
{
    tb_config *c = tb_config_new();
    char why[512];
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(settings[i], '=');
        char *name = tb_xstrndup(settings[i], (size_t)(eq - settings[i]));
        tb_param_value v;
        memset(&v, 0, sizeof v);
        if (tb_param_parse(tb_param_find(d, name), eq + 1, dir, &v, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", settings[i], why);
            exit(99);
        }
        tb_config_set(c, &v);
        free(name);
    }
    if (tb_config_fill_defaults(c, d, dir, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        exit(99);
    }
    return c;
}

/* ------------------------------------------------------------------ */
/* scripted                                                            */
/* ------------------------------------------------------------------ */

typedef struct backend {
    const tb_plugin_descriptor *d;
    tb_config *config;
    tb_host host;
    void *self;
    void *session;
    char *model;
} backend;

static void backend_open(backend *b, const char *const *settings, size_t n,
                         const char *model_name)
{
    const char *dir = tb_test_tmpdir();
    memset(b, 0, sizeof *b);
    b->d = plugin(TB_KIND_BACKEND, "scripted");
    b->config = config_of(b->d, settings, n, dir);
    tb_mock_init(&b->host, "scripted");
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(b->d->create(tb_mock_api(), &b->host, b->config, &b->self, &err),
                          TB_OK);
    b->model = tb_test_write_file(dir, model_name, "weights\n");
    tb_backend_open_args args = {sizeof args, "m", b->model, NULL};
    CU_ASSERT_EQUAL_FATAL(b->d->ops.backend->open(b->self, &args, &b->session, &err), TB_OK);
}

static void backend_close(backend *b)
{
    b->d->ops.backend->close(b->self, b->session);
    b->d->destroy(b->self);
    tb_config_free(b->config);
    tb_mock_free(&b->host);
    free(b->model);
}

static tb_status gen1(backend *b, const tb_gen_request *r, tb_gen_result *out, tb_error *err)
{
    const tb_gen_request *reqs[1] = {r};
    tb_gen_result *outs[1] = {out};
    out->struct_size = sizeof *out;
    return b->d->ops.backend->generate(b->session, reqs, 1, outs, err);
}

static tb_gen_request request(const char *prompt, int32_t max_tokens)
{
    tb_gen_request r = {.struct_size = sizeof r, .prompt = prompt, .max_tokens = max_tokens,
                        .top_p = 1.0f, .seed = 7};
    return r;
}

/* The documented hash, written out again so the test can disagree. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_le(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return fnv(h, b, 8);
}

static void test_scripted_descriptor(void)
{
    const tb_plugin_descriptor *d = plugin(TB_KIND_BACKEND, "scripted");
    CU_ASSERT_EQUAL(d->ops.backend->caps, TB_CAP_GENERATE | TB_CAP_LOGLIKELIHOOD |
                                              TB_CAP_ROLLING | TB_CAP_TOKENIZE | TB_CAP_CHAT);
    CU_ASSERT_EQUAL_FATAL(d->n_params, 4);
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 0)->name, "table");
    CU_ASSERT_EQUAL(tb_param_at(d, 0)->type, TB_PARAM_PATH);
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 0)->default_value, "");
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 1)->name, "bias");
    CU_ASSERT_EQUAL(tb_param_at(d, 1)->type, TB_PARAM_FLOAT);
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 1)->default_value, "0.0");
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 2)->name, "ll_table");
    CU_ASSERT_EQUAL(tb_param_at(d, 2)->type, TB_PARAM_PATH);
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 2)->default_value, "");
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 3)->name, "no_loglikelihood");
    CU_ASSERT_EQUAL(tb_param_at(d, 3)->type, TB_PARAM_BOOL);
    CU_ASSERT_STRING_EQUAL(tb_param_at(d, 3)->default_value, "false");
    /* ABI 1.2: sessions tell their capabilities. */
    CU_ASSERT_FATAL(TB_HAS_MEMBER(d->ops.backend, tb_backend_vtable, session_caps));
    CU_ASSERT_PTR_NOT_NULL(d->ops.backend->session_caps);
}

static void test_scripted_open_errors(void)
{
    const char *dir = tb_test_tmpdir();
    const tb_plugin_descriptor *d = plugin(TB_KIND_BACKEND, "scripted");
    tb_config *c = config_of(d, NULL, 0, dir);
    tb_host h;
    tb_mock_init(&h, "scripted");
    void *self = NULL, *session = NULL;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(d->create(tb_mock_api(), &h, c, &self, &err), TB_OK);
    char *missing = tb_path_join(dir, "missing.bin");
    tb_backend_open_args args = {sizeof args, "m", missing, NULL};
    CU_ASSERT_EQUAL(d->ops.backend->open(self, &args, &session, &err), TB_ERR_IO);
    char *want = tb_xasprintf("scripted: cannot read the model file %s: No such file or "
                              "directory", missing);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    free(want);
    args.model_path = dir;
    CU_ASSERT_EQUAL(d->ops.backend->open(self, &args, &session, &err), TB_ERR_IO);
    want = tb_xasprintf("scripted: cannot read the model file %s: Is a directory", dir);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    free(want);
    args.model_path = NULL;
    CU_ASSERT_EQUAL(d->ops.backend->open(self, &args, &session, &err), TB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.message, "scripted: no model path given");
    d->ops.backend->close(self, NULL);
    d->destroy(self);
    tb_config_free(c);
    /* A table line without a tab. */
    char *table = tb_test_write_file(dir, "bad.tsv", "q\ta\nno tab here\n");
    const char *settings[] = {"table=bad.tsv"};
    c = config_of(d, settings, 1, dir);
    self = NULL;
    CU_ASSERT_EQUAL(d->create(tb_mock_api(), &h, c, &self, &err), TB_ERR_FORMAT);
    want = tb_xasprintf("scripted: %s:2: expected prompt<TAB>answer", table);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    CU_ASSERT_PTR_NULL(self);
    free(want);
    free(table);
    tb_config_free(c);
    /* ll_table lines: three or four fields, a number, 0 or 1. */
    static const char *const bad_ll[] = {"ctx\tcont\n", "ctx\tcont\tx1\n",
                                         "ctx\tcont\t-1\t2\n",
                                         "ctx\tcont\t-1\t1\textra\n"};
    for (size_t i = 0; i < 4; i++) {
        char *body = tb_xasprintf("a\tb\t-1.5\n%s", bad_ll[i]);
        table = tb_test_write_file(dir, "bad_ll.tsv", body);
        const char *ll_settings[] = {"ll_table=bad_ll.tsv"};
        c = config_of(d, ll_settings, 1, dir);
        self = NULL;
        CU_ASSERT_EQUAL(d->create(tb_mock_api(), &h, c, &self, &err), TB_ERR_FORMAT);
        want = tb_xasprintf("scripted: %s:2: expected context<TAB>continuation<TAB>"
                            "logprob[<TAB>0|1]", table);
        CU_ASSERT_STRING_EQUAL(err.message, want);
        CU_ASSERT_PTR_NULL(self);
        free(want);
        free(table);
        free(body);
        tb_config_free(c);
    }
    free(missing);
    tb_mock_free(&h);
}

static void test_scripted_generate(void)
{
    const char *dir = tb_test_tmpdir();
    char *table = tb_test_write_file(dir, "t.tsv",
                                     "hello\tworld\\nagain\n"
                                     "<|user|>\\nhi\\n<|assistant|>\\n\tchat-ok\n");
    char *setting = tb_xasprintf("table=%s", table);
    const char *settings[] = {setting};
    backend b;
    backend_open(&b, settings, 1, "model-a.bin");
    tb_error err = {{0}};
    tb_gen_result out;
    tb_gen_request r = request("hello", 100);
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "world\nagain");
    CU_ASSERT_EQUAL(out.text_len, 11);
    CU_ASSERT_EQUAL(out.n_tokens, 11);
    CU_ASSERT_EQUAL(out.finish, TB_FINISH_EOS);
    /* An unknown prompt: answer-<fnv-1a of prompt, seed, temperature>. */
    r = request("What is 2+2?", 100);
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    uint64_t h = fnv(0xcbf29ce484222325ull, "What is 2+2?", 13);
    h = fnv_le(h, 7);
    float t = 0.0f;
    uint32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    h = fnv_le(h, tbits);
    char want[32];
    snprintf(want, sizeof want, "answer-%08x", (unsigned)(h & 0xffffffffu));
    CU_ASSERT_STRING_EQUAL(out.text, want);
    char first[32];
    snprintf(first, sizeof first, "%s", out.text);
    r.seed = 8;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    CU_ASSERT(strcmp(out.text, first) != 0);
    r.seed = 7;
    r.temperature = 0.7f;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    CU_ASSERT(strcmp(out.text, first) != 0);
    r.temperature = 0.0f;
    /* max_tokens, stop strings, min_tokens (1 token = 1 byte). */
    r.max_tokens = 6;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "answer");
    CU_ASSERT_EQUAL(out.finish, TB_FINISH_LENGTH);
    const char *stops[] = {"zzz", "-"};
    r.max_tokens = 100;
    r.stop = stops;
    r.n_stop = 2;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "answer");
    CU_ASSERT_EQUAL(out.finish, TB_FINISH_STOP);
    r.n_stop = 0;
    r.min_tokens = 20;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
    CU_ASSERT_EQUAL(out.text_len, 20);
    CU_ASSERT_EQUAL(strncmp(out.text, first, 15), 0);
    CU_ASSERT_STRING_EQUAL(out.text + 15, ".....");
    /* Chat messages go through the template first. */
    tb_message user = {sizeof user, "user", "hi"};
    const tb_message *msgs[] = {&user};
    tb_gen_request chat = request(NULL, 100);
    chat.messages = msgs;
    chat.n_messages = 1;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &chat, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "chat-ok");
    /* A batch fills out[i] for reqs[i]; earlier texts stay valid. */
    tb_gen_request r0 = request("hello", 3), r1 = request("What is 2+2?", 100);
    tb_gen_result o0 = {.struct_size = sizeof o0}, o1 = {.struct_size = sizeof o1};
    const tb_gen_request *reqs[] = {&r0, &r1};
    tb_gen_result *outs[] = {&o0, &o1};
    CU_ASSERT_EQUAL_FATAL(b.d->ops.backend->generate(b.session, reqs, 2, outs, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(o0.text, "wor");
    CU_ASSERT_STRING_EQUAL(o1.text, first);
    backend_close(&b);
    free(table);
    free(setting);
}

/* Several rows for one prompt are used in turn, per session; chat
 * requests match the rendered text or the last user message. */
static void test_scripted_table_sequences(void)
{
    const char *dir = tb_test_tmpdir();
    char *table = tb_test_write_file(dir, "seq.tsv",
                                     "q\tfirst\n"
                                     "other\tunrelated\n"
                                     "q\tsecond\n"
                                     "q\tthird\n"
                                     "hi\tby-content\n"
                                     "<|user|>\\nhi\\n<|assistant|>\\n\tby-template\n"
                                     "solo\tonly\n");
    char *setting = tb_xasprintf("table=%s", table);
    const char *settings[] = {setting};
    backend b, b2;
    backend_open(&b, settings, 1, "model-a.bin");
    backend_open(&b2, settings, 1, "model-a.bin");
    tb_error err = {{0}};
    tb_gen_result out;
    static const char *const want[] = {"first", "second", "third", "first", "second"};
    for (size_t i = 0; i < 5; i++) {
        tb_gen_request r = request("q", 100);
        CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
        CU_ASSERT_STRING_EQUAL(out.text, want[i]);
        /* A single row always answers the same. */
        r = request("solo", 100);
        CU_ASSERT_EQUAL_FATAL(gen1(&b, &r, &out, &err), TB_OK);
        CU_ASSERT_STRING_EQUAL(out.text, "only");
    }
    /* Another session starts again at the first answer. */
    tb_gen_request r = request("q", 100);
    CU_ASSERT_EQUAL_FATAL(gen1(&b2, &r, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "first");
    /* Within a batch, in request order. */
    tb_gen_request r0 = request("q", 100), r1 = request("q", 100);
    tb_gen_result o0 = {.struct_size = sizeof o0}, o1 = {.struct_size = sizeof o1};
    const tb_gen_request *reqs[] = {&r0, &r1};
    tb_gen_result *outs[] = {&o0, &o1};
    CU_ASSERT_EQUAL_FATAL(b2.d->ops.backend->generate(b2.session, reqs, 2, outs, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(o0.text, "second");
    CU_ASSERT_STRING_EQUAL(o1.text, "third");
    /* Chat: the content row and the template row match together, in file
     * order; a system turn does not change the last user message. */
    tb_message user = {sizeof user, "user", "hi"};
    const tb_message *msgs[] = {&user};
    tb_gen_request chat = request(NULL, 100);
    chat.messages = msgs;
    chat.n_messages = 1;
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &chat, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "by-content");
    CU_ASSERT_EQUAL_FATAL(gen1(&b, &chat, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "by-template");
    tb_message sys = {sizeof sys, "system", "be brief"};
    tb_message earlier = {sizeof earlier, "user", "q"};
    tb_message reply = {sizeof reply, "assistant", "ok"};
    const tb_message *convo[] = {&sys, &earlier, &reply, &user};
    chat.messages = convo;
    chat.n_messages = 4;
    CU_ASSERT_EQUAL_FATAL(gen1(&b2, &chat, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "by-content");
    /* A plain prompt equal to the content matches its row only. */
    r = request("hi", 100);
    CU_ASSERT_EQUAL_FATAL(gen1(&b2, &r, &out, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "by-content");
    backend_close(&b);
    backend_close(&b2);
    free(table);
    free(setting);
}

static double ll(backend *b, const char *context, const char *cont, tb_ll_result *out)
{
    tb_ll_request r = {sizeof r, context, cont};
    const tb_ll_request *reqs[] = {&r};
    tb_ll_result *outs[] = {out};
    out->struct_size = sizeof *out;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL(b->d->ops.backend->loglikelihood(b->session, reqs, 1, outs, &err), TB_OK);
    return out->logprob;
}

static void test_scripted_loglikelihood(void)
{
    backend a, a2, other, biased;
    backend_open(&a, NULL, 0, "model-a.bin");
    backend_open(&a2, NULL, 0, "model-a.bin");
    backend_open(&other, NULL, 0, "model-b.bin");
    const char *bias[] = {"bias=1.5"};
    backend_open(&biased, bias, 1, "model-a.bin");
    int greedy = 0, not_greedy = 0;
    for (int i = 0; i < 40; i++) {
        char ctx[32];
        snprintf(ctx, sizeof ctx, "Question %d:", i);
        tb_ll_result r, r2, o, bz;
        double lp = ll(&a, ctx, " yes", &r);
        /* -(bytes) * (0.5 + u), u in [0, 1); greedy when u < 0.25. */
        CU_ASSERT(lp <= -2.0 && lp > -6.0);
        CU_ASSERT_EQUAL(r.n_tokens, 4);
        CU_ASSERT_EQUAL(r.is_greedy, lp > -3.0);
        greedy += r.is_greedy;
        not_greedy += !r.is_greedy;
        /* The same model file name gives the same number. */
        CU_ASSERT_EQUAL(ll(&a2, ctx, " yes", &r2), lp);
        CU_ASSERT_DOUBLE_EQUAL(ll(&biased, ctx, " yes", &bz), lp + 1.5, 1e-12);
        CU_ASSERT_EQUAL(bz.is_greedy, r.is_greedy);
        (void)ll(&other, ctx, " yes", &o);
        if (i == 0)
            CU_ASSERT(o.logprob != lp);
    }
    CU_ASSERT(greedy > 0 && not_greedy > 0);
    tb_ll_request empty = {sizeof empty, "ctx", ""};
    const tb_ll_request *reqs[] = {&empty};
    tb_ll_result res = {.struct_size = sizeof res};
    tb_ll_result *outs[] = {&res};
    tb_error err = {{0}};
    CU_ASSERT_EQUAL(a.d->ops.backend->loglikelihood(a.session, reqs, 1, outs, &err),
                    TB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.message, "scripted: request 0: the continuation is empty");
    backend_close(&a);
    backend_close(&a2);
    backend_close(&other);
    backend_close(&biased);
}

/* ll_table rows answer exactly (no bias); other requests keep the hash. */
static void test_scripted_ll_table(void)
{
    const char *dir = tb_test_tmpdir();
    char *table = tb_test_write_file(dir, "ll.tsv",
                                     "Q: capital?\\nA:\t Paris\t-1.25\t1\n"
                                     "Q: capital?\\nA:\t Lyon\t-7\n"
                                     "\t\\tx\t-0.5\t0\n"
                                     "Q: capital?\\nA:\t Paris\t-99\n");
    char *setting = tb_xasprintf("ll_table=%s", table);
    const char *settings[] = {setting, "bias=2.0"};
    backend b, plain;
    backend_open(&b, settings, 2, "model-a.bin");
    backend_open(&plain, settings + 1, 1, "model-a.bin");
    tb_ll_result r, h;
    CU_ASSERT_EQUAL(ll(&b, "Q: capital?\nA:", " Paris", &r), -1.25);
    CU_ASSERT_EQUAL(r.n_tokens, 6);
    CU_ASSERT_EQUAL(r.is_greedy, 1);
    CU_ASSERT_EQUAL(ll(&b, "Q: capital?\nA:", " Lyon", &r), -7.0);
    CU_ASSERT_EQUAL(r.n_tokens, 5);
    CU_ASSERT_EQUAL(r.is_greedy, 0);
    CU_ASSERT_EQUAL(ll(&b, "", "\tx", &r), -0.5);
    CU_ASSERT_EQUAL(r.n_tokens, 2);
    /* Not in the table: the same number as without one. */
    CU_ASSERT_EQUAL(ll(&b, "Q: capital?\nA:", " Nice", &r),
                    ll(&plain, "Q: capital?\nA:", " Nice", &h));
    CU_ASSERT_EQUAL(r.n_tokens, 5);
    CU_ASSERT_EQUAL(r.is_greedy, h.is_greedy);
    CU_ASSERT(ll(&plain, "Q: capital?\nA:", " Paris", &h) != -1.25);
    backend_close(&b);
    backend_close(&plain);
    free(table);
    free(setting);
}

static tb_status roll(backend *b, int window, int stride, int add_bos,
                      tb_rolling_score score, tb_rolling_result *out, tb_error *err)
{
    tb_rolling_request r = {sizeof r, "0123456789", 10, window, stride, add_bos, score};
    const tb_rolling_request *reqs[] = {&r};
    tb_rolling_result *outs[] = {out};
    out->struct_size = sizeof *out;
    return b->d->ops.backend->loglikelihood_rolling(b->session, reqs, 1, outs, err);
}

static void check_windows(const tb_rolling_result *r, size_t windows, const int64_t *scored)
{
    CU_ASSERT_EQUAL_FATAL(r->n_windows, windows);
    double sum = 0;
    int64_t n = 0;
    for (size_t i = 0; i < windows; i++) {
        CU_ASSERT_EQUAL(r->window_scored[i], scored[i]);
        sum += r->window_logprob[i];
        n += r->window_scored[i];
    }
    CU_ASSERT_EQUAL(r->n_scored, n);
    CU_ASSERT_EQUAL(r->n_tokens, 10);
    CU_ASSERT_DOUBLE_EQUAL(r->logprob, sum, 1e-9);
    /* Each scored token costs -(0.5 + u) nat with u in [0, 1). */
    CU_ASSERT(r->logprob <= -0.5 * (double)n && r->logprob > -1.5 * (double)n);
}

static void test_scripted_rolling(void)
{
    backend b;
    backend_open(&b, NULL, 0, "model-a.bin");
    tb_rolling_result r;
    tb_error err = {{0}};
    /* Disjoint windows without BOS: each window's first token is context. */
    CU_ASSERT_EQUAL_FATAL(roll(&b, 4, 4, 0, TB_SCORE_ALL, &r, &err), TB_OK);
    check_windows(&r, 3, (const int64_t[]){3, 3, 1});
    /* With BOS every token is predicted; the window holds BOS too. */
    CU_ASSERT_EQUAL_FATAL(roll(&b, 5, 4, 1, TB_SCORE_ALL, &r, &err), TB_OK);
    check_windows(&r, 3, (const int64_t[]){4, 4, 2});
    double all_lp = r.logprob;
    /* Overlapping windows score only what is new. */
    CU_ASSERT_EQUAL_FATAL(roll(&b, 4, 2, 1, TB_SCORE_NEW, &r, &err), TB_OK);
    check_windows(&r, 5, (const int64_t[]){3, 2, 2, 2, 1});
    CU_ASSERT_DOUBLE_EQUAL(r.logprob, all_lp, 1e-9); /* per-token values */
    /* llama.cpp: positions after n/2 of each window (BOS + 3 tokens: only
     * position 3; the last window, BOS + 1 token, scores nothing). */
    CU_ASSERT_EQUAL_FATAL(roll(&b, 4, 4, 1, TB_SCORE_SECOND_HALF, &r, &err), TB_OK);
    check_windows(&r, 4, (const int64_t[]){1, 1, 1, 0});
    /* BOS replacing the first token (add_bos 2): the window spans text. */
    CU_ASSERT_EQUAL_FATAL(roll(&b, 4, 4, 2, TB_SCORE_ALL, &r, &err), TB_OK);
    check_windows(&r, 3, (const int64_t[]){3, 3, 1});
    CU_ASSERT_EQUAL(roll(&b, 1, 1, 1, TB_SCORE_ALL, &r, &err), TB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.message, "scripted: rolling request 0: need a text, a window "
                                        "longer than its BOS, stride >= 1, add_bos 0-2 and "
                                        "a known score mode");
    backend_close(&b);
}

static void test_scripted_tokenize_and_chat(void)
{
    backend b;
    backend_open(&b, NULL, 0, "model-a.bin");
    const tb_backend_vtable *v = b.d->ops.backend;
    int32_t ids[4] = {0};
    size_t n = 0;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL(v->tokenize(b.session, "hi", 2, 1, ids, 4, &n, &err), TB_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(ids[0] == 256 && ids[1] == 'h' && ids[2] == 'i');
    int32_t small[2] = {0};
    /* Too small: the full count and TB_ERR_INVALID, as model.h specifies. */
    CU_ASSERT_EQUAL(v->tokenize(b.session, "hi!", 3, 1, small, 2, &n, &err), TB_ERR_INVALID);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(small[0] == 256 && small[1] == 'h');
    CU_ASSERT_EQUAL(v->tokenize(b.session, "hi", 2, 0, ids, 4, &n, &err), TB_OK);
    CU_ASSERT_EQUAL(n, 2);
    tb_message sys = {sizeof sys, "system", "be brief"}, user = {sizeof user, "user", "hi"};
    const tb_message *msgs[] = {&sys, &user};
    char buf[128];
    size_t len = 0;
    CU_ASSERT_EQUAL(v->chat_format(b.session, msgs, 2, 1, buf, sizeof buf, &len, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "<|system|>\nbe brief\n<|user|>\nhi\n<|assistant|>\n");
    CU_ASSERT_EQUAL(len, strlen(buf));
    CU_ASSERT_EQUAL(v->chat_format(b.session, msgs, 2, 0, buf, sizeof buf, &len, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "<|system|>\nbe brief\n<|user|>\nhi\n");
    /* Like snprintf: the full length, a truncated NUL-terminated text. */
    CU_ASSERT_EQUAL(v->chat_format(b.session, msgs, 2, 1, buf, 5, &len, &err), TB_OK);
    CU_ASSERT_EQUAL(len, strlen("<|system|>\nbe brief\n<|user|>\nhi\n<|assistant|>\n"));
    CU_ASSERT_STRING_EQUAL(buf, "<|sy");
    backend_close(&b);
}

/* ------------------------------------------------------------------ */
/* probe                                                               */
/* ------------------------------------------------------------------ */

static tb_status run_probe(backend *b, const char *const *settings, size_t n,
                           tb_host *h, tb_error *err)
{
    const tb_plugin_descriptor *d = plugin(TB_KIND_BENCHMARK, "probe");
    tb_config *c = config_of(d, settings, n, NULL);
    void *self = NULL;
    tb_status st = d->create(tb_mock_api(), h, c, &self, err);
    if (st == TB_OK)
        st = d->ops.benchmark->run(self, err);
    d->destroy(self);
    tb_config_free(c);
    (void)b;
    return st;
}

static void use_backend(tb_host *h, backend *b)
{
    tb_mock_init(h, "probe");
    h->backend = b->d->ops.backend;
    h->session = b->session;
}

static void test_probe_items_and_metrics(void)
{
    backend b;
    backend_open(&b, NULL, 0, "model-a.bin");
    tb_host h;
    use_backend(&h, &b);
    const char *s[] = {"items=10"};
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(run_probe(&b, s, 1, &h, &err), TB_OK);
    CU_ASSERT_EQUAL(h.n_items, 20);
    for (int i = 0; i < 10; i++) {
        char id[8], ctx[32], group[4];
        snprintf(id, sizeof id, "q%d", i);
        snprintf(ctx, sizeof ctx, "Question %d:", i);
        snprintf(group, sizeof group, "g%d", i % 3);
        const tb_mock_item *acc = tb_mock_find_item(&h, id, "accuracy");
        const tb_mock_item *yes = tb_mock_find_item(&h, id, "yes_logprob");
        CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(yes);
        tb_ll_result ry, rn;
        double lp_yes = ll(&b, ctx, " yes", &ry), lp_no = ll(&b, ctx, " no", &rn);
        CU_ASSERT_STRING_EQUAL(acc->group, group);
        CU_ASSERT_STRING_EQUAL(acc->input, ctx);
        CU_ASSERT_STRING_EQUAL(acc->expected, " yes");
        CU_ASSERT_STRING_EQUAL(acc->output, lp_yes >= lp_no ? " yes" : " no");
        CU_ASSERT_EQUAL(acc->score, lp_yes >= lp_no ? 1.0 : 0.0);
        CU_ASSERT_EQUAL(yes->score, lp_yes);
    }
    CU_ASSERT_EQUAL_FATAL(h.n_metrics, 3);
    const tb_mock_metric *acc = tb_mock_find_metric(&h, "accuracy");
    const tb_mock_metric *yes = tb_mock_find_metric(&h, "yes_logprob");
    const tb_mock_metric *seen = tb_mock_find_metric(&h, "items_seen");
    CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(yes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
    CU_ASSERT_EQUAL(acc->flags, TB_METRIC_FROM_ITEMS | TB_METRIC_PER_GROUP |
                                    TB_METRIC_HIGHER_BETTER);
    CU_ASSERT_STRING_EQUAL(acc->label, "loglikelihood");
    CU_ASSERT_EQUAL(yes->flags, TB_METRIC_FROM_ITEMS);
    CU_ASSERT_EQUAL(seen->flags, 0);
    CU_ASSERT_EQUAL(seen->value, 10.0);
    CU_ASSERT_EQUAL(seen->n, 10);
    CU_ASSERT_EQUAL(h.n_progress, 10);
    CU_ASSERT(h.last_done == 10 && h.last_total == 10);
    tb_mock_free(&h);
    /* The item limit caps the items. */
    use_backend(&h, &b);
    h.limit = 3;
    CU_ASSERT_EQUAL(run_probe(&b, s, 1, &h, &err), TB_OK);
    CU_ASSERT_EQUAL(h.n_items, 6);
    CU_ASSERT_EQUAL(tb_mock_find_metric(&h, "items_seen")->value, 3.0);
    tb_mock_free(&h);
    /* The default is 20 items. */
    use_backend(&h, &b);
    CU_ASSERT_EQUAL(run_probe(&b, NULL, 0, &h, &err), TB_OK);
    CU_ASSERT_EQUAL(h.n_items, 40);
    tb_mock_free(&h);
    backend_close(&b);
}

static void test_probe_fail_cancel_delay(void)
{
    backend b;
    backend_open(&b, NULL, 0, "model-a.bin");
    tb_host h;
    tb_error err = {{0}};
    use_backend(&h, &b);
    const char *fail[] = {"items=5", "fail_at=3"};
    CU_ASSERT_EQUAL(run_probe(&b, fail, 2, &h, &err), TB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.message, "probe: failing at item 3 as asked");
    CU_ASSERT_EQUAL(h.n_items, 6);
    CU_ASSERT_EQUAL(h.n_metrics, 0);
    tb_mock_free(&h);
    use_backend(&h, &b);
    h.cancel_after = 2;
    const char *many[] = {"items=50"};
    CU_ASSERT_EQUAL(run_probe(&b, many, 1, &h, &err), TB_ERR_CANCELLED);
    CU_ASSERT_STRING_EQUAL(err.message, "probe: cancelled");
    CU_ASSERT_EQUAL(h.n_items, 4);
    tb_mock_free(&h);
    use_backend(&h, &b);
    const char *slow[] = {"items=2", "delay_ms=60"};
    double t0 = tb_now_monotonic();
    CU_ASSERT_EQUAL(run_probe(&b, slow, 2, &h, &err), TB_OK);
    CU_ASSERT(tb_now_monotonic() - t0 >= 0.115);
    tb_mock_free(&h);
    /* Without a backend: the host's sentence comes back. */
    tb_mock_init(&h, "probe");
    CU_ASSERT_EQUAL(run_probe(&b, NULL, 0, &h, &err), TB_ERR_UNSUPPORTED);
    CU_ASSERT_STRING_EQUAL(err.message, "probe: the mock host's backend offers no "
                                        "log-likelihoods");
    tb_mock_free(&h);
    backend_close(&b);
}

/* ------------------------------------------------------------------ */
/* the mock host's cache and second sessions                           */
/* ------------------------------------------------------------------ */

static void test_mock_cache(void)
{
    tb_host h;
    tb_mock_init(&h, "probe");
    const tb_host_api *api = tb_mock_api();
    tb_error err = {{0}};
    const char *v = NULL;
    CU_ASSERT_EQUAL(api->cache_get(&h, "perspective", "k1", &v, &err), TB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(api->cache_put(&h, "perspective", "k1", "0.25", &err), TB_OK);
    CU_ASSERT_EQUAL(api->cache_put(&h, "judge", "k1", "0.75", &err), TB_OK);
    CU_ASSERT_EQUAL_FATAL(api->cache_get(&h, "perspective", "k1", &v, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(v, "0.25");
    CU_ASSERT_EQUAL_FATAL(api->cache_get(&h, "judge", "k1", &v, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(v, "0.75");
    /* A second put replaces. */
    CU_ASSERT_EQUAL(api->cache_put(&h, "judge", "k1", "0.5", &err), TB_OK);
    CU_ASSERT_EQUAL_FATAL(api->cache_get(&h, "judge", "k1", &v, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(v, "0.5");
    CU_ASSERT_EQUAL(h.n_cache, 2);
    CU_ASSERT_EQUAL(h.n_cache_puts, 3);
    CU_ASSERT_EQUAL(h.n_cache_gets, 4);
    CU_ASSERT_EQUAL(h.n_cache_hits, 3);
    CU_ASSERT_EQUAL(api->cache_put(&h, "judge", NULL, "x", &err), TB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.message, "probe: a cache entry needs a namespace, a key "
                                        "and a value");
    tb_mock_free(&h);
    CU_ASSERT_EQUAL(h.n_cache, 0);
}

static void test_mock_session_open(void)
{
    backend b, judge;
    backend_open(&b, NULL, 0, "model-a.bin");
    backend_open(&judge, NULL, 0, "judge.bin");
    tb_host h;
    use_backend(&h, &b);
    const tb_host_api *api = tb_mock_api();
    tb_error err = {{0}};
    tb_host *sub = NULL;
    /* Without the backend instance there is nothing to open on. */
    CU_ASSERT_EQUAL(api->session_open(&h, judge.model, &sub, &err), TB_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NULL(sub);
    h.backend_self = b.self;
    CU_ASSERT_EQUAL(api->session_open(&h, "", &sub, &err), TB_ERR_INVALID);
    CU_ASSERT_EQUAL_FATAL(api->session_open(&h, judge.model, &sub, &err), TB_OK);
    CU_ASSERT_EQUAL(h.sessions_open, 1);
    CU_ASSERT_STRING_EQUAL(h.last_session_model, judge.model);
    /* Backend calls go to the judge's session: its model name's numbers. */
    tb_ll_request r = {sizeof r, "ctx", " yes"};
    const tb_ll_request *reqs[] = {&r};
    tb_ll_result out = {.struct_size = sizeof out}, want;
    tb_ll_result *outs[] = {&out};
    CU_ASSERT_EQUAL_FATAL(api->loglikelihood(sub, reqs, 1, outs, &err), TB_OK);
    CU_ASSERT_EQUAL(out.logprob, ll(&judge, "ctx", " yes", &want));
    CU_ASSERT_EQUAL_FATAL(api->loglikelihood(&h, reqs, 1, outs, &err), TB_OK);
    CU_ASSERT_EQUAL(out.logprob, ll(&b, "ctx", " yes", &want));
    /* Everything else lands on the host it came from. */
    tb_item it = {sizeof it, "q1", "toxicity", NULL, NULL, NULL, NULL, 0.5};
    CU_ASSERT_EQUAL(api->report_item(sub, &it, &err), TB_OK);
    api->progress(sub, 1, 2);
    CU_ASSERT_EQUAL(api->cache_put(sub, "judge", "k", "v", &err), TB_OK);
    CU_ASSERT_EQUAL(h.n_items, 1);
    CU_ASSERT_EQUAL(h.n_progress, 1);
    CU_ASSERT_EQUAL(h.n_cache, 1);
    CU_ASSERT_EQUAL(sub->n_items, 0);
    CU_ASSERT_EQUAL(api->seed(sub), h.seed);
    api->session_close(sub);
    api->session_close(NULL);
    CU_ASSERT_EQUAL(h.sessions_open, 0);
    CU_ASSERT_EQUAL(h.n_sessions, 1);
    /* A model the backend cannot read: its error, no handle. */
    sub = NULL;
    CU_ASSERT_EQUAL(api->session_open(&h, "/nonexistent/judge.bin", &sub, &err), TB_ERR_IO);
    CU_ASSERT_PTR_NULL(sub);
    CU_ASSERT_EQUAL(h.sessions_open, 0);
    tb_mock_free(&h);
    backend_close(&b);
    backend_close(&judge);
}

/* ------------------------------------------------------------------ */
/* crash and hang, in child processes                                  */
/* ------------------------------------------------------------------ */

static pid_t run_in_child(const char *name, const char *const *settings, size_t n,
                          long cancel_after)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        const tb_plugin_descriptor *d = plugin(TB_KIND_BENCHMARK, name);
        tb_config *c = config_of(d, settings, n, NULL);
        tb_host h;
        tb_mock_init(&h, name);
        h.cancel_after = cancel_after;
        void *self = NULL;
        tb_error err = {{0}};
        if (d->create(tb_mock_api(), &h, c, &self, &err) == TB_OK)
            d->ops.benchmark->run(self, &err);
        _exit(h.n_items == 0 ? 3 : 4);
    }
    return pid;
}

static void test_crash_segfaults(void)
{
    const char *s[] = {"after=2"};
    pid_t pid = run_in_child("crash", s, 1, -1);
    int st = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFSIGNALED(st));
    if (WIFSIGNALED(st))
        CU_ASSERT_EQUAL(WTERMSIG(st), SIGSEGV);
}

static void test_hang_ignores_cancellation(void)
{
    pid_t pid = run_in_child("hang", NULL, 0, 0); /* cancelled from the start */
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    int st = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &st, WNOHANG), 0);
    kill(pid, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

int tb_test_register(void)
{
    reg = tb_registry_new();
    char *root = tb_test_build_path("tests/plugins");
    tb_registry_scan_root(reg, root, "tests");
    free(root);
    static const tb_test_case cases[] = {
        {"scripted: capabilities and parameters", test_scripted_descriptor},
        {"scripted: open and table errors", test_scripted_open_errors},
        {"scripted: generate", test_scripted_generate},
        {"scripted: answer sequences and chat rows", test_scripted_table_sequences},
        {"scripted: loglikelihood and bias", test_scripted_loglikelihood},
        {"scripted: ll_table", test_scripted_ll_table},
        {"scripted: rolling windows", test_scripted_rolling},
        {"scripted: tokenize and chat template", test_scripted_tokenize_and_chat},
        {"probe: items, groups and metrics", test_probe_items_and_metrics},
        {"probe: fail_at, cancellation, delay", test_probe_fail_cancel_delay},
        {"mock host: cache", test_mock_cache},
        {"mock host: session_open", test_mock_session_open},
        {"crash: a real SIGSEGV", test_crash_segfaults},
        {"hang: ignores cancellation", test_hang_ignores_cancellation},
        {NULL, NULL}};
    return tb_test_add_suite("test plugins", cases);
}
