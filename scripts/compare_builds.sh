#!/usr/bin/env bash
# The packaged build (OpenH264's assembly) against the plain `cargo build --release`, back to
# back: whole-clip `analyze` wall and CPU time (best of RUNS, the two builds alternating run by
# run so that other load on the machine hits both alike) and `ffmpeg -threads 1 -i CLIP -f null -`
# as the yardstick, on the bundled samples and a rendered 1280x720 clip (docs/packages.md).
#
#   scripts/compare_builds.sh PLAIN_BINARY PACKAGED_BINARY [RUNS]     (default 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
plain=$1; pkg=$2; runs=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$pkg" synth --out "$tmp/rendered_1280x720.mp4" --size 1280x720 --duration 20 --seed 7 >/dev/null 2>&1
t() { /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" >/dev/null 2>&1; awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$tmp/t"; }
min() { sort -n | head -1; }
echo "| clip | ffmpeg -threads 1 | plain analyze (wall / CPU) | packaged analyze (wall / CPU) | plain / ffmpeg | packaged / ffmpeg |"
echo "|---|---|---|---|---|---|"
for clip in sample_videos/*.mp4 "$tmp/rendered_1280x720.mp4"; do
    : > "$tmp/f"; : > "$tmp/p"; : > "$tmp/k"
    for _ in $(seq "$runs"); do
        t ffmpeg -nostdin -v error -threads 1 -i "$clip" -f null - >> "$tmp/f"
        t "$plain" analyze "$clip" -q --events "$tmp/e1.jsonl" >> "$tmp/p"; rm -f "$tmp/e1.jsonl"
        t "$pkg" analyze "$clip" -q --events "$tmp/e2.jsonl" >> "$tmp/k"; rm -f "$tmp/e2.jsonl"
    done
    f=$(cut -d' ' -f1 "$tmp/f" | min)
    pw=$(cut -d' ' -f1 "$tmp/p" | min); pc=$(cut -d' ' -f2 "$tmp/p" | min)
    kw=$(cut -d' ' -f1 "$tmp/k" | min); kc=$(cut -d' ' -f2 "$tmp/k" | min)
    awk -v n="$(basename "$clip")" -v f="$f" -v pw="$pw" -v pc="$pc" -v kw="$kw" -v kc="$kc" \
        'BEGIN { printf "| %s | %.2f s | %.2f s / %.2f s | %.2f s / %.2f s | %.2f | %.2f |\n", n, f, pw, pc, kw, kc, pw / f, kw / f }'
done
