"""Long fuzz campaigns: mutated zoo specs, counted per outcome class.

Run: python benchmarks/fuzz.py --cases 10000 --seed 1 [--jobs 2] [--build]

Each case is a zoo spec mutated structurally and textually (tests/fuzzing.py), checked through
the API and the CLI in a worker process that has a memory limit; a worker that does not answer
within the hang bound is killed and the case counted as a hang. `--build` also builds the
small valid cases with torch and runs them once: a failure or a shape other than the inferred
one is a false accept. Prints the counts per class and a reproducer for every bad case.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fuzzing  # noqa: E402

BUILT = "built and run with torch"
MEMORY_LIMIT = 4 << 30  # address space of a worker: past it, an allocation fails (a blow-up)
TIMEOUT_S = 3 * fuzzing.HANG_S  # a worker silent this long is stuck


def case_for(seed: int, index: int) -> fuzzing.Case:
    return fuzzing.make_case(random.Random(f"{seed}:{index}"))


def _worker(conn, seed: int, build: bool):
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with tempfile.TemporaryDirectory(prefix="archspec-fuzz-") as tmp:
        work = Path(tmp)
        fuzzing.prepare(work)
        while True:
            index = conn.recv()
            if index is None:
                return
            try:
                case = case_for(seed, index)
                v = fuzzing.judge(case, work)
                if build and v.outcome == "valid" and v.network is not None and fuzzing.small(v.network):
                    problem = fuzzing.torch_false_accept(v.network)
                    v = (
                        fuzzing.Verdict("false accept", v.seconds, problem)
                        if problem
                        else fuzzing.Verdict("valid", v.seconds, BUILT)
                    )
                described = case.describe() if v.outcome not in fuzzing.GOOD else ""
                conn.send((index, v.outcome, v.seconds, f"{described[:300]}\n  {v.detail}"))
            except MemoryError:
                conn.send((index, "memory blow-up", 0.0, "MemoryError"))
            except Exception as exc:  # noqa: BLE001 - judge() catches archspec's; this is the fuzzer's own
                conn.send((index, "crash", 0.0, f"fuzzer: {type(exc).__name__}: {exc}"[:300]))


class Worker:
    def __init__(self, seed: int, build: bool):
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_worker, args=(child, seed, build), daemon=True)
        self.proc.start()

    def run(self, index: int):
        try:
            self.conn.send(index)
        except BrokenPipeError:
            return (index, "crash", 0.0, f"the worker died (exit {self.proc.exitcode})")
        if not self.conn.poll(TIMEOUT_S):
            self.proc.kill()
            self.proc.join()
            return (index, "hang", TIMEOUT_S, f"no answer in {TIMEOUT_S:g} s")
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(1)
            code = self.proc.exitcode
            return (index, "crash", 0.0, f"the worker died (exit {code})")

    def alive(self) -> bool:
        return self.proc.is_alive()


def campaign(cases: int, seed: int, jobs: int, build: bool) -> tuple[Counter, list, float, tuple]:
    counts: Counter = Counter()
    bad = []
    start = time.perf_counter()
    slowest = (0.0, -1)
    chunks = [list(range(j, cases, jobs)) for j in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:  # each thread drives one worker process
        for part in pool.map(lambda c: _run_chunk(c, seed, build), chunks):
            for index, outcome, seconds, detail in part:
                counts[outcome] += 1
                counts["built"] += detail.endswith(BUILT)
                slowest = max(slowest, (seconds, index))
                if outcome not in fuzzing.GOOD:
                    bad.append((index, outcome, detail))
    return counts, sorted(bad), time.perf_counter() - start, slowest


def _run_chunk(indices: list[int], seed: int, build: bool) -> list:
    worker = Worker(seed, build)
    out = []
    for done, index in enumerate(indices, 1):
        if not worker.alive():
            worker = Worker(seed, build)
        out.append(worker.run(index))
        if done % 1000 == 0:
            print(f"  ... {done} of {len(indices)} cases", file=sys.stderr, flush=True)
    if worker.alive():
        worker.conn.send(None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--build", action="store_true", help="build small valid cases with torch (false accepts)")
    args = parser.parse_args()
    counts, bad, wall, slowest = campaign(args.cases, args.seed, args.jobs, args.build)
    print(f"seed {args.seed}: {args.cases} cases in {wall:.1f} s (slowest case #{slowest[1]}: {slowest[0]:.2f} s)")
    for outcome in fuzzing.OUTCOMES:
        print(f"  {outcome:<22} {counts.get(outcome, 0):>7}")
    if args.build:
        print(f"  (valid and small enough, so built and run with torch: {counts['built']})")
    for index, outcome, detail in bad[:50]:
        print(f"\n#{index} {outcome}: {detail[:900]}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
