/* cmd_model.c - `trustbench model info | convert | synth`. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "model_io.h"
#include "util.h"

static void model_usage(FILE *out)
{
    fprintf(out,
        "usage: trustbench model info PATH [--tensors]\n"
        "       trustbench model convert IN OUT.gguf\n"
        "                              [--type f32|f16|bf16|q8_0|q4_0|q4_1|packed]\n"
        "       trustbench model synth (--preset NAME | --dim D --layers L --heads H\n"
        "                               --kv-heads K --ffn F --vocab V [--ctx C])\n"
        "                              -o OUT.gguf [--seed S] [--type TYPE]\n"
        "       trustbench model tokenize PATH TEXT [--bos] [--special]\n"
        "       trustbench model detokenize PATH ID...\n"
        "\n"
        "PATH is a GGUF file, a llama2.c checkpoint (tokenizer.bin beside it) or a\n"
        "Hugging Face folder. Presets for synth: tiny, stories15M, stories110M,\n"
        "tinyllama-1.1b (random weights of those shapes, byte-level tokenizer).\n"
        "--type packed stores each matrix as Q4_0, Q4_1 or Q8_0 only when its values\n"
        "lie exactly on that block grid (a quantized model with f16 group-32\n"
        "scales), otherwise as it is: nothing is rounded.\n"
        "tokenize prints the ids of TEXT (--bos: with the model's BOS policy,\n"
        "--special: \"<s>\"-style markers in TEXT are special tokens);\n"
        "detokenize writes the bytes of the ids as generation would.\n");
}

static int parse_type(const char *s, tb_dtype *out)
{
    static const struct { const char *name; tb_dtype t; } types[] = {
        {"f32", TB_DTYPE_F32}, {"f16", TB_DTYPE_F16}, {"bf16", TB_DTYPE_BF16},
        {"q8_0", TB_DTYPE_Q8_0}, {"q4_0", TB_DTYPE_Q4_0}, {"q4_1", TB_DTYPE_Q4_1}};
    for (size_t i = 0; i < TB_ARRAY_LEN(types); i++)
        if (strcmp(s, types[i].name) == 0) {
            *out = types[i].t;
            return 0;
        }
    fprintf(stderr, "trustbench model: unknown type '%s' (f32, f16, bf16, q8_0, q4_0, q4_1)\n",
            s);
    return -1;
}

static const char *type_name(tb_dtype t)
{
    const tb_ggml_type_info *ti = tb_ggml_type((uint32_t)t);
    return ti ? ti->name : "?";
}

static void print_info(const tb_model *m, int tensors)
{
    const tb_model_params *p = &m->params;
    printf("path          %s\n", m->path);
    printf("format        %s\n", m->format);
    printf("architecture  %s (RoPE %s, theta %g%s)\n", p->arch,
           p->rope_neox ? "NeoX halves" : "adjacent pairs", (double)p->rope_theta,
           p->rope_freq_scale != 1.0f ? ", linear scaling" : "");
    printf("shape         width %d, %d layers, %d heads (%d key/value, head size %d), "
           "ffn %d, vocab %d, context %d\n", p->n_embd, p->n_layers, p->n_heads,
           p->n_kv_heads, p->head_dim, p->n_ff, p->n_vocab, p->n_ctx_train);
    printf("output head   %s%s\n", p->tied_output ? "tied to token_embd" : "separate",
           p->qkv_bias ? "; q/k/v biases" : "");
    int64_t n = tb_model_n_params(m);
    printf("parameters    %lld (%.2fM)\n", (long long)n, (double)n / 1e6);
    /* Tensor types, counted. */
    uint64_t bytes[64] = {0};
    int count[64] = {0};
    for (size_t i = 0; i < m->n_tensors; i++) {
        unsigned t = (unsigned)m->tensors[i].type;
        if (t < 64) {
            count[t]++;
            bytes[t] += m->tensors[i].n_bytes;
        }
    }
    printf("tensors       %zu:", m->n_tensors);
    for (unsigned t = 0; t < 64; t++)
        if (count[t])
            printf(" %d %s (%.1f MiB)", count[t], type_name((tb_dtype)t),
                   (double)bytes[t] / (1 << 20));
    printf("\n");
    const tb_tokenizer *tok = tb_model_tokenizer(m);
    printf("tokenizer     %s, %d tokens, BOS %d%s, EOS %d\n",
           tb_tokenizer_kind(tok) == TB_TOK_SPM ? "SentencePiece BPE" : "byte-level BPE",
           tb_tokenizer_n_vocab(tok), p->bos, p->add_bos ? " (added)" : "", p->eos);
    printf("chat template %s\n", tb_chat_template_name(tb_model_chat_template(m)));
    if (!tensors)
        return;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tb_tensor *t = &m->tensors[i];
        printf("  %-28s %-5s [%lld", t->name, type_name(t->type), (long long)t->ne[0]);
        for (int d = 1; d < t->n_dims; d++)
            printf(", %lld", (long long)t->ne[d]);
        printf("]\n");
    }
}

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int tensors = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tensors"))
            tensors = 1;
        else if (argv[i][0] == '-' || path) {
            model_usage(stderr);
            return TB_EXIT_USAGE;
        } else
            path = argv[i];
    }
    if (!path) {
        model_usage(stderr);
        return TB_EXIT_USAGE;
    }
    tb_model *m = NULL;
    tb_error err;
    memset(&err, 0, sizeof err);
    if (tb_model_open(path, NULL, &m, &err) != TB_OK) {
        fprintf(stderr, "trustbench: %s\n", err.message);
        return TB_EXIT_FAIL;
    }
    print_info(m, tensors);
    tb_model_close(m);
    return TB_EXIT_OK;
}

static int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    tb_dtype type = TB_DTYPE_KEEP;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--type") && i + 1 < argc && !strcmp(argv[i + 1], "packed")) {
            type = TB_DTYPE_PACKED; /* lossless: only grids the blocks hold exactly */
            i++;
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            if (parse_type(argv[++i], &type) != 0)
                return TB_EXIT_USAGE;
        } else if (argv[i][0] == '-') {
            model_usage(stderr);
            return TB_EXIT_USAGE;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            model_usage(stderr);
            return TB_EXIT_USAGE;
        }
    }
    if (!in || !out) {
        model_usage(stderr);
        return TB_EXIT_USAGE;
    }
    tb_model *m = NULL;
    tb_error err;
    memset(&err, 0, sizeof err);
    char *fallbacks = NULL;
    tb_status st = tb_model_open(in, NULL, &m, &err);
    if (st == TB_OK)
        st = tb_model_write_gguf(m, out, type, &fallbacks, &err);
    if (st != TB_OK) {
        fprintf(stderr, "trustbench: %s\n", err.message);
        tb_model_close(m);
        return TB_EXIT_FAIL;
    }
    printf("wrote %s\n", out);
    if (fallbacks && *fallbacks)
        printf("stored as F16 (rows do not divide into 32-element blocks): %s\n", fallbacks);
    free(fallbacks);
    tb_model_close(m);
    return TB_EXIT_OK;
}

static int int_arg(const char *flag, const char *v, int32_t *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x <= 0 || x > 1 << 24) {
        fprintf(stderr, "trustbench model synth: %s takes a positive whole number\n", flag);
        return -1;
    }
    *out = (int32_t)x;
    return 0;
}

static int cmd_synth(int argc, char **argv)
{
    tb_synth_spec s;
    memset(&s, 0, sizeof s);
    s.type = TB_DTYPE_F32;
    s.ctx = 2048;
    const char *preset = NULL, *out = NULL;
    static const char *const flags[] = {"--dim", "--layers", "--heads", "--kv-heads",
                                        "--ffn", "--vocab", "--ctx"};
    int32_t *fields[] = {&s.dim, &s.layers, &s.heads, &s.kv_heads, &s.ffn, &s.vocab, &s.ctx};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int known = 0;
        for (size_t k = 0; k < TB_ARRAY_LEN(flags) && i + 1 < argc; k++)
            if (!strcmp(a, flags[k])) {
                if (int_arg(a, argv[++i], fields[k]) != 0)
                    return TB_EXIT_USAGE;
                known = 1;
            }
        if (known)
            continue;
        if (!strcmp(a, "--preset") && i + 1 < argc) {
            preset = argv[++i];
        } else if (!strcmp(a, "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            s.seed = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--type") && i + 1 < argc) {
            if (parse_type(argv[++i], &s.type) != 0)
                return TB_EXIT_USAGE;
        } else {
            fprintf(stderr, "trustbench model synth: unexpected argument '%s'\n", a);
            model_usage(stderr);
            return TB_EXIT_USAGE;
        }
    }
    tb_error err;
    memset(&err, 0, sizeof err);
    if (preset && tb_synth_preset(preset, &s, &err) != TB_OK) {
        fprintf(stderr, "trustbench model synth: %s\n", err.message);
        return TB_EXIT_USAGE;
    }
    if (!out) {
        fprintf(stderr, "trustbench model synth: -o OUT.gguf is required\n");
        return TB_EXIT_USAGE;
    }
    if (!preset && s.kv_heads == 0)
        s.kv_heads = s.heads;
    if (tb_synth_write(&s, out, &err) != TB_OK) {
        fprintf(stderr, "trustbench model synth: %s\n", err.message);
        return err.message[0] && strstr(err.message, "invalid shape") ? TB_EXIT_USAGE
                                                                      : TB_EXIT_FAIL;
    }
    printf("wrote %s: %s, width %d, %d layers, %d/%d heads, ffn %d, vocab %d, seed %llu "
           "(random weights)\n", out, preset ? preset : "custom", s.dim, s.layers, s.heads,
           s.kv_heads, s.ffn, s.vocab, (unsigned long long)s.seed);
    return TB_EXIT_OK;
}

/* Opens PATH for the tokenizer subcommands; prints the reason on failure. */
static tb_model *open_for_tokens(const char *path)
{
    tb_model *m = NULL;
    tb_error err;
    memset(&err, 0, sizeof err);
    if (tb_model_open(path, NULL, &m, &err) != TB_OK) {
        fprintf(stderr, "trustbench: %s\n", err.message);
        return NULL;
    }
    return m;
}

/* `model tokenize`: the ids a backend would feed the model, so prompts can
 * be debugged and other engines' tokenizers compared with ours. */
static int cmd_tokenize(int argc, char **argv)
{
    const char *path = NULL, *text = NULL;
    uint32_t flags = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bos"))
            flags |= TB_TOK_ADD_BOS;
        else if (!strcmp(argv[i], "--special"))
            flags |= TB_TOK_PARSE_SPECIAL;
        else if (!path)
            path = argv[i];
        else if (!text)
            text = argv[i];
        else {
            model_usage(stderr);
            return TB_EXIT_USAGE;
        }
    }
    if (!path || !text) {
        model_usage(stderr);
        return TB_EXIT_USAGE;
    }
    tb_model *m = open_for_tokens(path);
    if (!m)
        return TB_EXIT_FAIL;
    int32_t *ids = NULL;
    size_t n = 0;
    tb_error err;
    memset(&err, 0, sizeof err);
    int rc = TB_EXIT_OK;
    if (tb_tokenize(tb_model_tokenizer(m), text, strlen(text), flags, &ids, &n, &err) != TB_OK) {
        fprintf(stderr, "trustbench: %s\n", err.message);
        rc = TB_EXIT_FAIL;
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
    }
    free(ids);
    tb_model_close(m);
    return rc;
}

/* `model detokenize`: the bytes generation would print for these ids
 * (byte-fallback tokens as raw bytes, special tokens left out). */
static int cmd_detokenize(int argc, char **argv)
{
    if (argc < 2) {
        model_usage(stderr);
        return TB_EXIT_USAGE;
    }
    size_t n = (size_t)(argc - 2);
    int32_t *ids = tb_xcalloc(n ? n : 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        char *end = NULL;
        errno = 0;
        long v = strtol(argv[i + 2], &end, 10);
        if (errno || end == argv[i + 2] || *end || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "trustbench model detokenize: '%s' is not a token id\n", argv[i + 2]);
            free(ids);
            return TB_EXIT_USAGE;
        }
        ids[i] = (int32_t)v;
    }
    tb_model *m = open_for_tokens(argv[1]);
    if (!m) {
        free(ids);
        return TB_EXIT_FAIL;
    }
    const tb_tokenizer *t = tb_model_tokenizer(m);
    int rc = TB_EXIT_OK;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= tb_tokenizer_n_vocab(t)) {
            fprintf(stderr, "trustbench model detokenize: id %d is outside the vocabulary "
                            "(%d tokens)\n", ids[i], tb_tokenizer_n_vocab(t));
            rc = TB_EXIT_USAGE;
        }
    if (rc == TB_EXIT_OK) {
        tb_buf out;
        memset(&out, 0, sizeof out);
        tb_detokenize(t, ids, n, 1, 0, &out);
        if (out.len)
            fwrite(out.data, 1, out.len, stdout);
        tb_buf_free(&out);
    }
    free(ids);
    tb_model_close(m);
    return rc;
}

int tb_cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        model_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? TB_EXIT_USAGE : TB_EXIT_OK;
    }
    if (!strcmp(argv[1], "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "convert"))
        return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(argv[1], "synth"))
        return cmd_synth(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tokenize"))
        return cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(argv[1], "detokenize"))
        return cmd_detokenize(argc - 1, argv + 1);
    fprintf(stderr, "trustbench model: unknown subcommand '%s'\n", argv[1]);
    model_usage(stderr);
    return TB_EXIT_USAGE;
}
