#!/usr/bin/env python3
"""Fails when a layer includes one it may not (docs/DESIGN.md, "Layers").

    core (model) <- kernels (engine) <- dist <- io <- train <- drivers
    core, kernels <- bench (workloads, the bare loop) <- drivers
    io <- sweep <- drivers

A file may include its own layer and the layers it builds on (ALLOWED); the Python binding
(python/) is at the drivers' level. Besides: the model layer does no
I/O and knows no backend (no HDF5, TOML, JSON, MPI, CUDA or NCCL headers); the CPU and CUDA
backends never include each other. Usage: check_includes.py REPO_ROOT
"""
import pathlib
import re
import sys

LAYERS = ["core", "kernels", "bench", "dist", "io", "train", "sweep", "drivers"]
# The layers each layer may include besides itself.
ALLOWED = {
    "core": set(),
    "kernels": {"core"},
    "bench": {"core", "kernels"},
    "dist": {"core", "kernels"},
    "io": {"core", "kernels", "dist"},
    "train": {"core", "kernels", "dist", "io"},
    "sweep": {"core", "kernels", "dist", "io"},
    "drivers": set(LAYERS),
}
MODEL_FORBIDDEN = re.compile(r"#\s*include\s*[<\"](hdf5|H5|toml|nlohmann|mpi|cuda|nccl|fstream)")
INCLUDE = re.compile(r'#\s*include\s*"([^"]+)"')


def layer_of(path: pathlib.Path, root: pathlib.Path):
    rel = path.relative_to(root).parts
    if rel[0] in ("drivers", "python"):
        return "drivers"
    if rel[0] == "src" and len(rel) > 2 and rel[1] in LAYERS:
        return rel[1]
    return None


def self_test() -> int:
    """The check must catch each kind of violation in a throwaway tree."""
    import subprocess
    import tempfile
    cases = {"src/core/a.hpp": '#include "io/config.hpp"',
             "src/core/b.hpp": "#include <hdf5.h>",
             "src/kernels/cpu/c.cpp": '#include "kernels/cuda/cuda_engine.hpp"',
             "src/dist/d.cpp": '#include "train/train.hpp"',
             "src/bench/e.cpp": '#include "io/config.hpp"',
             "src/dist/f.cpp": '#include "bench/workload.hpp"',
             "src/train/g.cpp": '#include "sweep/sweep.hpp"'}
    for rel, text in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            f = pathlib.Path(tmp) / rel
            f.parent.mkdir(parents=True)
            f.write_text(text + "\n")
            (pathlib.Path(tmp) / "drivers").mkdir()
            r = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
            if r.returncode != 1 or "1 violations" not in r.stdout:
                print(f"self-test: '{text}' in {rel} was not reported:\n{r.stdout}")
                return 1
    print(f"self-test: all {len(cases)} planted violations reported")
    return 0


def main() -> int:
    if sys.argv[1] == "--self-test":
        return self_test()
    root = pathlib.Path(sys.argv[1]).resolve()
    files = [p for d in ("src", "drivers", "python") for p in (root / d).rglob("*")
             if p.suffix in (".hpp", ".cpp", ".cu", ".h")]
    bad, n_includes = [], 0
    for path in sorted(files):
        layer = layer_of(path, root)
        if layer is None:
            bad.append(f"{path.relative_to(root)}: not inside a layer folder ({', '.join(LAYERS)})")
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(root)}:{lineno}"
            if layer == "core" and MODEL_FORBIDDEN.search(line):
                bad.append(f"{where}: the model layer includes an I/O or backend header: {line.strip()}")
            m = INCLUDE.search(line)
            if not m:
                continue
            target = m.group(1).split("/")
            if target[0] not in LAYERS:
                continue
            n_includes += 1
            if target[0] != layer and target[0] not in ALLOWED[layer]:
                bad.append(f"{where}: layer '{layer}' may not include the layer '{target[0]}': {m.group(1)}")
            rel = path.relative_to(root).parts
            if layer == "kernels" and len(target) > 2 and len(rel) > 3 and {rel[2], target[1]} == {"cpu", "cuda"}:
                bad.append(f"{where}: one backend includes the other: {m.group(1)}")
    for line in bad:
        print(line)
    print(f"{len(files)} files, {n_includes} project includes checked, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
