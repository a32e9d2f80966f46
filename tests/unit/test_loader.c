/* test_loader.c - the plugin loader: every refusal with its exact reason,
 * the search order and shadowing, both folder layouts, TB_PLUGIN_PATH, and
 * the descriptor rules on descriptors built right here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loader.h"
#include "params.h"
#include "tb_test.h"
#include "util.h"

/* The ABI version this trustbench speaks, as the loader prints it. */
#define ABI_STR1(x) #x
#define ABI_STR(x) ABI_STR1(x)
#define ABI_NOW ABI_STR(TB_ABI_MAJOR) "." ABI_STR(TB_ABI_MINOR)

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const tb_plugin_refusal *refusal_named(const tb_registry *r, const char *file)
{
    for (size_t i = 0; i < tb_registry_refused_count(r); i++)
        if (!strcmp(basename_of(tb_registry_refused(r, i)->path), file))
            return tb_registry_refused(r, i);
    return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void mkdirs(const char *path)
{
    char *p = tb_xstrdup(path);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(p, 0755);
            *c = '/';
        }
    mkdir(p, 0755);
    free(p);
}

/* Copies a built plugin (build-tree relative) to dir/rel, making folders. */
static char *copy_plugin(const char *built, const char *dir, const char *rel)
{
    char *src = tb_test_build_path(built);
    char *dst = tb_path_join(dir, rel);
    char *parent = tb_path_dirname(dst);
    mkdirs(parent);
    size_t len;
    tb_error err;
    char *data = tb_read_file(src, &len, &err);
    FILE *f = fopen(dst, "wb");
    if (!data || !f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot copy %s to %s\n", src, dst);
        exit(99);
    }
    fclose(f);
    free(data);
    free(src);
    free(parent);
    /* The registry records real paths; TMPDIR may run through a link. */
    char *real = realpath(dst, NULL);
    free(dst);
    return real;
}

#define PROBE_SO "tests/plugins/benchmarks/probe/.libs/probe.so"
#define CRASH_SO "tests/plugins/benchmarks/crash/.libs/crash.so"

/* ------------------------------------------------------------------ */
/* Refusals                                                            */
/* ------------------------------------------------------------------ */

static void test_refused_root(void)
{
    char *root = tb_test_build_path("tests/plugins/refused");
    tb_registry *r = tb_registry_new();
    tb_registry_scan_root(r, root, "test");
    CU_ASSERT_EQUAL(tb_registry_count(r), 0);
    CU_ASSERT_EQUAL(tb_registry_refused_count(r), 6);
    static const struct {
        const char *file, *reason;
    } want[] = {
        {"badabi.so", "built for plugin ABI 99.0, this trustbench speaks " ABI_NOW},
        {"noentry.so", "exports no tb_plugin_v1() entry point (define it with "
                       "TB_PLUGIN_DEFINE)"},
        {"misnamed.so", "descriptor names the plugin 'renamed', but the file is "
                        "misnamed.so (the file name must be the plugin name)"},
        {"wrongkind.so", "descriptor says it is a compressor, but the file is in "
                         "benchmarks/ (move it to compressors/)"},
        {"nullvtable.so", "descriptor has no benchmark vtable (ops.benchmark is NULL)"},
        {"badparams.so", "parameter 'ratio': default '1.5': 1.5 is above the maximum 1; "
                         "parameter 'items' is declared twice"},
    };
    for (size_t i = 0; i < TB_ARRAY_LEN(want); i++) {
        const tb_plugin_refusal *f = refusal_named(r, want[i].file);
        CU_ASSERT_PTR_NOT_NULL(f);
        if (!f) {
            fprintf(stderr, "\nnot refused: %s\n", want[i].file);
            continue;
        }
        CU_ASSERT_STRING_EQUAL(f->reason, want[i].reason);
        /* The build-tree layout <kind>/<name>/.libs/<name>.so, absolute. */
        char *tail = tb_xasprintf("/benchmarks/%.*s/.libs/%s",
                                  (int)(strlen(want[i].file) - 3), want[i].file,
                                  want[i].file);
        CU_ASSERT(ends_with(f->path, tail));
        CU_ASSERT_EQUAL(f->path[0], '/');
        free(tail);
    }
    /* Loading a refused file again gives the same reason, recorded once. */
    const tb_plugin_refusal *abi = refusal_named(r, "badabi.so");
    if (abi) {
        char *path = tb_xstrdup(abi->path);
        tb_error err;
        CU_ASSERT_NOT_EQUAL(tb_registry_load_file(r, path, 0, "again", &err), TB_OK);
        char *msg = tb_xasprintf("%s: built for plugin ABI 99.0, this trustbench "
                                 "speaks " ABI_NOW, path);
        CU_ASSERT_STRING_EQUAL(err.message, msg);
        CU_ASSERT_EQUAL(tb_registry_refused_count(r), 6);
        free(msg);
        free(path);
    }
    tb_registry_free(r);
    free(root);
}

static void test_load_file_refusals(void)
{
    char *dir = realpath(tb_test_tmpdir(), NULL);
    tb_registry *r = tb_registry_new();
    tb_error err;
    /* The kind comes from the folder; a file outside one has none. */
    char *loose = copy_plugin(PROBE_SO, dir, "loose/probe.so");
    CU_ASSERT_EQUAL(tb_registry_load_file(r, loose, 0, "test", &err), TB_ERR_INVALID);
    char *want = tb_xasprintf("%s: is not inside a backends/, compressors/ or "
                              "benchmarks/ folder, so its kind is unknown", loose);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    free(want);
    /* An explicit kind that the descriptor contradicts. */
    char *as_backend = copy_plugin(PROBE_SO, dir, "other/probe.so");
    CU_ASSERT_EQUAL(tb_registry_load_file(r, as_backend, TB_KIND_BACKEND, "test", &err),
                    TB_ERR_INVALID);
    want = tb_xasprintf("%s: descriptor says it is a benchmark, but the file is in "
                        "backends/ (move it to benchmarks/)", as_backend);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    free(want);
    /* Not a shared object at all. */
    char *junk = tb_test_write_file(dir, "junk.so", "not an ELF file\n");
    char *junk_dir = tb_path_join(dir, "benchmarks");
    mkdirs(junk_dir);
    char *junk_so = tb_path_join(junk_dir, "junk.so");
    rename(junk, junk_so);
    CU_ASSERT_EQUAL(tb_registry_load_file(r, junk_so, 0, "test", &err), TB_ERR_IO);
    want = tb_xasprintf("%s: cannot be loaded: ", junk_so);
    CU_ASSERT_EQUAL(strncmp(err.message, want, strlen(want)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message + strlen(want), "junk.so"));
    free(want);
    /* Not named .so; missing. */
    char *txt = tb_test_write_file(junk_dir, "notes.txt", "hi\n");
    CU_ASSERT_EQUAL(tb_registry_load_file(r, txt, 0, "test", &err), TB_ERR_INVALID);
    want = tb_xasprintf("%s: a plugin file is named <name>.so", txt);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    free(want);
    char *missing = tb_path_join(junk_dir, "missing.so");
    CU_ASSERT_EQUAL(tb_registry_load_file(r, missing, 0, "test", &err), TB_ERR_NOT_FOUND);
    want = tb_xasprintf("%s: cannot be read: No such file or directory", missing);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    free(want);
    CU_ASSERT_EQUAL(tb_registry_refused_count(r), 5);
    CU_ASSERT_EQUAL(tb_registry_count(r), 0);
    /* The installed layout loads; the registry keeps the real path. */
    char *good = copy_plugin(PROBE_SO, dir, "root/benchmarks/probe.so");
    CU_ASSERT_EQUAL(tb_registry_load_file(r, good, 0, "test", &err), TB_OK);
    const tb_plugin_entry *e = tb_registry_find(r, TB_KIND_BENCHMARK, "probe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->path, good);
    CU_ASSERT_STRING_EQUAL(e->origin, "test");
    CU_ASSERT_EQUAL(e->kind, TB_KIND_BENCHMARK);
    CU_ASSERT_STRING_EQUAL(e->desc->name, "probe");
    /* The same file twice is one plugin, not a shadow. */
    CU_ASSERT_EQUAL(tb_registry_load_file(r, good, 0, "test", &err), TB_OK);
    CU_ASSERT_EQUAL(tb_registry_count(r), 1);
    CU_ASSERT_EQUAL(tb_registry_shadowed_count(r), 0);
    tb_registry_free(r);
    free(loose); free(as_backend); free(junk); free(junk_dir); free(junk_so);
    free(txt); free(missing); free(good); free(dir);
}

/* ------------------------------------------------------------------ */
/* Layouts, order, shadowing                                           */
/* ------------------------------------------------------------------ */

static void test_build_tree_layout(void)
{
    char *root = tb_test_build_path("tests/plugins");
    tb_registry *r = tb_registry_new();
    tb_registry_scan_root(r, root, "tests");
    CU_ASSERT_EQUAL(tb_registry_refused_count(r), 0);
    const tb_plugin_entry *s = tb_registry_find(r, TB_KIND_BACKEND, "scripted");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(ends_with(s->path, "/tests/plugins/backends/scripted/.libs/scripted.so"));
    CU_ASSERT_STRING_EQUAL(s->origin, "tests");
    size_t n;
    const char **names = tb_registry_names(r, TB_KIND_BENCHMARK, &n);
    /* Sorted; refused/ is not a kind folder and is never entered. */
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(names[0], "crash");
    CU_ASSERT_STRING_EQUAL(names[1], "hang");
    CU_ASSERT_STRING_EQUAL(names[2], "probe");
    free(names);
    names = tb_registry_names(r, TB_KIND_COMPRESSOR, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(names[0], "halve");
    free(names);
    CU_ASSERT_PTR_NULL(tb_registry_find(r, TB_KIND_BACKEND, "probe"));
    CU_ASSERT_PTR_NULL(tb_registry_find(r, TB_KIND_BENCHMARK, "nothing"));
    /* Scanning a root again changes nothing. */
    tb_registry_scan_root(r, root, "again");
    CU_ASSERT_EQUAL(tb_registry_count(r), 5);
    CU_ASSERT_EQUAL(tb_registry_root_count(r), 1);
    /* A missing root is silently skipped. */
    tb_registry_scan_root(r, "/nonexistent/plugins", "nowhere");
    CU_ASSERT_EQUAL(tb_registry_root_count(r), 1);
    tb_registry_free(r);
    free(root);
}

static void test_search_order_and_shadowing(void)
{
    const char *dir = tb_test_tmpdir();
    char *real_dir = realpath(dir, NULL);
    char *a = tb_path_join(real_dir, "a"), *b = tb_path_join(real_dir, "b");
    char *c = tb_path_join(real_dir, "c");
    free(real_dir);
    /* a: installed layout; b: folder layout; c: the matrix's plugin_path. */
    char *pa = copy_plugin(PROBE_SO, a, "benchmarks/probe.so");
    char *pb = copy_plugin(PROBE_SO, b, "benchmarks/probe/probe.so");
    char *pb2 = copy_plugin(PROBE_SO, b, "benchmarks/probe.so");
    char *pc = copy_plugin(PROBE_SO, c, "benchmarks/probe.so");
    char *cc = copy_plugin(CRASH_SO, c, "benchmarks/crash/.libs/crash.so");
    char *env = tb_xasprintf("%s::%s:%s", a, b, a);
    setenv("TB_PLUGIN_PATH", env, 1);
    tb_registry *r = tb_registry_new();
    const char *extra[] = {c};
    tb_registry_scan_default(r, extra, 1);
    unsetenv("TB_PLUGIN_PATH");
    /* The test runs from the build tree, so that root comes first. */
    CU_ASSERT_EQUAL(tb_loader_in_build_tree(), 1);
    const char *origin;
    char *build_plugins = tb_test_build_path("plugins");
    char *real_build = realpath(build_plugins, NULL);
    CU_ASSERT_STRING_EQUAL(tb_registry_root(r, 0, &origin), real_build);
    CU_ASSERT_STRING_EQUAL(origin, "build tree");
    CU_ASSERT_STRING_EQUAL(tb_registry_root(r, 1, &origin), a);
    CU_ASSERT_STRING_EQUAL(origin, "TB_PLUGIN_PATH");
    CU_ASSERT_STRING_EQUAL(tb_registry_root(r, 2, &origin), b);
    CU_ASSERT_STRING_EQUAL(tb_registry_root(r, 3, &origin), c);
    CU_ASSERT_STRING_EQUAL(origin, "plugin_path");
    /* a appears twice in TB_PLUGIN_PATH but is one root; the install dir
     * may or may not exist. */
    CU_ASSERT(tb_registry_root_count(r) == 4 || tb_registry_root_count(r) == 5);
    const tb_plugin_entry *none = tb_registry_find(r, TB_KIND_COMPRESSOR, "none");
    CU_ASSERT_PTR_NOT_NULL_FATAL(none);
    CU_ASSERT_STRING_EQUAL(none->origin, "build tree");
    CU_ASSERT_EQUAL(strncmp(none->path, real_build, strlen(real_build)), 0);
    /* The first root wins; the others are recorded, not loaded. */
    const tb_plugin_entry *probe = tb_registry_find(r, TB_KIND_BENCHMARK, "probe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(probe);
    CU_ASSERT_STRING_EQUAL(probe->path, pa);
    CU_ASSERT_STRING_EQUAL(probe->origin, "TB_PLUGIN_PATH");
    CU_ASSERT_EQUAL(tb_registry_shadowed_count(r), 3);
    const char *shadow_paths[] = {pb, pb2, pc};
    const char *shadow_origins[] = {"TB_PLUGIN_PATH", "TB_PLUGIN_PATH", "plugin_path"};
    for (size_t i = 0; i < 3 && i < tb_registry_shadowed_count(r); i++) {
        const tb_plugin_entry *s = tb_registry_shadowed(r, i);
        /* Sorted entries: the folder "probe" before "probe.so" within b. */
        CU_ASSERT_STRING_EQUAL(s->path, shadow_paths[i]);
        CU_ASSERT_STRING_EQUAL(s->origin, shadow_origins[i]);
        CU_ASSERT_STRING_EQUAL(s->name, "probe");
        CU_ASSERT_EQUAL(s->kind, TB_KIND_BENCHMARK);
        CU_ASSERT_PTR_NULL(s->desc);
    }
    /* A plugin only c has is found there. */
    const tb_plugin_entry *crash = tb_registry_find(r, TB_KIND_BENCHMARK, "crash");
    CU_ASSERT_PTR_NOT_NULL_FATAL(crash);
    CU_ASSERT_STRING_EQUAL(crash->path, cc);
    CU_ASSERT_STRING_EQUAL(crash->origin, "plugin_path");
    CU_ASSERT_EQUAL(tb_registry_refused_count(r), 0);
    tb_registry_free(r);
    free(a); free(b); free(c); free(pa); free(pb); free(pb2); free(pc); free(cc);
    free(env); free(build_plugins); free(real_build);
}

static void test_plugin_path_env_order(void)
{
    /* The order inside TB_PLUGIN_PATH decides too. */
    const char *dir = tb_test_tmpdir();
    char *a = tb_path_join(dir, "a"), *b = tb_path_join(dir, "b");
    char *pa = copy_plugin(PROBE_SO, a, "benchmarks/probe.so");
    char *pb = copy_plugin(PROBE_SO, b, "benchmarks/probe.so");
    char *env = tb_xasprintf("%s:%s", b, a);
    setenv("TB_PLUGIN_PATH", env, 1);
    tb_registry *r = tb_registry_new();
    tb_registry_scan_default(r, NULL, 0);
    unsetenv("TB_PLUGIN_PATH");
    const tb_plugin_entry *probe = tb_registry_find(r, TB_KIND_BENCHMARK, "probe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(probe);
    CU_ASSERT_STRING_EQUAL(probe->path, pb);
    CU_ASSERT_EQUAL(tb_registry_shadowed_count(r), 1);
    CU_ASSERT_STRING_EQUAL(tb_registry_shadowed(r, 0)->path, pa);
    tb_registry_free(r);
    free(a); free(b); free(pa); free(pb); free(env);
}

/* ------------------------------------------------------------------ */
/* Descriptor rules on hand-made descriptors                           */
/* ------------------------------------------------------------------ */

static tb_status mk_create(const tb_host_api *api, tb_host *host, const tb_config *config,
                           void **instance, tb_error *err)
{
    (void)api; (void)host; (void)config; (void)err;
    *instance = NULL;
    return TB_OK;
}
static void mk_destroy(void *instance) { (void)instance; }
static tb_status mk_run(void *instance, tb_error *err)
{
    (void)instance; (void)err;
    return TB_OK;
}
static tb_status mk_open(void *self, const tb_backend_open_args *args, void **session,
                         tb_error *err)
{
    (void)self; (void)args; (void)err;
    *session = NULL;
    return TB_OK;
}
static void mk_close(void *self, void *session) { (void)self; (void)session; }

static const tb_benchmark_vtable mk_bench = {sizeof(tb_benchmark_vtable), 0, mk_run};

static tb_plugin_descriptor good_descriptor(void)
{
    tb_plugin_descriptor d = {
        TB_DESCRIPTOR_HEADER,
        .kind = TB_KIND_BENCHMARK,
        .name = "good",
        .version = "0.1",
        .description = "a fine benchmark",
        .create = mk_create,
        .destroy = mk_destroy,
        .ops.benchmark = &mk_bench,
    };
    return d;
}

static const char *check(const tb_plugin_descriptor *d, const char *name,
                         tb_plugin_kind kind)
{
    static tb_error err;
    err.message[0] = '\0';
    return tb_descriptor_check(d, name, kind, &err) == TB_OK ? "ok" : err.message;
}

static void test_descriptor_rules(void)
{
    tb_plugin_descriptor d = good_descriptor();
    CU_ASSERT_STRING_EQUAL(check(&d, "good", TB_KIND_BENCHMARK), "ok");
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "ok");
    CU_ASSERT_STRING_EQUAL(check(NULL, NULL, 0), "tb_plugin_v1() returned NULL");
    /* A newer minor version is accepted; another major is not. */
    d.abi_minor = 7;
    CU_ASSERT_STRING_EQUAL(check(&d, "good", 0), "ok");
    d.abi_major = 2;
    CU_ASSERT_STRING_EQUAL(check(&d, "good", 0),
                           "built for plugin ABI 2.7, this trustbench speaks " ABI_NOW);
    d = good_descriptor();
    d.abi_major = 0;
    d.abi_minor = 9;
    CU_ASSERT_STRING_EQUAL(check(&d, "good", 0),
                           "built for plugin ABI 0.9, this trustbench speaks " ABI_NOW);
    d = good_descriptor();
    d.struct_size = 4;
    CU_ASSERT_STRING_EQUAL(check(&d, "good", 0),
                           "descriptor struct_size is 4, too small to hold even the ABI "
                           "version (set it with TB_DESCRIPTOR_HEADER)");
    d.struct_size = offsetof(tb_plugin_descriptor, create);
    char *want = tb_xasprintf("descriptor struct_size is %zu, but a plugin ABI " ABI_NOW " "
                              "descriptor is at least %zu bytes (set it with "
                              "TB_DESCRIPTOR_HEADER)",
                              offsetof(tb_plugin_descriptor, create),
                              sizeof(tb_plugin_descriptor));
    CU_ASSERT_STRING_EQUAL(check(&d, "good", 0), want);
    free(want);
    d = good_descriptor();
    d.kind = (tb_plugin_kind)7;
    CU_ASSERT_STRING_EQUAL(check(&d, "good", 0),
                           "descriptor has unknown kind 7 (1 backend, 2 compressor, 3 benchmark)");
    d = good_descriptor();
    d.name = "Good";
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0),
                           "plugin name 'Good' is not a name of a-z, 0-9 and '_'");
    d.name = "";
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0),
                           "plugin name '' is not a name of a-z, 0-9 and '_'");
    d = good_descriptor();
    d.version = NULL;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "descriptor has no version");
    d = good_descriptor();
    d.description = "";
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "descriptor has no description");
    d = good_descriptor();
    d.create = NULL;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "descriptor has no create function");
    d = good_descriptor();
    d.destroy = NULL;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "descriptor has no destroy function");
}

static void test_vtable_rules(void)
{
    tb_plugin_descriptor d = good_descriptor();
    tb_benchmark_vtable small = mk_bench;
    small.struct_size = sizeof(size_t);
    d.ops.benchmark = &small;
    char *want = tb_xasprintf("benchmark vtable struct_size is %zu, but ABI 1.0 needs at "
                              "least %zu", sizeof(size_t), sizeof(tb_benchmark_vtable));
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), want);
    free(want);
    tb_benchmark_vtable norun = mk_bench;
    norun.run = NULL;
    d.ops.benchmark = &norun;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "benchmark vtable has no run function");
    /* A backend must back every capability it declares with a function. */
    tb_backend_vtable be = {.struct_size = sizeof(tb_backend_vtable),
                            .caps = TB_CAP_LOGLIKELIHOOD | TB_CAP_GENERATE,
                            .open = mk_open, .close = mk_close};
    d = good_descriptor();
    d.kind = TB_KIND_BACKEND;
    d.ops.backend = &be;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, TB_KIND_BACKEND),
                           "backend declares the generate capability but its generate "
                           "function is NULL");
    be.caps = 0;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, TB_KIND_BACKEND), "ok");
    be.close = NULL;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, TB_KIND_BACKEND),
                           "backend vtable has no close function");
    tb_compressor_vtable cv = {sizeof(tb_compressor_vtable), 0, NULL};
    d = good_descriptor();
    d.kind = TB_KIND_COMPRESSOR;
    d.ops.compressor = &cv;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "compressor vtable has no compress function");
    d.ops.compressor = NULL;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0),
                           "descriptor has no compressor vtable (ops.compressor is NULL)");
    /* A vtable from a later minor version is larger: fine. */
    struct {
        tb_benchmark_vtable v;
        void *later[4];
    } grown = {mk_bench, {NULL, NULL, NULL, NULL}};
    grown.v.struct_size = sizeof grown;
    d = good_descriptor();
    d.ops.benchmark = &grown.v;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "ok");
}

static void test_param_table_rules(void)
{
    tb_plugin_descriptor d = good_descriptor();
    const tb_param params[] = {
        {"limit", TB_PARAM_INT, "1", 0, 0, NULL, "", 0},
        {"k", TB_PARAM_INT, "1", 0, 0, NULL, "", 0},
        {"k", TB_PARAM_FLOAT, "1", 0, 0, NULL, "", 0},
        {"mode", TB_PARAM_ENUM, "z", 0, 0, "x|y", "", 0},
    };
    d.params = params;
    d.n_params = 4;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0),
                           "parameter 'limit' uses a name the matrix reserves for its own "
                           "key; parameter 'k' is declared twice; parameter 'mode': "
                           "default 'z': 'z' is not one of x|y");
    /* limit/timeout are reserved for benchmarks only; id and plugin for all. */
    d.n_params = 1;
    d.kind = TB_KIND_BACKEND;
    tb_backend_vtable be = {.struct_size = sizeof(tb_backend_vtable), .caps = 0,
                            .open = mk_open, .close = mk_close};
    d.ops.backend = &be;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), "ok");
    const tb_param id[] = {{"id", TB_PARAM_STRING, "", 0, 0, NULL, "", 0}};
    d.params = id;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0),
                           "parameter 'id' uses a name the matrix reserves for its own key");
    d = good_descriptor();
    d.n_params = 2;
    d.params = NULL;
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0),
                           "descriptor declares 2 parameters but params is NULL");
    d.params = params + 1;
    d.n_params = 1;
    d.param_size = 8;
    char *want = tb_xasprintf("param_size is 8, but an ABI 1.0 parameter row is at least "
                              "%zu bytes (set it with TB_DESCRIPTOR_HEADER)",
                              offsetof(tb_param, flags) + sizeof(uint32_t));
    CU_ASSERT_STRING_EQUAL(check(&d, NULL, 0), want);
    free(want);
}

static void test_kinds(void)
{
    CU_ASSERT_EQUAL(tb_kind_parse("backend"), TB_KIND_BACKEND);
    CU_ASSERT_EQUAL(tb_kind_parse("compressors"), TB_KIND_COMPRESSOR);
    CU_ASSERT_EQUAL(tb_kind_parse("benchmarks"), TB_KIND_BENCHMARK);
    CU_ASSERT_EQUAL(tb_kind_parse("bench"), 0);
    CU_ASSERT_EQUAL(tb_kind_parse(NULL), 0);
    CU_ASSERT_STRING_EQUAL(tb_kind_name(TB_KIND_COMPRESSOR), "compressor");
    CU_ASSERT_STRING_EQUAL(tb_kind_folder(TB_KIND_BACKEND), "backends");
    CU_ASSERT_STRING_EQUAL(tb_kind_name((tb_plugin_kind)0), "unknown");
}

int tb_test_register(void)
{
    unsetenv("TB_PLUGIN_PATH");
    static const tb_test_case cases[] = {
        {"each refused test plugin, with its exact reason", test_refused_root},
        {"load_file: kind, name, missing and broken files", test_load_file_refusals},
        {"build-tree layout <kind>/<name>/.libs/<name>.so", test_build_tree_layout},
        {"search order: build tree, TB_PLUGIN_PATH, plugin_path; shadowing",
         test_search_order_and_shadowing},
        {"TB_PLUGIN_PATH order decides", test_plugin_path_env_order},
        {"descriptor rules", test_descriptor_rules},
        {"vtable rules", test_vtable_rules},
        {"parameter table rules", test_param_table_rules},
        {"kind names", test_kinds},
        {NULL, NULL}};
    return tb_test_add_suite("loader", cases);
}
