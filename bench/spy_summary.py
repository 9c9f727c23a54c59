"""Summarize py-spy raw (collapsed) profiles: where the gunicorn workers spent CPU.

    python bench/spy_summary.py DIR_OR_FILES... [--top 25] [--match sync/,backend/]
        [--within "Sync.post"]

Prints, over all given files together, the share of samples in which each function is
on the stack (inclusive), for functions whose file matches ``--match`` (default: the
project's own code plus the libraries that usually dominate), then the top self frames.
``sync_push.py --py-spy DIR`` writes such files (one per worker and phase).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _key(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame.strip())
    if m is None:
        return frame.strip(), ""
    return m["func"], m["file"]


def summarize(paths: list[Path], top: int, match: list[str], within: str = "") -> None:
    inclusive: Counter[tuple[str, str]] = Counter()
    self_: Counter[tuple[str, str]] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit() or within not in stack:
                continue
            count = int(count_text)
            frames = [_key(f) for f in stack.split(";")]
            total += count
            for key in set(frames):
                inclusive[key] += count
            self_[frames[-1]] += count
    if not total:
        print("no samples")
        return
    print(f"{total} samples from {len(paths)} file(s)")
    print(f"\ninclusive (on the stack), files matching {match}:")
    shown = 0
    for (func, file), count in inclusive.most_common():
        if any(m in file for m in match):
            print(f"  {count / total:6.1%}  {func}  ({file})")
            shown += 1
            if shown >= top:
                break
    print("\nself (top of the stack):")
    for (func, file), count in self_.most_common(top):
        print(f"  {count / total:6.1%}  {func}  ({file})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--within", default="", help="only stacks containing this text")
    p.add_argument(
        "--match",
        default="sync/,backend/,sqlalchemy/orm,sqlalchemy/engine,psycopg/,flask_smorest/,"
        "webargs/,marshmallow/,jwt/",
    )
    args = p.parse_args()
    files: list[Path] = []
    for path in args.paths:
        files.extend(sorted(path.glob("*.txt")) if path.is_dir() else [path])
    summarize(files, args.top, [m for m in args.match.split(",") if m], args.within)


if __name__ == "__main__":
    main()
