#!/usr/bin/env python3
"""A reference point for noisy traces (docs/benchmarks.md, replay section).

A level-plus-margin rule: capacity = ceil(k x the trailing mean of the
demand over W), known one launch late (90 s boot plus a 15 s period = 21
steps of 5 s), scale-in at once, no boot model otherwise. On a load whose
minute-to-minute movement is noise, this is about the best a reactive
policy can do for a given margin; it shows where the goal's corner
(0.5x under-provisioning at 1.05x instance-hours) lies against it. Prints
the ratios to the baseline given (the harness's better baseline), for W
in 20/30/40 minutes and a few margins k. Not a policy: it never reacts to
a step faster than its mean.

usage: level_margin_rule.py TRACE.csv BASELINE_UNDER_PROVISIONED BASELINE_INSTANCE_HOURS
"""
import math
import sys


def main():
    path, base_u, base_h = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    xs = []
    with open(path) as f:
        for line in f:
            if line.startswith('#') or line.startswith('t_'):
                continue
            xs.append(float(line.split(',')[1]))
    # The trace's rows are already at 5 s steps (the harness holds a row
    # until the next one; the recorded traces have one per step).
    n = len(xs)
    need = [math.ceil(x - 1e-9) for x in xs]
    prefix = [0.0]
    for x in xs:
        prefix.append(prefix[-1] + x)
    lag = 21
    for w in (240, 360, 480):
        mean = [(prefix[i + 1] - prefix[max(0, i + 1 - w)]) / (i + 1 - max(0, i + 1 - w))
                for i in range(n)]
        for k in (1.34, 1.35, 1.36, 1.38):
            u = h = 0.0
            for i in range(n):
                c = max(2, math.ceil(k * mean[max(0, i - lag)]))
                u += max(0, need[i] - c) * 5
                h += c * 5 / 3600
            print(f'W {w * 5 // 60} min k {k}: {u / base_u:.3f}x under-provisioning, '
                  f'{h / base_h:.3f}x instance-hours')


if __name__ == '__main__':
    main()
