#!/usr/bin/env bash
# Accuracy with glasses: renders the two glasses sets and scores them with `twitchwatch eval`.
#
#   scripts/glasses_eval.sh [DIR]     (default: a temporary folder, removed afterwards;
#                                      needs `cargo build --release`)
#
# tuned:     the four clips the look-based lid measure was worked out on (seeds 21-24,
#            480x360, a 150 px face, 12 s; the robustness test `glasses` is seed 22).
# held-back: 16 clips rendered only after that work was done, never tuned on: other seeds,
#            640x480, portrait 720x1280, 25 and 60 fps, a 100 px face, clonic only, tonic
#            only, no twitches at all (with and without a hand), a hand, H.264 at
#            150 kbit/s, low light with noise, a second face, mirrored selfie views.
# suite:     `synth --suite 8 --seed 1` with glasses: the same scenarios as the bare-face
#            clips of `synth --suite 8 --seed 1`, to compare with (held back as well).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TWITCHWATCH_BIN:-target/release/twitchwatch}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
if [ $# -ge 1 ]; then
    WORK=$1
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK/tuned" "$WORK/held_back"
synth() { "$BIN" synth --glasses "$@" >/dev/null 2>&1; }
for seed in 21 22 23 24; do
    synth -o "$WORK/tuned/g$seed.mp4" --seed $seed --size 480x360 --face-width 150 --duration 12
done
H=$WORK/held_back
synth -o "$H/g101.mp4" --seed 101 --duration 20
synth -o "$H/g102.mp4" --seed 102 --duration 20
synth -o "$H/g103.mp4" --seed 103 --duration 20 --pattern clonic
synth -o "$H/g104.mp4" --seed 104 --duration 20 --pattern tonic
synth -o "$H/g105.mp4" --seed 105 --duration 15 --size 720x1280 --face-width 400
synth -o "$H/g106.mp4" --seed 106 --duration 15 --fps 25
synth -o "$H/g107.mp4" --seed 107 --duration 15 --fps 60
synth -o "$H/g108.mp4" --seed 108 --duration 15 --face-width 100
synth -o "$H/g109.mp4" --seed 109 --duration 20 --twitches 0
synth -o "$H/g110.mp4" --seed 110 --duration 20 --twitches 0 --hand
synth -o "$H/g111.mp4" --seed 111 --duration 15 --hand
synth -o "$H/g112.mp4" --seed 112 --duration 15 --kbps 150
synth -o "$H/g113.mp4" --seed 113 --duration 15 --light 0.4 --noise 4
synth -o "$H/g114.mp4" --seed 114 --duration 15 --second-face
synth -o "$H/m115.mp4" --seed 115 --duration 15 --mirrored
synth -o "$H/m116.mp4" --seed 116 --duration 15 --mirrored --size 720x1280 --face-width 300
mkdir -p "$WORK/suite"
"$BIN" synth --suite 8 --seed 1 --glasses -o "$WORK/suite" >/dev/null 2>&1
for set in tuned held_back suite; do
    echo "== $set"
    "$BIN" eval --dir "$WORK/$set"
done
