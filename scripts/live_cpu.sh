#!/usr/bin/env bash
# Live mode's cost and event latency on a simulated 640x480 30 fps camera.
#
#   scripts/live_cpu.sh [RUNS]        (default 3 runs; needs `cargo build --release` and python3)
#
# Renders a 40 s synthetic clip with twitches, then for each run plays it through
# `twitchwatch live --simulate CLIP --no-preview` and reads the process's CPU time
# (utime + stime in /proc/PID/stat, and per thread: the capture thread decodes the clip, the
# main thread analyses) between t = 10 s and t = 30 s after start. It also polls the event
# log every 5 ms and reports, for each twitch, how long after its burst ended (wall_end) its
# line was on disk. Prints one row per run and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TWITCHWATCH_BIN:-target/release/twitchwatch}
RUNS=${1:-3}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" synth --out "$WORK/cam.mp4" --size 640x480 --fps 30 --duration 40 --seed 7 \
    --twitches 6 --distractors blink,talk >/dev/null
python3 - "$BIN" "$WORK" "$RUNS" <<'PY'
import datetime, json, os, statistics, subprocess, sys, time
binary, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")

def cpu(path):
    """utime + stime in seconds from a /proc stat file."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            out[tid] = (name, cpu(f"/proc/{pid}/task/{tid}/stat"))
        except OSError:
            pass
    return out

rows = []
for run in range(runs):
    log = f"{work}/run{run}.jsonl"
    p = subprocess.Popen([binary, "live", "--simulate", f"{work}/cam.mp4", "--no-preview",
                          "--events", log], stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    seen, latencies, marks = 0, [], {}
    while True:
        now = time.monotonic() - t0
        for mark in (10.0, 30.0):
            if mark not in marks and now >= mark:
                marks[mark] = (cpu(f"/proc/{p.pid}/stat"), threads(p.pid), now)
        if now >= 32.0:
            break
        try:
            with open(log) as f:
                lines = f.read().split("\n")[:-1]
        except FileNotFoundError:
            lines = []
        arrived = time.time()
        for line in lines[seen:]:
            e = json.loads(line)
            if e.get("kind") == "twitch" and "wall_end" in e:
                end = datetime.datetime.fromisoformat(e["wall_end"]).timestamp()
                latencies.append(arrived - end)
        seen = len(lines)
        time.sleep(0.005)
    p.send_signal(2)
    p.wait()
    (c10, th10, w10), (c30, th30, w30) = marks[10.0], marks[30.0]
    span = w30 - w10
    by_name = {}
    for tid, (name, c) in th30.items():
        before = th10.get(tid, (name, 0.0))[1]
        by_name[name] = by_name.get(name, 0.0) + c - before
    total = 100 * (c30 - c10) / span
    capture = 100 * by_name.get("twitchwatch-cap", 0.0) / span
    analysis = 100 * sum(v for k, v in by_name.items() if k != "twitchwatch-cap") / span
    worst = max(latencies) if latencies else float("nan")
    rows.append((total, analysis, capture, worst, len(latencies)))
    print(f"run {run + 1}: CPU {total:.1f} % of one core (analysis {analysis:.1f} %, "
          f"capture+decoding {capture:.1f} %), {len(latencies)} twitches, "
          f"event on disk at most {worst:.3f} s after its burst ended")
med = lambda i: statistics.median(r[i] for r in rows)
print(f"median of {runs}: CPU {med(0):.1f} % (analysis {med(1):.1f} %, capture+decoding "
      f"{med(2):.1f} %), worst latency {med(3):.3f} s")
PY
