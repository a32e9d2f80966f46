/*
 * test_runner.c - the runner end to end through the trustbench binary:
 * results and CIs land in the database, a crashing / hanging / failing cell
 * is marked with its reason while the run goes on, SIGINT stops cleanly,
 * kill -9 loses only the cells in flight, resume, --force, --jobs, and
 * shards merged equal an unsharded run.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tb_test.h"
#include "util.h"

static char *binary(void)
{
    return tb_test_build_path("trustbench");
}

/* Starts trustbench with args (NULL-terminated), its output appended to
 * dir/out.txt; in its own process group when `own_group` (as a shell job). */
static pid_t spawn_tb(const char *dir, const char *const *args, int own_group)
{
    char *bin = binary();
    char *out = tb_path_join(dir, "out.txt");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (own_group)
            setpgid(0, 0);
        FILE *f = freopen(out, "a", stdout);
        if (f && dup2(fileno(stdout), 2) >= 0) {
            const char *argv[32] = {bin};
            size_t n = 1;
            for (; args[n - 1] && n < 31; n++)
                argv[n] = args[n - 1];
            argv[n] = NULL;
            execv(bin, (char *const *)argv);
        }
        _exit(127);
    }
    if (own_group)
        setpgid(pid, pid);
    free(bin);
    free(out);
    return pid;
}

/* Runs trustbench to the end; the exit status, or 128+signal. */
static int run_tb(const char *dir, const char *const *args)
{
    int st = 0;
    waitpid(spawn_tb(dir, args, 0), &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static pid_t start_tb(const char *dir, const char *const *args)
{
    return spawn_tb(dir, args, 1);
}

static char *write_matrix(const char *dir, const char *name, const char *benchmarks)
{
    char *model = tb_test_src_path("tests/data/matrix/tiny-model.bin");
    char *text = tb_xasprintf("name: t\nseed: 5\nbackend: {plugin: scripted}\n"
                              "models:\n  - {id: m, path: %s}\n"
                              "benchmarks:\n%s", model, benchmarks);
    char *path = tb_test_write_file(dir, name, text);
    free(model);
    free(text);
    return path;
}

/* ---- database queries ---- */

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* All rows of a query, one per line, columns separated by '|'. */
static char *query(const char *path, const char *sql)
{
    sqlite3 *db = open_db(path);
    if (!db)
        return tb_xstrdup("<no db>");
    sqlite3_stmt *st = NULL;
    tb_buf b = {0};
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        tb_buf_printf(&b, "<sql error: %s>", sqlite3_errmsg(db));
    } else {
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const unsigned char *t = sqlite3_column_text(st, i);
                tb_buf_printf(&b, "%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
            }
            tb_buf_putc(&b, '\n');
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return tb_buf_steal(&b);
}

static double query_double(const char *path, const char *sql)
{
    char *s = query(path, sql);
    double v = strtod(s, NULL);
    free(s);
    return v;
}

static char *cell_field(const char *db, const char *benchmark_label_like,
                        const char *column)
{
    char *sql = tb_xasprintf("SELECT %s FROM cells WHERE label LIKE '%s'", column,
                             benchmark_label_like);
    char *r = query(db, sql);
    free(sql);
    size_t n = strlen(r);
    if (n && r[n - 1] == '\n')
        r[n - 1] = '\0';
    return r;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- tests ---- */

static void test_results_and_cis(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml", "  - {plugin: probe, items: 10}\n");
    char *db = tb_path_join(dir, "r.db");
    const char *args[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 0);
    char *status = cell_field(db, "probe%", "status");
    CU_ASSERT_STRING_EQUAL(status, "done");
    /* The stored accuracy is the mean of its item scores. */
    double acc = query_double(db, "SELECT value FROM metrics WHERE name='accuracy'");
    double mean = query_double(db, "SELECT avg(score) FROM items WHERE metric='accuracy'");
    CU_ASSERT_DOUBLE_EQUAL(acc, mean, 1e-12);
    char *n = query(db, "SELECT n FROM metrics WHERE name='accuracy'");
    CU_ASSERT_STRING_EQUAL(n, "10\n");
    /* The CI brackets the mean. */
    double lo = query_double(db, "SELECT ci_low FROM metrics WHERE name='accuracy'");
    double hi = query_double(db, "SELECT ci_high FROM metrics WHERE name='accuracy'");
    CU_ASSERT(lo <= acc && acc <= hi);
    /* Per-group metrics: q0,q3,q6,q9 are g0. */
    char *groups = query(db, "SELECT name, n FROM metrics WHERE name LIKE 'accuracy[%' ORDER BY name");
    CU_ASSERT_STRING_EQUAL(groups, "accuracy[g0]|4\naccuracy[g1]|3\naccuracy[g2]|3\n");
    double g0 = query_double(db, "SELECT value FROM metrics WHERE name='accuracy[g0]'");
    double g0_mean = query_double(db, "SELECT avg(score) FROM items WHERE metric='accuracy' AND grp='g0'");
    CU_ASSERT_DOUBLE_EQUAL(g0, g0_mean, 1e-12);
    /* A plain metric keeps the plugin's value and has no interval. */
    char *seen = query(db, "SELECT value, ci_low FROM metrics WHERE name='items_seen'");
    CU_ASSERT_STRING_EQUAL(seen, "10.0|NULL\n");
    char *items = query(db, "SELECT count(*) FROM items");
    CU_ASSERT_STRING_EQUAL(items, "20\n");
    free(mx); free(db); free(status); free(n); free(groups); free(seen); free(items);
}

/* A session that lacks what a benchmark needs (ABI 1.2 session_caps: a
 * server without prompt log-probabilities) fails that benchmark's cells
 * before they start, with the reason. */
static void test_session_caps_fail_before_start(void)
{
    const char *dir = tb_test_tmpdir();
    char *model = tb_test_src_path("tests/data/matrix/tiny-model.bin");
    char *text = tb_xasprintf("name: t\nseed: 5\n"
                              "backend: {plugin: scripted, no_loglikelihood: true}\n"
                              "models:\n  - {id: m, path: %s}\n"
                              "benchmarks:\n  - {plugin: probe, items: 3}\n", model);
    char *mx = tb_test_write_file(dir, "m.yaml", text);
    char *db = tb_path_join(dir, "r.db");
    const char *args[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 1);
    char *fail = cell_field(db, "probe%", "status || ': ' || reason");
    CU_ASSERT_STRING_EQUAL(fail, "failed: benchmark 'probe' needs log-likelihoods, which this "
                                 "session of backend 'scripted' does not offer (see the "
                                 "backend's log line when it opened)");
    /* It never ran: no item of it is stored. */
    char *items = query(db, "SELECT count(*) FROM items i JOIN cells c ON c.key = i.cell_key "
                            "WHERE c.label LIKE 'probe%'");
    CU_ASSERT_STRING_EQUAL(items, "0\n");
    free(model); free(text); free(mx); free(db); free(fail); free(items);
}

static void test_failures_do_not_stop_the_run(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml",
                            "  - {plugin: crash, after: 2}\n"
                            "  - {plugin: probe, items: 5, fail_at: 3}\n"
                            "  - {plugin: hang, timeout: 1}\n"
                            "  - {plugin: probe, items: 4}\n");
    char *db = tb_path_join(dir, "r.db");
    const char *args[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 1);
    char *crash = cell_field(db, "crash%", "status || ': ' || reason");
    CU_ASSERT_PTR_NOT_NULL(strstr(crash, "failed: crashed: signal 11 (Segmentation fault)"));
    char *fail = cell_field(db, "probe items=5%", "status || ': ' || reason");
    CU_ASSERT_STRING_EQUAL(fail, "failed: invalid input: probe: failing at item 3 as asked");
    char *hang = cell_field(db, "hang%", "status || ': ' || reason");
    CU_ASSERT_STRING_EQUAL(hang, "timeout: exceeded the time limit of 1 s and ignored cancellation");
    char *ok = cell_field(db, "probe items=4%", "status");
    CU_ASSERT_STRING_EQUAL(ok, "done");
    /* A failed cell leaves no partial results behind. */
    char *partial = query(db, "SELECT count(*) FROM items i JOIN cells c ON c.key = i.cell_key "
                              "WHERE c.status != 'done'");
    CU_ASSERT_STRING_EQUAL(partial, "0\n");
    free(mx); free(db); free(crash); free(fail); free(hang); free(ok); free(partial);
}

static void test_resume_and_force(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml",
                            "  - {plugin: crash}\n"
                            "  - {plugin: probe, items: 3}\n");
    char *db = tb_path_join(dir, "r.db");
    const char *args[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 1);
    CU_ASSERT_EQUAL(run_tb(dir, args), 1);
    /* The failed cell ran again; the done one was skipped. */
    char *attempts = query(db, "SELECT benchmark, attempts FROM cells ORDER BY benchmark");
    CU_ASSERT_STRING_EQUAL(attempts, "crash|2\nprobe|1\n");
    const char *force[] = {"run", mx, "--db", db, "-q", "--force", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, force), 1);
    char *after = query(db, "SELECT benchmark, attempts FROM cells ORDER BY benchmark");
    CU_ASSERT_STRING_EQUAL(after, "crash|3\nprobe|2\n");
    char *runs = query(db, "SELECT count(*) FROM runs");
    CU_ASSERT_STRING_EQUAL(runs, "3\n");
    free(mx); free(db); free(attempts); free(after); free(runs);
}

/* What a cell puts in the score cache is stored at once, survives the
 * cell's failure and is found by later cells and runs. */
static void test_score_cache_persists(void)
{
    const char *dir = tb_test_tmpdir();
    char *db = tb_path_join(dir, "r.db");
    char *failing = write_matrix(dir, "f.yaml",
                                 "  - {plugin: probe, items: 4, cache: true, fail_at: 2}\n");
    const char *a1[] = {"run", failing, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a1), 1);
    char *kept = query(db, "SELECT ns, key, value FROM cache ORDER BY key");
    CU_ASSERT_STRING_EQUAL(kept, "probe|Question 0:|yes\nprobe|Question 1:|yes\n");
    char *mx = write_matrix(dir, "m.yaml", "  - {plugin: probe, items: 4, cache: true}\n");
    const char *a2[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a2), 0);
    char *hits = query(db, "SELECT value FROM metrics WHERE name='cache_hits'");
    CU_ASSERT_STRING_EQUAL(hits, "2.0\n");
    const char *a3[] = {"run", mx, "--db", db, "-q", "--force", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a3), 0);
    char *hits2 = query(db, "SELECT value FROM metrics WHERE name='cache_hits'");
    CU_ASSERT_STRING_EQUAL(hits2, "4.0\n");
    char *rows = query(db, "SELECT count(*) FROM cache");
    CU_ASSERT_STRING_EQUAL(rows, "4\n");
    /* merge carries the cache over. */
    char *merged = tb_path_join(dir, "merged.db");
    const char *m[] = {"merge", merged, db, NULL};
    CU_ASSERT_EQUAL(run_tb(dir, m), 0);
    char *mrows = query(merged, "SELECT count(*) FROM cache");
    CU_ASSERT_STRING_EQUAL(mrows, "4\n");
    free(merged); free(mrows);
    free(db); free(failing); free(kept); free(mx); free(hits); free(hits2); free(rows);
}

/* A second session scores on another model exactly as that model would
 * as the model under test. */
static void test_second_session(void)
{
    const char *dir = tb_test_tmpdir();
    char *judge = tb_test_write_file(dir, "judge.bin", "not read by the scripted backend\n");
    char *bench = tb_xasprintf("  - {plugin: probe, items: 3, second_model: %s}\n", judge);
    char *mx = write_matrix(dir, "m.yaml", bench);
    char *db = tb_path_join(dir, "r.db");
    const char *a1[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a1), 0);
    char *text = tb_xasprintf("name: j\nseed: 5\nbackend: {plugin: scripted}\n"
                              "models:\n  - {id: j, path: %s}\n"
                              "benchmarks:\n  - {plugin: probe, items: 3}\n", judge);
    char *mj = tb_test_write_file(dir, "j.yaml", text);
    char *dbj = tb_path_join(dir, "j.db");
    const char *a2[] = {"run", mj, "--db", dbj, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a2), 0);
    char *second = query(db, "SELECT item_id, score FROM items "
                             "WHERE metric='second_yes_logprob' ORDER BY item_id");
    char *direct = query(dbj, "SELECT item_id, score FROM items "
                              "WHERE metric='yes_logprob' ORDER BY item_id");
    char *own = query(db, "SELECT item_id, score FROM items "
                          "WHERE metric='yes_logprob' ORDER BY item_id");
    CU_ASSERT_PTR_NOT_NULL(strstr(second, "q2|"));
    CU_ASSERT_STRING_EQUAL(second, direct);
    CU_ASSERT_STRING_NOT_EQUAL(second, own);
    free(judge); free(bench); free(mx); free(db); free(text); free(mj); free(dbj);
    free(second); free(direct); free(own);
}

static int wait_for(const char *db, const char *sql, const char *want, int max_ms)
{
    for (int t = 0; t < max_ms; t += 50) {
        if (access(db, F_OK) == 0) {
            char *got = query(db, sql);
            int ok = strcmp(got, want) == 0;
            free(got);
            if (ok)
                return 0;
        }
        sleep_ms(50);
    }
    return -1;
}

static void test_sigint_then_resume(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml",
                            "  - {plugin: probe, items: 3}\n"
                            "  - {plugin: probe, items: 40, delay_ms: 100}\n");
    char *db = tb_path_join(dir, "r.db");
    const char *args[] = {"run", mx, "--db", db, "-q", NULL};
    pid_t pid = start_tb(dir, args);
    CU_ASSERT_EQUAL(wait_for(db, "SELECT count(*) FROM cells WHERE status='running'", "1\n", 20000), 0);
    sleep_ms(300);
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 130);
    char *cells = query(db, "SELECT label, status FROM cells ORDER BY label");
    CU_ASSERT_STRING_EQUAL(cells, "probe items=3|done\nprobe items=40 delay_ms=100|interrupted\n");
    char *run = query(db, "SELECT status FROM runs");
    CU_ASSERT_STRING_EQUAL(run, "interrupted\n");
    /* Resume: only the interrupted cell runs, and it completes. */
    const char *again[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, again), 0);
    char *after = query(db, "SELECT label, status, attempts FROM cells ORDER BY label");
    CU_ASSERT_STRING_EQUAL(after, "probe items=3|done|1\nprobe items=40 delay_ms=100|done|2\n");
    free(mx); free(db); free(cells); free(run); free(after);
}

/* The content of a results database that must not depend on how it was
 * produced: cells, metrics and items, without times, attempts or runs. */
static char *content(const char *db)
{
    char *a = query(db, "SELECT key, variant_key, benchmark, params_json, status FROM cells ORDER BY key");
    char *b = query(db, "SELECT cell_key, name, printf('%.17g', value), printf('%.17g', ci_low), "
                        "printf('%.17g', ci_high), n, label FROM metrics ORDER BY cell_key, name");
    char *c = query(db, "SELECT cell_key, item_id, metric, grp, input, output, expected, "
                        "printf('%.17g', score) FROM items ORDER BY cell_key, item_id, metric");
    char *d = query(db, "SELECT key, model_id, compressor, params_json, baseline_key FROM variants ORDER BY key");
    char *all = tb_xasprintf("%s--\n%s--\n%s--\n%s", a, b, c, d);
    free(a); free(b); free(c); free(d);
    return all;
}

static const char *const six_cells =
    "  - {plugin: probe, items: [2, 3, 4, 5, 6, 7], delay_ms: 20}\n";

static void test_kill9_then_resume_equals_clean_run(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml", six_cells);
    char *clean = tb_path_join(dir, "clean.db");
    char *killed = tb_path_join(dir, "killed.db");
    const char *a1[] = {"run", mx, "--db", clean, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a1), 0);
    const char *a2[] = {"run", mx, "--db", killed, "-q", NULL};
    pid_t pid = start_tb(dir, a2);
    CU_ASSERT_EQUAL(wait_for(killed, "SELECT count(*) >= 2 FROM cells WHERE status='done'", "1\n", 20000), 0);
    kill(-pid, SIGKILL); /* the runner and its cell, mid-write */
    waitpid(pid, NULL, 0);
    /* Still a readable database. */
    char *check = query(killed, "PRAGMA integrity_check");
    CU_ASSERT_STRING_EQUAL(check, "ok\n");
    CU_ASSERT_EQUAL(run_tb(dir, a2), 0);
    char *x = content(clean), *y = content(killed);
    CU_ASSERT_STRING_EQUAL(x, y);
    free(mx); free(clean); free(killed); free(check); free(x); free(y);
}

static void test_jobs_and_shards_equal_serial(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml", six_cells);
    char *serial = tb_path_join(dir, "serial.db");
    char *par = tb_path_join(dir, "par.db");
    const char *a1[] = {"run", mx, "--db", serial, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a1), 0);
    const char *a2[] = {"run", mx, "--db", par, "-q", "--jobs", "3", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, a2), 0);
    char *x = content(serial), *y = content(par);
    CU_ASSERT_STRING_EQUAL(x, y);
    /* Three shards, merged. */
    char *s[3];
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        char name[32], shard[8];
        snprintf(name, sizeof name, "shard%d.db", i);
        snprintf(shard, sizeof shard, "%d/3", i);
        s[i] = tb_path_join(dir, name);
        const char *a[] = {"run", mx, "--db", s[i], "-q", "--shard", shard, NULL};
        CU_ASSERT_EQUAL(run_tb(dir, a), 0);
        total += (size_t)query_double(s[i], "SELECT count(*) FROM cells");
    }
    CU_ASSERT_EQUAL(total, 6);
    char *merged = tb_path_join(dir, "merged.db");
    const char *m[] = {"merge", merged, s[0], s[1], s[2], NULL};
    CU_ASSERT_EQUAL(run_tb(dir, m), 0);
    char *z = content(merged);
    CU_ASSERT_STRING_EQUAL(x, z);
    for (int i = 0; i < 3; i++)
        free(s[i]);
    free(mx); free(serial); free(par); free(merged); free(x); free(y); free(z);
}

static void test_slurm_environment(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml", six_cells);
    char *a = tb_path_join(dir, "a.db"), *b = tb_path_join(dir, "b.db");
    const char *explicit_shard[] = {"run", mx, "--db", a, "-q", "--shard", "1/2", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, explicit_shard), 0);
    /* Array 1-2: task 2 is the second shard, index 1. */
    setenv("SLURM_ARRAY_TASK_ID", "2", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    const char *from_env[] = {"run", mx, "--db", b, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, from_env), 0);
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    char *x = query(a, "SELECT key FROM cells ORDER BY key");
    char *y = query(b, "SELECT key FROM cells ORDER BY key");
    CU_ASSERT_STRING_EQUAL(x, y);
    CU_ASSERT(strlen(x) > 0);
    free(mx); free(a); free(b); free(x); free(y);
}

static void test_invalid_matrix_runs_nothing(void)
{
    const char *dir = tb_test_tmpdir();
    char *mx = write_matrix(dir, "m.yaml", "  - {plugin: probe, items: 0}\n");
    char *db = tb_path_join(dir, "r.db");
    const char *args[] = {"run", mx, "--db", db, NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 2);
    CU_ASSERT(access(db, F_OK) != 0);
    char *out = tb_path_join(dir, "out.txt");
    size_t len;
    tb_error err;
    char *text = tb_read_file(out, &len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "m.yaml:7:28: items: 0 is below the minimum 1"));
    free(text); free(out); free(mx); free(db);
}

/* A compressed variant is made once in a child process, cached beside the
 * database, reported per tensor, and evaluated on its compressed model. */
static void test_compression_cached_and_reported(void)
{
    char *model = tb_test_shared_path("models/stories260K/stories260K.gguf");
    if (!model) {
        tb_test_skip("../shared is absent");
        return;
    }
    const char *dir = tb_test_tmpdir();
    char *text = tb_test_src_path("configs/data/quickstart.txt");
    char *yaml = tb_xasprintf("name: c\nbackend: {plugin: native, compute: exact}\n"
                              "models: [{id: s, path: %s}]\n"
                              "calibration: {data: %s, samples: 2, seq_len: 32, "
                              "sampling: sequential}\n"
                              "compressions: [{plugin: none}, {plugin: halve, factor: 0.5}]\n"
                              "benchmarks: [{plugin: perplexity, data: %s, window: 64}]\n",
                              model, text, text);
    char *mx = tb_test_write_file(dir, "c.yaml", yaml);
    char *db = tb_path_join(dir, "c.db");
    const char *args[] = {"run", mx, "--db", db, "-q", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 0);
    char *rows = query(db, "SELECT cached, artifact LIKE '%/c.db.artifacts/halve-%.gguf' "
                           "FROM compressions");
    CU_ASSERT_STRING_EQUAL(rows, "0|1\n");
    /* (1 - 0.5)^2 for each of 2 layers x 7 linears of stories260K... 5 layers. */
    char *rep = query(db, "SELECT count(*), min(rel_error), max(rel_error) FROM compress_reports");
    CU_ASSERT_STRING_EQUAL(rep, "35|0.25|0.25\n");
    /* The compressed variant really is different: a worse perplexity. */
    double base = query_double(db, "SELECT m.value FROM metrics m JOIN cells c ON c.key = "
                                   "m.cell_key JOIN variants v ON v.key = c.variant_key "
                                   "WHERE v.compressor = 'none' AND m.name = 'perplexity'");
    double half = query_double(db, "SELECT m.value FROM metrics m JOIN cells c ON c.key = "
                                   "m.cell_key JOIN variants v ON v.key = c.variant_key "
                                   "WHERE v.compressor = 'halve' AND m.name = 'perplexity'");
    CU_ASSERT(half > base * 2);
    /* A rerun finds the compressed model in the cache. */
    const char *again[] = {"run", mx, "--db", db, "-q", "--force", NULL};
    CU_ASSERT_EQUAL(run_tb(dir, again), 0);
    char *cached = query(db, "SELECT cached FROM compressions");
    CU_ASSERT_STRING_EQUAL(cached, "1\n");
    free(model); free(text); free(yaml); free(mx); free(db);
    free(rows); free(rep); free(cached);
}

static void test_calibrated_needs_capture(void)
{
    const char *dir = tb_test_tmpdir();
    char *model = tb_test_src_path("tests/data/matrix/tiny-model.bin");
    char *yaml = tb_xasprintf("backend: {plugin: scripted}\nmodels: [{id: s, path: %s}]\n"
                              "calibration: {data: %s}\n"
                              "compressions: [{plugin: halve}]\n"
                              "benchmarks: [{plugin: probe}]\n", model, model);
    char *mx = tb_test_write_file(dir, "m.yaml", yaml);
    const char *args[] = {"validate", mx, NULL};
    CU_ASSERT_EQUAL(run_tb(dir, args), 2);
    char *out = tb_path_join(dir, "out.txt");
    size_t len;
    tb_error err;
    char *text = tb_read_file(out, &len, &err);
    CU_ASSERT_TRUE(text && strstr(text, "m.yaml:4:16: compressor 'halve' calibrates "
                                                "layer by layer, which backend 'scripted' "
                                                "cannot"));
    free(text); free(out); free(model); free(yaml); free(mx);
}

int tb_test_register(void)
{
    char *a = tb_test_build_path("tests/plugins");
    setenv("TB_PLUGIN_PATH", a, 1);
    free(a);
    static const tb_test_case cases[] = {
        {"results, CIs and per-group metrics are stored", test_results_and_cis},
        {"crash, failure and timeout are marked; the run goes on", test_failures_do_not_stop_the_run},
        {"a session lacking a needed capability fails the cell before it starts",
         test_session_caps_fail_before_start},
        {"resume reruns failed cells only; --force reruns all", test_resume_and_force},
        {"the score cache persists across cells, failures and runs", test_score_cache_persists},
        {"a second session scores on another model", test_second_session},
        {"SIGINT marks the cell interrupted, exits 130, resumes", test_sigint_then_resume},
        {"kill -9 then resume equals a clean run", test_kill9_then_resume_equals_clean_run},
        {"--jobs and shards + merge equal a serial run", test_jobs_and_shards_equal_serial},
        {"shards from the Slurm environment", test_slurm_environment},
        {"an invalid matrix runs nothing and exits 2", test_invalid_matrix_runs_nothing},
        {"compressed variants: made once, cached, reported", test_compression_cached_and_reported},
        {"calibrated compressors need a capturing backend", test_calibrated_needs_capture},
        {NULL, NULL}};
    return tb_test_add_suite("runner", cases);
}
