#!/usr/bin/env python3
# trace-replay.py - the parts of tests/bench/trace-replay.sh that read the
# trace and write the figures.
#   trace-replay.py window TRACE 'YYYY-MM-DD HH:MM' LEARN_MIN MEASURE_MIN C K
#       the window's jobs, one a line: INDEX OFFSET_S NODES RUN_S LIMIT_MIN
#       (wall seconds, compressed by C; nodes divided by K, rounded up; run
#       times cut at the window's end)
#   trace-replay.py report OUTDIR
#       the table (stdout and OUTDIR/table.txt) and OUTDIR/trace-replay.svg
import gzip
import json
import math
import os
import sys
import time

POLICIES = ("p300", "p120", "pauto")
LABEL = {"p300": "fixed 300 s", "p120": "fixed 120 s", "pauto": "auto"}
COLOUR = {"p300": "#c0504d", "p120": "#4f81bd", "pauto": "#2e8b57"}


def die(msg):
    print("trace-replay: " + msg, file=sys.stderr)
    sys.exit(2)


def window(trace, start, learn, measure, c, k):
    c, k, learn, measure = float(c), int(k), int(learn), int(measure)
    unix0, jobs = read_trace(trace)
    os.environ["TZ"] = "US/Pacific"  # the log's own time zone
    time.tzset()
    try:
        s = time.mktime(time.strptime(start, "%Y-%m-%d %H:%M")) - unix0
    except ValueError:
        die("'%s' is not YYYY-MM-DD HH:MM" % start)
    end = s + (learn + measure) * 60
    sel = [j for j in jobs if s <= j[1] < end]
    if not sel:
        die("no job in the trace from %s for %d min" % (start, learn + measure))
    meas = [j for j in sel if j[1] >= s + learn * 60]
    print("# trace %s: %d jobs from %s (US/Pacific) for %d min, the last %d "
          "min measured (%d jobs there)" % (os.path.basename(trace), len(sel),
                                            start, learn + measure, measure,
                                            len(meas)))
    busy = sum(min(j[2], end - j[1]) * math.ceil(j[3] / k) for j in meas)
    print("# nodes / %d (rounded up), time / %g; measured load %.2f of %d "
          "nodes" % (k, c, busy / (128 / k * measure * 60), 128 // k))
    for idx, submit, run, procs in sel:
        run = min(run, end - submit) / c
        print("%d %.3f %d %.3f %d" % (idx, (submit - s) / c,
                                      math.ceil(procs / k), run,
                                      math.ceil(run / 60) + 2))


def read_trace(trace):
    """(unix0, [(number, submit, run, procs)]) of a Standard Workload
    Format log, in submit order."""
    unix0, jobs = None, []
    opener = gzip.open if trace.endswith(".gz") else open
    with opener(trace, "rt") as f:
        for line in f:
            if line.startswith(";"):
                if "UnixStartTime:" in line:
                    unix0 = int(line.split(":")[1])
                continue
            fields = line.split()
            if len(fields) < 5:
                continue
            submit, run, procs = int(fields[1]), int(fields[3]), int(fields[4])
            if run >= 0 and procs > 0:
                jobs.append((int(fields[0]), submit, run, procs))
    if unix0 is None:
        die("%s has no UnixStartTime: not a Standard Workload Format log" % trace)
    jobs.sort(key=lambda j: j[1])
    return unix0, jobs


def idle_auto(gaps, boot, lo=120, hi=14400):
    """The rule of azureml.conf(5) (cost.c's azml_idle_auto), trace seconds:
    the idle time T in [lo, hi] least in sum(g if g <= T else T + boot)."""
    best, best_c = lo, None
    for t in sorted(set([lo, hi] + [g for g in gaps if lo <= g <= hi])):
        c = sum(g if g <= t else t + boot for g in gaps)
        if best_c is None or c < best_c - 1e-9:
            best, best_c = t, c
    return best


def model(trace, k, boot, wait):
    """The whole log through a model of the cluster: node counts divided by
    K, a cold start bills BOOT seconds and delays its job WAIT seconds (the
    replay's figures), Slurm's node choice (warm nodes, lowest index first),
    no queueing beyond the machine's size.  Fixed idle times, and auto as
    the rule learnt each week from the week before."""
    _, jobs = read_trace(trace)
    k, boot, wait = int(float(k)), float(boot), float(wait)
    n = 128 // k
    jobs = [(s, r, math.ceil(p / k)) for _, s, r, p in jobs]
    week = 7 * 86400

    def run(idle_of):
        free = [0.0] * n        # when each node's job ends
        up = [None] * n         # since when it is billed (None: down)
        billed = busy = 0.0
        cold = waits = 0
        ends = []               # (end, node) of the jobs, for the gaps
        for s, r, p in jobs:
            T = idle_of(s)
            for i in range(n):  # nodes idle longer than T went down
                if up[i] is not None and free[i] <= s and free[i] + T <= s:
                    billed += free[i] + T - up[i]
                    up[i] = None
            avail = sorted(range(n), key=lambda i: (free[i], i))[:p]
            t = max(s, max(free[i] for i in avail))
            warm = [i for i in avail if up[i] is not None]
            start = t + wait if len(warm) < p else t
            for i in avail:
                if up[i] is None:
                    up[i] = t
                free[i] = start + r
            cold += len(warm) < p
            waits += start - t
            busy += r * p
            ends.append((start, start + r))
        for i in range(n):
            if up[i] is not None:
                billed += free[i] + idle_of(free[i]) - up[i]
        return busy / billed, waits / len(jobs), cold, ends

    rows = []
    for T in (30, 60, 120, 300, 600, 1200):
        ratio, w, cold, _ = run(lambda s, T=T: T)
        rows.append(("fixed %d s" % T, T, ratio, w, cold))
    # auto: each week's idle time from the gaps of the week before (one gap
    # each time a job ends until the next starts), as reconcile learns it
    _, _, _, ends = run(lambda s: 300)
    starts = sorted(e[0] for e in ends)
    learnt = {}
    for s0, e0 in ends:
        w0 = int(e0 // week)
        j = next((x for x in starts if x > e0), None)
        if j is not None:
            learnt.setdefault(w0 + 1, []).append(j - e0)
    per_week = {w: idle_auto(g, boot) for w, g in learnt.items()}
    ratio, w, cold, _ = run(lambda s: per_week.get(int(s // week), 300))
    rows.append(("auto (weekly)", sorted(per_week.values()), ratio, w, cold))
    base = [r for r in rows if r[1] == 300][0]
    print("A model of the whole log (%d jobs, %d days; nodes / %d; a cold "
          "start delays its job %.0f s, billed on all its nodes; auto counts "
          "a boot as %g s):" % (len(jobs), (jobs[-1][0] - jobs[0][0]) // 86400,
                                k, wait, boot))
    print("%-14s %8s %10s %9s %10s %7s" % ("policy", "busy%", "vs 300 s",
                                           "wait_s", "vs 300 s", "cold"))
    for name, T, ratio, w, cold in rows:
        print("%-14s %7.1f%% %+9.1f%% %9.1f %+9.1f%% %7d" % (
            name, 100 * ratio, 100 * (ratio / base[2] - 1), w,
            100 * (w / base[3] - 1), cold))
    t = rows[-1][1]
    print("auto's weekly idle times: median %d s, from %d to %d s" % (
        t[len(t) // 2], t[0], t[-1]))


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]


def report(out):
    run = {}
    with open(os.path.join(out, "run.txt")) as f:
        for line in f:
            w = line.split()
            for i in range(0, len(w) - 1, 2):
                run[w[i]] = float(w[i + 1])
    c, t0, learn_at, e = run["C"], run["T0"], run["L"], run["E"]
    with open(os.path.join(out, "cost.json")) as f:
        cost = json.load(f)
    rows = {r["target"]: r for r in cost["rows"]}
    offs, nodes = {}, {}
    with open(os.path.join(out, "window.txt")) as f:
        for line in f:
            if not line.startswith("#"):
                w = line.split()
                offs[w[0]] = float(w[1])
                nodes[w[0]] = int(w[2])
    ids = {}
    with open(os.path.join(out, "jobs.txt")) as f:
        for line in f:
            idx, p, jid = line.split()
            ids[jid] = (idx, p)
    wait, ran = {}, []
    with open(os.path.join(out, "sacct.txt")) as f:
        for line in f:
            w = line.strip().split("|")
            if len(w) < 6 or w[0] not in ids:
                continue
            if not w[3].isdigit() or not w[2].isdigit():
                continue  # never started
            idx, p = ids[w[0]]
            wait[(idx, p)] = int(w[3]) - int(w[2])
            if w[4].isdigit():
                ran.append((p, int(w[3]), int(w[4]), nodes[idx]))
    measured = [i for i in offs if t0 + offs[i] >= learn_at]

    lines = []
    say = lines.append
    say("Measured: %.2f trace hours (%.0f s of wall time, x%g), %d jobs; "
        "hours below are trace hours." % ((e - learn_at) * c / 3600,
                                          e - learn_at, c, len(measured)))
    say("%-12s %9s %9s %7s %6s %6s %7s %9s %9s %9s %8s" % (
        "policy", "billed_h", "busy_h", "busy%", "boot%", "idle%",
        "creates", "wait_s", "added_s", "p95_s", "USD"))
    fig = {}
    for p in POLICIES:
        r = rows.get(p)
        if not r:
            say("%-12s (no VM in the measured window)" % LABEL[p])
            continue
        billed = r["billed_hours"] * c
        busy = r.get("busy_hours", 0) * c
        boot = r["boot_hours"] * c
        idle = r.get("idle_hours", 0) * c
        added = [(wait[(i, p)] - wait[(i, "base")]) * c for i in measured
                 if (i, p) in wait and (i, "base") in wait]
        whole = [wait[(i, p)] * c for i in measured if (i, p) in wait]
        fig[p] = dict(billed=billed, busy=busy, ratio=busy / billed if billed
                      else 0, mean=sum(added) / len(added) if added else 0,
                      p95=pct(added, 95))
        say("%-12s %9.2f %9.2f %6.1f%% %5.1f%% %5.1f%% %7d %9.0f %9.0f %9.0f "
            "%8.2f" % (LABEL[p], billed, busy, 100 * fig[p]["ratio"],
                       100 * boot / billed if billed else 0,
                       100 * idle / billed if billed else 0, r["creates"],
                       sum(whole) / len(whole) if whole else 0,
                       fig[p]["mean"], fig[p]["p95"],
                       (r.get("cost") or 0) * c))
    say("wait_s: a job's mean wait from submit to start; added_s and p95_s: "
        "what its cold starts added, against the same job on always-up nodes.")
    say("USD: %s prices (%s), of the trace's hours." % (
        cost.get("currency", "?"), cost.get("prices", "?")))
    if "p300" in fig and "pauto" in fig and fig["p300"]["ratio"]:
        a, b = fig["pauto"], fig["p300"]
        say("auto against fixed 300 s: busy/billed %+.1f%% (goal: +15%% or "
            "more), mean added wait %+.0f s, %+.1f%% (goal: +10%% or less)" % (
                100 * (a["ratio"] / b["ratio"] - 1), a["mean"] - b["mean"],
                100 * (a["mean"] / b["mean"] - 1) if b["mean"] else 0))
    learnt = []
    try:
        with open(os.path.join(out, "reconcile.txt")) as f:
            for line in f:
                if line.startswith("cluster pauto: IdleSecondsBeforeScaledown"
                                   "=auto: taking "):
                    learnt.append(line.split("taking ")[1].split(" s")[0])
    except OSError:
        pass
    say("auto's idle time, as reconcile learnt it (wall s; x%g for trace "
        "s): 300 (its start)%s" % (c, "".join(" -> " + v for v in learnt)))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    svg(out, run, fig, ran)
    # the same policies over the whole log, in a model that takes the
    # replay's cold-start wait
    cold = [(wait[(i, p)] - wait[(i, "base")]) * c for p in POLICIES
            for i in offs if (i, p) in wait and (i, "base") in wait and
            (wait[(i, p)] - wait[(i, "base")]) * c > run["BOOT"] / 2]
    try:
        with open(os.path.join(out, "trace.txt")) as f:
            trace = f.read().strip()
    except OSError:
        return
    if cold:
        print("")
        model(trace, run["K"], run["BOOT"], sum(cold) / len(cold))


def steps(points, x, y):
    """SVG points of a step line through (t, value) pairs, a point only
    where the value changes."""
    out, last = [], None
    for t, v in points:
        if v != last:
            if last is not None:
                out.append("%.0f,%.0f" % (x(t), y(last)))
            out.append("%.0f,%.0f" % (x(t), y(v)))
            last = v
    return out


def svg(out, run, fig, ran):
    c, t0, learn_at, e, n = run["C"], run["T0"], run["L"], run["E"], run["N"]
    vms = {p: [] for p in POLICIES}     # the sampler's count of VMs
    with open(os.path.join(out, "samples.txt")) as f:
        for line in f:
            w = line.split()
            if len(w) < 2 or w[1] != "vms":
                continue
            now = dict(tok.split("=") for tok in w[2:] if "=" in tok)
            for p in POLICIES:
                if t0 <= float(w[0]) <= e:
                    vms[p].append((float(w[0]), int(now.get(p, 0))))
    busy = {p: [] for p in POLICIES}    # slurmdbd's job times
    for p in POLICIES:
        ev = sorted([(s, k) for q, s, _, k in ran if q == p] +
                    [(t, -k) for q, _, t, k in ran if q == p])
        cur = 0
        busy[p].append((t0, 0))
        for t, d in ev:
            cur += d
            busy[p].append((t, cur))
        busy[p].append((e, cur))
    width, ph, left, top = 960, 200, 60, 50
    span = max(e - t0, 1)
    x = lambda t: left + (t - t0) / span * (width - left - 20)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'font-family="sans-serif" font-size="12">' % (
                 width, top + 3 * (ph + 40) + 20),
             '<rect width="100%" height="100%" fill="white"/>',
             '<text x="%d" y="22" font-size="15">NASA iPSC/860 trace, replayed '
             'x%g on real slurmctld: VMs billed (line) and nodes busy (grey) '
             '</text>' % (left, c)]
    for k, p in enumerate(POLICIES):
        y0 = top + k * (ph + 40)
        y = lambda v: y0 + ph - v / n * ph
        parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
                     'stroke="#888"/>' % (left, y0, width - left - 20, ph))
        area = steps(busy[p], x, y) + ["%.0f,%.0f" % (x(e), y(0)),
                                       "%.0f,%.0f" % (x(t0), y(0))]
        line = steps(vms[p] + [(e, -1)], x, y)[:-1]
        parts.append('<polygon points="%s" fill="#bbb"/>' % " ".join(area))
        parts.append('<polyline points="%s" fill="none" stroke="%s" '
                     'stroke-width="1.5"/>' % (" ".join(line), COLOUR[p]))
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" '
                     'stroke-dasharray="4,3"/>' % (x(learn_at), y0, x(learn_at),
                                                   y0 + ph))
        f = fig.get(p, {})
        parts.append('<text x="%d" y="%d">%s: busy/billed %.0f%%, %.1f billed '
                     'VM-h, mean wait added %.0f s (p95 %.0f s); measured '
                     'right of the dashed line</text>' % (
                         left, y0 - 6, LABEL[p], 100 * f.get("ratio", 0),
                         f.get("billed", 0), f.get("mean", 0),
                         f.get("p95", 0)))
        for v in (0, n // 2, n):
            parts.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' %
                         (left - 4, y(v) + 4, v))
        hours = span * c / 3600
        for h in range(0, int(hours) + 1):
            tx = x(t0 + h * 3600 / c)
            parts.append('<text x="%.1f" y="%d" text-anchor="middle">%dh'
                         '</text>' % (tx, y0 + ph + 14, h))
    parts.append("</svg>")
    with open(os.path.join(out, "trace-replay.svg"), "w") as f:
        f.write("\n".join(parts) + "\n")
    print("plot: %s" % os.path.join(out, "trace-replay.svg"))


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "window":
        window(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "model":
        model(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        die("usage: trace-replay.py window TRACE 'YYYY-MM-DD HH:MM' LEARN_MIN "
            "MEASURE_MIN C K | report OUTDIR")
