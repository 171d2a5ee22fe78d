"""What tools/nir_export.py and tools/nir_import.py share: the unit conversion, the names of
the graph's metadata, the one-line errors and a TOML writer (docs/NIR.md)."""
import argparse
import math
import sys

import numpy as np

# NIR graphs hold times in seconds; delayprop holds them in ms (docs/MODEL.md §1.3).
MS_PER_S = 1000.0
# Graph metadata written by the exporter. The config holds what NIR cannot express (dt, trial
# length, readout kind, single_spike, loss, training settings, connection names, max_delay).
META_CONFIG = "delayprop_config"
META_TIME_UNIT = "time_unit"
META_DT = "dt"
META_DURATION = "duration"
# Node metadata naming the connection a synapse node belongs to.
META_CONNECTION = "delayprop_connection"
# Delay node metadata: the delays in ms (exact), and population node metadata: tau_m and tau_s
# in ms; the importer takes them only where they convert to the node's values.
META_DELAY_MS = "delay_ms"
META_TAU_M_MS = "tau_m_ms"
META_TAU_S_MS = "tau_s_ms"


class ToolError(Exception):
    """A problem with the user's input: reported as one line, exit status 1."""


def die(message, status=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line too, exit status 2."""

    def error(self, message):
        die(f"{message} (usage: {' '.join(self.format_usage().split()[1:])})", 2)


def s_from_ms(x):
    return np.asarray(x, dtype=np.float64) / MS_PER_S


def ms_from_s(x, exact_ms=None):
    """x (s) in ms. exact_ms, the ms values the exporter recorded, is used where it converts to
    x exactly: ms -> s is not one-to-one in float64, so x * 1000 may miss the original by one ulp."""
    x = np.asarray(x, dtype=np.float64)
    if exact_ms is not None:
        exact_ms = np.asarray(exact_ms, dtype=np.float64)
        if exact_ms.shape == x.shape:
            return np.where(s_from_ms(exact_ms) == x, exact_ms, x * MS_PER_S)
    return x * MS_PER_S


def _key(k):
    bare = k and all(c.isalnum() or c in "_-" for c in k)
    return k if bare else _value(k)


def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        out = ['"']
        for c in v:
            if c in '"\\':
                out.append("\\" + c)
            elif ord(c) < 0x20 or ord(c) == 0x7F:
                out.append(f"\\u{ord(c):04x}")
            else:
                out.append(c)
        return "".join(out) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v):
    return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def _table(d, prefix, lines, top):
    for k, v in d.items():
        if not (_is_table_array(v) or (top and isinstance(v, dict))):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in d.items():
        name = f"{prefix}.{_key(k)}" if prefix else _key(k)
        if top and isinstance(v, dict):
            lines += ["", f"[{name}]"]
            _table(v, name, lines, top=True)
        elif _is_table_array(v):
            for item in v:
                lines += ["", f"[[{name}]]"]
                _table(item, name, lines, top=False)


def toml_dumps(d):
    """TOML text of a dict as tomllib returns it: sections as tables, lists of dicts as arrays
    of tables, dicts inside those as inline tables."""
    lines = []
    _table(d, "", lines, top=True)
    return "\n".join(lines).lstrip("\n") + "\n"
