"""Run the benchmarks: ``python -m bench [NAME ...]`` (all of them by default).

Each ``bench/bench_<name>.py`` has ``main() -> None`` that prints its figures (medians, and ratios
against the peers it measures in the same run) and writes any plot under ``.flux/bench/``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def available() -> list[str]:
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> None:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; available: {available()}")
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        importlib.import_module(f"bench.bench_{name}").main()
        print(f"--- {name}: {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
