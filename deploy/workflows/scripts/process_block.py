#!/usr/bin/env python3
"""Example processing step of an autocal task (stand-in for a cmsRun job).

Writes one small JSON result per job into the output directory and the
outputs.json manifest autocal reads. Standard library only; it finishes in
milliseconds unless AUTOCAL_EXAMPLE_SLEEP_S asks it to take longer, and fails
on purpose when AUTOCAL_EXAMPLE_FAIL_JOBS lists its job index.
"""
import argparse
import hashlib
import json
import os
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--step', required=True, help='name of the processing step, e.g. timing-reco')
    p.add_argument('--runs', nargs='+', required=True, help='runs of the block')
    p.add_argument('--job', type=int, default=0)
    p.add_argument('--njobs', type=int, default=1)
    p.add_argument('--inputs', nargs='*', default=[], help='outputs of upstream tasks')
    p.add_argument('--out', required=True, help='output directory')
    a = p.parse_args()

    sleep_s = float(os.environ.get('AUTOCAL_EXAMPLE_SLEEP_S', '0') or 0)
    if sleep_s > 0:
        time.sleep(sleep_s)
    fail = [x for x in os.environ.get('AUTOCAL_EXAMPLE_FAIL_JOBS', '').split(',') if x != '']
    if str(a.job) in fail:
        print(f'{a.step}: job {a.job} fails on purpose (AUTOCAL_EXAMPLE_FAIL_JOBS)', file=sys.stderr)
        return 3

    os.makedirs(a.out, exist_ok=True)
    digest = hashlib.sha256(f'{a.step}|{",".join(a.runs)}|{a.job}/{a.njobs}|{",".join(a.inputs)}'.encode()).hexdigest()
    name = f'{a.step}_j{a.job}.json'
    with open(os.path.join(a.out, name), 'w') as f:
        json.dump({'step': a.step, 'runs': [int(r) for r in a.runs], 'job': a.job, 'njobs': a.njobs,
                   'inputs': a.inputs, 'digest': digest}, f)
    with open(os.path.join(a.out, 'outputs.json'), 'w') as f:
        json.dump({'outputs': [{'path': name, 'label': a.step}]}, f)
    print(f'{a.step}: runs {a.runs[0]}..{a.runs[-1]} job {a.job}/{a.njobs} -> {name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
