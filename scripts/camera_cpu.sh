#!/usr/bin/env bash
# Live mode's cost with a camera: twitchwatch live --camera 0 --no-preview against the
# emulated V4L2 webcam (tools/fake-v4l2) streaming a real face as YUYV, looping.
#
#   scripts/camera_cpu.sh [CLIP] [RUNS]   (default ../shared/clips/cry_laugh.mp4, 3 runs;
#                                          needs cargo build --release and python3)
#
# For each run: utime + stime of the whole process (/proc/PID/stat) from t = 5 s to 25 s
# after start, as % of one core, and beside it the emulated camera's own share (its
# "fake-v4l2" thread: pacing and one copy per frame, what a driver would do in the kernel).
# Prints one row per run (with the machine's load average: CPU time, not wall time, is
# measured, so other work on the machine changes little) and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIP=${1:-../shared/clips/cry_laugh.mp4}
RUNS=${2:-3}
target=${CARGO_TARGET_DIR:-target}/release
cargo build --release --quiet -p twitchwatch -p fake-v4l2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$target/fake-v4l2-frames" "$CLIP" "$WORK/frames.yuyv" yuyv
python3 - "$target" "$WORK" "$RUNS" <<'PY'
import os, statistics, subprocess, sys, time
target, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")

def cpu(path):
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def fake_thread(pid):
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == "fake-v4l2":
                    total += cpu(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            pass
    return total

env = dict(os.environ, LD_PRELOAD=f"{target}/libfake_v4l2.so",
           FAKE_V4L2_FRAMES=f"{work}/frames.yuyv")
rows = []
for run in range(runs):
    p = subprocess.Popen([f"{target}/twitchwatch", "live", "--camera", "0", "--no-preview",
                          "--events", f"{work}/run{run}.jsonl"], env=env,
                         stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    time.sleep(5.0)
    c0, f0, w0 = cpu(f"/proc/{p.pid}/stat"), fake_thread(p.pid), time.monotonic()
    time.sleep(20.0)
    c1, f1, w1 = cpu(f"/proc/{p.pid}/stat"), fake_thread(p.pid), time.monotonic()
    p.send_signal(2)
    p.wait()
    span = w1 - w0
    total, fake = 100 * (c1 - c0) / span, 100 * (f1 - f0) / span
    rows.append((total, fake))
    print(f"run {run + 1}: process {total:.1f} % of one core, of which the emulated camera "
          f"{fake:.1f} % (twitchwatch alone {total - fake:.1f} %); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
med = lambda i: statistics.median(r[i] for r in rows)
print(f"median of {runs}: process {med(0):.1f} %, emulated camera {med(1):.1f} %, "
      f"twitchwatch alone {med(0) - med(1):.1f} %")
PY
