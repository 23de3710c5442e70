"""Long fuzz campaigns: mutated zoo specs and generated networks, counted per outcome class.

Run: python benchmarks/fuzz.py --cases 10000 --seed 1 [--jobs 2] [--build [--flax-every 10]]
     python benchmarks/fuzz.py --seed 1 --show 123      (the spec text of case #123)
     python benchmarks/fuzz.py --seed 1 --shrink 123    (the smallest spec that fails as #123 does)

Each case (tests/fuzzing.py) is a zoo spec mutated structurally and textually, a zoo spec given
targeted edits that keep it valid, or a generated valid network (tests/netgen.py); it is checked
through the API and the CLI in a worker process that has a memory limit; a worker that does not
answer within the hang bound is killed and the case counted as a hang. `--build` also builds
every small valid case with torch and runs it forward (evaluation) and forward and backward
(training), and every `--flax-every`-th of them (counted per worker) with Flax too
(tests/fuzz_run.py): a failure or an output shape other than the inferred one is a false accept.
Prints the counts per class, the networks built in each backend, how many valid cases of each
input class there were (names of framework attributes, keys, mixed init, parameters in
containers, ...), the distinct failures with the case of each that has the shortest spec, and a
reproducer for every bad case.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import resource
import sys
import tempfile
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fuzz_run  # noqa: E402
import fuzz_shrink  # noqa: E402
import fuzzing  # noqa: E402

MEMORY_LIMIT = 4 << 30  # address space a worker may add to its start: past it, an allocation fails (a blow-up)
RETIRE_AFTER = 200  # built cases: then a fresh worker (the frameworks' caches grow); at once after Flax
TIMEOUT_S = 3 * fuzzing.HANG_S  # a worker silent this long is stuck
BUILD_S = 120.0  # more for a case that is also built and run
FLAX_SMALL = {"max_params": 3_000_000, "max_macs": 300_000_000}  # eager Flax on a CPU is slower


def case_for(seed: int, index: int) -> fuzzing.Case:
    return fuzzing.make_case(random.Random(f"{seed}:{index}"))


def _backends(network, flax_every: int, state: dict) -> list[str]:
    """torch for a small network; Flax too for every flax_every-th of them (counted in `state`)."""
    if not fuzz_run.small(network):
        return []
    state["small"] += 1
    flax = fuzz_run.small(network, **FLAX_SMALL) and flax_every and state["small"] % flax_every == 1 % flax_every
    return ["torch", "flax"] if flax else ["torch"]


def _judge(index: int, seed: int, work: Path, build: bool, flax_every: int, state: dict, conn) -> dict:
    case = case_for(seed, index)
    v = fuzzing.judge(case, work)
    out = {"index": index, "outcome": v.outcome, "seconds": v.seconds, "detail": v.detail, "built": []}
    out["source"], out["size"] = case.source, len(case.text)
    if v.outcome == "valid" and v.network is not None:
        out["features"] = sorted(fuzz_run.features(v.network))
        for backend in _backends(v.network, flax_every, state) if build else []:
            conn.send({"building": backend})  # if the worker dies now, the backend killed it
            problem = fuzz_run.false_accept(v.network, backend)
            out["built"].append(backend)
            if problem:
                out |= {"outcome": "false accept", "detail": problem}
                break
    if out["outcome"] not in fuzzing.GOOD:
        out["described"] = case.describe()[:300]
    return out


def _address_space() -> int:
    """This process's virtual memory size in bytes (Linux), or 0."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmSize:\s+(\d+) kB", status)
    return int(found.group(1)) << 10 if found else 0


def _frameworks() -> None:
    """Import torch and Flax once, before the workers fork (importing them is most of a worker's start)."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    import flax.nnx  # noqa: F401
    import torch  # noqa: F401


def _worker(conn, seed: int, build: bool, flax_every: int, small: int):
    limit = _address_space() + MEMORY_LIMIT
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if build:
        import torch

        torch.set_num_threads(1)  # one core per worker: --jobs says how many
        warnings.filterwarnings("ignore", category=UserWarning)  # the frameworks' advice on odd layers
    built, state = 0, {"small": small}
    with tempfile.TemporaryDirectory(prefix="archspec-fuzz-") as tmp:
        work = Path(tmp)
        fuzzing.prepare(work)
        while True:
            index = conn.recv()
            if index is None:
                return
            try:
                res = _judge(index, seed, work, build, flax_every, state, conn)
            except MemoryError:
                res = _failed(index, "memory blow-up", "MemoryError")
            except Exception as exc:  # noqa: BLE001 - judge() catches archspec's; this is the fuzzer's own
                res = _failed(index, "crash", f"fuzzer: {type(exc).__name__}: {exc}"[:300])
            built += bool(res["built"])
            res["small"], res["retire"] = state["small"], "flax" in res["built"] or built >= RETIRE_AFTER
            conn.send(res)
            if res["retire"]:
                return


def _failed(index: int, outcome: str, detail: str, seconds: float = 0.0) -> dict:
    return {"index": index, "outcome": outcome, "seconds": seconds, "detail": detail, "built": []}


class Worker:
    def __init__(self, seed: int, build: bool, flax_every: int, small: int = 0):
        self.conn, child = mp.Pipe()
        args = (child, seed, build, flax_every, small)
        self.proc = mp.get_context("fork").Process(target=_worker, args=args, daemon=True)
        self.proc.start()
        self.timeout = TIMEOUT_S + (BUILD_S if build else 0.0)

    def run(self, index: int) -> dict:
        try:
            self.conn.send(index)
        except BrokenPipeError:
            return _failed(index, "crash", f"the worker died (exit {self.proc.exitcode})")
        building = None
        while True:
            if not self.conn.poll(self.timeout):
                self.proc.kill()
                self.proc.join()
                doing = f" building it with {building}" if building else ""
                return _failed(index, "hang", f"no answer in {self.timeout:g} s{doing}", self.timeout)
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self.proc.join(1)
                if building:  # the case checked valid: what killed the worker is its build
                    detail = f"{building}: the process died building and running it (exit {self.proc.exitcode})"
                    return _failed(index, "false accept", detail) | {"built": [building]}
                return _failed(index, "crash", f"the worker died (exit {self.proc.exitcode})")
            if "outcome" in message:
                return message
            building = message["building"]

    def alive(self) -> bool:
        return self.proc.is_alive()


def campaign(cases: int, seed: int, jobs: int, build: bool, flax_every: int = 10) -> tuple[Counter, list, float]:
    """Counts (of outcomes, of the backends that built a case, of the input classes among valid
    cases and of the cases from each source), every case's result in order, and the wall time."""
    counts: Counter = Counter()
    results = []
    start = time.perf_counter()
    chunks = [list(range(j, cases, jobs)) for j in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:  # each thread drives one worker process
        for part in pool.map(lambda c: _run_chunk(c, seed, build, flax_every), chunks):
            for res in part:
                res.setdefault("source", case_for(seed, res["index"]).source)  # a worker that died did not say
                counts[res["outcome"]] += 1
                counts.update(f"built {b}" for b in res["built"])
                counts.update(f"class {f}" for f in res.get("features", ()))
                counts.update(f"false accept {f}" for f in res.get("features", ()) if res["outcome"] == "false accept")
                counts[f"source {res['source']}"] += 1
                counts[f"checked valid {res['source']}"] += "features" in res
                results.append(res)
    return counts, sorted(results, key=lambda r: r["index"]), time.perf_counter() - start


def _run_chunk(indices: list[int], seed: int, build: bool, flax_every: int) -> list:
    worker, out, small = None, [], 0
    for done, index in enumerate(indices, 1):
        if worker is None or not worker.alive():
            worker = Worker(seed, build, flax_every, small)
        out.append(worker.run(index))
        small = out[-1].get("small", small)
        if out[-1].get("retire"):  # it has ended itself
            worker.proc.join()
            worker = None
        if done % 1000 == 0:
            print(f"  ... {done} of {len(indices)} cases", file=sys.stderr, flush=True)
    if worker is not None and worker.alive():
        worker.conn.send(None)
    return out


def report(counts: Counter, results: list, wall: float, args) -> None:
    slowest = max(results, key=lambda r: r["seconds"], default=None)
    slow = f" (slowest case #{slowest['index']}: {slowest['seconds']:.2f} s)" if slowest else ""
    print(f"seed {args.seed}: {args.cases} cases in {wall:.1f} s{slow}")
    sources = sorted(k[7:] for k in counts if k.startswith("source "))
    print("  " + ", ".join(f"{s} {counts['source ' + s]} ({counts['checked valid ' + s]} valid)" for s in sources))
    for outcome in fuzzing.OUTCOMES:
        print(f"  {outcome:<22} {counts.get(outcome, 0):>7}")
    if args.build:
        print(f"  built and run, forward and backward: torch {counts['built torch']}, flax {counts['built flax']}")
    print("  valid cases per input class (of them, false accepts):")
    for key in sorted(k for k in counts if k.startswith("class ")):
        print(f"    {key[6:]:<28} {counts[key]:>6}  ({counts['false accept ' + key[6:]]})")
    bad = [r for r in results if r["outcome"] not in fuzzing.GOOD]
    causes: dict[str, list] = {}
    for r in bad:
        causes.setdefault(f"{r['outcome']}: {fuzz_shrink.cause(r['detail'])}", []).append(r)
    if causes:
        print("\ndistinct failures (count, the case with the shortest spec):")
        for key, rs in sorted(causes.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(rs):>5}  #{min(rs, key=lambda r: r.get('size', 0))['index']:<6} {key}")
    for r in bad[:50]:
        print(f"\n#{r['index']} {r['outcome']}: {r.get('described', '')}\n  {r['detail'][:900]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--build", action="store_true", help="build and run small valid cases (false accepts)")
    parser.add_argument(
        "--flax-every", type=int, default=10, help="with --build, every Nth built case in Flax too (0: no Flax)"
    )
    parser.add_argument("--show", type=int, metavar="INDEX", help="print the spec of one case and stop")
    parser.add_argument("--shrink", type=int, metavar="INDEX", help="print the smallest spec failing as case INDEX")
    args = parser.parse_args()
    if args.show is not None:
        case = case_for(args.seed, args.show)
        print(f"# {case.describe()}")
        print(case.text if isinstance(case.text, str) else case.text.decode("utf-8", "replace"))
        return 0
    if args.shrink is not None:
        case = case_for(args.seed, args.shrink)
        with tempfile.TemporaryDirectory(prefix="archspec-fuzz-") as tmp:
            fuzzing.prepare(Path(tmp))
            print(f"# #{args.shrink}, {case.describe()}, reduced (beside specs/{case.base})")
            print(fuzz_shrink.shrink(case, Path(tmp)))
        return 0
    if args.build:
        _frameworks()
    counts, results, wall = campaign(args.cases, args.seed, args.jobs, args.build, args.flax_every)
    report(counts, results, wall, args)
    return 0 if all(r["outcome"] in fuzzing.GOOD for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
