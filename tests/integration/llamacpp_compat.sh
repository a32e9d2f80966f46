#!/bin/sh
# llamacpp_compat.sh - GGUF files trustbench writes load and run in llama.cpp
# (issues 3 and 4), and both engines compute the same thing.
#
# llama.cpp comes prebuilt with the node-llama-cpp npm package (pinned
# below; CPU binaries only), installed once into a cache folder outside the
# tree.  Skipped (77) without Node >= 20, npm or the registry, or without
# ../shared/models.  For every file the test writes -- conversions of the
# trained models to each type, each compressor's output (also packed as
# Q4_0/Q4_1/Q8_0 with f16 scales), a synthetic model --
# llama.cpp's greedy ids from BOS, decoded by trustbench, must equal what
# `trustbench generate` prints for the same file; and llama.cpp must
# tokenize tricky strings to trustbench's ids on the full Llama-2 vocabulary.
set -u
: "${abs_top_builddir:?run this through make check}"
tb="$abs_top_builddir/trustbench"
probe="$abs_top_srcdir/tests/integration/llamacpp_probe.mjs"
models="$abs_top_srcdir/../shared/models"
oracle="$abs_top_srcdir/../shared/reference/oracle/stories260K"
version=3.22.1
steps=48

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[ -d "$models" ] || skip "../shared/models is absent"
command -v node >/dev/null 2>&1 || skip "no node"
command -v npm >/dev/null 2>&1 || skip "no npm"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || skip "node-llama-cpp needs Node >= 20 (have $(node --version))"

cache="${TB_LLAMACPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustbench/node-llama-cpp-$version}"
if [ ! -f "$cache/.complete" ]; then
    # --omit=optional --ignore-scripts: only the CPU binaries for x64, no
    # CUDA/Vulkan downloads and no attempt to compile llama.cpp.
    rm -rf "$cache" && mkdir -p "$cache" || skip "cannot create $cache"
    npm install --prefix "$cache" --no-audit --no-fund --ignore-scripts \
        --omit=optional "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version" \
        >"$cache/install.log" 2>&1 || { tail -5 "$cache/install.log"; skip "npm install failed"; }
    touch "$cache/.complete"
fi
TB_LLAMACPP_NODE_MODULES="$cache/node_modules"
export TB_LLAMACPP_NODE_MODULES

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tb-llamacpp.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

# ids FILE: llama.cpp's greedy ids, space separated.
llama_ids() {
    node "$probe" greedy "$1" "$steps" >"$tmp/probe.json" 2>"$tmp/probe.err" ||
        { cat "$tmp/probe.err" >&2; fail "llama.cpp cannot load or run $1"; }
    node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1]));
             console.log(o.ids.join(" "))' "$tmp/probe.json"
}

# same_greedy FILE: both engines' greedy continuation of BOS agree.
checked=0
same_greedy() {
    ids=$(llama_ids "$1") || exit 1
    # shellcheck disable=SC2086 # ids are words on purpose
    "$tb" model detokenize "$1" $ids >"$tmp/llama.txt" || fail "detokenize $1"
    printf '\n' >>"$tmp/llama.txt"
    "$tb" generate --model "$1" --prompt "" --max-tokens "$steps" --threads 1 \
        >"$tmp/ours.txt" 2>"$tmp/gen.err" || { cat "$tmp/gen.err" >&2; fail "generate $1"; }
    cmp -s "$tmp/llama.txt" "$tmp/ours.txt" || {
        echo "llama.cpp: $(cat "$tmp/llama.txt")" >&2
        echo "trustbench: $(cat "$tmp/ours.txt")" >&2
        fail "greedy outputs differ for $(basename "$1")"
    }
    [ -s "$tmp/ours.txt" ] && [ "$(wc -c <"$tmp/ours.txt")" -gt 20 ] ||
        fail "$(basename "$1"): suspiciously short output"
    checked=$((checked + 1))
    echo "ok: $(basename "$1"): $(head -c 60 "$tmp/ours.txt" | tr '\n' ' ')"
}

s260="$models/stories260K/stories260K.gguf"
# Conversions of a GGUF and of llama2.c checkpoints, every type the writer has.
for t in f32 f16 bf16 q8_0 q4_0 q4_1; do
    "$tb" model convert "$s260" "$tmp/s260_$t.gguf" --type "$t" >/dev/null 2>&1 ||
        fail "convert stories260K to $t"
    same_greedy "$tmp/s260_$t.gguf"
done
for m in stories260K/stories260K.bin babyllama-tok361/model5000.bin; do
    out="$tmp/$(echo "$m" | tr / _).gguf"
    "$tb" model convert "$models/$m" "$out" --type f32 >/dev/null 2>&1 || fail "convert $m"
    same_greedy "$out"
done

# Each compressor's output (small calibration: this is about the file).
if [ -f "$oracle/calib.txt" ]; then
    for spec in "rtn bits=4 group_size=32" "gptq bits=4 group_size=32" \
        "awq bits=4 group_size=32" "sparsegpt sparsity=0.5" "wanda sparsity=0.5" \
        "magnitude sparsity=0.5" \
        "rtn bits=4 group_size=32 sym=true scale_dtype=f16" \
        "gptq bits=4 group_size=32 scale_dtype=f16" \
        "awq bits=8 group_size=32 zero_point=false scale_dtype=f16"; do
        set -- $spec
        method=$1
        shift
        sets=""
        for kv in "$@"; do sets="$sets --set $kv"; done
        # shellcheck disable=SC2086 # sets are words on purpose
        out="$tmp/c_$(echo "$spec" | tr ' =' '__').gguf"
        "$tb" compress --model "$s260" --method "$method" $sets --calib "$oracle/calib.txt" \
            --samples 8 --seq-len 128 -o "$out" >"$tmp/c.log" 2>&1 ||
            { cat "$tmp/c.log" >&2; fail "compress $method"; }
        # f16 scales: the matrices are stored packed (Q4_0, Q4_1, Q8_0).
        case "$spec" in *scale_dtype=f16*)
            "$tb" model info "$out" --tensors | grep -Eqi 'q4_0|q4_1|q8_0' ||
                fail "$spec: no packed tensor in $out";;
        esac
        same_greedy "$out"
    done
fi

# A synthetic model (byte-level tokenizer, GQA) as `model synth` writes it.
"$tb" model synth --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 --vocab 300 \
    --seed 3 -o "$tmp/synth.gguf" >/dev/null || fail "synth"
same_greedy "$tmp/synth.gguf"

# The full Llama-2 vocabulary after a trustbench rewrite: both tokenizers
# agree on tricky strings.  Invalid UTF-8 is left out: JavaScript strings
# cannot carry it to llama.cpp unchanged.
tiny="$models/llama-2-tiny-random/llama-2-tiny-random.gguf"
"$tb" model convert "$tiny" "$tmp/tiny.gguf" --type q8_0 >/dev/null 2>&1 || fail "convert tiny"
nl='
'
for s in "Hello  world" " leading space" "new${nl}lines${nl}${nl}" "digits 1234567 3.14" \
    "accents café naïve" "CJK 日本語の文章" "emoji 😀👍🏽" "   " "<s> not special" \
    "tabs	and ﬁ ligature"; do
    node "$probe" tokenize "$tmp/tiny.gguf" "$s" >"$tmp/tok.json" || fail "llama.cpp tokenize"
    a=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).ids.join(" "))' \
        "$tmp/tok.json")
    b=$("$tb" model tokenize "$tmp/tiny.gguf" "$s") || fail "trustbench tokenize"
    [ "$a" = "$b" ] || fail "tokenization of '$s': llama.cpp [$a], trustbench [$b]"
    checked=$((checked + 1))
done
echo "llama.cpp (node-llama-cpp $version) agrees with trustbench on $checked checks"
