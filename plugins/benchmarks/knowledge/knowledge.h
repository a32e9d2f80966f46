/*
 * knowledge.h - the knowledge plugin's two tasks (LLM-KICK's probes of
 * what compression makes a model forget), sharing one instance:
 *
 *   freebaseqa  (freebaseqa.c) factoid questions answered by greedy
 *               generation; an answer counts when it appears in the
 *               generated text (never the echoed prompt)
 *   mmlu        (mmlu.c) multiple choice, 0- to 5-shot, by the
 *               log-likelihood of " A" .. " D"; accuracy per subject
 */
#ifndef TB_KNOWLEDGE_H
#define TB_KNOWLEDGE_H

#include <stdint.h>

#include <trustbench/kit.h>
#include <trustbench/plugin.h>

enum { TB_KNOWLEDGE_MC_LOGLIKELIHOOD, TB_KNOWLEDGE_MC_GENERATE, TB_KNOWLEDGE_MC_AUTO };

typedef struct tb_knowledge {
    tb_kit kit;
    const char *data;
    const char *split;          /* mmlu: test | val | dev */
    int64_t shots;              /* mmlu */
    int mc;                     /* mmlu: TB_KNOWLEDGE_MC_*; auto is resolved in run */
    int fell_back;              /* mmlu: auto chose generation (no log-likelihoods) */
    const char *const *subjects; /* mmlu: only these (none: all) */
    size_t n_subjects;
    tb_kit_prompt_mode mode;
    char *template_text;        /* freebaseqa: unescaped, holds {question} */
    char *stop;                 /* freebaseqa: unescaped; "" for none */
    int64_t max_tokens;         /* freebaseqa: 0 = twice the prompt's tokens */
    int64_t batch;
} tb_knowledge;

tb_status tb_knowledge_freebaseqa(tb_knowledge *k, tb_error *err);
tb_status tb_knowledge_mmlu(tb_knowledge *k, tb_error *err);

/* errorf with "knowledge: " before the message already in err. */
void tb_knowledge_prefix_error(const tb_knowledge *k, tb_error *err);

/* LLM-KICK's normalisation for matching: leading and trailing white space
 * dropped, every space removed, ASCII letters lowercased.  malloc'd. */
char *tb_knowledge_normalize(const char *s);

#endif
