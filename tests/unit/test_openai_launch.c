/* test_openai_launch.c - the openai backend's session-open parts: the
 * probe of prompt log-probabilities (a server without them is known when
 * the session opens, and log-likelihood calls then fail at once with the
 * sentence, sending nothing), and the launcher's failures (a command that
 * exits, a server that never becomes healthy) and its substitution of
 * {model} {port} {host} {name}.  The launcher serving real models is
 * tests/integration/launch.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_script.h"
#include "serve_harness.h"
#include "tb_test.h"
#include "util.h"

static tb_status ll(sh_native *b, tb_error *err)
{
    tb_ll_request r = {sizeof r, "a", " b"};
    tb_ll_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_ll_request *rp = &r;
    tb_ll_result *op = &res;
    return sh_native_ops(b)->loglikelihood(sh_native_session(b), &rp, 1, &op, err);
}

static sh_native *scripted(const hs_server *hs, const char *probe, tb_error *err)
{
    char *url = tb_xasprintf("url=%s", hs->url);
    const char *set[] = {url, "model=m", "backoff=0.01", "retries=0", "cache=false", probe};
    sh_native *b = sh_backend_open("openai", "m", set, 6, NULL, err);
    free(url);
    return b;
}

/* probe=on and a server whose completions carry no logprobs: the session
 * opens (generation still works) after exactly one request, and a
 * log-likelihood call fails with the sentence without sending anything. */
static void test_probe_finds_no_logprobs(void)
{
    static const char *const nolp[] = {"nolp"};
    hs_server hs;
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, nolp, 1), 0);
    tb_error err;
    memset(&err, 0, sizeof err);
    sh_native *b = scripted(&hs, "probe=on", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(hs_requests(&hs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(hs.last_request, "\"echo\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(hs.last_request, "\"logprobs\""));
    CU_ASSERT_EQUAL(ll(b, &err), TB_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "gives no prompt log-probabilities"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "this benchmark needs log-likelihoods"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, hs.url));
    CU_ASSERT_EQUAL(hs_requests(&hs), 1); /* nothing sent */
    tb_gen_request g;
    memset(&g, 0, sizeof g);
    g.struct_size = sizeof g;
    g.prompt = "hi";
    g.max_tokens = 4;
    tb_gen_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_gen_request *gp = &g;
    tb_gen_result *op = &res;
    CU_ASSERT_EQUAL(sh_native_ops(b)->generate(sh_native_session(b), &gp, 1, &op, &err), TB_OK);
    CU_ASSERT_EQUAL(hs_requests(&hs), 2);
    sh_native_close(b);
    hs_stop(&hs);
}

/* Without a launcher, auto does not probe (a remote server is asked only
 * what the benchmarks ask), and a probe that cannot reach an answer fails
 * the session open with the transfer's reason. */
static void test_probe_auto_and_failure(void)
{
    static const char *const nolp[] = {"nolp"};
    hs_server hs;
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, nolp, 1), 0);
    tb_error err;
    memset(&err, 0, sizeof err);
    sh_native *b = scripted(&hs, "probe=auto", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(hs_requests(&hs), 0);
    sh_native_close(b);
    hs_stop(&hs);

    static const char *const always500[] = {"500"};
    CU_ASSERT_EQUAL_FATAL(hs_start(&hs, always500, 1), 0);
    memset(&err, 0, sizeof err);
    CU_ASSERT_PTR_NULL(scripted(&hs, "probe=on", &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "after 1 attempt: HTTP 500: boom"));
    hs_stop(&hs);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return tb_xstrdup(buf);
}

/* The command sees {model} and {name} as one word each (spaces and a
 * quote survive the shell), {host} as loopback and {port} as a number; it
 * exits, so the open fails with its status and the log's last lines. */
static void test_launch_exit_and_substitution(void)
{
    char *dir = tb_xasprintf("%s/exit", tb_test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0777), 0);
    char *model = tb_xasprintf("%s/my model's.gguf", dir);
    char *args = tb_xasprintf("%s/args", dir);
    FILE *f = fopen(model, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    char *launch = tb_xasprintf("launch=printf '[%%s]\\n' {model} {name} {host} >%s; "
                                "echo port={port}; echo no GPU found >&2; exit 3", args);
    char *logdir = tb_xasprintf("launch_log_dir=%s", dir);
    const char *set[] = {launch, logdir, "model=tiny llama", "launch_grace=1"};
    tb_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_PTR_NULL(sh_backend_open("openai", model, set, 4, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "exited with status 3 before it was ready"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "its last lines:\nport="));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\nno GPU found"));
    char *want = tb_xasprintf("[%s]\n[tiny llama]\n[127.0.0.1]\n", model);
    char *got = read_all(args);
    CU_ASSERT_PTR_NOT_NULL(got);
    if (got)
        CU_ASSERT_STRING_EQUAL(got, want);
    /* The log is launch-<model file without .gguf>.log in launch_log_dir. */
    char *log = tb_xasprintf("%s/launch-my model's.log", dir);
    char *text = read_all(log);
    CU_ASSERT_PTR_NOT_NULL(text);
    CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "no GPU found") : NULL);
    free(dir);
    free(text);
    free(log);
    free(got);
    free(want);
    free(logdir);
    free(launch);
    free(args);
    free(model);
}

/* A server that never answers its health path: the open fails after
 * launch_timeout, naming the path, and stops the command. */
static void test_launch_timeout(void)
{
    char *dir = tb_xasprintf("%s/timeout", tb_test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0777), 0);
    char *pidfile = tb_xasprintf("%s/pid", dir);
    char *launch = tb_xasprintf("launch=sleep 30 & echo $! >%s; wait", pidfile);
    char *logdir = tb_xasprintf("launch_log_dir=%s", dir);
    const char *set[] = {launch, logdir, "launch_timeout=0.3", "launch_health=/ready",
                         "launch_grace=2"};
    tb_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_PTR_NULL(sh_backend_open("openai", "/nonexistent/m.gguf", set, 5, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "did not answer 200 on /ready within 0.3 s"));
    /* The sleep the shell started in the background is gone too. */
    char *pid = read_all(pidfile);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pid);
    pid_t p = (pid_t)atol(pid);
    CU_ASSERT(p > 0);
    CU_ASSERT(p > 0 && kill(p, 0) != 0);
    free(pid);
    free(dir);
    free(logdir);
    free(launch);
    free(pidfile);
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"probe: no prompt logprobs, known at open", test_probe_finds_no_logprobs},
        {"probe: auto without launch, failure fails open", test_probe_auto_and_failure},
        {"launch: command exits, substitution, log", test_launch_exit_and_substitution},
        {"launch: health timeout stops the group", test_launch_timeout},
        {NULL, NULL}};
    return tb_test_add_suite("openai session open: probe and launcher", cases);
}
