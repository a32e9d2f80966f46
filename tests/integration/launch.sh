#!/bin/sh
# launch.sh - the openai backend's server launcher (doc/backends.md): a
# matrix of two variants (none, rtn 4-bit) of stories260K run on the openai
# backend with `launch: trustbench serve --model {model} --port {port}`
# gives the native backend's results for both variants (the rtn numbers
# differ from the dense ones, so the launcher served the compressed GGUF),
# and no server process remains.  A command that exits at once fails the
# cells with its log's last lines and loses nothing stored; Ctrl-C while a
# server starts stops it.  Skipped when ../shared is absent.
set -u
: "${abs_top_builddir:?run this through make check}"
tb="$abs_top_builddir/trustbench"
data="$abs_top_srcdir/configs/data"
model="$abs_top_srcdir/../shared/models/stories260K/stories260K.gguf"
[ -f "$model" ] || { echo "SKIP: $model absent"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tb-launch.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
cd "$tmp" || exit 99
mkdir logs

cat >text.txt <<'TXT'
Once upon a time, there was a little girl named Lily. She liked to play in the park
with her friends. One day, the ball rolled into the pond and Lily was sad. Her friend
Tom helped her get the ball back, and they played until the sun went down.
TXT
# $1: the backend line.  Rolling log-likelihoods, multiple choice by
# log-likelihood, and greedy generation.
matrix() {
    cat <<YAML
name: launch
seed: 7
backend: $1
models:
  - {id: tiny, path: $model}
compressions:
  - {plugin: none}
  - {plugin: rtn, bits: 4, group_size: 32}
benchmarks:
  - {plugin: perplexity, data: text.txt, window: 16}
  - {plugin: bbq, data: $data/bbq, prompt: plain}
  - {plugin: knowledge, id: freebaseqa, task: freebaseqa, data: $data/freebaseqa-sample.txt,
     max_tokens: 16}
YAML
}
serve="$tb serve --model {model} --port {port}"
matrix "{plugin: native, threads: 1}" >native.yaml
matrix "{plugin: openai, launch: \"$serve\", launch_log_dir: logs, launch_grace: 5}" >launch.yaml

"$tb" run native.yaml --db native.db >native.log 2>&1 || { cat native.log >&2; fail "native run"; }
"$tb" run launch.yaml --db launch.db >launch.log 2>&1 || { cat launch.log >&2; fail "launch run"; }
grep -q '6 done now' launch.log || { cat launch.log >&2; fail "not 6 cells done"; }

# The done rows as variant|cell|metric value n status, without the keys (the
# backend is part of them) and the trust score (a summary of the rows
# compared here).  The label may be quoted and hold commas, so the numbers
# count from the end; a failed row's reason may span lines.
rows() {
    "$tb" export "$1" --format csv | awk -F, 'NR > 1 && NF >= 20 && $(NF - 1) == "done" &&
                                              $5 != "trust_score" {
        print $2 "|" $6 "|" $8 "\t" $(NF - 9) "\t" $(NF - 6) "\t" $(NF - 1) }' | LC_ALL=C sort
}
rows native.db >native.rows
rows launch.db >launch.rows
[ "$(wc -l <native.rows)" -ge 40 ] || { cat native.rows >&2; fail "too few rows"; }
grep -q '6 done now' native.log || { cat native.log >&2; fail "not 6 native cells done"; }
tab=$(printf '\t')
# Equal to 1e-9 relative (log-probabilities travel as JSON decimals).
LC_ALL=C join -j 1 -t "$tab" native.rows launch.rows >joined || fail join
[ "$(wc -l <joined)" -eq "$(wc -l <native.rows)" ] || {
    diff native.rows launch.rows >&2; fail "the launched run has other rows"; }
awk -F'\t' '{ d = $2 - $5; if (d < 0) d = -d; m = ($2 < 0 ? -$2 : $2);
       if (d > 1e-9 * (m > 1 ? m : 1) || $3 != $6 || $4 != $7) { print; bad = 1 } }
     END { exit bad }' joined >&2 || fail "the launched server's results differ from native"
# The compressed variant was served compressed: its perplexity is not the dense one.
ppl() {
    awk -v k="$1|perplexity data=text.txt window=16|perplexity" -F'\t' '$1 == k { print $2 }' \
        launch.rows
}
dense=$(ppl none)
rtn=$(ppl "rtn bits=4 group_size=32")
[ -n "$dense" ] && [ -n "$rtn" ] && [ "$dense" != "$rtn" ] ||
    fail "rtn perplexity '$rtn' should differ from the dense '$dense'"

# Two servers (one per variant), logs in launch_log_dir, none left running.
pids=$(sed -n 's/.*openai: started .* as pid \([0-9]*\) .*/\1/p' launch.log)
[ "$(echo "$pids" | wc -w)" -eq 2 ] || { cat launch.log >&2; fail "not two servers started"; }
for p in $pids; do
    kill -0 -- "-$p" 2>/dev/null && fail "server process group $p still runs"
done
ls logs/launch-stories260K.log logs/launch-rtn-*.log >/dev/null || fail "server logs missing"
grep -q 'trustbench serve: model' logs/launch-stories260K.log || fail "serve log"

# A command that exits at once: the cells fail with its log's last lines,
# and the done cells of the database are kept.
done_before=$(grep -c "${tab}done$" launch.rows)
matrix "{plugin: openai, launch: \"echo cannot listen on port {port} >&2; exit 3\",
        launch_log_dir: logs}" >bad.yaml
"$tb" run bad.yaml --db launch.db >bad.log 2>&1 && fail "the broken launch succeeded"
grep -q 'exited with status 3 before it was ready' bad.log ||
    { cat bad.log >&2; fail "no exit reason"; }
grep -q 'cannot listen on port' bad.log || { cat bad.log >&2; fail "no log tail"; }
grep -q '6 failed' bad.log || { cat bad.log >&2; fail "not 6 cells failed"; }
rows launch.db >after.rows
[ "$(grep -c "${tab}done$" after.rows)" -eq "$done_before" ] || fail "stored results were lost"
"$tb" export launch.db --format csv >after.csv || fail export
[ "$(grep -c ',failed,".*exited with status 3 before it was ready' after.csv)" -eq 6 ] ||
    { cat after.csv >&2; fail "the 6 failed cells do not carry the reason"; }

# Ctrl-C while the server starts: trustbench stops it and ends.
matrix "{plugin: openai, launch: \"sleep 60 # {model} {port}\", launch_timeout: 120,
        launch_log_dir: logs}" >slow.yaml
"$tb" run slow.yaml --db slow.db >slow.log 2>&1 &
run=$!
for _ in $(seq 100); do
    grep -q 'openai: started' slow.log && break
    sleep 0.1
done
kill -INT "$run"
wait "$run"
rc=$?
[ "$rc" -eq 130 ] || { cat slow.log >&2; fail "interrupted run exited with $rc"; }
p=$(sed -n 's/.*openai: started .* as pid \([0-9]*\) .*/\1/p' slow.log)
[ -n "$p" ] || { cat slow.log >&2; fail "no server started"; }
kill -0 -- "-$p" 2>/dev/null && fail "the starting server $p outlived the interrupt"
# An interrupt is not a failure: no cell of the interrupted variant is
# marked failed, so a resume runs them as if never started.
if [ -f slow.db ]; then
    nf=$(sqlite3 slow.db "SELECT count(*) FROM cells WHERE status = 'failed'" 2>/dev/null || echo 0)
    [ "$nf" = 0 ] || fail "the interrupted start marked $nf cells failed"
fi
echo "ok: launched servers give the native results for both variants and stop"
