#!/usr/bin/env bash
# Archive throughput (docs/archives.md): hours of video analysed per core-hour, one clip per
# job as the workflow runs it (`analyze --one-core -q`), on the bundled samples and a rendered
# 1280x720 clip. CPU time is the process's user + system time (all its threads): per core-hour
# of CPU actually used. Cores used = CPU time / wall time (what the job's remaining threads
# cost above one core).
#
#   scripts/throughput.sh [TWITCHWATCH]      (default target/release/twitchwatch)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/twitchwatch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" synth --out "$tmp/rendered720.mp4" --size 1280x720 --duration 60 --seed 7 >/dev/null 2>&1
printf '| clip | video s | wall s | CPU s | cores used | video h per core-hour |\n|---|---|---|---|---|---|\n'
tv=0; tc=0
for clip in sample_videos/*.mp4 "$tmp/rendered720.mp4"; do
    dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$clip")
    best=""
    for _ in 1 2 3; do
        /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$bin" analyze "$clip" --one-core -q --events "$tmp/e.jsonl"
        rm -f "$tmp/e.jsonl"
        read -r wall user sys < "$tmp/t"
        cpu=$(echo "$user + $sys" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$cpu < $best" | bc -l)" = 1 ]; then best=$cpu; bwall=$wall; fi
    done
    awk -v n="$(basename "$clip")" -v d="$dur" -v w="$bwall" -v c="$best" \
        'BEGIN { printf "| %s | %.1f | %.2f | %.2f | %.2f | %.1f |\n", n, d, w, c, c / w, d / c }'
    tv=$(echo "$tv + $dur" | bc -l); tc=$(echo "$tc + $best" | bc -l)
done
awk -v d="$tv" -v c="$tc" 'BEGIN { printf "| all | %.1f | | %.2f | | %.1f |\n", d, c, d / c }'
