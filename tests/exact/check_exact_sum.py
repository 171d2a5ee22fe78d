#!/usr/bin/env python3
"""Exact sums against Python's fractions: terms spanning 2^-70 .. 2^55 with cancellation,
summed by exact_sum_tool in 8 orders and splits; the result must be the correctly rounded
sum (float(Fraction) rounds to nearest, ties to even), where the plain float64 sum is not.
Usage: check_exact_sum.py TOOL"""
import random
import subprocess
import sys
from fractions import Fraction


def run(tool, xs):
    out = subprocess.run([tool], input="\n".join(repr(x) for x in xs), capture_output=True,
                         text=True, check=True).stdout.split()
    return float.fromhex(out[1]), float.fromhex(out[3])


def main() -> int:
    tool = sys.argv[1]
    rng = random.Random(11)
    cases = []
    # Large terms that cancel, small ones that a float64 sum of the large ones swallows.
    for n in (10, 100, 1000):
        xs = []
        for _ in range(n):
            big = rng.uniform(1, 2) * 2.0 ** rng.randint(40, 55)
            xs += [big, -big * (1 + 2.0 ** -40)]
            xs.append(rng.uniform(-1, 1) * 2.0 ** rng.randint(-70, 10))
        rng.shuffle(xs)
        cases.append(xs)
    cases.append([2.0 ** 53, 1.0, -(2.0 ** 53), 2.0 ** -60])  # 1 + 2^-60: naive gives 0
    for lo, hi in ((-77, -66), (-77, -20), (-30, 30)):  # sums in each 64-bit word of the digits
        for _ in range(5):
            cases.append([rng.uniform(-1, 1) * 2.0 ** rng.randint(lo, hi) for _ in range(rng.randint(2, 40))])
    cases.append([1.0, 2.0 ** -53])  # a tie: to even, 1.0
    cases.append([1.0 + 2.0 ** -52, 2.0 ** -53])  # a tie: to even, 1 + 2^-51
    cases.append([2.0, -(2.0 ** -53) * 0.75])  # rounds up to 2: the mantissa carries into the exponent
    cases.append([-2.0, 2.0 ** -53 * 0.75, -(2.0 ** -100)])  # the same, negative
    cases.append([-(2.0 ** 59), 2.0 ** 59 * 0.75, 3.0 ** -40])  # near the top of the range
    cases.append([0.1] * 10)  # exactly representable sum of decimals: 1.0000000000000000555 -> 1.0
    failures = naive_wrong = 0
    for i, xs in enumerate(cases):
        exact, naive = run(tool, xs)
        ref = float(sum(Fraction(x) for x in xs))
        ok = exact == ref
        naive_wrong += naive != ref
        failures += not ok
        print(f"case {i}: {len(xs)} terms: exact {exact!r} reference {ref!r} naive {naive!r} "
              f"{'OK' if ok else 'WRONG'}")
    print(f"{len(cases)} cases, {failures} wrong; the plain float64 sum was wrong in {naive_wrong}")
    if naive_wrong < 5:
        print("the cases no longer show what float64 summation loses")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
