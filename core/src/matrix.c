/* matrix.c - matrix YAML: schema validation, sweeps, variants, cells, keys. */
#include "host.h"
#include "matrix.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "util.h"
#include "yaml_tree.h"

/* ------------------------------------------------------------------ */
/* Schema tables for the parts of a matrix that are not plugins.       */
/* ------------------------------------------------------------------ */

static const char *const top_keys[] = {
    "name", "seed", "db", "timeout", "limit", "plugin_path",
    "backend", "models", "calibration", "compressions", "benchmarks"};

static const tb_param p_name = {"name", TB_PARAM_STRING, "", 0, 0, NULL,
                                "name of the study", 0};
static const tb_param p_seed = {"seed", TB_PARAM_INT, "1234", 0, 0, NULL,
                                "seed of every random choice", TB_PARAM_HAS_MIN};
static const tb_param p_db = {"db", TB_PARAM_STRING, "", 0, 0, NULL,
                              "results database", 0};
static const tb_param p_timeout = {"timeout", TB_PARAM_FLOAT, "0", 0, 0, NULL,
                                   "seconds per cell; 0: none", TB_PARAM_HAS_MIN};
static const tb_param p_limit = {"limit", TB_PARAM_INT, "0", 0, 0, NULL,
                                 "items per benchmark; 0: all", TB_PARAM_HAS_MIN};
static const tb_param p_plugin_dir = {"plugin_path", TB_PARAM_PATH, NULL, 0, 0,
                                      NULL, "plugin root folder", 0};

static const tb_param model_table[] = {
    {"id", TB_PARAM_STRING, "", 0, 0, NULL,
     "short name; default: the file name without extension", 0},
    {"path", TB_PARAM_PATH, NULL, 0, 0, NULL,
     "model file or folder (GGUF, Hugging Face folder, llama2.c checkpoint)", 0},
    {"tokenizer", TB_PARAM_PATH, "", 0, 0, NULL,
     "llama2.c: its tokenizer.bin, when not beside the checkpoint", TB_PARAM_OPTIONAL},
    {"chat_template", TB_PARAM_ENUM, "auto", 0, 0,
     "auto|none|llama-2|llama-3|chatml|zephyr|vicuna",
     "chat template; auto: from the model's metadata", 0},
};

static const tb_param calibration_table[] = {
    {"data", TB_PARAM_PATH, NULL, 0, 0, NULL,
     "calibration text: plain text or JSONL", 0},
    {"samples", TB_PARAM_INT, "128", 1, 1e6, NULL, "token windows",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"seq_len", TB_PARAM_INT, "2048", 1, 1e6, NULL, "tokens per window",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX},
    {"sampling", TB_PARAM_ENUM, "random", 0, 0, "random|sequential",
     "random windows drawn with the seed, or the first consecutive ones", 0},
    {"field", TB_PARAM_STRING, "text", 0, 0, NULL, "JSONL field holding the text",
     0},
    {"template", TB_PARAM_ENUM, "none", 0, 0, "none|chat",
     "wrap each sample in the model's chat template", 0},
};

static const char *const compression_reserved[] = {"plugin", "id"};
static const char *const benchmark_reserved[] = {"plugin", "id", "limit",
                                                 "timeout"};
static const char *const backend_reserved[] = {"plugin"};

/* ------------------------------------------------------------------ */
/* Context and diagnostics                                             */
/* ------------------------------------------------------------------ */

typedef struct ctx {
    const char *file;
    const char *dir;
    tb_diag *diag;
    tb_registry *reg;
} ctx;

static void err_at(ctx *c, const tb_yaml_node *n, const char *fmt, ...)
    TB_PRINTF(3, 4);
static void err_at(ctx *c, const tb_yaml_node *n, const char *fmt, ...)
{
    tb_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    tb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    tb_diag_add(c->diag, c->file, n ? n->line : 0, n ? n->col : 0, "%s",
                tb_buf_str(&b));
    tb_buf_free(&b);
}

/* " (did you mean 'x'?)" or "" */
static char *suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = tb_closest(word, cands, n);
    return best ? tb_xasprintf(" (did you mean '%s'?)", best) : tb_xstrdup("");
}

/* ------------------------------------------------------------------ */
/* Parameter values                                                    */
/* ------------------------------------------------------------------ */

static void value_copy(tb_param_value *dst, const tb_param_value *src)
{
    *dst = *src;
    dst->text = tb_xstrdup(src->text);
    dst->s = tb_xstrdup(src->s);
    dst->list = NULL;
    if (src->n_list) {
        dst->list = tb_xcalloc(src->n_list, sizeof *dst->list);
        for (size_t i = 0; i < src->n_list; i++)
            dst->list[i] = tb_xstrdup(src->list[i]);
    }
}

/* Expands ${NAME} in a path value from the environment, so a shared
 * matrix names its models by variables each user sets (doc/matrix.md,
 * "Paths").  Returns the malloc'd text, or NULL after reporting an unset
 * or malformed variable. */
static char *expand_env(ctx *c, const tb_yaml_node *n, const char *decl_name)
{
    tb_buf b = {0};
    for (const char *p = n->value; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            tb_buf_putc(&b, *p++);
            continue;
        }
        const char *end = strchr(p + 2, '}');
        size_t len = end ? (size_t)(end - p - 2) : 0;
        int ok = len > 0 && !isdigit((unsigned char)p[2]);
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum((unsigned char)p[2 + i]) || p[2 + i] == '_';
        char *name = ok ? tb_xstrndup(p + 2, len) : NULL;
        const char *v = name ? getenv(name) : NULL;
        if (!ok)
            err_at(c, n, "%s: '${' must start a variable ${NAME} (letters, digits, _)",
                   decl_name);
        else if (!v || !*v)
            err_at(c, n, "%s: environment variable %s is not set", decl_name, name);
        free(name);
        if (!v || !*v) {
            tb_buf_free(&b);
            return NULL;
        }
        tb_buf_puts(&b, v);
        p = end + 1;
    }
    return tb_buf_steal(&b);
}

/* Parses one YAML value node for decl.  Returns 0 or -1 (reported). */
static int parse_value(ctx *c, const tb_param *decl, const tb_yaml_node *n,
                       tb_param_value *out)
{
    char why[512];
    memset(out, 0, sizeof *out);
    if (decl->type == TB_PARAM_STRING_LIST) {
        if (n->kind != TB_YAML_SEQ) {
            err_at(c, n, "'%s' takes a list of strings, got %s", decl->name,
                   tb_yaml_kind_name(n));
            return -1;
        }
        const char **items = tb_xcalloc(n->n ? n->n : 1, sizeof *items);
        for (size_t i = 0; i < n->n; i++) {
            if (n->items[i]->kind != TB_YAML_SCALAR) {
                err_at(c, n->items[i], "'%s' takes a list of strings; this item is %s",
                       decl->name, tb_yaml_kind_name(n->items[i]));
                free(items);
                return -1;
            }
            items[i] = n->items[i]->value;
        }
        int rc = tb_param_parse_list(decl, items, n->n, out, why, sizeof why);
        free(items);
        if (rc != 0) {
            err_at(c, n, "%s: %s", decl->name, why);
            return -1;
        }
        return 0;
    }
    if (n->kind != TB_YAML_SCALAR) {
        err_at(c, n, "'%s' takes a single value, got %s", decl->name,
               tb_yaml_kind_name(n));
        return -1;
    }
    if (tb_yaml_is_null(n)) {
        if (decl->default_value)
            err_at(c, n, "no value given for '%s' (remove the key to use the default '%s')",
                   decl->name, decl->default_value);
        else
            err_at(c, n, "no value given for '%s'", decl->name);
        return -1;
    }
    char *text = decl->type == TB_PARAM_PATH && strstr(n->value, "${")
                     ? expand_env(c, n, decl->name)
                     : tb_xstrdup(n->value);
    if (!text)
        return -1;
    int rc = tb_param_parse(decl, text, c->dir, out, why, sizeof why);
    free(text);
    if (rc != 0) {
        err_at(c, n, "%s: %s", decl->name, why);
        return -1;
    }
    return 0;
}

/* One parameter of an entry with its values: more than one is a sweep. */
typedef struct axis {
    const tb_param *decl;
    tb_param_value *values;
    size_t n;
} axis;

typedef struct entry {
    const tb_yaml_node *node;
    const tb_plugin_entry *plugin; /* NULL for plugin-less tables */
    axis *axes;
    size_t n_axes;
    const tb_yaml_node *reserved[4]; /* by index into the reserved list */
} entry;

static void entry_free(entry *e)
{
    for (size_t i = 0; i < e->n_axes; i++) {
        for (size_t j = 0; j < e->axes[i].n; j++)
            tb_param_value_free(&e->axes[i].values[j]);
        free(e->axes[i].values);
    }
    free(e->axes);
    memset(e, 0, sizeof *e);
}

static int is_sweep(const tb_param *decl, const tb_yaml_node *v)
{
    if (v->kind != TB_YAML_SEQ)
        return 0;
    if (decl->type != TB_PARAM_STRING_LIST)
        return 1;
    /* For a list parameter, a list of lists is the sweep. */
    return v->n > 0 && v->items[0]->kind == TB_YAML_SEQ;
}

static int parse_axis(ctx *c, const tb_param *decl, const tb_yaml_node *v,
                      int allow_sweeps, axis *out)
{
    out->decl = decl;
    if (!is_sweep(decl, v)) {
        out->values = tb_xcalloc(1, sizeof *out->values);
        if (parse_value(c, decl, v, &out->values[0]) != 0) {
            free(out->values);
            out->values = NULL;
            return -1;
        }
        out->n = 1;
        return 0;
    }
    if (!allow_sweeps) {
        err_at(c, v, "'%s' takes a single value here; a list would be a sweep, "
                     "and this entry cannot be swept", decl->name);
        return -1;
    }
    if (v->n == 0) {
        err_at(c, v, "'%s': an empty list sweeps over nothing", decl->name);
        return -1;
    }
    out->values = tb_xcalloc(v->n, sizeof *out->values);
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        memset(&out->values[out->n], 0, sizeof out->values[out->n]);
        if (parse_value(c, decl, v->items[i], &out->values[out->n]) == 0) {
            for (size_t j = 0; j < out->n; j++)
                if (strcmp(out->values[j].text, out->values[out->n].text) == 0) {
                    err_at(c, v->items[i], "'%s': value '%s' appears twice in the sweep",
                           decl->name, out->values[out->n].text);
                    rc = -1;
                }
            out->n++;
        } else {
            rc = -1;
        }
    }
    if (rc != 0) { /* the caller keeps only valid axes */
        for (size_t j = 0; j < out->n; j++)
            tb_param_value_free(&out->values[j]);
        free(out->values);
        out->values = NULL;
        out->n = 0;
    }
    return rc;
}

static void report_unknown_plugin(ctx *c, const tb_yaml_node *n,
                                  tb_plugin_kind kind, const char *name)
{
    /* A plugin that exists but was refused deserves its reason, not a
     * "did you mean". */
    for (size_t i = 0; i < tb_registry_refused_count(c->reg); i++) {
        const tb_plugin_refusal *r = tb_registry_refused(c->reg, i);
        const char *base = strrchr(r->path, '/');
        base = base ? base + 1 : r->path;
        size_t len = strlen(name);
        if (strncmp(base, name, len) == 0 && strcmp(base + len, ".so") == 0) {
            err_at(c, n, "%s plugin '%s' was found but refused: %s",
                   tb_kind_name(kind), name, r->reason);
            return;
        }
    }
    size_t count = 0;
    const char **names = tb_registry_names(c->reg, kind, &count);
    char *hint = suggest(name, names, count);
    tb_buf avail = {0};
    for (size_t i = 0; i < count; i++)
        tb_buf_printf(&avail, "%s%s", i ? ", " : "", names[i]);
    err_at(c, n, "unknown %s plugin '%s'%s; available: %s", tb_kind_name(kind),
           name, hint, count ? tb_buf_str(&avail) : "none found");
    free(hint);
    free(names);
    tb_buf_free(&avail);
}

static const tb_param *table_find(const tb_param *table, size_t n,
                                  const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Validates a mapping entry against either a plugin's parameter table
 * (kind != 0: the `plugin:` key names it) or a fixed table.  Reports every
 * problem; returns 0 only when the entry is fully valid. */
static int parse_entry(ctx *c, const tb_yaml_node *node, const char *what,
                       tb_plugin_kind kind, const tb_param *table,
                       size_t n_table, const char *const *reserved,
                       size_t n_reserved, int allow_sweeps, entry *out)
{
    memset(out, 0, sizeof *out);
    out->node = node;
    if (node->kind != TB_YAML_MAP) {
        err_at(c, node, "%s must be a mapping like {plugin: NAME, ...}, got %s",
               what, tb_yaml_kind_name(node));
        return -1;
    }
    int rc = 0;
    if (kind) {
        const tb_yaml_node *pn = tb_yaml_map_get(node, "plugin");
        if (!pn) {
            err_at(c, node, "%s has no 'plugin:' key naming the %s to use", what,
                   tb_kind_name(kind));
            return -1;
        }
        if (pn->kind != TB_YAML_SCALAR || tb_yaml_is_null(pn)) {
            err_at(c, pn, "'plugin' must be a plugin name");
            return -1;
        }
        out->plugin = tb_registry_find(c->reg, kind, pn->value);
        if (!out->plugin) {
            report_unknown_plugin(c, pn, kind, pn->value);
            return -1;
        }
    }
    /* Candidate names for did-you-mean: reserved keys + parameters. */
    size_t n_params = out->plugin ? out->plugin->desc->n_params : n_table;
    const char **cands = tb_xcalloc(n_reserved + n_params + 1, sizeof *cands);
    size_t n_cands = 0;
    for (size_t i = 0; i < n_reserved; i++)
        cands[n_cands++] = reserved[i];
    for (size_t i = 0; i < n_params; i++)
        cands[n_cands++] = out->plugin ? tb_param_at(out->plugin->desc, i)->name
                                       : table[i].name;
    out->axes = tb_xcalloc(node->n ? node->n : 1, sizeof *out->axes);
    for (size_t i = 0; i < node->n; i++) {
        const tb_yaml_node *k = tb_yaml_map_key(node, i);
        const tb_yaml_node *v = tb_yaml_map_value(node, i);
        size_t r;
        for (r = 0; r < n_reserved; r++)
            if (strcmp(k->value, reserved[r]) == 0)
                break;
        if (r < n_reserved) {
            out->reserved[r] = v;
            continue;
        }
        const tb_param *decl = out->plugin ? tb_param_find(out->plugin->desc, k->value)
                                           : table_find(table, n_table, k->value);
        if (!decl) {
            char *hint = suggest(k->value, cands, n_cands);
            if (out->plugin)
                err_at(c, k, "%s '%s' has no parameter '%s'%s (see: trustbench plugins show %s)",
                       tb_kind_name(kind), out->plugin->name, k->value, hint,
                       out->plugin->name);
            else
                err_at(c, k, "unknown key '%s' in %s%s", k->value, what, hint);
            free(hint);
            rc = -1;
            continue;
        }
        if (parse_axis(c, decl, v, allow_sweeps, &out->axes[out->n_axes]) == 0)
            out->n_axes++;
        else
            rc = -1;
    }
    free(cands);
    /* Required parameters. */
    for (size_t i = 0; i < n_params; i++) {
        const tb_param *p = out->plugin ? tb_param_at(out->plugin->desc, i) : &table[i];
        if (p->default_value)
            continue;
        int given = 0;
        for (size_t a = 0; a < out->n_axes; a++)
            given |= out->axes[a].decl == p;
        if (!given && !tb_yaml_map_get(node, p->name)) {
            if (out->plugin)
                err_at(c, node, "%s '%s' needs parameter '%s' (%s)", tb_kind_name(kind),
                       out->plugin->name, p->name, p->help ? p->help : "required");
            else
                err_at(c, node, "%s needs '%s' (%s)", what, p->name,
                       p->help ? p->help : "required");
            rc = -1;
        }
    }
    return rc;
}

/* The canonical JSON of a config, leaving out volatile parameters. */
static int cmp_values(const void *a, const void *b)
{
    const tb_param_value *const *x = a, *const *y = b;
    return strcmp((*x)->decl->name, (*y)->decl->name);
}

static char *params_json(const tb_config *cfg)
{
    const tb_param_value **v = tb_xcalloc(cfg->n ? cfg->n : 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < cfg->n; i++)
        if (!(cfg->values[i].decl->flags & TB_PARAM_VOLATILE))
            v[n++] = &cfg->values[i];
    qsort(v, n, sizeof *v, cmp_values);
    tb_buf b = {0};
    tb_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            tb_buf_putc(&b, ',');
        tb_buf_json_string(&b, v[i]->decl->name);
        tb_buf_putc(&b, ':');
        tb_buf_json_string(&b, v[i]->text);
    }
    tb_buf_putc(&b, '}');
    free(v);
    return tb_buf_steal(&b);
}

/* Number of configurations an entry expands to. */
static size_t entry_points(const entry *e)
{
    size_t n = 1;
    for (size_t i = 0; i < e->n_axes; i++)
        n *= e->axes[i].n;
    return n;
}

/* The point-th configuration (mixed radix over the axes, first axis
 * slowest, so sweeps enumerate in the order they are written). */
static tb_config *entry_config(ctx *c, const entry *e, size_t point,
                               const tb_plugin_descriptor *desc,
                               const tb_param *table, size_t n_table,
                               char **label)
{
    tb_config *cfg = tb_config_new();
    tb_buf lb = {0};
    if (e->plugin)
        tb_buf_puts(&lb, e->plugin->name);
    size_t rest = point;
    size_t *idx = tb_xcalloc(e->n_axes ? e->n_axes : 1, sizeof *idx);
    for (size_t i = e->n_axes; i-- > 0;) {
        idx[i] = rest % e->axes[i].n;
        rest /= e->axes[i].n;
    }
    for (size_t i = 0; i < e->n_axes; i++) {
        tb_param_value v;
        value_copy(&v, &e->axes[i].values[idx[i]]);
        if (!(v.decl->flags & TB_PARAM_VOLATILE))
            tb_buf_printf(&lb, "%s%s=%s", lb.len ? " " : "", v.decl->name, v.text);
        tb_config_set(cfg, &v);
    }
    free(idx);
    char why[512];
    int rc;
    if (desc) {
        rc = tb_config_fill_defaults(cfg, desc, c->dir, why, sizeof why);
    } else {
        /* Plugin-less tables: fill defaults from the static table. */
        rc = 0;
        for (size_t i = 0; i < n_table && rc == 0; i++) {
            if (tb_config_get(cfg, table[i].name) || !table[i].default_value)
                continue;
            tb_param_value v;
            memset(&v, 0, sizeof v);
            rc = tb_param_parse(&table[i], table[i].default_value, c->dir, &v,
                                why, sizeof why);
            if (rc == 0)
                tb_config_set(cfg, &v);
        }
    }
    if (rc != 0)
        err_at(c, e->node, "%s", why);
    if (label)
        *label = tb_buf_steal(&lb);
    else
        tb_buf_free(&lb);
    return cfg;
}

static void use_init(ctx *c, tb_plugin_use *u, const entry *e, size_t point)
{
    u->plugin = e->plugin;
    u->config = entry_config(c, e, point, e->plugin->desc, NULL, 0, &u->label);
    u->params_json = params_json(u->config);
    u->line = e->node ? e->node->line : 0;
    u->col = e->node ? e->node->col : 0;
}

static void use_free(tb_plugin_use *u)
{
    tb_config_free(u->config);
    free(u->params_json);
    free(u->label);
    memset(u, 0, sizeof *u);
}

/* ------------------------------------------------------------------ */
/* Top-level settings                                                  */
/* ------------------------------------------------------------------ */

static int scalar_setting(ctx *c, const tb_yaml_node *root, const tb_param *decl,
                          tb_param_value *out)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, decl->name);
    char why[512];
    memset(out, 0, sizeof *out);
    if (!n)
        return tb_param_parse(decl, decl->default_value, c->dir, out, why,
                              sizeof why);
    return parse_value(c, decl, n, out);
}

static void check_top_keys(ctx *c, const tb_yaml_node *root)
{
    for (size_t i = 0; i < root->n; i++) {
        const tb_yaml_node *k = tb_yaml_map_key(root, i);
        int known = 0;
        for (size_t j = 0; j < TB_ARRAY_LEN(top_keys); j++)
            known |= strcmp(k->value, top_keys[j]) == 0;
        if (!known) {
            char *hint = suggest(k->value, top_keys, TB_ARRAY_LEN(top_keys));
            err_at(c, k, "unknown key '%s'%s; a matrix has: name, seed, db, timeout, "
                         "limit, plugin_path, backend, models, calibration, "
                         "compressions, benchmarks", k->value, hint);
            free(hint);
        }
    }
}

static char *basename_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *dot = memchr(base, '.', n);
    if (dot && dot != base)
        n = (size_t)(dot - base);
    return tb_xstrndup(base, n);
}

static void load_settings(ctx *c, const tb_yaml_node *root, tb_matrix *m)
{
    tb_param_value v;
    if (scalar_setting(c, root, &p_name, &v) == 0) {
        m->name = v.s && *v.s ? tb_xstrdup(v.s) : basename_stem(m->path);
        tb_param_value_free(&v);
    }
    if (!m->name)
        m->name = basename_stem(m->path);
    if (scalar_setting(c, root, &p_seed, &v) == 0)
        m->seed = (uint64_t)v.i;
    tb_param_value_free(&v);
    if (scalar_setting(c, root, &p_timeout, &v) == 0)
        m->timeout = v.f;
    tb_param_value_free(&v);
    if (scalar_setting(c, root, &p_limit, &v) == 0)
        m->limit = (uint64_t)v.i;
    tb_param_value_free(&v);
    if (scalar_setting(c, root, &p_db, &v) == 0) {
        if (v.s && *v.s) {
            m->db_path = tb_path_resolve(c->dir, v.s);
        } else {
            char *rel = tb_xasprintf("results/%s.db", m->name);
            m->db_path = tb_path_resolve(c->dir, rel);
            free(rel);
        }
    }
    tb_param_value_free(&v);
    if (!m->db_path)
        m->db_path = tb_path_resolve(c->dir, "results/trustbench.db");
}

static void load_plugin_path(ctx *c, const tb_yaml_node *root, tb_matrix *m)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, "plugin_path");
    if (!n)
        return;
    const tb_yaml_node *single[1] = {n};
    const tb_yaml_node *const *items = single;
    size_t count = 1;
    if (n->kind == TB_YAML_SEQ) {
        items = (const tb_yaml_node *const *)n->items;
        count = n->n;
    }
    m->plugin_path = tb_xcalloc(count ? count : 1, sizeof *m->plugin_path);
    for (size_t i = 0; i < count; i++) {
        tb_param_value v;
        if (parse_value(c, &p_plugin_dir, items[i], &v) != 0)
            continue;
        if (!tb_path_is_dir(v.s))
            err_at(c, items[i], "plugin_path: not a folder: %s", v.s);
        else
            m->plugin_path[m->n_plugin_path++] = tb_xstrdup(v.s);
        tb_param_value_free(&v);
    }
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

static void load_backend(ctx *c, const tb_yaml_node *root, tb_matrix *m)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, "backend");
    entry e;
    if (!n) {
        memset(&e, 0, sizeof e);
        e.plugin = tb_registry_find(c->reg, TB_KIND_BACKEND, "native");
        if (!e.plugin) {
            tb_diag_add(c->diag, c->file, 0, 0,
                        "no 'backend:' given and the default backend 'native' "
                        "is not installed; add e.g. backend: {plugin: NAME}");
            return;
        }
        use_init(c, &m->backend, &e, 0);
        return;
    }
    if (parse_entry(c, n, "backend", TB_KIND_BACKEND, NULL, 0, backend_reserved,
                    TB_ARRAY_LEN(backend_reserved), 0, &e) == 0)
        use_init(c, &m->backend, &e, 0);
    entry_free(&e);
}

static int valid_id(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return 1;
}

static void load_models(ctx *c, const tb_yaml_node *root, tb_matrix *m)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, "models");
    if (!n) {
        tb_diag_add(c->diag, c->file, 1, 1,
                    "no 'models:' list; add e.g. models: [{id: tiny, path: model.gguf}]");
        return;
    }
    if (n->kind != TB_YAML_SEQ || n->n == 0) {
        err_at(c, n, "'models' must be a non-empty list of {id, path} entries");
        return;
    }
    m->models = tb_xcalloc(n->n, sizeof *m->models);
    for (size_t i = 0; i < n->n; i++) {
        char what[64];
        snprintf(what, sizeof what, "models[%zu]", i);
        entry e;
        if (parse_entry(c, n->items[i], what, 0, model_table,
                        TB_ARRAY_LEN(model_table), NULL, 0, 0, &e) != 0) {
            entry_free(&e);
            continue;
        }
        tb_config *cfg = entry_config(c, &e, 0, NULL, model_table,
                                      TB_ARRAY_LEN(model_table), NULL);
        const tb_param_value *id = tb_config_get(cfg, "id");
        const tb_param_value *path = tb_config_get(cfg, "path");
        const tb_param_value *tok = tb_config_get(cfg, "tokenizer");
        const tb_param_value *chat = tb_config_get(cfg, "chat_template");
        tb_model_spec *ms = &m->models[m->n_models];
        ms->path = tb_xstrdup(path->s);
        ms->path_written = tb_xstrdup(path->text);
        ms->tokenizer = tok && tok->s && *tok->s ? tb_xstrdup(tok->s) : NULL;
        ms->tokenizer_written = tok && tok->s && *tok->s ? tb_xstrdup(tok->text) : NULL;
        ms->chat_template = chat && strcmp(chat->s, "auto") ? tb_xstrdup(chat->s) : NULL;
        ms->id = id->s && *id->s ? tb_xstrdup(id->s) : basename_stem(path->text);
        ms->line = n->items[i]->line;
        ms->col = n->items[i]->col;
        tb_config_free(cfg);
        entry_free(&e);
        const tb_yaml_node *at = tb_yaml_map_get(n->items[i], "id");
        if (!valid_id(ms->id)) {
            err_at(c, at ? at : n->items[i],
                   "model id '%s' may hold only letters, digits, '_', '.' and '-'",
                   ms->id);
        }
        for (size_t j = 0; j < m->n_models; j++)
            if (strcmp(m->models[j].id, ms->id) == 0)
                err_at(c, at ? at : n->items[i],
                       "duplicate model id '%s' (first at line %d)%s", ms->id,
                       m->models[j].line,
                       at ? "" : "; ids default to the file name, give each an 'id:'");
        m->n_models++;
    }
}

static void load_calibration(ctx *c, const tb_yaml_node *root, tb_matrix *m)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, "calibration");
    if (!n)
        return;
    entry e;
    if (parse_entry(c, n, "calibration", 0, calibration_table,
                    TB_ARRAY_LEN(calibration_table), NULL, 0, 0, &e) == 0) {
        m->calibration.present = 1;
        m->calibration.config = entry_config(c, &e, 0, NULL, calibration_table,
                                             TB_ARRAY_LEN(calibration_table), NULL);
        m->calibration.params_json = params_json(m->calibration.config);
    }
    entry_free(&e);
}

/* Reads the optional `id:` of an entry; checks uniqueness among ids. */
static char *entry_id(ctx *c, const entry *e, size_t r_index, char **seen,
                      const int *seen_line, size_t n_seen)
{
    const tb_yaml_node *n = e->reserved[r_index];
    if (!n)
        return NULL;
    if (n->kind != TB_YAML_SCALAR || !valid_id(n->value)) {
        err_at(c, n, "'id' must be a name of letters, digits, '_', '.' and '-'");
        return NULL;
    }
    for (size_t i = 0; i < n_seen; i++)
        if (seen[i] && strcmp(seen[i], n->value) == 0)
            err_at(c, n, "duplicate id '%s' (first at line %d)", n->value,
                   seen_line[i]);
    return tb_xstrdup(n->value);
}

static void add_variants(ctx *c, tb_matrix *m, const entry *e, const char *id)
{
    size_t points = entry_points(e);
    for (size_t mi = 0; mi < m->n_models; mi++) {
        for (size_t p = 0; p < points; p++) {
            tb_variant *v = &m->variants[m->n_variants++];
            memset(v, 0, sizeof *v);
            v->model = mi;
            use_init(c, &v->compressor, e, p);
            if (id) {
                /* Keep the user's name, plus the swept values. */
                const char *rest = strchr(v->compressor.label, ' ');
                char *l = tb_xasprintf("%s%s", id, rest ? rest : "");
                free(v->compressor.label);
                v->compressor.label = l;
            }
            v->label = tb_xasprintf("%s: %s", m->models[mi].id, v->compressor.label);
            v->is_baseline =
                (e->plugin->desc->ops.compressor->flags & TB_COMPRESS_IDENTITY) != 0;
            v->baseline = -1;
        }
    }
}

static void load_compressions(ctx *c, const tb_yaml_node *root, tb_matrix *m)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, "compressions");
    if (!n) {
        entry e;
        memset(&e, 0, sizeof e);
        e.plugin = tb_registry_find(c->reg, TB_KIND_COMPRESSOR, "none");
        if (!e.plugin) {
            tb_diag_add(c->diag, c->file, 0, 0,
                        "no 'compressions:' given and the compressor 'none' is "
                        "not installed");
            return;
        }
        m->variants = tb_xcalloc(m->n_models ? m->n_models : 1, sizeof *m->variants);
        add_variants(c, m, &e, NULL);
        return;
    }
    if (n->kind != TB_YAML_SEQ || n->n == 0) {
        err_at(c, n, "'compressions' must be a non-empty list of {plugin: NAME, ...} entries");
        return;
    }
    entry *entries = tb_xcalloc(n->n, sizeof *entries);
    char **ids = tb_xcalloc(n->n, sizeof *ids);
    int *id_lines = tb_xcalloc(n->n, sizeof *id_lines);
    int *ok = tb_xcalloc(n->n, sizeof *ok);
    size_t total = 0;
    for (size_t i = 0; i < n->n; i++) {
        char what[64];
        snprintf(what, sizeof what, "compressions[%zu]", i);
        ok[i] = parse_entry(c, n->items[i], what, TB_KIND_COMPRESSOR, NULL, 0,
                            compression_reserved,
                            TB_ARRAY_LEN(compression_reserved), 1, &entries[i]) == 0;
        ids[i] = entry_id(c, &entries[i], 1, ids, id_lines, i);
        id_lines[i] = entries[i].reserved[1] ? entries[i].reserved[1]->line : 0;
        if (ok[i]) {
            uint32_t flags = entries[i].plugin->desc->ops.compressor->flags;
            if ((flags & TB_COMPRESS_CALIBRATED) && !m->calibration.present) {
                err_at(c, n->items[i],
                       "compressor '%s' needs calibration data; add a 'calibration:' "
                       "section (data, samples, seq_len)", entries[i].plugin->name);
                ok[i] = 0;
            } else if ((flags & TB_COMPRESS_CALIBRATED) && m->backend.plugin &&
                       !(m->backend.plugin->desc->ops.backend->caps & TB_CAP_CAPTURE)) {
                err_at(c, n->items[i],
                       "compressor '%s' calibrates layer by layer, which backend '%s' "
                       "cannot (it lacks calibration capture); use the native backend",
                       entries[i].plugin->name, m->backend.plugin->name);
                ok[i] = 0;
            }
            total += entry_points(&entries[i]) * m->n_models;
        }
    }
    m->variants = tb_xcalloc(total ? total : 1, sizeof *m->variants);
    for (size_t i = 0; i < n->n; i++) {
        if (ok[i])
            add_variants(c, m, &entries[i], ids[i]);
        entry_free(&entries[i]);
        free(ids[i]);
    }
    free(entries);
    free(ids);
    free(id_lines);
    free(ok);
}

static int parse_reserved_number(ctx *c, const tb_yaml_node *n,
                                 const tb_param *decl, tb_param_value *out)
{
    if (!n)
        return 1;
    return parse_value(c, decl, n, out) == 0 ? 0 : -1;
}

static void load_benchmarks(ctx *c, const tb_yaml_node *root, tb_matrix *m,
                            const tb_matrix_overrides *ov)
{
    const tb_yaml_node *n = tb_yaml_map_get(root, "benchmarks");
    if (!n) {
        tb_diag_add(c->diag, c->file, 1, 1,
                    "no 'benchmarks:' list; add e.g. benchmarks: [{plugin: perplexity, data: text.txt}]");
        return;
    }
    if (n->kind != TB_YAML_SEQ || n->n == 0) {
        err_at(c, n, "'benchmarks' must be a non-empty list of {plugin: NAME, ...} entries");
        return;
    }
    entry *entries = tb_xcalloc(n->n, sizeof *entries);
    char **ids = tb_xcalloc(n->n, sizeof *ids);
    int *id_lines = tb_xcalloc(n->n, sizeof *id_lines);
    size_t total = 0;
    int *ok = tb_xcalloc(n->n, sizeof *ok);
    uint32_t caps = m->backend.plugin ? m->backend.plugin->desc->ops.backend->caps : ~0u;
    for (size_t i = 0; i < n->n; i++) {
        char what[64];
        snprintf(what, sizeof what, "benchmarks[%zu]", i);
        ok[i] = parse_entry(c, n->items[i], what, TB_KIND_BENCHMARK, NULL, 0,
                            benchmark_reserved, TB_ARRAY_LEN(benchmark_reserved),
                            1, &entries[i]) == 0;
        ids[i] = entry_id(c, &entries[i], 1, ids, id_lines, i);
        id_lines[i] = entries[i].reserved[1] ? entries[i].reserved[1]->line : 0;
        if (!ok[i])
            continue;
        uint32_t missing = entries[i].plugin->desc->ops.benchmark->needs & ~caps;
        for (uint32_t bit = 1; missing && bit; bit <<= 1)
            if ((missing & bit) && tb_cap_name(bit)) {
                err_at(c, n->items[i], "benchmark '%s' needs %s, which backend '%s' does not offer",
                       entries[i].plugin->name, tb_cap_name(bit), m->backend.plugin->name);
                ok[i] = 0;
            }
        total += entry_points(&entries[i]);
    }
    m->benchmarks = tb_xcalloc(total ? total : 1, sizeof *m->benchmarks);
    for (size_t i = 0; i < n->n; i++) {
        tb_param_value lim, tmo;
        memset(&lim, 0, sizeof lim);
        memset(&tmo, 0, sizeof tmo);
        const tb_param lim_decl = {"limit", TB_PARAM_INT, "0", 0, 0, NULL, "", TB_PARAM_HAS_MIN};
        const tb_param tmo_decl = {"timeout", TB_PARAM_FLOAT, "0", 0, 0, NULL, "", TB_PARAM_HAS_MIN};
        int has_lim = parse_reserved_number(c, entries[i].reserved[2], &lim_decl, &lim);
        int has_tmo = parse_reserved_number(c, entries[i].reserved[3], &tmo_decl, &tmo);
        if (ok[i] && has_lim >= 0 && has_tmo >= 0) {
            size_t points = entry_points(&entries[i]);
            for (size_t p = 0; p < points; p++) {
                tb_benchmark_spec *b = &m->benchmarks[m->n_benchmarks++];
                use_init(c, &b->use, &entries[i], p);
                if (ids[i]) {
                    const char *rest = strchr(b->use.label, ' ');
                    char *l = tb_xasprintf("%s%s", ids[i], rest ? rest : "");
                    free(b->use.label);
                    b->use.label = l;
                }
                b->id = tb_xstrdup(ids[i] ? ids[i] : entries[i].plugin->name);
                b->limit = has_lim == 0 ? (uint64_t)lim.i : m->limit;
                if (ov && ov->has_limit)
                    b->limit = ov->limit;
                b->timeout = has_tmo == 0 ? tmo.f : m->timeout;
            }
        }
        tb_param_value_free(&lim);
        tb_param_value_free(&tmo);
        entry_free(&entries[i]);
        free(ids[i]);
    }
    free(entries);
    free(ids);
    free(id_lines);
    free(ok);
}

/* ------------------------------------------------------------------ */
/* Keys and expansion                                                  */
/* ------------------------------------------------------------------ */

static void key_of(const char *text, char out[TB_KEY_HEX + 1])
{
    tb_sha256_hex(text, strlen(text), TB_KEY_HEX / 2, out);
}

static void compute_variant_keys(tb_matrix *m)
{
    for (size_t i = 0; i < m->n_variants; i++) {
        tb_variant *v = &m->variants[i];
        const tb_model_spec *ms = &m->models[v->model];
        tb_buf b = {0};
        tb_buf_puts(&b, "trustbench-variant-v1\nmodel:");
        tb_buf_json_string(&b, ms->id);
        tb_buf_puts(&b, "\npath:");
        tb_buf_json_string(&b, ms->path_written);
        /* Tokenizer and template overrides change what the model computes;
         * absent, they leave keys as they were. */
        if (ms->tokenizer_written) {
            tb_buf_puts(&b, "\ntokenizer:");
            tb_buf_json_string(&b, ms->tokenizer_written);
        }
        if (ms->chat_template) {
            tb_buf_puts(&b, "\nchat_template:");
            tb_buf_json_string(&b, ms->chat_template);
        }
        tb_buf_printf(&b, "\ncompressor:%s\nparams:%s", v->compressor.plugin->name,
                      v->compressor.params_json);
        if ((v->compressor.plugin->desc->ops.compressor->flags & TB_COMPRESS_CALIBRATED) &&
            m->calibration.present)
            tb_buf_printf(&b, "\ncalibration:%s", m->calibration.params_json);
        key_of(tb_buf_str(&b), v->key);
        tb_buf_free(&b);
    }
    /* Baselines: the first identity variant of the same model. */
    for (size_t i = 0; i < m->n_variants; i++) {
        tb_variant *v = &m->variants[i];
        for (size_t j = 0; j < m->n_variants; j++) {
            if (m->variants[j].is_baseline && m->variants[j].model == v->model) {
                if (j != i && !v->is_baseline)
                    v->baseline = (long)j;
                break;
            }
        }
    }
}

static void compute_cells(ctx *c, tb_matrix *m, const tb_yaml_node *root)
{
    m->cells = tb_xcalloc(m->n_variants * m->n_benchmarks + 1, sizeof *m->cells);
    for (size_t vi = 0; vi < m->n_variants; vi++) {
        for (size_t bi = 0; bi < m->n_benchmarks; bi++) {
            const tb_benchmark_spec *bs = &m->benchmarks[bi];
            tb_buf b = {0};
            tb_buf_printf(&b, "trustbench-cell-v1\nvariant:%s\nbenchmark:%s\nparams:%s"
                              "\nlimit:%llu\nseed:%llu\nbackend:%s\nbackend_params:%s",
                          m->variants[vi].key, bs->use.plugin->name, bs->use.params_json,
                          (unsigned long long)bs->limit, (unsigned long long)m->seed,
                          m->backend.plugin->name, m->backend.params_json);
            tb_cell *cell = &m->cells[m->n_cells];
            cell->variant = vi;
            cell->benchmark = bi;
            key_of(tb_buf_str(&b), cell->key);
            tb_buf_free(&b);
            int dup = 0;
            for (size_t k = 0; k < m->n_cells && !dup; k++) {
                if (strcmp(m->cells[k].key, cell->key) != 0)
                    continue;
                dup = 1;
                const tb_benchmark_spec *other = &m->benchmarks[m->cells[k].benchmark];
                if (m->cells[k].benchmark != bi)
                    tb_diag_add(c->diag, c->file, bs->use.line, bs->use.col,
                                "benchmark '%s' repeats the configuration at line %d: "
                                "the same cell would run twice", bs->use.label,
                                other->use.line);
                else
                    tb_diag_add(c->diag, c->file, m->variants[vi].compressor.line,
                                m->variants[vi].compressor.col,
                                "compression '%s' for model '%s' repeats the one at line %d: "
                                "the same variant would run twice",
                                m->variants[vi].compressor.label,
                                m->models[m->variants[vi].model].id,
                                m->variants[m->cells[k].variant].compressor.line);
            }
            if (!dup)
                m->n_cells++;
        }
    }
    (void)root;
}

uint64_t tb_matrix_shard_of(const char *key, uint64_t n)
{
    uint64_t x = strtoull(key, NULL, 16);
    return n ? x % n : 0;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

static char *absolute_dir_of(const char *path)
{
    char *dir = tb_path_dirname(path);
    if (dir[0] == '/')
        return dir;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) {
        return dir;
    }
    char *abs = tb_path_resolve(cwd, dir);
    free(dir);
    return abs;
}

tb_matrix *tb_matrix_load(const char *path, tb_registry *reg,
                          const tb_matrix_overrides *ov, tb_diag *diag)
{
    size_t before = diag->n;
    tb_yaml_doc *doc = tb_yaml_load(path, diag);
    if (!doc)
        return NULL;
    tb_matrix *m = tb_xcalloc(1, sizeof *m);
    m->path = tb_xstrdup(path);
    m->dir = absolute_dir_of(path);
    m->text = tb_xstrdup(doc->text);
    ctx c = {path, m->dir, diag, reg};
    const tb_yaml_node *root = doc->root;
    if (!root || tb_yaml_is_null(root)) {
        tb_diag_add(diag, path, 1, 1, "the matrix is empty; it needs at least "
                                      "'models:' and 'benchmarks:'");
    } else if (root->kind != TB_YAML_MAP) {
        err_at(&c, root, "a matrix is a mapping of keys (name, models, benchmarks ...), "
                         "not %s", tb_yaml_kind_name(root));
    } else {
        check_top_keys(&c, root);
        load_settings(&c, root, m);
        load_plugin_path(&c, root, m);
        tb_registry_scan_default(reg, (const char *const *)m->plugin_path,
                                 m->n_plugin_path);
        load_backend(&c, root, m);
        load_models(&c, root, m);
        load_calibration(&c, root, m);
        load_compressions(&c, root, m);
        load_benchmarks(&c, root, m, ov);
        if (diag->n == before && m->backend.plugin) {
            compute_variant_keys(m);
            compute_cells(&c, m, root);
        }
    }
    tb_yaml_free(doc);
    if (diag->n != before) {
        tb_matrix_free(m);
        return NULL;
    }
    return m;
}

void tb_matrix_free(tb_matrix *m)
{
    if (!m)
        return;
    free(m->path);
    free(m->dir);
    free(m->text);
    free(m->name);
    free(m->db_path);
    for (size_t i = 0; i < m->n_plugin_path; i++)
        free(m->plugin_path[i]);
    free(m->plugin_path);
    use_free(&m->backend);
    for (size_t i = 0; i < m->n_models; i++) {
        free(m->models[i].id);
        free(m->models[i].path);
        free(m->models[i].path_written);
        free(m->models[i].tokenizer);
        free(m->models[i].tokenizer_written);
        free(m->models[i].chat_template);
    }
    free(m->models);
    tb_config_free(m->calibration.config);
    free(m->calibration.params_json);
    for (size_t i = 0; i < m->n_variants; i++) {
        use_free(&m->variants[i].compressor);
        free(m->variants[i].label);
    }
    free(m->variants);
    for (size_t i = 0; i < m->n_benchmarks; i++) {
        use_free(&m->benchmarks[i].use);
        free(m->benchmarks[i].id);
    }
    free(m->benchmarks);
    free(m->cells);
    free(m);
}
