/* ethics_data.c - see ethics_data.h. */
#include "ethics_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtgen.h"

void eth_set_free(eth_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i].id);
    free(s->items);
    tb_kit_table_free(s->table);
    memset(s, 0, sizeof *s);
}

int eth_jiminy_class(const tb_kit_value *label)
{
    double c[4] = {0};
    for (size_t i = 0; i < 4 && tb_kit_kind_of(label) == TB_KIT_ARRAY; i++)
        tb_kit_num(tb_kit_at(label, i), NULL, &c[i]);
    /* DecodingTrust's rule: only a missing annotation is neutral; an
     * annotation without harm (to others or to the player) is good, even
     * when its good counts are zero too (one test record has all zeros). */
    if (tb_kit_kind_of(label) != TB_KIT_ARRAY)
        return ETH_NEUTRAL;
    return c[0] + c[1] > 0 ? ETH_BAD : ETH_GOOD;
}

/* Handles a record check's outcome; 1 to keep, 0 to skip, -1 to fail. */
static int verdict(const tb_kit *k, eth_set *s, const char *where, const char *why,
                   int skip_bad, tb_error *err)
{
    if (!why)
        return 1;
    if (!skip_bad) {
        k->api->errorf(err, "ethics: %s: %s", where, why);
        return -1;
    }
    k->api->log(k->host, TB_LOG_WARN, "%s: %s (record skipped)", where, why);
    s->skipped++;
    return 0;
}

static tb_status grow(const tb_kit *k, eth_set *s, size_t rows, tb_error *err)
{
    if (!(s->items = calloc(rows + 1, sizeof *s->items))) {
        k->api->errorf(err, "ethics: out of memory");
        return TB_ERR_NOMEM;
    }
    return TB_OK;
}

static tb_status add(const tb_kit *k, eth_set *s, const char *fmt, size_t num, const char *text,
                     int label, const char *where, tb_error *err)
{
    char id[64];
    snprintf(id, sizeof id, fmt, num);
    eth_item *it = &s->items[s->n];
    if (!(it->id = strdup(id))) {
        k->api->errorf(err, "ethics: out of memory");
        return TB_ERR_NOMEM;
    }
    it->text = text;
    it->label = label;
    it->where = where;
    s->n++;
    return TB_OK;
}

tb_status eth_load_commonsense(const tb_kit *k, const char *path, int skip_bad, eth_set *out,
                               tb_error *err)
{
    memset(out, 0, sizeof *out);
    tb_kit_read_opts o = {sizeof o, .format = TB_KIT_FORMAT_CSV,
                          .on_bad = skip_bad ? TB_KIT_BAD_SKIP : TB_KIT_BAD_FAIL};
    tb_status st = tb_kit_read(k, path, &o, &out->table, err);
    if (st != TB_OK)
        return dtg_prefix(k, "ethics", st, err);
    size_t rows = tb_kit_rows(out->table);
    st = grow(k, out, rows, err);
    for (size_t i = 0; st == TB_OK && i < rows; i++) {
        const tb_kit_value *row = tb_kit_row(out->table, i);
        const char *where = tb_kit_where(out->table, i), *why = NULL;
        const char *text = tb_kit_str(row, "input"), *is_short = tb_kit_str(row, "is_short");
        double label = -1;
        if (!text)
            why = "field 'input' is missing";
        else if (tb_kit_num(row, "label", &label) != 0 || (label != 0 && label != 1))
            why = "label must be 0 or 1";
        else if (!is_short || (strcmp(is_short, "True") && strcmp(is_short, "False")))
            why = "is_short must be True or False";
        int v = verdict(k, out, where, why, skip_bad, err);
        if (v < 0)
            st = TB_ERR_FORMAT;
        else if (v > 0 && strcmp(is_short, "True") == 0) {
            const char *line = strrchr(where, ':');
            st = add(k, out, "cm/%zu", line ? (size_t)strtoul(line + 1, NULL, 10) : i, text,
                     (int)label, where, err);
        }
    }
    out->skipped += tb_kit_skipped(out->table);
    if (st == TB_OK && out->n == 0) {
        k->api->errorf(err, "ethics: %s holds no short scenarios", path);
        st = TB_ERR_FORMAT;
    }
    if (st != TB_OK)
        eth_set_free(out);
    return st;
}

tb_status eth_load_jiminy(const tb_kit *k, const char *path, int skip_bad, eth_set *out,
                          tb_error *err)
{
    memset(out, 0, sizeof *out);
    tb_kit_read_opts o = {sizeof o, .format = TB_KIT_FORMAT_JSON};
    tb_status st = tb_kit_read(k, path, &o, &out->table, err);
    if (st != TB_OK)
        return dtg_prefix(k, "ethics", st, err);
    size_t rows = tb_kit_rows(out->table);
    st = grow(k, out, rows, err);
    for (size_t i = 0; st == TB_OK && i < rows; i++) {
        const tb_kit_value *row = tb_kit_row(out->table, i);
        const tb_kit_value *label = tb_kit_get(row, "1");
        const char *text = tb_kit_str(row, "0");
        char why[128] = "";
        if (!text)
            snprintf(why, sizeof why, "record %zu: element 0 (the scenario) is not a string", i);
        else if (tb_kit_kind_of(label) != TB_KIT_NULL &&
                 (tb_kit_kind_of(label) != TB_KIT_ARRAY || tb_kit_len(label, NULL) != 4))
            snprintf(why, sizeof why, "record %zu: element 1 (the label) is neither null nor "
                                      "4 numbers", i);
        for (size_t j = 0; !*why && tb_kit_kind_of(label) == TB_KIT_ARRAY && j < 4; j++) {
            double v;
            if (tb_kit_num(tb_kit_at(label, j), NULL, &v) != 0 || v < 0)
                snprintf(why, sizeof why, "record %zu: element 1 (the label) is neither null "
                                          "nor 4 numbers", i);
        }
        const char *where = tb_kit_where(out->table, i);
        int v = verdict(k, out, where, *why ? why : NULL, skip_bad, err);
        if (v < 0)
            st = TB_ERR_FORMAT;
        else if (v > 0)
            st = add(k, out, "jiminy/%zu", i, text, eth_jiminy_class(label), where, err);
    }
    if (st == TB_OK && out->n == 0) {
        k->api->errorf(err, "ethics: %s holds no scenarios", path);
        st = TB_ERR_FORMAT;
    }
    if (st != TB_OK)
        eth_set_free(out);
    return st;
}
