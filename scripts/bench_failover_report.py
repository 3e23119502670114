#!/usr/bin/env python3
"""The failover bench's report (scripts/bench_failover.sh calls it): per stack, advert interval and
event, the medians over the rounds of the LB's takeover, the longest stretch with no query answered,
the active sessions broken and the idle sessions surviving; then failover.json, failover.md and the
timeline plot failover.png (gnuplot) in --out. Reports figures; asserts nothing."""
import argparse
import json
import os
import shutil
import statistics
import subprocess

STACKS = {"pgsteer": "pgsteer (flow sync)", "haproxy": "HAProxy + keepalived"}
EVENTS = {"pgb_kill": "PgBouncer pgb1 killed", "lb_crash": "master LB killed, link cut",
          "graceful": "master LB stopped (graceful)"}


def load_qload(path):
    q = {"gaps": [], "buckets": []}
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "#":
            if f[1] == "start_ms":
                q["start_ms"] = int(f[2])
            elif f[1] == "gap":
                q["gaps"].append((int(f[2]), int(f[3])))
            elif f[1] == "workers":
                q["workers"], q["broken"] = int(f[2]), int(f[4])
            elif f[1] == "idle":
                q["idle"], q["idle_answered"] = int(f[2]), int(f[4])
        else:
            q["buckets"].append((int(f[0]), int(f[1]), int(f[2])))
    return q


def run_figures(ev, t0, q):
    """longest_gap_ms: the longest stretch after the failure with no query answered by any session;
    err_window_ms: from the failure to the end of the last 100 ms with an error."""
    after = [b - max(a, t0) for a, b in q["gaps"] if b > t0]
    errs = [q["start_ms"] + off + 100 - t0 for off, ok, err in q["buckets"] if err and q["start_ms"] + off + 100 > t0]
    return {"longest_gap_ms": max(after, default=0),
            "err_window_ms": max(errs, default=0),
            "errors": sum(err for off, ok, err in q["buckets"] if q["start_ms"] + off + 100 > t0),
            "broken": q.get("broken"), "workers": q.get("workers"),
            "idle": q.get("idle"), "idle_survived": q.get("idle_answered")}


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    return f"{v:.0f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def plot(runs, out, work):
    if not shutil.which("gnuplot"):
        print("bench-failover: gnuplot not found: no plot (scripts/deps.sh installs gnuplot-nox)")
        return None
    data = os.path.join(out, "plotdata")
    os.makedirs(data, exist_ok=True)
    evs = [e for e in EVENTS if any(r["event"] == e for r in runs)]
    lines = {e: [] for e in evs}
    for r in runs:
        if r["round"] != "1":
            continue
        q = r["q"]
        name = f"failover-{r['stack']}-{r['advert']}-{r['event']}.dat"
        with open(os.path.join(data, name), "w") as f:
            for off, ok, err in q["buckets"]:
                f.write(f"{q['start_ms'] + off + 50 - r['t0']} {ok} {err}\n")
        lines[r["event"]].append((name, f"{STACKS.get(r['stack'], r['stack'])}, {r['advert']} adverts"))
    png = os.path.join(out, "failover.png")
    s = [f"set terminal pngcairo size 1000,{300 * len(evs) + 60} font 'DejaVu Sans,10'", f"set output '{png}'",
         f"set multiplot layout {len(evs)},1 title 'Queries answered per 100 ms ({runs[0]['q']['workers']} sessions, "
         "SELECT 1 back to back); the failure at 0 ms'", "set grid", "set key outside right", "set yrange [0:*]",
         "set xrange [-1500:*]", "set ylabel 'queries / 100 ms'", "set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2"]
    for e in evs:
        s.append(f"set title '{EVENTS[e]}'")
        s.append("set xlabel 'ms from the failure'" if e == evs[-1] else "unset xlabel")
        s.append("plot " + ", ".join(f"'{data}/{n}' using 1:2 with steps lw 2 title '{t}'" for n, t in lines[e]))
    s.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(s) + "\n", text=True, check=True)
    return png


def main():
    ap = argparse.ArgumentParser()
    for a in ("--work", "--out"):
        ap.add_argument(a, required=True)
    for a in ("--workers", "--idle", "--run-s", "--rounds"):
        ap.add_argument(a, type=int, required=True)
    args = ap.parse_args()
    runs = []
    for line in open(os.path.join(args.work, "events.tsv")):
        stack, adv, ev, rnd, t0, tk, path = line.rstrip("\n").split("\t")
        q = load_qload(path)
        if "start_ms" not in q:
            continue
        runs.append({"stack": stack, "advert": adv, "event": ev, "round": rnd, "t0": int(t0),
                     "takeover_ms": int(tk) if tk else None, "q": q, **run_figures(ev, int(t0), q)})
    steady = []
    if os.path.exists(os.path.join(args.work, "steady.tsv")):
        for line in open(os.path.join(args.work, "steady.tsv")):
            stack, adv, secs, trans, tps = line.rstrip("\n").split("\t")
            steady.append({"stack": stack, "advert": adv, "seconds": int(secs), "vrrp_transitions": int(trans),
                           "pgbench_tps": float(tps) if tps else None})
    machine = open(os.path.join(args.work, "machine.txt")).read().strip()
    rows = []
    keys = []
    for r in runs:
        k = (r["event"], r["stack"], r["advert"])
        if k not in keys:
            keys.append(k)
    keys.sort(key=lambda k: (list(EVENTS).index(k[0]), k[2], list(STACKS).index(k[1])))
    for ev, stack, adv in keys:
        rs = [r for r in runs if (r["event"], r["stack"], r["advert"]) == (ev, stack, adv)]
        row = {"event": ev, "stack": stack, "advert": adv, "rounds": len(rs)}
        for f in ("takeover_ms", "longest_gap_ms", "err_window_ms", "errors", "broken",
                  "idle_survived"):
            row[f] = med([r[f] for r in rs])
        row["workers"], row["idle"] = args.workers, args.idle
        row["per_round"] = [{f: r[f] for f in ("round", "takeover_ms", "longest_gap_ms", "broken", "idle_survived",
                                               "errors")} for r in rs]
        rows.append(row)
    with open(os.path.join(args.out, "failover.json"), "w") as f:
        json.dump({"workers": args.workers, "idle": args.idle, "seconds_per_run": args.run_s, "rounds": args.rounds,
                   "machine": machine, "rows": rows, "steady": steady}, f, indent=1)
    md = ["| failure | stack | adverts | LB takeover ms | no answer, longest ms | errors until ms "
          "| active sessions broken | idle sessions surviving |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {EVENTS[r['event']]} | {STACKS.get(r['stack'], r['stack'])} | {r['advert']} | "
                  f"{fmt(r['takeover_ms'])} | {fmt(r['longest_gap_ms'])} | {fmt(r['err_window_ms'])} | "
                  f"{fmt(r['broken'])}/{r['workers']} | {fmt(r['idle_survived'])}/{r['idle']} |")
    md.append("")
    md.append(f"Medians of {args.rounds} round(s), the stacks interleaved, in one lab run (`make bench-failover`). "
              f"Load: {args.workers} sessions running SELECT 1 back to back through the VIP, reconnecting after a "
              f"failure, and {args.idle} idle sessions asked one query at the end ({args.run_s} s per run; "
              "tests/tools/pgs_qload). Times from the failure (the kill): LB takeover is the backup's own "
              "MASTER transition (pgsteer status, keepalived's notify); no answer is the longest stretch after the "
              "failure in which none of the sessions got an answer (the load tool sees stretches of 20 ms or more); errors until is "
              "the end of the last 100 ms with a failed query or connect.")
    if steady:
        md.append("")
        md.append("No failure, the same load plus `pgbench -S -c 16` through the VIP: VRRP transitions nobody "
                  "caused (false failovers): " + "; ".join(
                      f"{STACKS.get(s['stack'], s['stack'])} at {s['advert']}: {s['vrrp_transitions']} in "
                      f"{s['seconds']} s" for s in steady) + ".")
    md.append("")
    md.append(f"Machine: {machine}")
    text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, "failover.md"), "w") as f:
        f.write(text)
    png = plot(runs, args.out, args.work) if runs else None
    print(text)
    print(f"bench-failover: {args.out}/failover.json, {args.out}/failover.md" + (f", {png}" if png else ""))


if __name__ == "__main__":
    main()
