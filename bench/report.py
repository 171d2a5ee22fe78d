#!/usr/bin/env python3
"""Turns bench/results/{ours,dcls}.jsonl into the Markdown tables of docs/BENCHMARKS.md.

The tables replace what lies between the markers <!-- BEGIN GENERATED --> and
<!-- END GENERATED --> of the document (standard library only; run with /usr/bin/python3).
"""
import argparse
import json
import os
import platform
import sys

BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
# Target throughput, one core: samples/s at max delay 62 and 1000 (compared at 64 and 1024).
REF = {64: 120.0, 1024: 70.0}


def load(path):
    rows = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def f(v, p=1):
    return "-" if v is None else f"{v:.{p}f}"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def rates(j):
    return "/".join(f"{r:.1f}" for r in j.get("spikes_per_hidden_neuron", []))


def pick(rows, tag, **kw):
    return [r for r in rows if r.get("tag") == tag and all(r.get(k) == v for k, v in kw.items())]


def one(rows, tag, **kw):
    m = pick(rows, tag, **kw)
    return m[-1] if m else None


def generate(ours, dcls):
    s = []
    model = ""
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    host = f"{model or platform.machine()}, {os.cpu_count()} cores"
    loads = [r["loadavg_1min"] for r in ours if "loadavg_1min" in r]
    s.append(f"Machine: {host}; 1-min load average during our runs {min(loads):.1f}–{max(loads):.1f} "
             f"(the machine was loaded: wall-clock figures are disturbed, CPU-time figures much less).\n"
             if loads else f"Machine: {host}.\n")

    # ---- Headline --------------------------------------------------------------------------
    h = pick(ours, "headline")
    if h:
        s.append("\n### Headline: 700 -> 256 recurrent -> 20, float32, against the bare loop\n\n")
        s.append(table(
            ["max delay", "threads", "samples/s (wall)", "samples per CPU-s", "fwd CPU ms", "bwd CPU ms", "bwd/fwd",
             "ns/event fwd", "ns/event bwd", "bare samples per CPU-s", "% of bare (CPU)", "% of target",
             "spikes/neuron", "engine MiB", "peak RSS MiB", "load"],
            [[r["max_delay"], r["threads"], f(r["samples_per_s"]), f(r["samples_per_cpu_s"]),
              f(r["fwd_cpu_us_per_sample"] / 1e3, 2), f(r["bwd_cpu_us_per_sample"] / 1e3, 2),
              f(r["bwd_cpu_us_per_sample"] / r["fwd_cpu_us_per_sample"], 2),
              f(r["fwd_cpu_us_per_sample"] * 1e3 / r["events_per_sample"], 2),
              f(r["bwd_cpu_us_per_sample"] * 1e3 / r["events_per_sample"], 2),
              f(r.get("bare_samples_per_cpu_s")), f(r.get("pct_of_bare_cpu"), 0),
              f(100 * r["samples_per_cpu_s"] / REF[r["max_delay"]], 0) if r["max_delay"] in REF else "-",
              rates(r), f(r["engine_mib"]), f(r["peak_rss_mib"], 0), f(r.get("loadavg_1min"))] for r in h]))
        s.append("\nCPU time = process CPU seconds (all threads), the best of the repeats; wall = best "
                 "wall-clock time. ns/event = time / synaptic events (spikes x fan-out delivered in the trial). "
                 "'% of target' compares samples per CPU-second with the target throughput (120 samples/s "
                 "at max delay 62, 70 at 1000, one core).\n\n")
        a64, a1k = one(ours, "headline", max_delay=64, threads=1), one(ours, "headline", max_delay=1024, threads=1)
        b64, b1k = one(ours, "headline", max_delay=64, threads=2), one(ours, "headline", max_delay=1024, threads=2)
        ratios = []
        if a64 and a1k:
            ratios.append(["time(1024) / time(64), 1 thread, CPU time", f(a64["samples_per_cpu_s"] / a1k["samples_per_cpu_s"], 2), "<= 1.3"])
            ratios.append(["time(1024) / time(64), 1 thread, wall", f(a64["samples_per_s"] / a1k["samples_per_s"], 2), "<= 1.3"])
            if a64.get("bare_samples_per_cpu_s") and a1k.get("bare_samples_per_cpu_s"):
                ratios.append(["same ratio for the bare loop (CPU time)",
                               f(a64["bare_samples_per_cpu_s"] / a1k["bare_samples_per_cpu_s"], 2), "(the bound's own ratio)"])
        for (one_t, two_t, d) in ((a64, b64, 64), (a1k, b1k, 1024)):
            if one_t and two_t:
                ratios.append([f"2 threads / 1 thread speed, max delay {d}, wall (measured)",
                               f(two_t["samples_per_s"] / one_t["samples_per_s"], 2), ">= 1.7"])
                ratios.append([f"2 threads / 1 thread, max delay {d}, from CPU time: 2 x (per-CPU-s throughput ratio)",
                               f(2 * two_t["samples_per_cpu_s"] / one_t["samples_per_cpu_s"], 2), ">= 1.7"])
        for r in (a64, a1k):
            if r:
                ratios.append([f"bwd/fwd, max delay {r['max_delay']} (CPU time)",
                               f(r["bwd_cpu_us_per_sample"] / r["fwd_cpu_us_per_sample"], 2), "1.5–3"])
                if r.get("pct_of_bare_cpu"):
                    ratios.append([f"ours / bare loop, max delay {r['max_delay']}, 1 thread (CPU time)",
                                   f(r["pct_of_bare_cpu"], 0) + " %", ">= 70 %"])
        if ratios:
            s.append(table(["ratio", "measured", "goal"], ratios))

    # ---- DCLS side by side ----------------------------------------------------------------
    side = pick(ours, "dcls-side")
    if side or dcls:
        s.append("\n### Side by side with DCLS: 700 -> H -> H -> 20 feedforward, 1000 steps of 1 ms, 1 thread\n\n")
        rows = []
        keys = sorted({(r["hidden"], r["max_delay"]) for r in side} |
                      {(int(r.get("hidden", 256)), int(r.get("max_delay", 0))) for r in pick(dcls, "dcls-side")})
        for (hid, d) in keys:
            o = one(ours, "dcls-side", hidden=hid, max_delay=d)
            t = [r for r in pick(dcls, "dcls-side") if int(r.get("hidden", 256)) == hid and int(r.get("max_delay", 0)) == d]
            t = t[-1] if t else None
            failed = t is not None and t.get("failed")
            tsp = None if (t is None or failed) else t.get("samples_per_cpu_s", t["samples_per_s"])
            rows.append([
                hid, d, f(o["samples_per_s"]) if o else "-", f(o["samples_per_cpu_s"]) if o else "-",
                ("not run" if t is None else (t.get("reason", "failed") if failed else
                                              f(t["samples_per_s"], 3) + ("" if t.get("warm", True) else " (cold step)"))),
                f(tsp, 3) if tsp else "-",
                f(o["samples_per_cpu_s"] / tsp, 0) + "x" if (o and tsp) else "-",
                f(o["peak_rss_mib"], 0) if o else "-",
                f(t["peak_rss_mib"], 0) if (t and not failed) else "-",
                f(t["peak_rss_mib"] - t["baseline_rss_mib"], 0) if (t and not failed) else "-",
                f(t["peak_rss_mib"] / o["peak_rss_mib"], 1) + "x" if (o and t and not failed) else "-",
                f((t["peak_rss_mib"] - t["baseline_rss_mib"]) / o["peak_rss_mib"], 1) + "x" if (o and t and not failed) else "-",
                rates(o) if o else "-"])
        s.append(table(["hidden", "max delay", "ours samples/s", "ours per CPU-s", "DCLS samples/s",
                        "DCLS per CPU-s", "speed ours/DCLS (CPU)", "ours RSS MiB", "DCLS RSS MiB",
                        "DCLS RSS above torch import", "memory DCLS/ours", "memory DCLS (above import)/ours",
                        "our spikes/neuron"], rows))
        s.append("\nBoth at batch 2 (DCLS's memory grows with the batch; ours barely), one thread. DCLS's time is one "
                 "training step after a warm-up step (forward + backward; its Adam step is reported separately in "
                 "bench/results/dcls.jsonl); '(cold step)': only one step fitted in the time, so the first step is "
                 "reported, one-time costs included.\n")
    pub_o, pub_t = one(ours, "dcls-published"), (pick(dcls, "dcls-published") or [None])[-1]
    if pub_o or pub_t:
        s.append("\n### DCLS's published SHD setting: 140 channels (700 summed in fives), 10 ms steps, 100 steps, max delay 25 steps\n\n")
        ok = pub_t is not None and not pub_t.get("failed")
        tsp = pub_t.get("samples_per_cpu_s", pub_t.get("samples_per_s")) if ok else None
        s.append(table(["impl", "batch", "samples/s (wall)", "samples per CPU-s", "fwd CPU ms", "bwd CPU ms", "peak RSS MiB"], [
            ["ours", pub_o["batch"], f(pub_o["samples_per_s"]), f(pub_o["samples_per_cpu_s"]),
             f(pub_o["fwd_cpu_us_per_sample"] / 1e3, 2), f(pub_o["bwd_cpu_us_per_sample"] / 1e3, 2),
             f(pub_o["peak_rss_mib"], 0)] if pub_o else ["ours", "-", "-", "-", "-", "-", "-"],
            ["DCLS", pub_t["batch"], f(pub_t["samples_per_s"]), f(tsp), f(pub_t.get("fwd_cpu_us_per_sample", 0) / 1e3, 2),
             f(pub_t.get("bwd_cpu_us_per_sample", 0) / 1e3, 2), f(pub_t["peak_rss_mib"], 0)] if ok else ["DCLS", "-", "-", "-", "-", "-", "-"]]))
        if pub_o and tsp:
            s.append(f"\nSpeed ours/DCLS at their setting (CPU time): {pub_o['samples_per_cpu_s'] / tsp:.1f}x. "
                     f"Our input here: {pub_o['input_spikes_per_sample']:.0f} spikes per sample "
                     f"(10,000 uniform events fall into about 7,100 distinct cells of 140 channels x 100 bins; DCLS gets "
                     f"the same density as a dense tensor), hidden activity {rates(pub_o)} spikes/neuron.\n")

    # ---- Scaling and other shapes ------------------------------------------------------------
    def generic(tag, title, note=""):
        rr = pick(ours, tag)
        if not rr:
            return
        s.append(f"\n### {title}\n\n")
        s.append(table(["workload", "hidden", "max delay", "ring slots", "threads", "batch", "samples/s (wall)",
                        "samples per CPU-s", "fwd CPU ms", "bwd CPU ms", "bwd/fwd", "ns/event fwd+bwd",
                        "events/sample", "spikes/neuron", "engine MiB", "peak RSS MiB"],
                       [[r["workload"], r["hidden"], r["max_delay"], r["ring_slots"], r["threads"], r["batch"],
                         f(r["samples_per_s"]), f(r["samples_per_cpu_s"]), f(r["fwd_cpu_us_per_sample"] / 1e3, 2),
                         f(r["bwd_cpu_us_per_sample"] / 1e3, 2),
                         f(r["bwd_cpu_us_per_sample"] / r["fwd_cpu_us_per_sample"], 2),
                         f((r["fwd_cpu_us_per_sample"] + r["bwd_cpu_us_per_sample"]) * 1e3 / max(r["events_per_sample"], 1), 2),
                         f"{r['events_per_sample'] / 1e6:.2f}M", rates(r), f(r["engine_mib"]),
                         f(r["peak_rss_mib"], 0)] for r in rr]))
        if note:
            s.append("\n" + note + "\n")

    generic("scale-batch", "Scaling with batch size (700 -> 256 rec -> 20, max delay 64, 2 threads)",
            "Samples are spread over threads (dynamic schedule, one sample at a time); each thread folds its "
            "samples' gradients into its own exact sums, 8 or 16 samples at a time, and the threads' sums are "
            "added and rounded once per batch (48 bytes per parameter): small batches pay that over few "
            "samples, and a batch of 1 leaves a thread idle.")
    generic("scale-hidden", "Scaling with hidden size (recurrent, max delay 64, 1 thread)")
    generic("scale-delay", "Scaling with max delay (700 -> 256 rec -> 20, 1 thread)",
            "Rings have a power-of-two number of slots (max delay + 1 for arrivals, + 2 for the adjoint "
            "history): max delay 1023 uses 1024 slots, 1024 uses 2048.")
    generic("paper-shd", "The paper's SHD network (700 -> 512 rec -> 20, max delay 1000)")
    generic("paper-ssc", "SSC-sized network (700 -> 1024 -> 1024 -> 35, max delay 1000)")
    generic("braille", "Braille shape (24 -> 256 -> 256 -> 27, 1900 steps of 1 ms)")
    generic("yinyang", "Yin-Yang shape (4 -> 30 -> 3 first-spike, 6000 steps of 0.005 ms)")
    return "".join(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ours", default="bench/results/ours.jsonl")
    ap.add_argument("--dcls", default="bench/results/dcls.jsonl")
    ap.add_argument("--doc", default="docs/BENCHMARKS.md")
    a = ap.parse_args()
    text = generate(load(a.ours), load(a.dcls))
    if not os.path.exists(a.doc):
        print(text)
        return 0
    doc = open(a.doc).read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{a.doc}: no {BEGIN} ... {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(a.doc, "w") as fo:
        fo.write(head + BEGIN + "\n" + text + END + tail)
    print(f"wrote tables into {a.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
