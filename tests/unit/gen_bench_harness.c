/* gen_bench_harness.c - see gen_bench_harness.h. */
#include "gen_bench_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "params.h"
#include "tb_test.h"
#include "util.h"

static const tb_plugin_descriptor *find(tb_plugin_kind kind, const char *name)
{
    static tb_registry *reg; /* the plugins never change during a test run */
    if (!reg) {
        reg = tb_registry_new();
        char *root = tb_test_build_path("plugins");
        tb_registry_scan_root(reg, root, "plugins");
        free(root);
        root = tb_test_build_path("tests/plugins");
        tb_registry_scan_root(reg, root, "tests");
        free(root);
    }
    const tb_plugin_entry *e = tb_registry_find(reg, kind, name);
    if (!e || !e->desc) {
        fprintf(stderr, "plugin %s is not built\n", name);
        exit(99);
    }
    return e->desc;
}

/* A config from "name=value" settings plus the defaults; exits on a bad
 * setting (a bug in the test). */
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

tb_status gb_open(gb_run *r, const char *dir, const char *name,
                  const char *const *backend_settings, size_t n_backend,
                  const char *const *settings, size_t n, tb_error *err)
{
    memset(r, 0, sizeof *r);
    r->backend = find(TB_KIND_BACKEND, "scripted");
    r->bench = find(TB_KIND_BENCHMARK, name);
    r->backend_config = config_of(r->backend, backend_settings, n_backend, dir);
    r->bench_config = config_of(r->bench, settings, n, dir);
    tb_mock_init(&r->host, name);
    tb_status st = r->backend->create(tb_mock_api(), &r->host, r->backend_config,
                                      &r->backend_self, err);
    if (st != TB_OK) {
        fprintf(stderr, "scripted: %s\n", err->message);
        exit(99);
    }
    r->model = tb_test_write_file(dir, "model-a.bin", "weights\n");
    tb_backend_open_args args = {sizeof args, "m", r->model, NULL};
    st = r->backend->ops.backend->open(r->backend_self, &args, &r->session, err);
    if (st != TB_OK) {
        fprintf(stderr, "scripted: %s\n", err->message);
        exit(99);
    }
    r->host.backend = r->backend->ops.backend;
    r->host.session = r->session;
    r->host.backend_self = r->backend_self;
    return r->bench->create(tb_mock_api(), &r->host, r->bench_config, &r->instance, err);
}

tb_status gb_run_bench(gb_run *r, tb_error *err)
{
    return r->bench->ops.benchmark->run(r->instance, err);
}

void gb_close(gb_run *r)
{
    if (r->bench)
        r->bench->destroy(r->instance);
    if (r->backend) {
        r->backend->ops.backend->close(r->backend_self, r->session);
        r->backend->destroy(r->backend_self);
    }
    tb_config_free(r->bench_config);
    tb_config_free(r->backend_config);
    tb_mock_free(&r->host);
    free(r->model);
    memset(r, 0, sizeof *r);
}

static int matches(const tb_mock_item *it, const char *metric, const char *group)
{
    return strcmp(it->metric, metric) == 0 && (!group || tb_str_eq(it->group, group));
}

double gb_item_mean(const tb_host *h, const char *metric, const char *group)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < h->n_items; i++)
        if (matches(&h->items[i], metric, group)) {
            sum += h->items[i].score;
            n++;
        }
    return n ? sum / (double)n : NAN;
}

size_t gb_item_count(const tb_host *h, const char *metric, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_items; i++)
        n += matches(&h->items[i], metric, group);
    return n;
}

void gb_expect_item_ids(const tb_host *h, const char *metric, const char *want)
{
    char *s = tb_xstrdup("");
    for (size_t i = 0; i < h->n_items; i++)
        if (matches(&h->items[i], metric, NULL)) {
            char *t = tb_xasprintf("%s%s%s", s, *s ? " " : "", h->items[i].id);
            free(s);
            s = t;
        }
    CU_ASSERT_STRING_EQUAL(s, want);
    free(s);
}

tb_status gb_run_data(gb_run *r, const char *dir, const char *name, const char *data,
                      const char *const *extra, size_t n_extra, uint64_t limit, tb_error *err)
{
    const char **settings = malloc((n_extra + 1) * sizeof *settings);
    char *setting = tb_xasprintf("data=%s", data);
    char *tmp = dir ? NULL : tb_xstrdup(tb_test_tmpdir());
    settings[0] = setting;
    for (size_t i = 0; i < n_extra; i++)
        settings[i + 1] = extra[i];
    tb_status st = gb_open(r, dir ? dir : tmp, name, NULL, 0, settings, n_extra + 1, err);
    r->host.limit = limit;
    if (st == TB_OK)
        st = gb_run_bench(r, err);
    free(tmp);
    free(setting);
    free(settings);
    return st;
}

tb_status gb_run_status(const char *dir, const char *name, const char *data,
                        const char *const *extra, size_t n_extra, tb_error *err)
{
    gb_run r;
    tb_status st = gb_run_data(&r, dir, name, data, extra, n_extra, 0, err);
    gb_close(&r);
    return st;
}

const tb_mock_metric *gb_metric(const tb_host *h, const char *name)
{
    const tb_mock_metric *m = tb_mock_find_metric(h, name);
    if (!m)
        fprintf(stderr, "no metric %s\n", name);
    CU_ASSERT_PTR_NOT_NULL(m);
    return m;
}

char *gb_shared_dir(const char *rel, const char *absent)
{
    char *dir = tb_test_shared_path(rel);
    if (!dir || !tb_path_is_dir(dir)) {
        tb_test_skip(absent);
        free(dir);
        return NULL;
    }
    return dir;
}
