#!/usr/bin/env python3
"""Per-layer timeline of a traced batch-1 decode step (trace.cuh records)."""
import csv, sys, statistics as st
from collections import defaultdict

TAGS = {(1 << 28) | 6144: "qkv", 0x0B000000: "rope", 0x0A000000: "att", 4096: "o",
        (1 << 28) | 28672: "gu", (2 << 28) | 4096: "down", (1 << 28) | 128256: "lm"}
rows = []
with open(sys.argv[1]) as f:
    for r in csv.DictReader(f):
        rows.append({k: int(v) for k, v in r.items()})
by_tag = defaultdict(list)
for r in rows:
    by_tag[r["tag"]].append(r)
inst = []
for tag, rs in by_tag.items():
    rs.sort(key=lambda r: r["entry"])
    cur, seen = [], set()
    for r in rs:
        if r["block"] in seen:
            inst.append((tag, cur)); cur, seen = [], set()
        cur.append(r); seen.add(r["block"])
    if cur:
        inst.append((tag, cur))
def summary(tag, rs):
    ends = sorted(r["end"] for r in rs)
    work = [r for r in rs if not (tag == 0x0A000000 and r["extra"] == 0)]
    wends = sorted(r["end"] for r in work) or ends
    waits = sorted(r["waited"] for r in rs)
    return {"name": TAGS.get(tag, hex(tag)), "n": len(rs), "entry": min(r["entry"] for r in rs),
            "wait0": waits[0], "waitmed": waits[len(waits) // 2], "end_med": wends[len(wends) // 2],
            "end_max": ends[-1], "end_min": wends[0]}
S = sorted((summary(t, rs) for t, rs in inst), key=lambda s: s["entry"])
lm_idx = [i for i, s in enumerate(S) if s["name"] == "lm"]
steps = [S[a + 1:b + 1] for a, b in zip(lm_idx, lm_idx[1:])]
steps = [s for s in steps if [x["name"] for x in s] == ["qkv", "rope", "att", "o", "gu", "down"] * 32 + ["lm"]]
print(f"records {len(rows)}, complete steps {len(steps)}")
if not steps:
    print("names of last 20 instances:", [s["name"] for s in S[-20:]]); sys.exit(1)
steps = steps[-3:]
step_ns = [s[-1]["end_max"] - p[-1]["end_max"] for p, s in zip(steps, steps[1:])]
print("step ms (lm end to lm end):", [round(x / 1e6, 4) for x in step_ns])
acc = defaultdict(list)
names = ["qkv", "rope", "att", "o", "gu", "down"]
for s in steps:
    for L in range(1, 31):
        k = s[6 * L:6 * L + 6]
        prev_down = s[6 * L - 1]
        d = dict(zip(names, k))
        acc["down(prev) end -> qkv wait"].append(d["qkv"]["wait0"] - prev_down["end_max"])
        for a, b in zip(names, names[1:]):
            acc[f"{a} end -> {b} wait"].append(d[b]["wait0"] - d[a]["end_max"])
        for n in names:
            acc[f"{n} wait -> median end"].append(d[n]["end_med"] - d[n]["wait0"])
            acc[f"{n} median end -> last end"].append(d[n]["end_max"] - d[n]["end_med"])
            acc[f"{n} first end -> last end"].append(d[n]["end_max"] - d[n]["end_min"])
            acc[f"{n} entry -> wait"].append(d[n]["wait0"] - d[n]["entry"])
        acc["layer (qkv wait to next qkv wait)"].append(s[6 * L + 6]["wait0"] - d["qkv"]["wait0"])
for key, v in acc.items():
    print(f"{key:40s} mean {st.mean(v) / 1e3:7.2f} us  min {min(v) / 1e3:7.2f}  max {max(v) / 1e3:7.2f}")
s = steps[-1]
print("lm wait -> end (us):", (s[-1]["end_max"] - s[-1]["wait0"]) / 1e3,
      " lm end spread:", (s[-1]["end_max"] - s[-1]["end_min"]) / 1e3)
print("prev lm end -> first qkv wait (us):", (s[0]["wait0"] - steps[-2][-1]["end_max"]) / 1e3)
with open(sys.argv[2], "w") as f:
    t0 = steps[-2][-1]["end_max"]
    f.write("name,n,entry,wait0,waitmed,end_min,end_med,end_max (us from previous lm end)\n")
    for x in s:
        f.write(",".join([x["name"], str(x["n"])] + [f'{(x[k] - t0) / 1e3:.2f}' for k in ("entry", "wait0", "waitmed", "end_min", "end_med", "end_max")]) + "\n")
