/* test_openai.c - the openai backend: against `trustbench serve` on
 * loopback with stories260K (generations and log-likelihoods equal the
 * native backend's in process), and against a scripted server for faults
 * (429 with Retry-After, 500, dropped connections, malformed JSON, slow
 * replies past the timeout, 4xx), the request cache, and API key rules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_script.h"
#include "serve_harness.h"
#include "store.h"
#include "tb_test.h"
#include "util.h"

/* ---- against trustbench serve ---- */

static sh_server srv;
static sh_native *nat, *oa;
static int up;

static int setup(void)
{
    char *model = tb_test_shared_path("models/stories260K/stories260K.gguf");
    if (model && tb_path_is_file(model)) {
        const char *args[] = {"--model", model, "--name", "tiny", "--backend-set",
                              "compute=exact", NULL};
        up = sh_server_start(&srv, args) == 0;
        nat = sh_native_open(model);
        char *url = tb_xasprintf("url=%s/v1", srv.base);
        const char *set[] = {url, "model=tiny", "cache=false"};
        tb_error err;
        oa = up ? sh_backend_open("openai", "m", set, 3, NULL, &err) : NULL;
        if (up && !oa)
            fprintf(stderr, "openai: %s\n", err.message);
        free(url);
    }
    free(model);
    return 0;
}

static int teardown(void)
{
    if (up)
        sh_server_stop(&srv);
    sh_native_close(nat);
    sh_native_close(oa);
    return 0;
}

static int ready(void)
{
    if (!up || !nat || !oa) {
        tb_test_skip("../shared/models/stories260K absent (or the server did not start)");
        return 0;
    }
    return 1;
}

typedef struct gen_out {
    char *text;
    int32_t n_tokens;
    tb_finish finish;
} gen_out;

static tb_status gen(sh_native *b, const tb_gen_request *r, gen_out *o, tb_error *err)
{
    tb_gen_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_gen_request *rp = r;
    tb_gen_result *op = &res;
    memset(err, 0, sizeof *err);
    tb_status st = sh_native_ops(b)->generate(sh_native_session(b), &rp, 1, &op, err);
    o->text = st == TB_OK ? tb_xstrndup(res.text, res.text_len) : NULL;
    o->n_tokens = res.n_tokens;
    o->finish = res.finish;
    return st;
}

static tb_gen_request request(const char *prompt, int max_tokens, float temp, uint64_t seed)
{
    tb_gen_request r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.prompt = prompt;
    r.max_tokens = max_tokens;
    r.temperature = temp;
    r.top_p = 1.0f;
    r.seed = seed;
    return r;
}

/* The same request to both backends: the same text, token count, finish. */
static void same_generation(const tb_gen_request *r)
{
    gen_out a, b;
    tb_error err;
    CU_ASSERT_EQUAL_FATAL(gen(nat, r, &a, &err), TB_OK);
    tb_status st = gen(oa, r, &b, &err);
    if (st != TB_OK)
        fprintf(stderr, "openai: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(st, TB_OK);
    CU_ASSERT_STRING_EQUAL(b.text, a.text);
    CU_ASSERT_EQUAL(b.n_tokens, a.n_tokens);
    CU_ASSERT_EQUAL(b.finish, a.finish);
    free(a.text);
    free(b.text);
}

static void test_generate_equals_native(void)
{
    if (!ready())
        return;
    static const char *const prompts[] = {"Once upon a time", "The cat sat", "Lily and Tom"};
    for (size_t i = 0; i < 3; i++) {
        tb_gen_request r = request(prompts[i], 24, 0, 0);
        same_generation(&r);
        r = request(prompts[i], 24, 0.8f, 11 + i); /* the server samples with this seed */
        same_generation(&r);
    }
    /* Benchmarks derive seeds by hashing, so half have the top bit set: the
     * whole 64-bit seed must reach the server (sent as a signed integer). */
    tb_gen_request hi = request("Once upon a time", 24, 0.8f, 0x8000000000000005ULL);
    same_generation(&hi);
    hi.seed = UINT64_MAX;
    same_generation(&hi);
    /* Stop strings: ", there was a little girl..." stops before "girl". */
    const char *stop[] = {"girl"};
    tb_gen_request r = request("Once upon a time", 30, 0, 0);
    r.stop = stop;
    r.n_stop = 1;
    same_generation(&r);
    /* Chat through the model's template on both sides. */
    tb_message sys = {sizeof sys, "system", "Be brief."}, usr = {sizeof usr, "user", "Hello"};
    const tb_message *msgs[] = {&sys, &usr};
    r = request(NULL, 12, 0, 0);
    r.messages = msgs;
    r.n_messages = 2;
    same_generation(&r);
}

static void test_loglikelihood_equals_native(void)
{
    if (!ready())
        return;
    static const char *const pairs[][2] = {
        {"Once upon a", " time"},
        {"The cat sat on the ", "mat and slept"}, /* the trailing space moves */
        {"Lily went to the park.", " She saw a big dog."},
        {"Tom", " ate a purple elephant"}};
    tb_ll_request rq[4];
    tb_ll_result ra[4], rb[4];
    const tb_ll_request *rp[4];
    tb_ll_result *pa[4], *pb[4];
    for (size_t i = 0; i < 4; i++) {
        rq[i] = (tb_ll_request){sizeof rq[i], pairs[i][0], pairs[i][1]};
        rp[i] = &rq[i];
        memset(&ra[i], 0, sizeof ra[i]);
        memset(&rb[i], 0, sizeof rb[i]);
        pa[i] = &ra[i];
        pb[i] = &rb[i];
    }
    tb_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(sh_native_ops(nat)->loglikelihood(sh_native_session(nat), rp, 4, pa,
                                                            &err), TB_OK);
    tb_status st = sh_native_ops(oa)->loglikelihood(sh_native_session(oa), rp, 4, pb, &err);
    if (st != TB_OK)
        fprintf(stderr, "openai: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(st, TB_OK);
    int some_greedy = 0, some_not = 0;
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT(fabs(rb[i].logprob - ra[i].logprob) < 1e-6);
        CU_ASSERT(ra[i].logprob < 0);
        CU_ASSERT_EQUAL(rb[i].n_tokens, ra[i].n_tokens);
        CU_ASSERT_EQUAL(rb[i].is_greedy, ra[i].is_greedy);
        some_greedy |= ra[i].is_greedy;
        some_not |= !ra[i].is_greedy;
    }
    /* " time" after "Once upon a" is the model's choice; the elephant is not. */
    CU_ASSERT(some_greedy && some_not);
}

/* Every window protocol: the windows are cut on the client from the
 * server's tokens and scored as token-id prompts; totals, counts and the
 * per-window arrays equal the native backend's. */
static void test_rolling_equals_native(void)
{
    if (!ready())
        return;
    const char *text = "Once upon a time, there was a little girl named Lily. She liked to "
                       "play with her ball in the park with her friends. One day, the ball "
                       "rolled into the pond and Lily was sad. Her friend Tom helped her.";
    static const struct {
        int32_t window, stride, bos;
        tb_rolling_score score;
    } protos[] = {{256, 255, 1, TB_SCORE_NEW},  {32, 31, 1, TB_SCORE_NEW},
                  {32, 16, 1, TB_SCORE_NEW},    {24, 24, 0, TB_SCORE_ALL},
                  {32, 32, 2, TB_SCORE_ALL},    {20, 7, 2, TB_SCORE_NEW},
                  {32, 32, 2, TB_SCORE_SECOND_HALF}};
    for (size_t k = 0; k < sizeof protos / sizeof protos[0]; k++) {
        tb_rolling_request r = {sizeof r, text, strlen(text), protos[k].window,
                                protos[k].stride, protos[k].bos, protos[k].score};
        const tb_rolling_request *rp = &r;
        tb_rolling_result a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        tb_rolling_result *pa = &a, *pb = &b;
        tb_error err;
        memset(&err, 0, sizeof err);
        CU_ASSERT_EQUAL_FATAL(sh_native_ops(nat)->loglikelihood_rolling(sh_native_session(nat),
                                                                        &rp, 1, &pa, &err),
                              TB_OK);
        tb_status st = sh_native_ops(oa)->loglikelihood_rolling(sh_native_session(oa), &rp, 1,
                                                                &pb, &err);
        if (st != TB_OK)
            fprintf(stderr, "openai: %s\n", err.message);
        CU_ASSERT_EQUAL_FATAL(st, TB_OK);
        CU_ASSERT(fabs(a.logprob - b.logprob) < 1e-5);
        CU_ASSERT_EQUAL(a.n_scored, b.n_scored);
        CU_ASSERT_EQUAL(a.n_tokens, b.n_tokens);
        CU_ASSERT_EQUAL_FATAL(a.n_windows, b.n_windows);
        for (size_t w = 0; w < a.n_windows; w++) {
            CU_ASSERT(fabs(a.window_logprob[w] - b.window_logprob[w]) < 1e-5);
            CU_ASSERT_EQUAL(a.window_scored[w], b.window_scored[w]);
        }
        CU_ASSERT(a.n_scored > 20);
        CU_ASSERT(k == 0 ? a.n_windows == 1 : a.n_windows > 1);
    }
}

/* ---- faults, against a scripted server ---- */

static sh_native *scripted_backend(const hs_server *hs, const char *extra1, const char *extra2,
                                   struct tb_store *store, tb_error *err)
{
    char *url = tb_xasprintf("url=%s", hs->url);
    const char *set[] = {url, "model=m", "backoff=0.01", "timeout=0.4", "retries=6",
                         extra1 ? extra1 : "cache=false", extra2 ? extra2 : "concurrency=2"};
    sh_native *b = sh_backend_open("openai", "m", set, 7, store, err);
    free(url);
    return b;
}

static void test_faults_recovered(void)
{
    static const char *const script[] = {"429", "500", "drop", "garbage", "slow", "ok"};
    hs_server hs;
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, script, 6), 0);
    tb_error err;
    sh_native *b = scripted_backend(&hs, "concurrency=1", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    tb_gen_request r = request("hi", 4, 0, 0);
    gen_out o;
    tb_status st = gen(b, &r, &o, &err);
    CU_ASSERT_EQUAL(st, TB_OK);
    if (st == TB_OK)
        CU_ASSERT_STRING_EQUAL(o.text, "hello");
    CU_ASSERT_EQUAL(o.n_tokens, 1);
    CU_ASSERT_EQUAL(o.finish, TB_FINISH_LENGTH);
    if (hs_requests(&hs) != 6)
        fprintf(stderr, "requests: %d\n", hs_requests(&hs));
    CU_ASSERT_EQUAL(hs_requests(&hs), 6); /* every fault cost one attempt */
    free(o.text);
    sh_native_close(b);
    hs_stop(&hs);
}

static void test_faults_fail_with_reason(void)
{
    static const char *const always500[] = {"500"};
    hs_server hs;
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, always500, 1), 0);
    tb_error err;
    sh_native *b = scripted_backend(&hs, "retries=2", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    tb_gen_request r = request("hi", 4, 0, 0);
    gen_out o;
    CU_ASSERT_EQUAL(gen(b, &r, &o, &err), TB_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "after 3 attempts: HTTP 500: boom"));
    CU_ASSERT_EQUAL(hs_requests(&hs), 3);
    sh_native_close(b);
    hs_stop(&hs);

    /* A 4xx is the request's own fault: no retry. */
    static const char *const bad[] = {"400"};
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, bad, 1), 0);
    b = scripted_backend(&hs, NULL, NULL, NULL, &err);
    CU_ASSERT_EQUAL(gen(b, &r, &o, &err), TB_ERR_BACKEND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "after 1 attempt: HTTP 400: bad model"));
    CU_ASSERT_EQUAL(hs_requests(&hs), 1);
    sh_native_close(b);
    hs_stop(&hs);

    /* A server without prompt log-probabilities: a clear error. */
    static const char *const nolp[] = {"nolp"};
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, nolp, 1), 0);
    b = scripted_backend(&hs, NULL, NULL, NULL, &err);
    tb_ll_request lr = {sizeof lr, "a", " b"};
    tb_ll_result res;
    const tb_ll_request *lrp = &lr;
    tb_ll_result *resp = &res;
    CU_ASSERT_EQUAL(sh_native_ops(b)->loglikelihood(sh_native_session(b), &lrp, 1, &resp, &err),
                    TB_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no prompt log-probabilities"));
    sh_native_close(b);
    hs_stop(&hs);
}

/* Replies live in the results database: a second instance on the same
 * database (a resumed run) sends nothing it already asked. */
static void test_cache_survives_resume(void)
{
    static const char *const ok[] = {"ok"};
    hs_server hs;
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, ok, 1), 0);
    char *db = tb_path_join(tb_test_tmpdir(), "openai-cache.db");
    tb_store *store = NULL;
    tb_error err;
    CU_ASSERT_EQUAL_FATAL(tb_store_open(db, 1, &store, &err), TB_OK);
    tb_gen_request r[2] = {request("hi", 4, 0.7f, 1), request("hi", 4, 0.7f, 2)};
    gen_out o;
    sh_native *b = scripted_backend(&hs, "cache=true", NULL, store, &err);
    CU_ASSERT_EQUAL(gen(b, &r[0], &o, &err), TB_OK);
    free(o.text);
    sh_native_close(b);
    tb_store_close(store);
    CU_ASSERT_EQUAL(hs_requests(&hs), 1);

    CU_ASSERT_EQUAL_FATAL(tb_store_open(db, 0, &store, &err), TB_OK);
    b = scripted_backend(&hs, "cache=true", NULL, store, &err);
    CU_ASSERT_EQUAL(gen(b, &r[0], &o, &err), TB_OK);
    CU_ASSERT_STRING_EQUAL(o.text, "hello");
    free(o.text);
    CU_ASSERT_EQUAL(hs_requests(&hs), 1); /* from the database */
    CU_ASSERT_EQUAL(gen(b, &r[1], &o, &err), TB_OK); /* another seed: a new request */
    free(o.text);
    CU_ASSERT_EQUAL(hs_requests(&hs), 2);
    sh_native_close(b);
    tb_store_close(store);
    free(db);
    hs_stop(&hs);
}

static void test_api_key_rules(void)
{
    static const char *const ok[] = {"ok"};
    hs_server hs;
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, ok, 1), 0);
    setenv("TB_TEST_OPENAI_KEY", "sekrit", 1);
    unsetenv("TB_TEST_OPENAI_NOKEY");
    tb_error err;
    const char *remote[] = {"url=http://10.1.2.3:8000/v1", "api_key_env=TB_TEST_OPENAI_KEY"};
    CU_ASSERT_PTR_NULL(sh_backend_open("openai", "m", remote, 2, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "allow_insecure_key"));
    const char *allowed[] = {remote[0], remote[1], "allow_insecure_key=true"};
    sh_native *b = sh_backend_open("openai", "m", allowed, 3, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(b);
    sh_native_close(b);
    const char *tls[] = {"url=https://10.1.2.3/v1", remote[1]};
    b = sh_backend_open("openai", "m", tls, 2, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(b);
    sh_native_close(b);
    const char *unset[] = {"url=https://x/v1", "api_key_env=TB_TEST_OPENAI_NOKEY"};
    CU_ASSERT_PTR_NULL(sh_backend_open("openai", "m", unset, 2, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "TB_TEST_OPENAI_NOKEY"));
    /* Loopback plain HTTP may carry the key; it goes as a Bearer token. */
    b = scripted_backend(&hs, "api_key_env=TB_TEST_OPENAI_KEY", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    tb_gen_request r = request("hi", 4, 0, 0);
    gen_out o;
    CU_ASSERT_EQUAL(gen(b, &r, &o, &err), TB_OK);
    free(o.text);
    CU_ASSERT_PTR_NOT_NULL(strstr(hs.last_request, "Authorization: Bearer sekrit"));
    CU_ASSERT_PTR_NOT_NULL(strstr(hs.last_request, "POST /v1/completions"));
    CU_ASSERT_PTR_NOT_NULL(strstr(hs.last_request, "\"seed\":0"));
    sh_native_close(b);
    hs_stop(&hs);
}

int tb_test_register(void)
{
    static const tb_test_case faults[] = {
        {"429, 500, drop, garbage, slow: recovered", test_faults_recovered},
        {"persistent faults fail with the reason", test_faults_fail_with_reason},
        {"request cache survives a resume", test_cache_survives_resume},
        {"API key rules", test_api_key_rules},
        {NULL, NULL}};
    static const tb_test_case live[] = {
        {"generate equals native (greedy, seeded, stop, chat)", test_generate_equals_native},
        {"loglikelihood equals native", test_loglikelihood_equals_native},
        {"rolling equals native, every window protocol", test_rolling_equals_native},
        {NULL, NULL}};
    if (tb_test_add_suite("openai faults", faults) != 0)
        return -1;
    CU_pSuite s = CU_add_suite("openai against trustbench serve", setup, teardown);
    if (!s)
        return -1;
    for (const tb_test_case *c = live; c->name; c++)
        if (!CU_add_test(s, c->name, c->fn))
            return -1;
    return 0;
}
