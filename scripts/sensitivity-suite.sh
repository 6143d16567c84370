#!/usr/bin/env bash
# Sensitivity suite (issue 25): renders paired synthetic clips at fixed twitch strengths plus
# distractor-only clips, then scores them with `twitchwatch eval --by closure`.
# Method, seed ranges and measured times: docs/sensitivity.md.
#
#   scripts/sensitivity-suite.sh [--set tuning|held-back] [--out DIR] [--jobs N]
#                                [--seeds N] [--neg N] [--neg-seed S] [--flutter] [--no-eval]
#
#   --set       tuning (seeds 1000-1099, default) or held-back (seeds 5000-5999: render and
#               score these only to measure, never to tune on)
#   --out       output folder (default: sensitivity-<set>)
#   --jobs      clips rendered at once (default 2)
#   --seeds     seeds per strength level (default 12: 12 x 6 = 72 twitches planned per
#               level, at least 60 after the planner drops what does not fit)
#   --neg       distractor-only clips of 60 s (default 20 = 20 minutes)
#   --neg-seed  seed of the first distractor-only clip (default: the set's first seed + 50);
#               more minutes of a set, e.g. --set held-back --seeds 0 --neg 40 --neg-seed 5200
#   --flutter   also lower-lid flutter clips at 0.5, 1 and 2 % lid travel (--seeds seeds,
#               at most 10), scored with --by lid_travel_pct
#   --no-eval   render only
#
# Every clip of one seed has the same times, sides, patterns and distractors at every level
# (paired): only the strength differs. Needs `cargo build --release` (or TWITCHWATCH_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TWITCHWATCH_BIN:-target/release/twitchwatch}
[ -x "$BIN" ] || { echo "build first: cargo build --release (or set TWITCHWATCH_BIN)" >&2; exit 1; }

SET=tuning OUT= JOBS=2 SEEDS=12 NEG=20 NEG_SEED= FLUTTER=0 EVAL=1
while [ $# -gt 0 ]; do
    case $1 in
        --set) SET=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --seeds) SEEDS=$2; shift 2 ;;
        --neg) NEG=$2; shift 2 ;;
        --neg-seed) NEG_SEED=$2; shift 2 ;;
        --flutter) FLUTTER=1; shift ;;
        --no-eval) EVAL=0; shift ;;
        *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
case $SET in
    tuning) BASE=1000 ;;
    held-back|heldback) SET=held-back BASE=5000 ;;
    *) echo "--set: tuning or held-back" >&2; exit 2 ;;
esac
[ "$SEEDS" -le 50 ] || { echo "--seeds <= 50 (seed ranges)" >&2; exit 2; }
if [ -z "$NEG_SEED" ]; then
    NEG_SEED=$((BASE + 50))
    [ "$NEG" -le 30 ] || { echo "--neg <= 30 from seed $NEG_SEED (seed ranges; see --neg-seed)" >&2; exit 2; }
fi
# Every distractor-only seed stays in its set's range (docs/sensitivity.md).
LIMIT=$([ $SET = held-back ] && echo 5999 || echo 4999)
[ "$NEG_SEED" -ge "$BASE" ] && [ $((NEG_SEED + NEG - 1)) -le "$LIMIT" ] ||
    { echo "--neg-seed: seeds $NEG_SEED-$((NEG_SEED + NEG - 1)) leave the $SET range ($BASE-$LIMIT)" >&2; exit 2; }
OUT=${OUT:-sensitivity-$SET}
mkdir -p "$OUT"

# Strength levels (closure: the fraction the eye's aperture narrows at the peak) and the
# paired 0.7c levels of 0.45, 0.6 and 0.9.
LEVELS="0.2 0.3 0.45 0.6 0.9 0.315 0.42 0.63"
SIZES=(480x360 640x480 960x540 1280x720)
FACES=(150 200 226 302)          # face width about 0.42 of the frame height
KBPS_LO=(250 400 700 1200)       # about 0.05 bits per pixel per frame
KBPS_HI=(800 1400 2300 4000)     # about 0.15 (the synth default)

# One line per clip: output name and synth options. Seed offset i picks the frame size
# (i % 4) and the bit rate (both rates at every size); offsets 5, 11, 17, ... are single
# jerks, the others mixed clonic and tonic.
jobs_list() {
    local i seed s r c kbps pattern
    for ((i = 0; i < SEEDS; i++)); do
        seed=$((BASE + i)) s=$((i % 4)) r=$(((i / 4 + i) % 2))
        kbps=$([ $r = 0 ] && echo "${KBPS_LO[$s]}" || echo "${KBPS_HI[$s]}")
        pattern=$([ $((i % 6)) = 5 ] && echo single || echo mixed)
        for c in $LEVELS; do
            echo "c${c}_s$seed --seed $seed --size ${SIZES[$s]} --face-width ${FACES[$s]} --kbps $kbps --duration 30 --twitches 6 --pattern $pattern --closure $c --distractors all,weak"
        done
    done
    for ((i = 0; i < NEG; i++)); do
        seed=$((NEG_SEED + i)) s=$((i % 4)) r=$(((i / 4 + i) % 2))
        kbps=$([ $r = 0 ] && echo "${KBPS_LO[$s]}" || echo "${KBPS_HI[$s]}")
        hand=$([ $((i % 2)) = 1 ] && echo --hand || true)
        echo "neg_s$seed --seed $seed --size ${SIZES[$s]} --face-width ${FACES[$s]} --kbps $kbps --duration 60 --twitches 0 --distractors all,weak $hand"
    done
    if [ $FLUTTER = 1 ]; then
        for ((i = 0; i < SEEDS && i < 10; i++)); do
            seed=$((BASE + 80 + i)) s=$((i % 4))
            for t in 0.5 1 2; do
                echo "flutter${t}_s$seed --seed $seed --size ${SIZES[$s]} --face-width ${FACES[$s]} --kbps ${KBPS_HI[$s]} --duration 30 --twitches 6 --pattern flutter --lid-travel $t --distractors all,weak"
            done
        done
    fi
}

# One line of jobs_list: the clip's name, then its synth options (split on blanks).
render_one() {
    # shellcheck disable=SC2086
    set -- $1
    local name=$1
    shift
    [ -s "$OUT/$name.labels.json" ] && return 0 # resume: already rendered
    "$BIN" synth -o "$OUT/$name.mp4" "$@" >/dev/null 2>"$OUT/$name.log" ||
        { echo "synth failed: $name (see $OUT/$name.log)" >&2; return 1; }
    rm -f "$OUT/$name.log"
}
export -f render_one
export BIN OUT

start=$SECONDS
jobs_list | xargs -P "$JOBS" -d '\n' -n 1 bash -c 'render_one "$1"' _
render_s=$((SECONDS - start))
frames=$(cat "$OUT"/*.labels.json | grep -o '"frames": [0-9]*' | awk '{n += $2} END {print n}')
echo "rendered $(ls "$OUT"/*.mp4 | wc -l) clips, $frames frames, in ${render_s} s with $JOBS jobs ($SET set)"
[ "$SEEDS" -gt 0 ] && for c in $LEVELS; do
    n=$(cat "$OUT"/c*.labels.json | grep -c "\"closure\": $c\$" || true)
    note=$([ "$n" -lt 60 ] && echo "  (fewer than 60: raise --seeds)" || true)
    echo "closure $c: $n twitches$note"
done

if [ $EVAL = 1 ]; then
    start=$SECONDS
    "$BIN" eval --dir "$OUT" --by closure --csv "$OUT/sensitivity_closure.csv" \
        --keep-events "$OUT/events" | tee "$OUT/sensitivity_closure.txt"
    echo "eval: $((SECONDS - start)) s"
    if [ $FLUTTER = 1 ]; then
        "$BIN" eval --dir "$OUT" --events-from "$OUT/events" --by lid_travel_pct \
            --csv "$OUT/sensitivity_flutter.csv" | tee "$OUT/sensitivity_flutter.txt"
    fi
fi
