"""Checks of tests/nir/nir_run.sh, run with the tools' environment (.venv/bin/python).

    check_nir.py same ORIG_EVAL IMPORTED_EVAL ORIG_MODEL IMPORTED_MODEL
        spikes of every population (rasters.h5), readouts, first-spike steps, spike counts and
        predictions (predictions.h5) bitwise equal; parameters and network config equal.
    check_nir.py mapping GRAPH.nir MODEL.h5 CONFIG.toml
        the exported graph holds the values docs/NIR.md gives for the network of nir_ff.toml.
    check_nir.py hand-graph OUT_DIR
        one input -> Delay -> Linear -> one CubaLIF -> Output, built with the nir API, and an
        event file with one input spike at t = 0 (OUT_DIR/hand.nir, OUT_DIR/spike.h5).
    check_nir.py first-spike OUT_DIR DT_MS
        the imported network's first spike (OUT_DIR/eval/predictions.h5) against the
        first crossing of the closed-form CubaLIF membrane, within one step.
    check_nir.py routes OUT_DIR SOURCE_DIR
        a graph of other shapes (Linear -> Delay per postsynaptic neuron -> Scale; a recurrent
        Affine with zero bias -> Delay per presynaptic neuron; r and w_in not 1) imports to the
        weights and delays its equations give.
    check_nir.py edited GRAPH.nir MODEL.h5 OUT_DIR SOURCE_DIR
        the exported graph with one delay and the hidden threshold changed (as another tool
        would): the import takes the graph's values, not the exporter's records.
    check_nir.py bad-graphs OUT_DIR
        graphs with a Conv2d node, a LIF node, a non-zero v_leak (OUT_DIR/bad_*.nir)."""
import math
import subprocess
import sys
import tomllib

import h5py
import nir
import numpy as np

# The hand-built graph (NIR units: seconds). r = 1 and w_in = 1 as many simulators write them.
TAU_MEM, TAU_SYN, R, THRESHOLD, WEIGHT, DELAY = 0.020, 0.005, 1.0, 1.0, 0.05, 0.00375

status = 0


def check(ok, what):
    global status
    print(("ok   " if ok else "FAIL ") + what)
    status |= not ok


def walk(group, prefix=""):
    for k, v in group.items():
        if isinstance(v, h5py.Group):
            yield from walk(v, f"{prefix}/{k}")
        else:
            yield f"{prefix}/{k}", v[()]


def network(config):
    """[network] with the defaults of docs/CONFIG.md spelt out."""
    net = config["network"]
    for p in net["population"]:
        if p["kind"] != "input":
            p.update({"tau_m": 20.0, "tau_s": 5.0, "theta": 1.0, "readout": "none", "single_spike": False, **p})
    return net


def same(orig_eval, imp_eval, orig_model, imp_model, delays="exact"):
    for name in ("rasters.h5", "predictions.h5"):
        with h5py.File(f"{orig_eval}/{name}") as a, h5py.File(f"{imp_eval}/{name}") as b:
            da, db = dict(walk(a)), dict(walk(b))
            check(sorted(da) == sorted(db), f"{name}: the same datasets ({len(da)})")
            bad = [k for k in da if k in db and not np.array_equal(da[k], db[k])]
            check(not bad, f"{name}: every dataset bitwise equal{' (differ: ' + ', '.join(bad) + ')' if bad else ''}")
    with h5py.File(f"{orig_eval}/rasters.h5") as a:
        spikes = sum(v.size for k, v in walk(a) if k.endswith("/steps") and "/input/" not in k)
    check(spikes > 0, f"the compared rasters hold {spikes} spikes of LIF neurons")
    with h5py.File(orig_model) as a, h5py.File(imp_model) as b:
        pa, pb = dict(walk(a["params"])), dict(walk(b["params"]))
        ca = network(tomllib.loads(a["config"][()].decode()))
        cb = network(tomllib.loads(b["config"][()].decode()))
        if delays == "exact":
            check(sorted(pa) == sorted(pb) and all(np.array_equal(pa[k], pb[k]) for k in pa),
                  f"parameters bitwise equal ({', '.join(sorted(pa))})")
            check(ca == cb, "the [network] of the imported config equals the original's")
            return
        # --delays steps: the weights come back bitwise, the delays as whole steps, the same
        # steps the engine rounds the original delays to (docs/MODEL.md §2.1).
        dt = ca["dt"]
        steps = lambda x: np.where(x / dt - np.floor(x / dt) >= 0.5, np.ceil(x / dt), np.floor(x / dt))  # noqa: E731
        ws = [k for k in pa if k.endswith("/weights")]
        ds = [k for k in pa if k.endswith("/delays")]
        check(sorted(pa) == sorted(pb) and all(np.array_equal(pa[k], pb[k]) for k in ws), "weights bitwise equal")
        maxd = {c["name"]: c["max_delay"] for c in ca["connection"]}
        ok = all(np.array_equal(np.minimum(steps(pa[k]), steps(np.array(maxd[k.split("/")[1]]))), steps(pb[k]))
                 and np.allclose(pb[k] / dt, np.round(pb[k] / dt), rtol=0, atol=1e-9) for k in ds)
        check(ok, "delays: whole steps, the engine's steps of the original delays")
        check(any(not np.array_equal(pa[k], pb[k]) for k in ds), "delays: not all equal to the original (rounded)")


def mapping(graph_path, model_path, config_path):
    g = nir.read(graph_path)
    cfg = tomllib.load(open(config_path, "rb"))["network"]
    pops = {p["name"]: p for p in cfg["population"]}
    n = g.nodes
    check(type(n["in"]).__name__ == "Input" and list(n["in"].output_type["output"]) == [4], "in: Input of 4")
    hid, out = n["hid"], n["out"]
    check(type(hid).__name__ == "CubaLIF" and type(out).__name__ == "CubaLI", "hid: CubaLIF, out: CubaLI")
    # nir_ff.toml: hid tau_m 15 ms, tau_s 4 ms, theta 1.25; out tau_m 25 ms, tau_s 6 ms.
    check(np.all(hid.tau_mem == 0.015) and np.all(hid.tau_syn == 0.004), "hid: tau_mem 0.015 s, tau_syn 0.004 s")
    check(np.all(hid.r == 0.004) and np.all(hid.w_in == 1.0), "hid: r = tau_syn = 0.004, w_in = 1")
    check(np.all(hid.v_threshold == 1.25) and np.all(hid.v_reset == 0) and np.all(hid.v_leak == 0),
          "hid: v_threshold 1.25, v_reset 0, v_leak 0")
    check(np.all(out.tau_mem == 0.025) and np.all(out.tau_syn == 0.006) and np.all(out.r == 0.006),
          "out: tau_mem 0.025 s, tau_syn 0.006 s, r 0.006")
    check(pops["hid"]["theta"] == 1.25 and pops["out"]["tau_m"] == 25.0, "the config agrees")
    with h5py.File(model_path) as f:
        w, d = f["params/in_hid/weights"][()], f["params/in_hid/delays"][()]
    i, j, m = 2, 7, 12
    k = i * m + j
    fan, delay, weight = n["in_hid.fanout"].weight, n["in_hid.delay"].delay, n["in_hid.weight"].weight
    check(fan.shape == (48, 4) and fan[k, i] == 1 and fan[k].sum() == 1, "in_hid.fanout: channel 31 copies input 2")
    check(delay.shape == (48,) and delay[k] == d[i, j] / 1000, f"in_hid.delay[31] = {delay[k]!r} s = d[2][7] / 1000 ({d[i, j]!r} ms)")
    check(weight.shape == (12, 48) and weight[j, k] == w[i, j] and np.count_nonzero(weight[:, k]) == 1,
          f"in_hid.weight[7][31] = w[2][7] = {w[i, j]!r}")
    check(set(g.edges) >= {("in", "in_hid.fanout"), ("in_hid.fanout", "in_hid.delay"),
                           ("in_hid.delay", "in_hid.weight"), ("in_hid.weight", "hid"), ("out", "output")},
          "edges in -> fanout -> delay -> weight -> hid, out -> output")
    check(math.isclose(g.metadata["dt"], 0.0005) and math.isclose(g.metadata["duration"], 0.030)
          and g.metadata["time_unit"] == "s", "metadata: dt 0.0005 s, duration 0.03 s, time_unit s")


def hand_graph(out):
    one = lambda v: np.array([v])  # noqa: E731
    g = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([1])), "syn.delay": nir.Delay(one(DELAY)),
               "syn.weight": nir.Linear(np.array([[WEIGHT]])),
               "neuron": nir.CubaLIF(tau_syn=one(TAU_SYN), tau_mem=one(TAU_MEM), r=one(R), v_leak=one(0.0),
                                     v_threshold=one(THRESHOLD)),
               "out": nir.Output(np.array([1]))},
        edges=[("in", "syn.delay"), ("syn.delay", "syn.weight"), ("syn.weight", "neuron"), ("neuron", "out")])
    nir.write(f"{out}/hand.nir", g)
    with h5py.File(f"{out}/spike.h5", "w") as f:
        f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float64))[0] = np.array([0.0])
        f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))[0] = np.array([0], dtype=np.uint16)
        f.attrs["time_unit"] = "ms"


def first_crossing():
    """First t (s) with V(t) = threshold: NIR's CubaLIF after one input spike at 0, delayed."""
    i0 = WEIGHT / TAU_SYN  # tau_syn dI/dt = -I + w_in x: a Dirac of weight x makes I jump by x / tau_syn
    a = R * i0 * TAU_SYN / (TAU_SYN - TAU_MEM)
    v = lambda u: a * (math.exp(-u / TAU_SYN) - math.exp(-u / TAU_MEM))  # noqa: E731
    peak = math.log(TAU_MEM / TAU_SYN) * TAU_MEM * TAU_SYN / (TAU_MEM - TAU_SYN)
    assert v(peak) > THRESHOLD, "the hand-built neuron must reach threshold"
    lo, hi = 0.0, peak
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if v(mid) < THRESHOLD else (lo, mid)
    return DELAY + hi


def first_spike(out, dt_ms):
    t_star = first_crossing() * 1000
    with h5py.File(f"{out}/eval/predictions.h5") as f:
        step, t = int(f["first_spike_step"][0, 0]), float(f["readouts"][0, 0])
    check(step >= 0, f"the imported neuron spikes (step {step})")
    check(abs(t - t_star) <= dt_ms, f"first spike {t!r} ms, closed form {t_star:.6f} ms: within one step ({dt_ms} ms)")
    cfg = tomllib.load(open(f"{out}/hand/config.toml", "rb"))["network"]
    p = [p for p in cfg["population"] if p["name"] == "neuron"][0]
    with h5py.File(f"{out}/hand/model.h5") as f:
        w = float(f["params/in_neuron/weights"][0, 0])
        d = float(f["params/in_neuron/delays"][0, 0])
    check(p["tau_m"] == 20.0 and p["tau_s"] == 5.0 and p["theta"] == 1.0, "tau_m 20 ms, tau_s 5 ms, theta 1")
    check(math.isclose(w, WEIGHT * R / TAU_SYN, rel_tol=1e-15), f"weight {w!r} = x r w_in / tau_syn = 10")
    check(d == 3.75, f"delay {d!r} ms = 0.00375 s")


def routes(out, src):
    arr = np.array
    w_in, w_rec = arr([[0.5, -1.0], [2.0, 0.25], [1.5, 0.0]]), arr([[0.0, 0.3, -0.2], [0.1, 0.0, 0.4], [0.0, 0.5, 0.0]])
    post_delay, pre_delay, scale = arr([0.001, 0.0025, 0.004]), arr([0.0005, 0.0015, 0.003]), arr([1.0, 2.0, 0.5])
    tau_syn, r, w_in_gain = 0.004, 0.5, 3.0
    g = nir.NIRGraph(
        nodes={"x": nir.Input(arr([2])), "ff": nir.Linear(w_in), "ff_d": nir.Delay(post_delay),
               "ff_s": nir.Scale(scale), "rec": nir.Affine(w_rec, np.zeros(3)), "rec_d": nir.Delay(pre_delay),
               "h": nir.CubaLIF(tau_syn=np.full(3, tau_syn), tau_mem=np.full(3, 0.01), r=np.full(3, r),
                                v_leak=np.zeros(3), v_threshold=np.full(3, 1.0), w_in=np.full(3, w_in_gain)),
               "y": nir.Output(arr([3]))},
        edges=[("x", "ff"), ("ff", "ff_d"), ("ff_d", "ff_s"), ("ff_s", "h"), ("h", "rec_d"), ("rec_d", "rec"),
               ("rec", "h"), ("h", "y")])
    nir.write(f"{out}/routes.nir", g)
    subprocess.run([sys.executable, f"{src}/tools/nir_import.py", f"{out}/routes.nir", "--out", f"{out}/routes",
                    "--dt", "0.1", "--duration", "20"], check=True)
    gain = r * w_in_gain / tau_syn
    with h5py.File(f"{out}/routes/model.h5") as f:
        p = {k: v for k, v in walk(f["params"])}
    cfg = tomllib.load(open(f"{out}/routes/config.toml", "rb"))["network"]
    conns = {c["name"]: c for c in cfg["connection"]}
    check(sorted(conns) == ["h_h", "x_h"] and conns["h_h"]["pre"] == conns["h_h"]["post"] == "h",
          "connections x_h and the recurrent h_h")
    check(np.allclose(p["/x_h/weights"], (w_in * scale[:, None]).T * gain, rtol=1e-15, atol=0),
          "x_h weights: W[j][i] x scale[j] x r w_in / tau_syn")
    ff = w_in.T != 0
    check(np.allclose(p["/x_h/delays"][ff], np.tile(post_delay * 1000, (2, 1))[ff], rtol=1e-15, atol=0)
          and p["/x_h/delays"][0, 2] == 4.0 and p["/x_h/delays"][1, 2] == 0,
          "x_h delays: the Delay per postsynaptic neuron, in ms (0 where the weight is 0)")
    nz = w_rec.T != 0
    check(np.allclose(p["/h_h/weights"], w_rec.T * gain, rtol=1e-15, atol=0), "h_h weights: W[j][i] x r w_in / tau_syn")
    check(np.allclose(p["/h_h/delays"][nz], np.tile(pre_delay[:, None] * 1000, (1, 3))[nz], rtol=1e-15, atol=0)
          and np.all(p["/h_h/delays"][~nz] == 0), "h_h delays: the Delay per presynaptic neuron (0 where no synapse)")
    check(conns["x_h"]["max_delay"] == 4.0 and cfg["population"][1]["tau_m"] == 10.0, "max_delay 4 ms, tau_m 10 ms")


def edited(graph_path, model_path, out, src):
    g = nir.read(graph_path)
    g.nodes["in_hid.delay"].delay[5] = 0.0042  # synapse [0][5]
    g.nodes["hid"].v_threshold[:] = 1.5
    nir.write(f"{out}/edited.nir", g)
    subprocess.run([sys.executable, f"{src}/tools/nir_import.py", f"{out}/edited.nir", "--out", f"{out}/edited"],
                   check=True)
    with h5py.File(model_path) as a, h5py.File(f"{out}/edited/model.h5") as b:
        da, db = a["params/in_hid/delays"][()], b["params/in_hid/delays"][()]
    others = np.ones(da.shape, bool)
    others[0, 5] = False
    check(db[0, 5] == 0.0042 * 1000 and np.array_equal(da[others], db[others]),
          f"the edited delay {db[0, 5]!r} ms is taken, the 47 others are the original's bitwise")
    cfg = tomllib.load(open(f"{out}/edited/config.toml", "rb"))["network"]
    check([p.get("theta") for p in cfg["population"] if p["name"] == "hid"] == [1.5], "the edited threshold 1.5")


def bad_graphs(out):
    one = lambda v: np.array([v])  # noqa: E731
    lif = dict(tau_syn=one(0.005), tau_mem=one(0.02), r=one(1.0), v_leak=one(0.0), v_threshold=one(1.0))
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 3, 3)), stride=1, padding=0, dilation=1,
                      groups=1, bias=np.zeros(1))
    graphs = {
        "conv": ({"in": nir.Input(np.array([1, 4, 4])), "conv": conv, "out": nir.Output(np.array([1, 2, 2]))},
                 [("in", "conv"), ("conv", "out")]),
        "lif": ({"in": nir.Input(one(1)), "w": nir.Linear(np.ones((1, 1))),
                 "plain": nir.LIF(tau=one(0.02), r=one(1.0), v_leak=one(0.0), v_threshold=one(1.0)),
                 "out": nir.Output(one(1))}, [("in", "w"), ("w", "plain"), ("plain", "out")]),
        "leak": ({"in": nir.Input(one(1)), "w": nir.Linear(np.ones((1, 1))),
                  "leaky": nir.CubaLIF(**{**lif, "v_leak": one(0.5)}), "out": nir.Output(one(1))},
                 [("in", "w"), ("w", "leaky"), ("leaky", "out")]),
    }
    for name, (nodes, edges) in graphs.items():
        nir.write(f"{out}/bad_{name}.nir", nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"same": same, "mapping": mapping, "hand-graph": hand_graph, "first-spike": lambda o, dt: first_spike(o, float(dt)),
     "routes": routes, "edited": edited, "bad-graphs": bad_graphs}[cmd](*args)
    sys.exit(status)
