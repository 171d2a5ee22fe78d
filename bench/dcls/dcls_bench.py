#!/usr/bin/env python3
"""Times training steps of the DCLS-delays SNN (Hammouamri et al., ICLR 2024) on the CPU.

Architecture as in their public code (snn_delays.py, best_config_SHD.py): n_hidden_layers
feedforward blocks of [Dcls1d (one Gaussian-kernel learnable position per synapse, no bias)
-> BatchNorm1d -> LIF (spikingjelly LIFNode: decay_input=False, hard reset to 0,
detach_reset, ATan surrogate alpha 5) -> Dropout(0.4)], then a Dcls1d readout into LIF
neurons with threshold 1e9 whose membrane potential is read ('sum' loss: softmax over classes
summed over time, then cross-entropy). The input is padded left by K-1 and right by
(K-1)//2 steps before every Dcls1d, K = max delay rounded up to an odd number.
The LIF is a minimal reimplementation of spikingjelly's (the torch backend of spikingjelly is
the same Python loop over time steps), so spikingjelly is not needed.

One JSON line per run on stdout: forward, backward and optimiser time per sample, samples/s,
peak RSS. Input: synthetic spikes, `--input-spikes` ones per sample at uniformly random
(channel, step) cells (the convolution's cost does not depend on them).
"""
import argparse
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from DCLS.construct.modules import Dcls1d


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class ATan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        return g * (a / 2) / (1 + (math.pi / 2 * a * x) ** 2), None


class LIF(nn.Module):
    """spikingjelly LIFNode(decay_input=False, v_reset=0, detach_reset=True), multi-step."""

    def __init__(self, tau, v_threshold, alpha=5.0):
        super().__init__()
        self.tau, self.v_threshold, self.alpha = tau, v_threshold, alpha

    def forward(self, x):  # x: (T, B, N)
        v = torch.zeros_like(x[0])
        spikes, vs = [], []
        for t in range(x.shape[0]):
            v = v - v / self.tau + x[t]
            s = ATan.apply(v - self.v_threshold, self.alpha)
            vs.append(v)
            v = v * (1.0 - s.detach())
            spikes.append(s)
        self.v_seq = torch.stack(vs)
        return torch.stack(spikes)


class SnnDelays(nn.Module):
    def __init__(self, n_in, n_hidden, n_out, n_layers, K, tau):
        super().__init__()
        self.K = K
        self.left, self.right = K - 1, (K - 1) // 2
        sizes = [n_in] + [n_hidden] * n_layers
        self.convs = nn.ModuleList(
            Dcls1d(sizes[i], sizes[i + 1], kernel_count=1, groups=1, dilated_kernel_size=K, bias=False,
                   version="gauss") for i in range(n_layers))
        self.bns = nn.ModuleList(nn.BatchNorm1d(n_hidden) for _ in range(n_layers))
        self.lifs = nn.ModuleList(LIF(tau, 1.0) for _ in range(n_layers))
        self.drop = nn.Dropout(0.4)
        self.out = Dcls1d(n_hidden, n_out, kernel_count=1, groups=1, dilated_kernel_size=K, bias=False,
                          version="gauss")
        self.out_lif = LIF(tau, 1e9)
        for conv in list(self.convs) + [self.out]:
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
            nn.init.uniform_(conv.P, a=-(K // 2), b=K // 2)
            conv.clamp_parameters()
            nn.init.constant_(conv.SIG, K // 2)
            conv.SIG.requires_grad = False

    def forward(self, x):  # x: (T, B, C)
        for conv, bn, lif in zip(self.convs, self.bns, self.lifs):
            x = F.pad(x.permute(1, 2, 0), (self.left, self.right))
            x = conv(x).permute(2, 0, 1)  # (T', B, H)
            T, B, H = x.shape
            x = bn(x.reshape(T * B, H)).reshape(T, B, H)
            x = self.drop(lif(x))
        x = F.pad(x.permute(1, 2, 0), (self.left, self.right))
        self.out_lif(self.out(x).permute(2, 0, 1))
        return self.out_lif.v_seq  # (T'', B, n_out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=700)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--outputs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--dt", type=float, default=1.0, help="ms per step (only recorded)")
    ap.add_argument("--max-delay", type=int, default=64, help="max delay in steps")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=2, help="timed training steps after one warm-up step")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--input-spikes", type=int, default=10000)
    ap.add_argument("--time-cap", type=float, default=120.0,
                    help="seconds: fewer timed steps when the warm-up step says they would not fit")
    ap.add_argument("--tau", type=float, default=20.0, help="membrane time constant in steps")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rss0 = rss_mib()
    K = a.max_delay if a.max_delay % 2 == 1 else a.max_delay + 1
    model = SnnDelays(a.channels, a.hidden, a.outputs, a.layers, K, a.tau)
    weights = [p for n, p in model.named_parameters() if not n.endswith(".P") and p.requires_grad]
    positions = [conv.P for conv in list(model.convs) + [model.out]]
    opt_w = torch.optim.Adam(weights, lr=1e-3, weight_decay=1e-5)
    opt_p = torch.optim.Adam(positions, lr=1e-1)

    cells = a.channels * a.steps
    x = torch.zeros(a.steps * a.batch * a.channels)
    for b in range(a.batch):
        idx = torch.randperm(cells)[: min(a.input_spikes, cells)]
        step, ch = idx // a.channels, idx % a.channels
        x[(step * a.batch + b) * a.channels + ch] = 1.0
    x = x.reshape(a.steps, a.batch, a.channels)
    y = torch.randint(0, a.outputs, (a.batch,))
    ce = nn.CrossEntropyLoss()

    cpu = {"f": [], "b": []}

    def step():
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = model(x)
        loss = ce(torch.softmax(out, dim=2).sum(0), y)
        t1 = time.perf_counter()
        c1 = time.process_time()
        opt_w.zero_grad()
        opt_p.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        c2 = time.process_time()
        cpu["f"].append(c1 - c0)
        cpu["b"].append(c2 - c1)
        opt_w.step()
        opt_p.step()
        for conv in list(model.convs) + [model.out]:
            conv.clamp_parameters()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    model.train()
    warm = step()
    iters = a.iters
    if sum(warm) * a.iters > a.time_cap:
        iters = 0
    times = [step() for _ in range(iters)] or [warm]
    best = min(times, key=sum)
    cf, cb = (min(cpu["f"][1:]), min(cpu["b"][1:])) if iters else (cpu["f"][0], cpu["b"][0])
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rec = {
        "impl": "dcls", "channels": a.channels, "hidden": a.hidden, "hidden_layers": a.layers,
        "outputs": a.outputs, "steps": a.steps, "dt_ms": a.dt, "max_delay": a.max_delay, "kernel": K,
        "batch": a.batch, "threads": a.threads, "timed_steps": iters, "warm": iters > 0,
        "n_params": n_params,
        "fwd_us_per_sample": best[0] / a.batch * 1e6, "bwd_us_per_sample": best[1] / a.batch * 1e6,
        "opt_us_per_sample": best[2] / a.batch * 1e6,
        "samples_per_s": a.batch / (best[0] + best[1]),
        "samples_per_s_with_opt": a.batch / sum(best),
        "bwd_fwd_ratio": best[1] / best[0],
        # CPU seconds (all threads): not inflated by other processes on a loaded machine.
        "fwd_cpu_us_per_sample": cf / a.batch * 1e6, "bwd_cpu_us_per_sample": cb / a.batch * 1e6,
        "samples_per_cpu_s": a.batch / (cf + cb),
        "peak_rss_mib": rss_mib(), "baseline_rss_mib": rss0,
        "torch": torch.__version__,
    }
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    sys.exit(main())
