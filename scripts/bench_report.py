#!/usr/bin/env python3
"""The bench's report (scripts/bench.sh calls it): medians of the interleaved rounds in samples.tsv,
then results.json, bench.md and PNG plots (gnuplot) in --out. Reports figures; asserts nothing."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess

NAMES = {"direct": "direct", "xdp": "pgsteer XDP", "tc": "pgsteer TC", "haproxy": "HAProxy leastconn",
         "ipvs": "IPVS lc (full NAT)", "nat": "kernel NAT (iptables)", "fwd": "bare XDP forwarder"}


def num(v):
    return None if v in ("null", "") else float(v)


def median(vals):
    vals = [v for v in vals if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def load_rows(work):
    groups = {}
    with open(os.path.join(work, "samples.tsv")) as f:
        for line in f:
            rnd, path, clients, connect, tps, p50, p99, cpu = line.rstrip("\n").split("\t")
            groups.setdefault((path, int(clients), connect == "1"), []).append((num(tps), num(p50), num(p99), num(cpu)))
    rows = []
    for (path, clients, connect), s in groups.items():
        rows.append({"path": path, "workload": "pgbench -S -C" if connect else "pgbench -S", "clients": clients,
                     "connect": connect, "tps": median([x[0] for x in s]), "p50_ms": median([x[1] for x in s]),
                     "p99_ms": median([x[2] for x in s]), "lb_cpu_us_per_tx": median([x[3] for x in s]),
                     "runs": len(s), "failed_runs": sum(1 for x in s if x[0] is None)})
    return rows


def load_pktbench(work):
    out = {}
    try:
        text = open(os.path.join(work, "pktbench.txt")).read()
    except OSError:
        return out
    for m in re.finditer(r"^(xdp|tc|fwd)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", text, re.M):
        out[m.group(1)] = {k: (None if v == "-" else float(v)) for k, v in
                           zip(("new_flow", "established_hot", "established_cold", "reply"), m.group(2, 3, 4, 5))}
    return out


IDLE_COLS = ("path", "sessions", "connected", "failed", "connect_ms", "answered", "lb_flows", "rss_bytes_per_flow",
             "map_bytes_per_flow", "kernel_bytes_per_flow", "lb_cpu_ms_per_s_held", "lb_cpu_ms_per_s_empty")


def load_idle(work):
    rows = []
    try:
        lines = open(os.path.join(work, "idle.tsv")).read().splitlines()
    except OSError:
        return rows
    for line in lines:
        f = line.split("\t")
        if len(f) != len(IDLE_COLS):
            continue
        r = {"path": f[0]}
        r.update({k: num(v) for k, v in zip(IDLE_COLS[1:], f[1:])})
        parts = [r[k] for k in ("rss_bytes_per_flow", "map_bytes_per_flow", "kernel_bytes_per_flow") if r[k] is not None]
        r["mem_bytes_per_flow"] = sum(parts) if parts else None
        rows.append(r)
    return rows


def idle_markdown(idle, hold_s):
    lines = ["", f"Idle sessions held through the balancer (tests/tools/pgs_idle: libpq sessions logged in, no traffic, "
             f"held {hold_s} s, then one query each):", "",
             "| path | sessions up / asked | connect s | answered after the hold | LB holds | memory per flow, bytes "
             "(process RSS + maps + kernel sockets) | LB CPU ms/s, sessions held | LB CPU ms/s, no session |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in idle:
        mem = " + ".join(fmt(r[k], ".0f") for k in ("rss_bytes_per_flow", "map_bytes_per_flow", "kernel_bytes_per_flow"))
        lines.append(f"| {NAMES.get(r['path'], r['path'])} | {fmt(r['connected'], '.0f')} / {fmt(r['sessions'], '.0f')} | "
                     f"{fmt(r['connect_ms'] / 1000 if r['connect_ms'] is not None else None, '.1f')} | {fmt(r['answered'], '.0f')} | "
                     f"{fmt(r['lb_flows'], '.0f')} | {fmt(r['mem_bytes_per_flow'], '.0f')} ({mem}) | "
                     f"{fmt(r['lb_cpu_ms_per_s_held'], '.3f')} | {fmt(r['lb_cpu_ms_per_s_empty'], '.3f')} |")
    lines += ["", "Memory per flow: the balancer process's RSS growth over the sessions (pgsteerd, HAProxy); for "
              "pgsteer the flow maps' memory per entry (pgs_flows and pgs_rflows are preallocated: reserved for "
              "flow-table-size entries at start, whatever the load); for HAProxy its two kernel TCP sockets a "
              "session, estimated from the slab object sizes (TCP, sock_inode_cache, filp, dentry) plus the "
              "buffer memory `ss -m` shows (- where it does not apply). LB CPU: pgsteerd's process CPU plus "
              "its BPF programs' run time; HAProxy's process CPU; in ms per second of wall time."]
    return lines


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def markdown(rows, paths, skipped, pkt, idle, args, machine):
    by = {(r["path"], r["clients"], r["connect"]): r for r in rows}
    lines = ["| workload | path | TPS | p50 ms | p99 ms | vs direct | vs bare fwd | vs HAProxy | LB CPU µs/tx |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    keys = sorted({(r["connect"], r["clients"]) for r in rows})
    for connect, clients in keys:
        wl = f"pgbench -S{' -C' if connect else ''}, {clients} client{'s' if clients > 1 else ''}"
        base = {p: (by.get((p, clients, connect)) or {}).get("tps") for p in ("direct", "fwd", "haproxy")}
        for p in paths:
            r = by.get((p, clients, connect))
            if not r:
                continue
            lines.append(f"| {wl} | {NAMES.get(p, p)} | {fmt(r['tps'], '.0f')} | {fmt(r['p50_ms'], '.3f')} | "
                         f"{fmt(r['p99_ms'], '.3f')} | {ratio(r['tps'], base['direct'])} | {ratio(r['tps'], base['fwd'])} | "
                         f"{ratio(r['tps'], base['haproxy'])} | {fmt(r['lb_cpu_us_per_tx'], '.2f')} |")
    lines += ["", f"Medians of {args.rounds} interleaved round(s) of {args.seconds} s per run, in one lab run "
              "(`make bench`). LB CPU: BPF run time of the programs on the node's interface (kernel run-time "
              "stats, on for every path) or HAProxy's process CPU; ipvs and kernel NAT work in softirq, not "
              "attributed (-). p50/p99: pgbench's per-transaction log (with -C the latency includes the connect)."]
    for p, why in skipped.items():
        lines.append(f"- {NAMES.get(p, p)}: not measured: {why}")
    if pkt:
        lines += ["", "BPF program cost, ns per packet (BPF_PROG_TEST_RUN, harness cost subtracted):", "",
                  "| program | new flow | established hot | established cold | reply |", "|---|---:|---:|---:|---:|"]
        for p in ("xdp", "tc", "fwd"):
            if p in pkt:
                v = pkt[p]
                lines.append(f"| {NAMES.get(p, p) if p == 'fwd' else 'pgsteer ' + p.upper()} | {fmt(v['new_flow'], '.0f')} | "
                             f"{fmt(v['established_hot'], '.0f')} | {fmt(v['established_cold'], '.0f')} | {fmt(v['reply'], '.0f')} |")
    if idle:
        lines += idle_markdown(idle, args.idle_seconds)
    lines += ["", "Machine: " + machine.replace("\n", "; ")]
    return "\n".join(lines) + "\n"


def plots(rows, paths, out):
    if not shutil.which("gnuplot"):
        print("bench: gnuplot not found: no plots (scripts/deps.sh installs gnuplot-nox)")
        return []
    data = os.path.join(out, "plotdata")
    os.makedirs(data, exist_ok=True)
    series = []
    for p in paths:
        pts = sorted((r["clients"], r["tps"], r["p99_ms"]) for r in rows if r["path"] == p and not r["connect"] and r["tps"])
        if pts:
            with open(os.path.join(data, f"{p}.dat"), "w") as f:
                f.writelines(f"{c} {t} {l if l is not None else 'NaN'}\n" for c, t, l in pts)
            series.append(p)
    conn = [(p, r["tps"]) for p in paths for r in rows if r["path"] == p and r["connect"] and r["tps"]]
    with open(os.path.join(data, "connect.dat"), "w") as f:
        f.writelines(f"\"{NAMES.get(p, p)}\" {t}\n" for p, t in conn)
    made = []
    common = "set terminal pngcairo size 900,560 font 'DejaVu Sans,11'\nset grid\nset key top left\nset logscale x 2\n"
    for name, col, ylabel, title in (("tps", 2, "transactions per second", "pgbench -S: TPS vs clients"),
                                     ("p99", 3, "p99 latency (ms)", "pgbench -S: p99 latency vs clients")):
        if not series:
            break
        plot = ", ".join(f"'{data}/{p}.dat' using 1:{col} with linespoints lw 2 title '{NAMES.get(p, p)}'" for p in series)
        script = (common + f"set output '{out}/bench-{name}.png'\nset title '{title}'\nset xlabel 'clients'\n"
                  f"set ylabel '{ylabel}'\nset yrange [0:*]\nplot {plot}\n")
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        made.append(f"bench-{name}.png")
    if conn:
        script = ("set terminal pngcairo size 900,460 font 'DejaVu Sans,11'\nset grid ytics\n"
                  f"set output '{out}/bench-connect.png'\nset title 'pgbench -S -C, 8 clients: new connections per second'\n"
                  "set style fill solid 0.6\nset boxwidth 0.6\nset yrange [0:*]\nset xtics rotate by -20\nunset key\n"
                  f"plot '{data}/connect.dat' using 0:2:xtic(1) with boxes\n")
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        made.append("bench-connect.png")
    return made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--paths", required=True)
    ap.add_argument("--idle-seconds", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    paths = args.paths.split()
    rows = load_rows(args.work)
    skipped = {}
    if os.path.exists(os.path.join(args.work, "skipped.tsv")):
        for line in open(os.path.join(args.work, "skipped.tsv")):
            if "\t" in line:
                p, why = line.rstrip("\n").split("\t", 1)
                skipped[p] = why
    pkt = load_pktbench(args.work)
    machine = open(os.path.join(args.work, "machine.txt")).read().strip() if os.path.exists(
        os.path.join(args.work, "machine.txt")) else ""
    idle = load_idle(args.work)
    doc = {"seconds_per_run": args.seconds, "rounds": args.rounds, "machine": machine, "rows": rows,
           "skipped": skipped, "bpf_ns_per_packet": pkt, "idle": idle, "idle_hold_seconds": args.idle_seconds}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = markdown(rows, paths, skipped, pkt, idle, args, machine)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(md)
    made = plots(rows, paths, args.out)
    print(md)
    print(f"bench: {args.out}/results.json, {args.out}/bench.md" + "".join(f", {args.out}/{m}" for m in made))


if __name__ == "__main__":
    main()
