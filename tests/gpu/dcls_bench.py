#!/usr/bin/env python3
"""The DCLS peer of the device check's SHD-shaped benchmark (docs/GPU.md, "Device check").

Learnable delays as dilated convolutions with learnable spacings (PyPI `dcls`, `Dcls1d`,
Gaussian interpolation, one kernel element per synapse: its weight and its position, the
delay), surrogate-gradient LIF neurons with exponential synapses (tau_m 20 ms, tau_s 5 ms,
threshold 1, reset to 0), 1 ms steps: the same shapes and timing method as the device
check's shd-ff row. 700 -> 256 -> 256 -> 20, delays on both hidden connections, a plain
linear readout into 20 leaky integrators summed over time, cross-entropy; batch 256, 1000
steps, 10,000 random input spikes per sample. One warm-up batch, then forward + backward
timed on N batches (the fastest), scaled to one SHD epoch (8156 samples); peak GPU memory
from torch.cuda.max_memory_allocated. The neuron loop is written with torch operations
(no custom kernel): it is the part a CUDA-kernel LIF (as in SpikingJelly's cupy backend)
would speed up; the convolutions are the same either way.

  python3 dcls_bench.py --max-delay 64 --max-delay 256 --json dcls.json [--ours device_check.json]

With --ours, also the ratios against the device check's shd-ff rows of the same max delay:
samples/s (ours / DCLS) and peak memory (ours / DCLS).
"""
import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from DCLS.construct.modules import Dcls1d
except ImportError as e:  # the check runs on machines that may have neither
    print(f"dcls_bench: {e.name} is not importable: {e}", file=sys.stderr)
    sys.exit(3)

EPOCH_SAMPLES = 8156


class SpikeFn(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid surrogate backward."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v >= 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad / (1 + 10 * v.abs()) ** 2


def lif(current_in, dt=1.0, tau_m=20.0, tau_s=5.0):
    """current_in: (B, N, T) synaptic input per step -> spikes (B, N, T)."""
    alpha, beta = torch.exp(torch.tensor(-dt / tau_m)), torch.exp(torch.tensor(-dt / tau_s))
    B, N, T = current_in.shape
    i = current_in.new_zeros(B, N)
    v = current_in.new_zeros(B, N)
    out = []
    for t in range(T):
        i = beta * i + current_in[:, :, t]
        v = alpha * v + (1 - alpha) * i
        s = SpikeFn.apply(v - 1.0)
        v = v * (1 - s)  # reset to 0
        out.append(s)
    return torch.stack(out, dim=2)


class Net(torch.nn.Module):
    def __init__(self, n_in, hidden, n_out, max_delay):
        super().__init__()
        self.max_delay = max_delay
        self.delays = torch.nn.ModuleList(
            Dcls1d(a, b, kernel_count=1, groups=1, dilated_kernel_size=max_delay, bias=False, version="gauss")
            for a, b in [(n_in, hidden), (hidden, hidden)])
        self.readout = torch.nn.Linear(hidden, n_out, bias=False)

    def forward(self, x):  # x: (B, C, T) spikes
        for conv in self.delays:
            x = lif(conv(F.pad(x, (self.max_delay - 1, 0))))  # causal: output t sees inputs <= t
        y = self.readout(x.transpose(1, 2))  # (B, T, out)
        return y.sum(dim=1)


def random_input(batch, channels, steps, spikes, device, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.zeros(batch, channels * steps)
    idx = torch.randint(0, channels * steps, (batch, spikes), generator=g)
    x.scatter_(1, idx, 1.0)
    return x.view(batch, channels, steps).to(device)


def bench(max_delay, args, device):
    torch.manual_seed(1)
    net = Net(700, args.hidden, 20, max_delay).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = random_input(args.batch, 700, args.steps, args.spikes, device, 1)
    labels = torch.arange(args.batch, device=device) % 20
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    times, fwd_times = [], []
    for r in range(args.reps + 1):  # the first is the warm-up
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        y = net(x)
        sync()
        t1 = time.perf_counter()
        F.cross_entropy(y, labels).backward()
        opt.step()
        sync()
        t2 = time.perf_counter()
        if r > 0:
            times.append(t2 - t0)
            fwd_times.append(t1 - t0)
        if r == 0 and time.perf_counter() - args.start > args.budget_s:
            break
    batch_s = min(times) if times else t2 - t0
    row = {"workload": "shd-ff", "max_delay_steps": max_delay, "batch": args.batch, "steps": args.steps,
           "repetitions": len(times), "forward_ms": 1000 * (min(fwd_times) if fwd_times else t1 - t0),
           "batch_ms": 1000 * batch_s, "epoch_s": batch_s * EPOCH_SAMPLES / args.batch,
           "samples_per_s": args.batch / batch_s}
    if device.type == "cuda":
        row["peak_gpu_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return row


def compare(rows, ours_path):
    """Ratios against the device check's shd-ff rows of the same max delay."""
    with open(ours_path) as f:
        ours = {r.get("max_delay_steps"): r for r in json.load(f).get("benchmark", {}).get("rows", [])
                if r.get("workload") == "shd-ff" and "samples_per_s" in r}
    out = []
    for r in rows:
        o = ours.get(r["max_delay_steps"])
        if o is None:
            continue
        c = {"max_delay_steps": r["max_delay_steps"], "samples_per_s_ratio": o["samples_per_s"] / r["samples_per_s"],
             "epoch_s_ours": o["epoch_s"], "epoch_s_dcls": r["epoch_s"]}
        if "peak_gpu_memory_mib" in r and o.get("gpu_memory_mib", 0) > 0:
            c["memory_ratio"] = o["gpu_memory_mib"] / r["peak_gpu_memory_mib"]
        out.append(c)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-delay", type=int, action="append", help="steps (repeatable; default 64 and 256)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--spikes", type=int, default=10000, help="input spikes per sample")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3, help="timed batches after the warm-up")
    ap.add_argument("--budget-s", type=float, default=60, help="no timed batches once this is spent")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", default="dcls.json")
    ap.add_argument("--ours", help="the device check's JSON, for the ratios")
    args = ap.parse_args()
    args.start = time.perf_counter()
    device = torch.device(args.device)
    doc = {"peer": "DCLS (Dcls1d, gauss) + surrogate-gradient LIF, PyTorch", "torch": torch.__version__,
           "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "rows": []}
    for d in args.max_delay or [64, 256]:
        if time.perf_counter() - args.start > args.budget_s:
            doc["rows"].append({"max_delay_steps": d, "skipped": "time budget"})
            continue
        row = bench(d, args, device)
        doc["rows"].append(row)
        print(f"DCLS max delay {d}: {row['batch_ms']:.1f} ms per batch of {args.batch} "
              f"(forward {row['forward_ms']:.1f} ms), epoch {row['epoch_s']:.1f} s, "
              f"{row.get('peak_gpu_memory_mib', 0):.0f} MiB", flush=True)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    if args.ours:
        doc["comparison"] = compare([r for r in doc["rows"] if "samples_per_s" in r], args.ours)
        for c in doc["comparison"]:
            print(f"max delay {c['max_delay_steps']}: delayprop / DCLS samples/s {c['samples_per_s_ratio']:.1f}x, "
                  f"memory {c.get('memory_ratio', float('nan')):.2f}x")
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
