#!/usr/bin/env python3
"""Writes a trained delayprop network as a NIR graph (docs/NIR.md).

    nir_export.py (MODEL.h5 | RUN_DIR) --out GRAPH.nir [--params best|last] [--delays exact|steps]
                  [--max-values N]

Populations become Input / CubaLIF / CubaLI nodes (times in seconds); every connection becomes
Linear (fan-out, one channel per synapse) -> Delay (the per-synapse delays) -> Linear (the
weights), or Delay -> Linear when all its delays are equal; with --delays steps, one
Delay -> Linear pair per delay in time steps. The readout population feeds the
Output node. What NIR cannot express travels in the graph's metadata (the resolved config).
Run with the tools' environment: .venv/bin/python (scripts/install-deps.sh)."""
import os
import tomllib

import numpy as np

from nir_mapping import (META_CONFIG, META_CONNECTION, META_DELAY_MS, META_DT, META_DURATION, META_TAU_M_MS,
                         META_TAU_S_MS, META_TIME_UNIT, Parser, ToolError, die, s_from_ms)

try:
    import h5py
    import nir
except ImportError as e:
    die(f"{e.name} is missing: run tools/nir_export.py with .venv/bin/python "
        "(created by scripts/install-deps.sh)")


def read_model(path, which):
    """(config dict, config text, {connection: (weights, delays)}) of a delayprop model file."""
    if os.path.isdir(path):
        path = os.path.join(path, "model.h5")
    if not os.path.exists(path):
        raise ToolError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ToolError(f"{path}: not a regular file")
    if not h5py.is_hdf5(path):
        raise ToolError(f"{path}: not an HDF5 file (expected a delayprop model file, docs/FORMATS.md)")
    group = "/params" if which == "best" else "/last_params"
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "delayprop-model":
            hint = ("; make a model file from it with delayprop-eval --model CHECKPOINT --export-model F"
                    if "params_flat" in f else "")
            raise ToolError(f"{path}: not a delayprop model file (root attribute format = "
                            f"\"delayprop-model\"){hint}")
        if "config" not in f:
            raise ToolError(f"{path}: missing dataset '/config'")
        text = f["config"][()]
        text = text.decode() if isinstance(text, bytes) else str(text)
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ToolError(f"{path}: '/config' is not valid TOML: {e}")
        params = {}
        for c in config["network"].get("connection", []):
            pair = []
            for what in ("weights", "delays"):
                name = f"{group}/{c['name']}/{what}"
                if name not in f:
                    raise ToolError(f"{path}: missing dataset '{name}'")
                pair.append(np.asarray(f[name][()], dtype=np.float64))
            params[c["name"]] = tuple(pair)
    return config, text, params


def population_node(p):
    n = int(p["size"])
    if p["kind"] == "input":
        return nir.Input(np.array([n]))
    full = lambda v: np.full(n, float(v))  # noqa: E731
    tau_m, tau_s = s_from_ms(full(p.get("tau_m", 20.0))), s_from_ms(full(p.get("tau_s", 5.0)))
    exact = {META_TAU_M_MS: float(p.get("tau_m", 20.0)), META_TAU_S_MS: float(p.get("tau_s", 5.0))}
    # r = tau_s: NIR's current jumps by w_in x / tau_syn for a spike of weight x, delayprop's by
    # the weight itself (docs/NIR.md "Neurons"), so the membrane sees r I = tau_syn I.
    if p["kind"] == "lif":
        return nir.CubaLIF(tau_syn=tau_s, tau_mem=tau_m, r=tau_s.copy(), v_leak=np.zeros(n),
                           v_threshold=full(p.get("theta", 1.0)), v_reset=np.zeros(n), w_in=np.ones(n),
                           metadata=exact)
    return nir.CubaLI(tau_syn=tau_s, tau_mem=tau_m, r=tau_s.copy(), v_leak=np.zeros(n), w_in=np.ones(n),
                      metadata=exact)


def half_away(x):
    """round(x) half away from zero for x >= 0, as the engine rounds delays to steps."""
    f = np.floor(x)
    return np.where(x - f >= 0.5, f + 1.0, f)


def check_size(name, n, m, values, max_values):
    if values > max_values:
        raise ToolError(f"connection '{name}' ({n} x {m}): its delays need {values} matrix values in "
                        f"NIR, more than --max-values {max_values} (--delays steps needs fewer)")


def export(config, text, params, max_values, delays):
    net = config["network"]
    dt = float(net["dt"])
    pops = {p["name"]: p for p in net["population"]}
    nodes = {name: population_node(p) for name, p in pops.items()}
    edges = []
    for c in net.get("connection", []):
        name, pre, post = c["name"], c["pre"], c["post"]
        w, d = params[name]
        n, m = int(pops[pre]["size"]), int(pops[post]["size"])
        if w.shape != (n, m) or d.shape != (n, m):
            raise ToolError(f"connection '{name}': parameters of shape {w.shape}, expected ({n}, {m})")
        tag = {META_CONNECTION: name}
        if np.all(d == d.flat[0]):
            # One delay for the whole connection: one Delay channel per presynaptic neuron.
            nodes[f"{name}.delay"] = nir.Delay(s_from_ms(np.full(n, d.flat[0])),
                                               metadata={**tag, META_DELAY_MS: np.full(n, d.flat[0])})
            nodes[f"{name}.weight"] = nir.Linear(w.T.copy(), metadata=dict(tag))
            edges += [(pre, f"{name}.delay"), (f"{name}.delay", f"{name}.weight"), (f"{name}.weight", post)]
            continue
        if delays == "steps":
            # One Delay -> Linear pair per delay in steps used (delays as the engine rounds them,
            # docs/MODEL.md §2.1): O(groups x n x m) values instead of O(n x m x (n + m)).
            in_steps = np.minimum(half_away(d / dt), half_away(float(c["max_delay"]) / dt))
            groups = np.unique(in_steps)
            check_size(name, n, m, groups.size * n * (m + 1), max_values)
            for s in groups:
                node = f"{name}.step{int(s)}"
                nodes[f"{node}.delay"] = nir.Delay(s_from_ms(np.full(n, s * dt)),
                                                   metadata={**tag, META_DELAY_MS: np.full(n, s * dt)})
                nodes[f"{node}.weight"] = nir.Linear(np.where(in_steps == s, w, 0.0).T.copy(), metadata=dict(tag))
                edges += [(pre, f"{node}.delay"), (f"{node}.delay", f"{node}.weight"), (f"{node}.weight", post)]
            continue
        check_size(name, n, m, n * m * (n + m), max_values)
        # Synapse k = i m + j (row-major, as /params): fan-out copies pre i to channel k, the
        # Delay delays channel k by d_ij, the last Linear sums the channels into post j with w_ij.
        k = np.arange(n * m)
        fan = np.zeros((n * m, n))
        fan[k, k // m] = 1.0
        gather = np.zeros((m, n * m))
        gather[k % m, k] = w.reshape(-1)
        nodes[f"{name}.fanout"] = nir.Linear(fan, metadata=dict(tag))
        nodes[f"{name}.delay"] = nir.Delay(s_from_ms(d.reshape(-1)),
                                           metadata={**tag, META_DELAY_MS: d.reshape(-1)})
        nodes[f"{name}.weight"] = nir.Linear(gather, metadata=dict(tag))
        edges += [(pre, f"{name}.fanout"), (f"{name}.fanout", f"{name}.delay"),
                  (f"{name}.delay", f"{name}.weight"), (f"{name}.weight", post)]
    readout = [p for p in net["population"] if p.get("readout", "none") != "none"]
    if len(readout) != 1:
        raise ToolError("the config has no single readout population")
    out = "output"
    while out in nodes:
        out += "_"
    nodes[out] = nir.Output(np.array([int(readout[0]["size"])]))
    edges.append((readout[0]["name"], out))
    steps = int(net["steps"]) if "steps" in net else int(half_away(float(net["duration"]) / dt))
    metadata = {META_CONFIG: text, META_TIME_UNIT: "s", META_DT: float(s_from_ms(dt)),
                META_DURATION: float(s_from_ms(steps * dt))}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def main():
    ap = Parser(prog="nir_export.py", description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a delayprop model file, or a run directory holding model.h5")
    ap.add_argument("--out", required=True, help="the NIR file to write")
    ap.add_argument("--params", choices=("best", "last"), default="best")
    ap.add_argument("--delays", choices=("exact", "steps"), default="exact",
                    help="exact: every synapse's own delay (fan-out Linear -> Delay -> Linear); steps: "
                         "the delays rounded to time steps, one Delay -> Linear pair per step used")
    ap.add_argument("--max-values", type=int, default=50_000_000,
                    help="most matrix values one connection may take in NIR")
    a = ap.parse_args()
    try:
        try:
            model = read_model(a.model, a.params)
        except OSError as e:  # h5py on a damaged file
            raise ToolError(f"{a.model}: cannot read: {e}")
        graph = export(*model, a.max_values, a.delays)
        try:
            nir.write(a.out, graph)
        except OSError as e:
            raise ToolError(f"{a.out}: cannot write: {e.strerror or e}")
    except ToolError as e:
        die(str(e))


if __name__ == "__main__":
    main()
