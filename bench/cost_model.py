#!/usr/bin/env python3
"""Cost model for data-parallel training on P ranks (GPUs or CPU cores), one step of a batch.

    step(P) = compute(P) + allreduce_counts(P) + allreduce_grads(P)
    compute(P)  = t_fixed + ceil(B / P) * t_sample          (the slowest rank's shard)
    allreduce(P, bytes) = 2 (P - 1) / P * bytes / bw + 2 (P - 1) * alpha   (ring all-reduce)
    efficiency(P) = step(1) / (P * step(P))

Assumptions (change them with the options):
- Gradients are all-reduced in float64, 8 bytes per parameter (weights and delays), in one
  buffer once per step; no overlap with compute (the pessimistic case).
- Spike counts (one uint32 per hidden neuron, for the regulariser) are all-reduced between
  forward and backward: a small, latency-bound all-reduce.
- Ring all-reduce: 2(P-1) latency terms of alpha; bandwidth bw is the bus bandwidth per rank:
  NVLink within 8 GPUs (--bw-intra), InfiniBand between nodes (--bw-inter) once P > 8.
- t_sample: time per sample (forward + backward) of one rank. CPU: measured by delayprop-bench
  (bench/results/ours.jsonl, tags paper-shd/paper-ssc, per CPU-second) if present, otherwise the
  defaults below. GPU: no CUDA measurement yet, so mlGeNN's published figure (docs/MODEL.md §7: 2 x 256
  feedforward, max delay 64, RTX A5000, 26.7 s per SHD epoch of 8156 samples = 3.27 ms/sample
  at batch 256) scaled by synaptic events per sample (10,000 input spikes, 14 spikes per
  hidden neuron), i.e. an event-driven GPU kernel whose time is proportional to events.
- t_fixed: per-step cost independent of the batch (GPU: ~N_T x kernels x launch latency; CPU:
  the O(n_params) parameter conversion and gradient reduction).
- Global batch B = 256 (strong scaling): at P > B ranks idle, at P = 512 half of them.
"""
import argparse
import json
import math
import os

CONFIGS = {
    # name: (layer sizes, recurrent hidden?, fallback CPU seconds per sample)
    "SHD 700-512rec-20": ([700, 512, 20], True, 0.025),
    "SSC 700-1024-1024-35": ([700, 1024, 1024, 35], False, 0.12),
}


def n_params(sizes, recurrent):
    w = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if recurrent:
        w += sum(h * h for h in sizes[1:-1])
    return 2 * w  # a weight and a delay per synapse


def events(sizes, recurrent, input_spikes=10000, rate=14.0):
    """Synaptic events per sample: input spikes x fan-out + hidden spikes x fan-out."""
    ev = input_spikes * sizes[1]
    for l in range(1, len(sizes) - 1):
        ev += rate * sizes[l] * (sizes[l + 1] + (sizes[l] if recurrent else 0))
    return ev


def allreduce(P, nbytes, bw, alpha):
    if P == 1:
        return 0.0
    return 2 * (P - 1) / P * nbytes / bw + 2 * (P - 1) * alpha


def measured(path):
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        if not line.strip():
            continue
        j = json.loads(line)
        if j.get("tag") == "paper-shd":
            out["SHD 700-512rec-20"] = 1.0 / j["samples_per_cpu_s"]
        if j.get("tag") == "paper-ssc":
            out["SSC 700-1024-1024-35"] = 1.0 / j["samples_per_cpu_s"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--ranks", default="1,8,64,512")
    ap.add_argument("--bw-intra", type=float, default=150e9, help="bytes/s, NVLink bus bandwidth (P <= 8)")
    ap.add_argument("--bw-inter", type=float, default=20e9, help="bytes/s, InfiniBand per GPU (P > 8)")
    ap.add_argument("--alpha-intra", type=float, default=5e-6, help="s per ring step within a node")
    ap.add_argument("--alpha-inter", type=float, default=10e-6, help="s per ring step between nodes")
    ap.add_argument("--gpu-ref-ms", type=float, default=26.7 / 8156 * 1e3,
                    help="GPU ms per sample of the reference network 700-256-256-20 (mlGeNN, A5000)")
    ap.add_argument("--gpu-fixed", type=float, default=0.02,
                    help="s per step independent of batch on a GPU (1000 steps x ~5 kernels x ~4 us, fwd+bwd)")
    ap.add_argument("--cpu-fixed", type=float, default=0.002, help="s per step independent of batch on a CPU rank")
    ap.add_argument("--results", default="bench/results/ours.jsonl")
    a = ap.parse_args()
    ranks = [int(x) for x in a.ranks.split(",")]
    meas = measured(a.results)
    for name, (sizes, rec, fallback) in CONFIGS.items():
        npar = n_params(sizes, rec)
        gbytes = 8 * npar
        hidden = sum(sizes[1:-1])
        t_cpu = meas.get(name, fallback)
        src = "measured" if name in meas else "assumed"
        t_gpu = a.gpu_ref_ms * 1e-3 * events(sizes, rec) / events([700, 256, 256, 20], False) - a.gpu_fixed / 256
        print(f"\n{name}: {npar:,} parameters, {gbytes / 1e6:.1f} MB of float64 gradients per step, "
              f"{events(sizes, rec) / 1e6:.1f}M synaptic events per sample; one CPU core {t_cpu * 1e3:.1f} ms/sample "
              f"({src}), GPU {t_gpu * 1e3:.2f} ms/sample + {a.gpu_fixed * 1e3:.0f} ms per step (assumed)\n")
        head = ["ranks", "samples/rank", "kind", "compute ms", "all-reduce ms", "step ms", "samples/s", "efficiency"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for kind, t_s, fixed in (("GPU", t_gpu, a.gpu_fixed), ("CPU core", t_cpu, a.cpu_fixed)):
            for P in ranks:
                bw = a.bw_intra if P <= 8 else a.bw_inter
                alpha = a.alpha_intra if P <= 8 else a.alpha_inter
                comp = fixed + math.ceil(a.batch / P) * t_s
                comm = allreduce(P, gbytes, bw, alpha) + allreduce(P, 4 * hidden, bw, alpha)
                step = comp + comm
                base = fixed + a.batch * t_s  # one rank, no communication
                eff = base / (P * step)
                print(f"| {P} | {a.batch / P:.1f} | {kind} | {comp * 1e3:.1f} | {comm * 1e3:.2f} | {step * 1e3:.1f} | "
                      f"{a.batch / step:.0f} | {eff * 100:.0f} % |")


if __name__ == "__main__":
    main()
