#!/usr/bin/env python3
"""Makes a delayprop network from a NIR graph (docs/NIR.md).

    nir_import.py GRAPH.nir --out DIR [--dt MS] [--duration MS] [--readout KIND]

Writes DIR/config.toml and DIR/model.h5 (a model file the drivers take: delayprop-eval --model,
delayprop-grad --model). Input nodes become input populations, CubaLIF nodes LIF populations,
CubaLI nodes LI populations; every chain of Linear / Affine (zero bias) / Scale / Delay nodes
from one population to another becomes a connection with per-synapse weights and delays.
A graph written by tools/nir_export.py brings its config along (metadata); any other needs
--dt and --duration (ms). Run with .venv/bin/python (scripts/install-deps.sh)."""
import os
import tomllib

import numpy as np

from nir_mapping import (META_CONFIG, META_CONNECTION, META_DELAY_MS, META_TAU_M_MS, META_TAU_S_MS,
                         META_TIME_UNIT, Parser, ToolError, die, ms_from_s, toml_dumps)

try:
    import h5py
    import nir
except ImportError as e:
    die(f"{e.name} is missing: run tools/nir_import.py with .venv/bin/python "
        "(created by scripts/install-deps.sh)")

NEURONS = {"Input": "input", "CubaLIF": "lif", "CubaLI": "li"}
SYNAPSES = ("Linear", "Affine", "Scale", "Delay")
SUPPORTED = "Input, Output, CubaLIF, CubaLI, Linear, Affine (zero bias), Scale, Delay"


def read_graph(path):
    if not os.path.exists(path):
        raise ToolError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ToolError(f"{path}: not a regular file")
    if not h5py.is_hdf5(path):
        raise ToolError(f"{path}: not an HDF5 file (expected a NIR graph written by nir.write)")
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or "type" not in f["node"]:
                raise ToolError(f"{path}: not a NIR graph (no '/node' group with a 'type')")
            kind = f["node/type"][()]
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind != "NIRGraph":
                raise ToolError(f"{path}: the top node is a {kind}, not a NIRGraph")
            # Name an unsupported node before nir.read, which refuses node types it does not know.
            nodes = f["node"].get("nodes")
            if not isinstance(nodes, h5py.Group):
                raise ToolError(f"{path}: not a NIR graph (no '/node/nodes' group)")
            for name, node in nodes.items():
                t = node["type"][()] if isinstance(node, h5py.Group) and "type" in node else "(no type)"
                t = t.decode() if isinstance(t, bytes) else str(t)
                if t not in NEURONS and t not in SYNAPSES and t != "Output":
                    raise ToolError(unsupported(name, t))
    except OSError as e:  # h5py on a damaged file
        raise ToolError(f"{path}: cannot read: {e}")
    try:
        return nir.read(path)
    except Exception as e:  # nir raises assertions, KeyErrors and ValueErrors on bad graphs
        raise ToolError(f"{path}: not a valid NIR graph: {type(e).__name__}: {' '.join(str(e).split())}")


def unsupported(name, kind):
    why = {"LIF": " (no synaptic current: delayprop neurons are current-based, CubaLIF)",
           "LI": " (no synaptic current: delayprop readouts are current-based, CubaLI)",
           "IF": " (no leak)", "I": " (no leak)", "NIRGraph": " (nested graphs are not flattened)"}
    return (f"node '{name}': NIR {kind} is not supported{why.get(kind, '')}; "
            f"delayprop imports {SUPPORTED}")


def one_value(name, what, v, size):
    v = np.broadcast_to(np.asarray(v, dtype=np.float64), (size,))
    if not np.all(v == v[0]):
        raise ToolError(f"node '{name}': {what} differs between neurons; a delayprop population "
                        "has one value")
    return float(v[0])


def population(name, node):
    kind = NEURONS[type(node).__name__]
    if kind == "input":
        shape = np.asarray(node.input_type["input"]).reshape(-1)
        return {"name": name, "kind": "input", "size": int(np.prod(shape))}, None
    n = int(np.asarray(node.tau_mem).size)
    meta = node.metadata or {}
    for what in ("v_leak",) + (("v_reset",) if kind == "lif" else ()):
        if np.any(np.asarray(getattr(node, what)) != 0):
            raise ToolError(f"node '{name}': {what} must be 0 (delayprop: rest and reset at 0, "
                            "docs/MODEL.md §1.1)")
    tau_syn = np.broadcast_to(np.asarray(node.tau_syn, dtype=np.float64), (n,))
    # delayprop's current jumps by the weight, NIR's by w_in x / tau_syn and the membrane sees
    # r I: a NIR weight x is the delayprop weight x r w_in / tau_syn (1 for exported graphs).
    gain = np.asarray(node.r, dtype=np.float64) * np.asarray(node.w_in, dtype=np.float64) / tau_syn
    p = {"name": name, "kind": kind, "size": n,
         "tau_m": float(ms_from_s(one_value(name, "tau_mem", node.tau_mem, n), meta.get(META_TAU_M_MS))),
         "tau_s": float(ms_from_s(one_value(name, "tau_syn", node.tau_syn, n), meta.get(META_TAU_S_MS)))}
    if kind == "lif":
        p["theta"] = one_value(name, "v_threshold", node.v_threshold, n)
    if abs(p["tau_m"] - p["tau_s"]) <= 1e-9 * p["tau_m"]:
        raise ToolError(f"node '{name}': tau_mem equals tau_syn, which delayprop does not support "
                        "(docs/MODEL.md §1.1)")
    return p, np.broadcast_to(gain, (n,))


def synapse_routes(name, node, pre, chan, delay, weight):
    """Routes (presynaptic neuron, channel, delay in ms, weight) through one synapse node."""
    kind = type(node).__name__
    if kind == "Delay":
        d = np.asarray(node.delay, dtype=np.float64).reshape(-1)
        if np.any(~np.isfinite(d)) or np.any(d < 0):
            raise ToolError(f"node '{name}': delays must be finite and >= 0")
        d = ms_from_s(d, (node.metadata or {}).get(META_DELAY_MS))
        return pre, chan, delay + d[chan], weight
    if kind == "Scale":
        s = np.asarray(node.scale, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(s)):
            raise ToolError(f"node '{name}': scale values must be finite")
        return pre, chan, delay, weight * s[chan]
    if kind == "Affine" and np.any(np.asarray(node.bias) != 0):
        raise ToolError(f"node '{name}': Affine with a non-zero bias is not supported "
                        "(delayprop has no constant input current)")
    w = np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 2 or not np.all(np.isfinite(w)):
        raise ToolError(f"node '{name}': {kind} weight must be a finite 2-D matrix (shape {w.shape})")
    order = np.argsort(chan, kind="stable")
    pre, chan, delay, weight = pre[order], chan[order], delay[order], weight[order]
    first = np.searchsorted(chan, np.arange(w.shape[1]))
    count = np.searchsorted(chan, np.arange(w.shape[1]), side="right") - first
    o, c = np.nonzero(w)
    reps = count[c]
    idx = np.repeat(first[c], reps) + np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    return pre[idx], np.repeat(o, reps), delay[idx], weight[idx] * np.repeat(w[o, c], reps)


def connections(graph, pops):
    """{(pre, post, label): routes ending at post}, following every path of synapse nodes."""
    succ = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    found = {}

    def walk(pop, node_name, routes, label, depth):
        if depth > len(graph.nodes):
            raise ToolError(f"node '{node_name}': a cycle of synapse nodes without a neuron")
        node = graph.nodes[node_name]
        kind = type(node).__name__
        if node_name in pops:
            found.setdefault((pop, node_name, label), []).append(routes)
            return
        if kind == "Output":
            return
        routes = synapse_routes(node_name, node, *routes)
        label = node.metadata.get(META_CONNECTION, label) if node.metadata else label
        for nxt in succ.get(node_name, []):
            walk(pop, nxt, routes, label, depth + 1)

    for name in pops:
        n = pops[name]["size"]
        start = (np.arange(n), np.arange(n), np.zeros(n), np.ones(n))
        for nxt in succ.get(name, []):
            if nxt not in pops:
                walk(name, nxt, start, None, 1)
            else:
                raise ToolError(f"edge {name} -> {nxt}: two populations joined without a Linear")
    return found


def build(graph, path, args):
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind not in NEURONS and kind not in SYNAPSES and kind != "Output":
            raise ToolError(unsupported(name, kind))
    for a, b in graph.edges:
        if a not in graph.nodes or b not in graph.nodes:
            raise ToolError(f"{path}: edge {a} -> {b} names a node the graph does not have")
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    if meta.get(META_TIME_UNIT, "s") != "s":
        raise ToolError(f"{path}: metadata time_unit is '{meta[META_TIME_UNIT]}'; NIR graphs are "
                        "read in seconds")
    stored = tomllib.loads(meta[META_CONFIG]) if META_CONFIG in meta else {}
    snet = stored.get("network", {})
    spops = {p["name"]: p for p in snet.get("population", [])}
    sconns = {c["name"]: c for c in snet.get("connection", [])}

    pops, gains = {}, {}
    for name, node in graph.nodes.items():
        if type(node).__name__ in NEURONS:
            pops[name], gains[name] = population(name, node)
    if not pops:
        raise ToolError(f"{path}: the graph has no Input, CubaLIF or CubaLI node")
    srcs = [a for a, b in graph.edges if type(graph.nodes[b]).__name__ == "Output"]
    if len(srcs) != 1 or srcs[0] not in pops or pops[srcs[0]]["kind"] == "input":
        raise ToolError(f"{path}: delayprop needs exactly one Output node, fed by one CubaLIF or "
                        "CubaLI node (the readout population)")
    readout = srcs[0]

    conns = []
    for (pre, post, label), paths in connections(graph, pops).items():
        pre_i = np.concatenate([r[0] for r in paths])
        post_j = np.concatenate([r[1] for r in paths])
        delay = np.concatenate([r[2] for r in paths])
        weight = np.concatenate([r[3] for r in paths])
        n, m = pops[pre]["size"], pops[post]["size"]
        if post_j.size and post_j.max() >= m:
            raise ToolError(f"the synapses from '{pre}' to '{post}' have {post_j.max() + 1} channels, "
                            f"'{post}' has {m} neurons")
        if pops[post]["kind"] == "input":
            raise ToolError(f"'{pre}' has synapses onto the Input node '{post}'")
        k = pre_i * m + post_j
        w = np.zeros(n * m)
        np.add.at(w, k, weight)
        by_synapse = np.lexsort((delay, k))
        k, delay = k[by_synapse], delay[by_synapse]
        clash = np.nonzero((k[1:] == k[:-1]) & (delay[1:] != delay[:-1]))[0]
        if clash.size:
            kk = k[clash[0]]
            raise ToolError(f"'{pre}' neuron {kk // m} reaches '{post}' neuron {kk % m} along two "
                            "paths with different delays; a delayprop synapse has one delay")
        # A synapse of weight 0 has no path in NIR (a zero matrix entry): delay 0.
        d = np.zeros(n * m)
        d[k] = delay
        w, d = w.reshape(n, m), d.reshape(n, m)
        w *= gains[post][None, :]  # exactly 1 for exported graphs: the weights stay bitwise
        name = label if label is not None else f"{pre}_{post}"
        conns.append({"name": name, "pre": pre, "post": post, "w": w, "d": d})
    names = [c["name"] for c in conns]
    for c in conns:
        if names.count(c["name"]) > 1:
            raise ToolError(f"two connections are named '{c['name']}'")

    # Declaration order as in the stored config (it fixes the order of arrivals, docs/MODEL.md
    # §2.3, so a round trip is bitwise), then the graph's order.
    rank = {n: i for i, n in enumerate(spops)}
    order = sorted(pops, key=lambda n: (n not in rank, rank.get(n, 0), pops[n]["kind"] != "input"))
    crank = {n: i for i, n in enumerate(sconns)}
    conns.sort(key=lambda c: (c["name"] not in crank, crank.get(c["name"], 0)))

    net = {k: v for k, v in snet.items() if k in ("dt", "duration", "steps")}
    if args.dt is not None:
        net["dt"] = args.dt
    if args.duration is not None:
        net.pop("steps", None)
        net["duration"] = args.duration
    if "dt" not in net or ("duration" not in net and "steps" not in net):
        raise ToolError(f"{path}: NIR has no time step: give --dt and --duration (ms)")
    net["population"] = []
    for n in order:
        p = dict(pops[n])
        s = spops.get(n, {})
        if n == readout:
            kind = args.readout or s.get("readout") or ("first_spike" if p["kind"] == "lif" else "sum_exp")
            if (kind == "first_spike") != (p["kind"] == "lif"):
                raise ToolError(f"readout '{kind}' does not fit '{n}' ({type(graph.nodes[n]).__name__}); "
                                "first_spike reads a CubaLIF, sum_exp, average and max a CubaLI")
            p["readout"] = kind
        if p["kind"] == "lif" and s.get("single_spike", False):
            p["single_spike"] = True
        net["population"].append(p)
    net["connection"] = []
    for c in conns:
        s = sconns.get(c["name"], {})
        entry = {"name": c["name"], "pre": c["pre"], "post": c["post"],
                 "max_delay": max(float(s.get("max_delay", 0.0)), float(c["d"].max(initial=0.0)))}
        for key in ("recurrent", "learn_weights", "learn_delays", "weight_init", "delay_init"):
            if key in s:
                entry[key] = s[key]
        net["connection"].append(entry)

    config = {"network": net}
    for section, body in stored.items():
        if section != "network":
            config[section] = body
    first_spike = any(p.get("readout") == "first_spike" for p in net["population"])
    loss = dict(config.get("loss", {}))
    if (loss.get("kind", "cross_entropy") == "first_spike") != first_spike:
        loss = {"kind": "first_spike"} if first_spike else {"kind": "cross_entropy"}
    config["loss"] = loss
    config.setdefault("data", {"kind": "events"})
    return config, conns


def write_model(path, config_text, conns):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "delayprop-model"
        f["format_version"] = np.int64(1)
        f["config"] = config_text
        for group in ("params", "last_params"):
            for c in conns:
                f[f"{group}/{c['name']}/weights"] = c["w"]
                f[f"{group}/{c['name']}/delays"] = c["d"]
        f["best_epoch"] = np.int64(0)
        f["epochs"] = np.int64(0)
        f["data/description"] = "imported from a NIR graph"


def main():
    ap = Parser(prog="nir_import.py", description=__doc__.split("\n")[0])
    ap.add_argument("graph", help="a NIR file (nir.write)")
    ap.add_argument("--out", required=True, help="directory for config.toml and model.h5")
    ap.add_argument("--dt", type=float, help="time step (ms); default: the exporter's config")
    ap.add_argument("--duration", type=float, help="trial length (ms); default: the exporter's config")
    ap.add_argument("--readout", choices=("sum_exp", "average", "max", "first_spike"),
                    help="readout of the Output population (default: the exporter's config, else "
                         "first_spike for a CubaLIF, sum_exp for a CubaLI)")
    a = ap.parse_args()
    try:
        config, conns = build(read_graph(a.graph), a.graph, a)
        text = toml_dumps(config)
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "config.toml"), "w") as f:
            f.write(text)
        write_model(os.path.join(a.out, "model.h5"), text, conns)
    except ToolError as e:
        die(str(e))
    except OSError as e:
        die(f"{e.filename or a.out}: {e.strerror or e}")
    print(f"{a.graph}: {len(config['network']['population'])} populations, {len(conns)} connections "
          f"-> {a.out}/config.toml, {a.out}/model.h5")


if __name__ == "__main__":
    main()
