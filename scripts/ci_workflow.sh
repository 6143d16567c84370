#!/usr/bin/env bash
# CI test of the archive workflow (workflow/Snakefile, docs/archives.md): Snakemake from PyPI in
# a throwaway virtualenv, the bundled sample clips and a rendered 1280x720 clip as a small
# archive, 2 cores. Checks: one failing clip is reported and the others finish; a job killed
# part-way leaves no finished-looking log and the rerun completes; reruns skip finished
# clips; every output is owner-only; the events equal single `twitchwatch analyze` runs.
#
# Usage: scripts/ci_workflow.sh TWITCHWATCH_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
tw=$(realpath "$1")
fail() { echo "ci_workflow: FAILED: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "installing python3-venv (for the throwaway Snakemake virtualenv)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv
fi
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --disable-pip-version-check "snakemake==9.27.1"
smk="$tmp/venv/bin/snakemake"

# The archive: two patients with before/after (one by treatment date, one by phase), one
# patient with a longer 1280x720 clip (the one whose job is killed), one with a broken clip.
mkdir -p "$tmp/clips"
"$tw" synth --out "$tmp/clips/long720.mp4" --size 1280x720 --duration 30 --seed 7 >/dev/null 2>&1
printf 'not a video\n' > "$tmp/clips/broken.mp4"
s="$repo/sample_videos"
{
    printf 'patient\tclip\trecorded\tphase\ttreatment\tmirrored\n'
    printf 'P1\t%s\t2026-01-10\t\t2026-02-01\tno\n' "$s/clonic_left.mp4"
    printf 'P1\t%s\t2026-03-01\t\t2026-02-01\tyes\n' "$s/mixed.mp4"
    printf 'P2\t%s\t2026-01-12\tbefore\t\tno\n' "$s/tonic_right.mp4"
    printf 'P2\t%s\t2026-02-20\tafter\t\tno\n' "$s/distractors_only.mp4"
    printf 'P3\tclips/long720.mp4\t2026-01-05\t\t\tno\n'
    printf 'P4\tclips/broken.mp4\t2026-01-06\t\t\tno\n'
} > "$tmp/samples.tsv"
printf 'samples: %s\ntwitchwatch: %s\n' "$tmp/samples.tsv" "$tw" > "$tmp/config.yaml"
out="$tmp/archive"
# As docs/archives.md says: a private folder, and Snakemake under umask 077.
mkdir -m 700 "$out"
umask 077
run() { "$smk" --snakefile "$repo/workflow/Snakefile" --configfile "$tmp/config.yaml" \
    --directory "$out" --cores 2 "$@"; }

# Run 1: the long clip's job is killed as soon as its log is being written.
run > "$tmp/run1.log" 2>&1 &
smk_pid=$!
part="$out/logs/P3/long720.events.jsonl.part"
killed=""
for _ in $(seq 1 600); do
    if [ -e "$part" ]; then
        for p in /proc/[0-9]*; do
            if ls -l "$p/fd" 2>/dev/null | grep -qF "$part"; then
                kill -9 "${p#/proc/}" && killed=${p#/proc/}
            fi
        done
        [ -n "$killed" ] && break
    fi
    sleep 0.05
done
[ -n "$killed" ] || fail "never saw the long clip's job running"
if wait "$smk_pid"; then fail "run 1 succeeded although a job was killed and a clip is broken"; fi
echo "run 1: killed the analyze of long720 (pid $killed); Snakemake went on and reported:"
grep -E "^Error in rule|Exiting because a job execution failed|Incomplete|failed" "$tmp/run1.log" | sed 's/^/    /' || true
[ ! -e "$out/logs/P3/long720.events.jsonl" ] || fail "the killed job left a finished-looking log"
for f in P1/clonic_left P1/mixed P2/tonic_right P2/distractors_only; do
    [ -s "$out/logs/$f.events.jsonl" ] || fail "$f was not analysed while other jobs failed"
done
grep -q "twitchwatch: error" "$out/job-logs/analyze/P4/broken.log" || fail "the broken clip's error is not in its job log"
[ -e "$out/compare/P1.html" ] && [ -e "$out/compare/P2.html" ] || fail "before/after comparisons missing"

# Run 2: completes the killed clip, skips the finished ones; the broken clip fails again.
before=$(stat -c %Y "$out/logs/P1/clonic_left.events.jsonl")
if run > "$tmp/run2.log" 2>&1; then fail "run 2 succeeded with a broken clip in the sheet"; fi
[ -s "$out/logs/P3/long720.events.jsonl" ] || { cat "$tmp/run2.log"; fail "the rerun did not complete the killed clip"; }
[ ! -e "$part" ] || fail "the temporary log is left after the rerun"
[ "$(stat -c %Y "$out/logs/P1/clonic_left.events.jsonl")" = "$before" ] || fail "the rerun analysed a finished clip again"
grep -q "analyze.*P1" "$tmp/run2.log" && fail "the rerun ran a finished clip's job"
[ -e "$out/reports/P3.html" ] || fail "P3's report missing after the rerun"
[ ! -e "$out/reports/P4.html" ] || fail "a report was made for a patient whose clip failed"

# Run 3 without the broken clip: nothing left to do.
grep -v broken "$tmp/samples.tsv" > "$tmp/samples-ok.tsv"
printf 'samples: %s\ntwitchwatch: %s\n' "$tmp/samples-ok.tsv" "$tw" > "$tmp/config.yaml"
run > "$tmp/run3.log" 2>&1 || { cat "$tmp/run3.log"; fail "run 3 failed"; }
grep -q "Nothing to be done" "$tmp/run3.log" || { cat "$tmp/run3.log"; fail "run 3 redid work"; }

# Owner-only: every file and folder the runs made (outputs, job logs, Snakemake metadata).
loose=$(find "$out" \( -type f -perm /077 \) -o \( -type d -perm /077 \) | head -5)
[ -z "$loose" ] || fail "readable by others: $loose"

# The same events as single analyze runs (the session line names the settings: left out).
events() { grep -v '"kind":"session"' "$1"; }
single() { "$tw" analyze "$1" --events "$tmp/single.jsonl" -q "${@:2}"; events "$tmp/single.jsonl"; rm -f "$tmp/single.jsonl"; }
cmp <(single "$s/clonic_left.mp4") <(events "$out/logs/P1/clonic_left.events.jsonl") || fail "clonic_left events differ"
cmp <(single "$s/mixed.mp4" --mirrored) <(events "$out/logs/P1/mixed.events.jsonl") || fail "mixed events differ"
cmp <(single "$s/tonic_right.mp4") <(events "$out/logs/P2/tonic_right.events.jsonl") || fail "tonic_right events differ"
cmp <(single "$s/distractors_only.mp4") <(events "$out/logs/P2/distractors_only.events.jsonl") || fail "distractors_only events differ"
cmp <(single "$tmp/clips/long720.mp4") <(events "$out/logs/P3/long720.events.jsonl") || fail "long720 events differ"
echo "ci_workflow: ok (failed clip reported, killed job rerun, reruns skip finished clips, owner-only, same events)"
