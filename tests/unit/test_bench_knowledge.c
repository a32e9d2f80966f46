/*
 * test_bench_knowledge.c - the knowledge plugin under the mock host with
 * the scripted backend:
 *   - freebaseqa: five questions with scripted answers, accuracy worked out
 *     by hand: spaces and case ignored, an answer that is only in the
 *     question (or in a prompt the backend echoes) does not count; the
 *     v1.0 JSON layout with several answer names; chat prompts;
 *   - mmlu: two subjects whose picks come from an ll_table keyed by the
 *     exact prompt the original MMLU layout gives, so per-subject, overall
 *     and macro accuracy are worked out by hand; few-shot prompts and the
 *     subject filter;
 *   - malformed input: file:line errors, parameter errors;
 *   - the real files in ../shared: FreebaseQA-eval.txt (4023 lines, 3999
 *     distinct questions) and LLM-KICK's MMLU (57 subjects; 285 dev, 1531
 *     val, 14042 test rows).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_harness.h"
#include "params.h"
#include "tb_test.h"
#include "util.h"

static double item_mean(const tb_host *h, const char *metric, const char *group)
{
    double sum = 0;
    size_t n = lh_items(h, metric, group, &sum);
    return n ? sum / (double)n : NAN;
}

/* ------------------------------------------------------------------ */
/* FreebaseQA                                                          */
/* ------------------------------------------------------------------ */

/* Line 3 is a CSV-quoted question, as in the real file; line 4 names its
 * own answer. */
static const char fq_text[] =
    "Which city hosted the 1936 Summer Olympics? | berlin \n"
    "Which planet is known as the Red Planet? | mars \n"
    "\"The novel \"\"Dracula\"\" was written by which Irish author?\" | bram stoker \n"
    "Toronto is the largest city of which country, Canada or Mexico? | canada \n"
    "Mount Everest lies on the border of China and which country? | nepal \n";

/* Scripted answers to the default (LLM-KICK) prompt, worked out by hand:
 *   L1 "Berlin, Germany."                   right (case ignored)
 *   L2 "Jupiter."                           wrong
 *   L3 "BRAM  STOKER"                       right (spaces and case ignored)
 *   L4 the prompt echoed, then " Mexico."   wrong: "canada" is only in the
 *                                           echoed question
 *   L5 "Nepal"                              right
 * accuracy 3/5; the answer is in the question for L4 only: 1/5. */
#define FQ_Q "Please give answer to this question: "
#define FQ_A "\\nThe answer is "
static const char fq_table[] =
    FQ_Q "Which city hosted the 1936 Summer Olympics?" FQ_A "\tBerlin, Germany.\n"
    FQ_Q "Which planet is known as the Red Planet?" FQ_A "\tJupiter.\n"
    FQ_Q "The novel \"Dracula\" was written by which Irish author?" FQ_A "\tBRAM  STOKER\n"
    FQ_Q "Toronto is the largest city of which country, Canada or Mexico?" FQ_A "\t"
    FQ_Q "Toronto is the largest city of which country, Canada or Mexico?" FQ_A " Mexico.\n"
    FQ_Q "Mount Everest lies on the border of China and which country?" FQ_A "\tNepal\n";

static void test_freebaseqa_by_hand(void)
{
    const char *dir = tb_test_tmpdir();
    free(tb_test_write_file(dir, "fq.txt", fq_text));
    free(tb_test_write_file(dir, "fq.tsv", fq_table));
    const char *backend[] = {"table=fq.tsv"};
    const char *settings[] = {"task=freebaseqa", "data=fq.txt"};
    lh_run r;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, backend, 1, "knowledge", settings, 2, &err),
                          TB_OK);
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), 5);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "accuracy", NULL), 0.6, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "answer_in_question", NULL), 0.2, 1e-12);
    const tb_mock_item *echo = tb_mock_find_item(&r.host, "L4", "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(echo);
    CU_ASSERT_DOUBLE_EQUAL(echo->score, 0, 0);
    CU_ASSERT_EQUAL(strncmp(echo->output, "Please give answer to this question: Toronto", 44), 0);
    CU_ASSERT_EQUAL(tb_mock_find_item(&r.host, "L4", "answer_in_question")->score, 1);
    const tb_mock_item *quoted = tb_mock_find_item(&r.host, "L3", "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(quoted);
    CU_ASSERT_EQUAL(quoted->score, 1);
    CU_ASSERT_STRING_EQUAL(quoted->input,
                           "Please give answer to this question: The novel \"Dracula\" was "
                           "written by which Irish author?\nThe answer is ");
    CU_ASSERT_STRING_EQUAL(quoted->output, "BRAM  STOKER");
    CU_ASSERT_STRING_EQUAL(quoted->expected, "bram stoker");
    const tb_mock_metric *acc = tb_mock_find_metric(&r.host, "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
    CU_ASSERT_EQUAL(acc->flags,
                    TB_METRIC_FROM_ITEMS | TB_METRIC_HIGHER_BETTER | TB_METRIC_PRIMARY);
    CU_ASSERT_EQUAL(tb_mock_find_metric(&r.host, "answer_in_question")->flags,
                    TB_METRIC_FROM_ITEMS);
    CU_ASSERT_EQUAL(r.host.last_done, 5);
    lh_close(&r);
    /* --limit: a stable subset by id. */
    CU_ASSERT_EQUAL_FATAL(lh_open(&r, dir, "scripted", NULL, backend, 1, "knowledge", settings,
                                  2, &err), TB_OK);
    r.host.limit = 2;
    CU_ASSERT_EQUAL_FATAL(lh_run_bench(&r, &err), TB_OK);
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), 2);
    lh_close(&r);
}

/* The v1.0 layout: every name of the first answer of the first parse
 * counts; ids are the Question-IDs. */
static void test_freebaseqa_json(void)
{
    const char *dir = tb_test_tmpdir();
    free(tb_test_write_file(
        dir, "FreebaseQA-eval.json",
        "{\"Dataset\": \"FreebaseQA-eval\", \"Questions\": [\n"
        " {\"Question-ID\": \"FreebaseQA-eval-0\", \"RawQuestion\": \"Who wrote Hamlet?\",\n"
        "  \"Parses\": [{\"Answers\": [{\"AnswersName\": [\"william shakespeare\", "
        "\"shakespeare\"]}]}]},\n"
        " {\"Question-ID\": \"FreebaseQA-eval-1\", \"RawQuestion\": \"Who painted the Mona "
        "Lisa?\",\n"
        "  \"Parses\": [{\"Answers\": [{\"AnswersName\": [\"leonardo da vinci\"]}]}]}]}\n"));
    /* Chat prompts are sent as the text the template renders (the
     * scripted backend's: "<|role|>\ncontent\n" and the assistant turn). */
    free(tb_test_write_file(dir, "t.tsv",
                            "<|user|>\\nQ: Who wrote Hamlet?\\n<|assistant|>\\n\t"
                            "It was Shakespeare.\n"
                            "<|user|>\\nQ: Who painted the Mona Lisa?\\n<|assistant|>\\n\t"
                            "Da Vinci.\n"));
    const char *backend[] = {"table=t.tsv"};
    const char *settings[] = {"task=freebaseqa", "data=FreebaseQA-eval.json", "prompt=chat",
                              "template=Q: {question}", "max_tokens=32"};
    lh_run r;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, backend, 1, "knowledge", settings, 5, &err),
                          TB_OK);
    /* "shakespeare" is the second name; "davinci" is not
     * "leonardodavinci". */
    const tb_mock_item *a = tb_mock_find_item(&r.host, "FreebaseQA-eval-0", "accuracy");
    const tb_mock_item *b = tb_mock_find_item(&r.host, "FreebaseQA-eval-1", "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(a->score, 1);
    CU_ASSERT_EQUAL(b->score, 0);
    CU_ASSERT_STRING_EQUAL(a->expected, "william shakespeare | shakespeare");
    CU_ASSERT_STRING_EQUAL(a->input, "<|user|>\nQ: Who wrote Hamlet?\n<|assistant|>\n");
    CU_ASSERT_PTR_NOT_NULL(strstr(tb_mock_find_metric(&r.host, "accuracy")->label,
                                  "prompt=chat"));
    lh_close(&r);
}

/* ------------------------------------------------------------------ */
/* MMLU                                                                */
/* ------------------------------------------------------------------ */

/* world_history: 3 test questions (answers A, C, D), astronomy: 2 (B, A);
 * each subject has 2 dev examples. */
static const char wh_test[] = "Who was the first Roman emperor?,Augustus,Nero,Caesar,Trajan,A\n"
                              "In which year did the Berlin Wall fall?,1961,1979,1989,1991,C\n"
                              "\"Which treaty ended WWI, in 1919?\",Ghent,Utrecht,Paris,"
                              "Versailles,D\n";
static const char as_test[] = "What is the closest star to Earth?,Proxima,Sun,Sirius,Vega,B\n"
                              "Which planet has the most moons?,Saturn,Earth,Mars,Venus,A\n";
static const char wh_dev[] = "Who built the pyramids of Giza?,Egyptians,Romans,Incas,Huns,A\n"
                             "Where was Napoleon born?,Paris,Rome,Corsica,Elba,C\n";
static const char as_dev[] = "What is a light-year?,A time,A distance,A speed,A mass,B\n"
                             "Which planet is largest?,Earth,Mars,Venus,Jupiter,D\n";

static char *question_block(const char *q, const char *a, const char *b, const char *c,
                            const char *d)
{
    return tb_xasprintf("%s\nA. %s\nB. %s\nC. %s\nD. %s\nAnswer:", q, a, b, c, d);
}

/* The MMLU prompt of the original evaluation, with \n escaped for the
 * ll_table. */
static char *escaped(const char *s)
{
    tb_buf b = {0};
    for (; *s; s++)
        if (*s == '\n')
            tb_buf_puts(&b, "\\n");
        else
            tb_buf_putc(&b, *s);
    return tb_buf_steal(&b);
}

/* An ll_table row making `letter` the model's pick after `context`: the
 * scripted default for a 2-byte continuation is at most -1. */
static void pick_row(tb_buf *table, const char *context, const char *letter)
{
    char *e = escaped(context);
    tb_buf_printf(table, "%s\t %s\t-0.25\n", e, letter);
    free(e);
}

static void write_mmlu(const char *dir)
{
    free(lh_write(dir, "mmlu/test/world_history_test.csv", wh_test));
    free(lh_write(dir, "mmlu/test/astronomy_test.csv", as_test));
    free(lh_write(dir, "mmlu/dev/world_history_dev.csv", wh_dev));
    free(lh_write(dir, "mmlu/dev/astronomy_dev.csv", as_dev));
    free(lh_write(dir, "mmlu/test/README.txt", "not a subject\n"));
}

/* Picks by hand: world_history A (right), B (wrong; C is right), D
 * (right); astronomy B (right), C (wrong; A is right).  Per subject 2/3
 * and 1/2; overall 3/5; macro (2/3 + 1/2) / 2 = 7/12. */
static void write_zero_shot_table(const char *dir, int generated)
{
    static const char wh[] =
        "The following are multiple choice questions (with answers) about world history.\n\n";
    static const char as[] =
        "The following are multiple choice questions (with answers) about astronomy.\n\n";
    const struct {
        const char *head, *q, *a, *b, *c, *d, *pick;
    } rows[] = {
        {wh, "Who was the first Roman emperor?", "Augustus", "Nero", "Caesar", "Trajan", "A"},
        {wh, "In which year did the Berlin Wall fall?", "1961", "1979", "1989", "1991", "B"},
        {wh, "Which treaty ended WWI, in 1919?", "Ghent", "Utrecht", "Paris", "Versailles",
         "D"},
        {as, "What is the closest star to Earth?", "Proxima", "Sun", "Sirius", "Vega", "B"},
        {as, "Which planet has the most moons?", "Saturn", "Earth", "Mars", "Venus", "C"},
    };
    /* method generate: the same picks in the shapes models write them. */
    static const char *const said[] = {" A", " (B)", " D. Versailles", " Answer: B", " C"};
    tb_buf table = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *block = question_block(rows[i].q, rows[i].a, rows[i].b, rows[i].c, rows[i].d);
        char *ctx = tb_xasprintf("%s%s", rows[i].head, block);
        if (generated) {
            char *e = escaped(ctx);
            tb_buf_printf(&table, "%s\t%s\n", e, said[i]);
            free(e);
        } else {
            pick_row(&table, ctx, rows[i].pick);
        }
        free(ctx);
        free(block);
    }
    free(tb_test_write_file(dir, generated ? "gen.tsv" : "ll.tsv", tb_buf_str(&table)));
    tb_buf_free(&table);
}

static void test_mmlu_by_hand(void)
{
    const char *dir = tb_test_tmpdir();
    write_mmlu(dir);
    write_zero_shot_table(dir, 0);
    const char *backend[] = {"ll_table=ll.tsv"};
    const char *settings[] = {"task=mmlu", "data=mmlu", "shots=0"};
    lh_run r;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, backend, 1, "knowledge", settings, 3, &err),
                          TB_OK);
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), 5);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "accuracy", NULL), 0.6, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "accuracy", "world_history"), 2.0 / 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "accuracy", "astronomy"), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(lh_metric(&r.host, "accuracy_macro"), 7.0 / 12.0, 1e-12);
    CU_ASSERT_EQUAL(tb_mock_find_metric(&r.host, "accuracy_macro")->n, 2);
    const tb_mock_item *wrong = tb_mock_find_item(&r.host, "world_history:2", "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(wrong);
    CU_ASSERT_EQUAL(wrong->score, 0);
    CU_ASSERT_STRING_EQUAL(wrong->output, "B");
    CU_ASSERT_STRING_EQUAL(wrong->expected, "C");
    CU_ASSERT_STRING_EQUAL(wrong->group, "world_history");
    /* A quoted CSV field keeps its comma. */
    const tb_mock_item *quoted = tb_mock_find_item(&r.host, "world_history:3", "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(quoted);
    CU_ASSERT_PTR_NOT_NULL(strstr(quoted->input, "\nWhich treaty ended WWI, in 1919?\nA. "));
    CU_ASSERT_EQUAL(quoted->score, 1);
    const tb_mock_metric *acc = tb_mock_find_metric(&r.host, "accuracy");
    CU_ASSERT_EQUAL(acc->flags, TB_METRIC_FROM_ITEMS | TB_METRIC_PER_GROUP |
                                    TB_METRIC_HIGHER_BETTER | TB_METRIC_PRIMARY);
    CU_ASSERT_STRING_EQUAL(acc->label, "mmlu: 0-shot, split=test, argmax log-likelihood of "
                                       "' A'..' D', prompt=plain");
    lh_close(&r);
}

/* method auto on a session without log-likelihoods (a server without
 * prompt log-probabilities) answers by a generated letter: the same picks
 * written as " (B)", " Answer: B" ... give the same accuracies as above. */
static void test_mmlu_generated(void)
{
    const char *dir = tb_test_tmpdir();
    write_mmlu(dir);
    write_zero_shot_table(dir, 1);
    const char *backend[] = {"table=gen.tsv", "no_loglikelihood=true"};
    const char *settings[] = {"task=mmlu", "data=mmlu", "shots=0", "method=auto"};
    lh_run r;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, backend, 2, "knowledge", settings, 4, &err),
                          TB_OK);
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), 5);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "accuracy", NULL), 0.6, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(lh_metric(&r.host, "accuracy_macro"), 7.0 / 12.0, 1e-12);
    const tb_mock_item *wrong = tb_mock_find_item(&r.host, "world_history:2", "accuracy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(wrong);
    CU_ASSERT_STRING_EQUAL(wrong->output, " (B)");
    CU_ASSERT_STRING_EQUAL(tb_mock_find_metric(&r.host, "accuracy")->label,
                           "mmlu: 0-shot, split=test, greedy generated letter (method auto, "
                           "no log-likelihoods), prompt=plain");
    lh_close(&r);
    /* The default method on that session refuses, naming the way out. */
    const char *plain[] = {"task=mmlu", "data=mmlu", "shots=0"};
    CU_ASSERT_EQUAL(lh_scripted(&r, dir, backend, 2, "knowledge", plain, 3, &err),
                    TB_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "try method: generate or auto"));
    lh_close(&r);
}

/* Two shots for astronomy alone: the dev file's first two rows, each with
 * its answer, before the question. */
static void test_mmlu_few_shot(void)
{
    const char *dir = tb_test_tmpdir();
    write_mmlu(dir);
    char *d1 = question_block("What is a light-year?", "A time", "A distance", "A speed",
                              "A mass");
    char *d2 = question_block("Which planet is largest?", "Earth", "Mars", "Venus", "Jupiter");
    char *q1 = question_block("What is the closest star to Earth?", "Proxima", "Sun", "Sirius",
                              "Vega");
    char *q2 = question_block("Which planet has the most moons?", "Saturn", "Earth", "Mars",
                              "Venus");
    const char *head =
        "The following are multiple choice questions (with answers) about astronomy.\n\n";
    char *c1 = tb_xasprintf("%s%s B\n\n%s D\n\n%s", head, d1, d2, q1);
    char *c2 = tb_xasprintf("%s%s B\n\n%s D\n\n%s", head, d1, d2, q2);
    /* Both right: 1/1 each, unlike the 0-shot picks. */
    tb_buf table = {0};
    pick_row(&table, c1, "B");
    pick_row(&table, c2, "A");
    free(tb_test_write_file(dir, "ll2.tsv", tb_buf_str(&table)));
    tb_buf_free(&table);
    const char *backend[] = {"ll_table=ll2.tsv"};
    const char *settings[] = {"task=mmlu", "data=mmlu", "shots=2", "subjects=[astronomy]"};
    lh_run r;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, backend, 1, "knowledge", settings, 4, &err),
                          TB_OK);
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), 2);
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", "world_history", NULL), 0);
    CU_ASSERT_DOUBLE_EQUAL(item_mean(&r.host, "accuracy", "astronomy"), 1.0, 1e-12);
    CU_ASSERT_STRING_EQUAL(tb_mock_find_item(&r.host, "astronomy:1", "accuracy")->input, c1);
    CU_ASSERT_PTR_NOT_NULL(strstr(tb_mock_find_metric(&r.host, "accuracy")->label, "2-shot"));
    lh_close(&r);
    free(d1);
    free(d2);
    free(q1);
    free(q2);
    free(c1);
    free(c2);
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                     */
/* ------------------------------------------------------------------ */

static void expect_error(const char *dir, const char *const *settings, size_t n,
                         tb_status want_st, const char *want)
{
    lh_run r;
    tb_error err = {{0}};
    tb_status st = lh_scripted(&r, dir, NULL, 0, "knowledge", settings, n, &err);
    CU_ASSERT_EQUAL(st, want_st);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    if (strcmp(err.message, want) != 0)
        fprintf(stderr, "\n    got:  %s\n    want: %s\n", err.message, want);
    lh_close(&r);
}

static void test_malformed(void)
{
    const char *dir = tb_test_tmpdir();
    char *nobar = tb_test_write_file(dir, "nobar.txt", "Who? | me\nWhat without an answer\n");
    char *noans = tb_test_write_file(dir, "noans.txt", "Who? | me\nWhat? |  \n");
    char *json = tb_test_write_file(dir, "bad.json",
                                    "{\"Questions\": [\n{\"RawQuestion\": \"Who?\",\n"
                                    " \"Parses\": []}]}\n");
    char *msg = tb_xasprintf("knowledge: %s:2: expected 'question | answer'", nobar);
    expect_error(dir, (const char *[]){"task=freebaseqa", "data=nobar.txt"}, 2,
                 TB_ERR_FORMAT, msg);
    free(msg);
    msg = tb_xasprintf("knowledge: %s:2: the answer is empty", noans);
    expect_error(dir, (const char *[]){"task=freebaseqa", "data=noans.txt"}, 2,
                 TB_ERR_FORMAT, msg);
    free(msg);
    msg = tb_xasprintf("knowledge: %s:2: no answer names at Parses[0].Answers[0].AnswersName",
                       json);
    expect_error(dir, (const char *[]){"task=freebaseqa", "data=bad.json"}, 2, TB_ERR_FORMAT,
                 msg);
    free(msg);
    expect_error(dir, (const char *[]){"task=freebaseqa", "data=nobar.txt", "template=Q:"}, 3,
                 TB_ERR_INVALID, "knowledge: the template 'Q:' has no {question}");
    /* MMLU: a short row, an answer that is no letter, too few dev rows, an
     * unknown subject, a folder without the split. */
    free(lh_write(dir, "m1/test/law_test.csv", "Q1?,a,b,c,d,A\nQ2?,a,b,c,B\n"));
    free(lh_write(dir, "m2/test/law_test.csv", "Q1?,a,b,c,d,A\nQ2?,a,b,c,d,E\n"));
    free(lh_write(dir, "m3/test/law_test.csv", "Q1?,a,b,c,d,A\n"));
    free(lh_write(dir, "m3/dev/law_dev.csv", "D1?,a,b,c,d,A\n"));
    char *m1 = tb_path_join(dir, "m1/test/law_test.csv");
    char *m2 = tb_path_join(dir, "m2/test/law_test.csv");
    char *m3 = tb_path_join(dir, "m3/dev/law_dev.csv");
    char *m3dir = tb_path_join(dir, "m3");
    msg = tb_xasprintf("knowledge: %s:2: expected 6 fields, got 5", m1);
    expect_error(dir, (const char *[]){"data=m1", "shots=0"}, 2, TB_ERR_FORMAT, msg);
    free(msg);
    msg = tb_xasprintf("knowledge: %s:2: the answer 'E' is not A, B, C or D", m2);
    expect_error(dir, (const char *[]){"data=m2", "shots=0"}, 2, TB_ERR_FORMAT, msg);
    free(msg);
    msg = tb_xasprintf("knowledge: %s: 1 examples, fewer than the 5 shots asked for", m3);
    expect_error(dir, (const char *[]){"data=m3"}, 1, TB_ERR_FORMAT, msg);
    free(msg);
    msg = tb_xasprintf("knowledge: subject 'chess' has no %s/test/chess_test.csv", m3dir);
    expect_error(dir, (const char *[]){"data=m3", "shots=0", "subjects=[chess]"}, 3,
                 TB_ERR_NOT_FOUND, msg);
    free(msg);
    msg = tb_xasprintf("knowledge: %s/val: cannot open the folder (data must be MMLU's folder "
                       "holding dev/ and val/)", m3dir);
    expect_error(dir, (const char *[]){"data=m3", "split=val"}, 2, TB_ERR_NOT_FOUND, msg);
    free(msg);
    free(m1);
    free(m2);
    free(m3);
    free(m3dir);
    free(nobar);
    free(noans);
    free(json);
}

/* ------------------------------------------------------------------ */
/* Real files                                                          */
/* ------------------------------------------------------------------ */

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Distinct inputs of the items of `metric`. */
static size_t distinct_inputs(const tb_host *h, const char *metric)
{
    char **s = calloc(h->n_items + 1, sizeof *s);
    size_t n = 0, distinct = 0;
    for (size_t i = 0; i < h->n_items; i++)
        if (!strcmp(h->items[i].metric, metric))
            s[n++] = h->items[i].input;
    qsort(s, n, sizeof *s, by_str);
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || strcmp(s[i], s[i - 1]) != 0;
    free(s);
    return distinct;
}

static size_t groups_of(const tb_host *h, const char *metric)
{
    char **s = calloc(h->n_items + 1, sizeof *s);
    size_t n = 0, distinct = 0;
    for (size_t i = 0; i < h->n_items; i++)
        if (!strcmp(h->items[i].metric, metric))
            s[n++] = h->items[i].group;
    qsort(s, n, sizeof *s, by_str);
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || strcmp(s[i], s[i - 1]) != 0;
    free(s);
    return distinct;
}

static void test_real_freebaseqa(void)
{
    char *fq = tb_test_shared_path("data/freebaseqa/FreebaseQA-eval.txt");
    if (!fq) {
        tb_test_skip("../shared is absent");
        return;
    }
    const char *dir = tb_test_tmpdir();
    char *data = tb_xasprintf("data=%s", fq);
    const char *settings[] = {"task=freebaseqa", data, "max_tokens=8"};
    lh_run r;
    tb_error err = {{0}};
    CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, NULL, 0, "knowledge", settings, 3, &err), TB_OK);
    /* data/README.md: 4023 lines, 3999 distinct questions. */
    CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), 4023);
    CU_ASSERT_EQUAL(distinct_inputs(&r.host, "answer_in_question"), 3999);
    const tb_mock_item *first = tb_mock_find_item(&r.host, "L1", "answer_in_question");
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_STRING_EQUAL(first->input, "100 pesewas equalling 1 cedi are the units of "
                                         "currency of which African country?");
    CU_ASSERT_STRING_EQUAL(first->expected, "ghana");
    const tb_mock_item *quoted = tb_mock_find_item(&r.host, "L25", "answer_in_question");
    CU_ASSERT_PTR_NOT_NULL_FATAL(quoted);
    CU_ASSERT_STRING_EQUAL(quoted->input, "Actress Patricia Neal, who won a best actress Oscar "
                                          "for her role in \"Hud\" in 1963, was married to "
                                          "which famous writer?");
    CU_ASSERT_STRING_EQUAL(quoted->expected, "roald dahl");
    lh_close(&r);
    free(data);
    free(fq);
}

static void test_real_mmlu(void)
{
    char *mmlu = tb_test_shared_path("data/llm_kick/multiple_choice_qa/data");
    if (!mmlu) {
        tb_test_skip("../shared is absent");
        return;
    }
    const char *dir = tb_test_tmpdir();
    char *data = tb_xasprintf("data=%s", mmlu);
    /* data/README.md: 57 subjects; 285 dev, 1531 val and 14042 test rows.
     * The test split 5-shot from dev, as the papers run it. */
    static const struct {
        const char *split, *shots;
        size_t rows;
    } splits[] = {{"split=dev", "shots=0", 285}, {"split=val", "shots=0", 1531},
                  {"split=test", "shots=5", 14042}};
    for (size_t i = 0; i < 3; i++) {
        const char *settings[] = {"task=mmlu", data, splits[i].split, splits[i].shots};
        lh_run r;
        tb_error err = {{0}};
        CU_ASSERT_EQUAL_FATAL(lh_scripted(&r, dir, NULL, 0, "knowledge", settings, 4, &err),
                              TB_OK);
        CU_ASSERT_EQUAL(lh_items(&r.host, "accuracy", NULL, NULL), splits[i].rows);
        CU_ASSERT_EQUAL(groups_of(&r.host, "accuracy"), 57);
        CU_ASSERT_EQUAL(tb_mock_find_metric(&r.host, "accuracy_macro")->n, 57);
        lh_close(&r);
    }
    free(data);
    free(mmlu);
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"freebaseqa by hand, echoed prompt not counted", test_freebaseqa_by_hand},
        {"freebaseqa v1.0 JSON and chat prompts", test_freebaseqa_json},
        {"mmlu per-subject accuracy by hand", test_mmlu_by_hand},
        {"mmlu few-shot prompts and subjects", test_mmlu_few_shot},
        {"mmlu by generated letters when the session has no log-likelihoods",
         test_mmlu_generated},
        {"malformed input and parameters", test_malformed},
        {"real FreebaseQA in ../shared", test_real_freebaseqa},
        {"real MMLU in ../shared", test_real_mmlu},
        {NULL, NULL},
    };
    return tb_test_add_suite("knowledge", cases);
}
