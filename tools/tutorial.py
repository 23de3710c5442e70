"""Runs docs/tutorial.md: every command in it, every output it shows, every file it quotes.

    python tools/tutorial.py          # re-run the commands and rewrite the outputs in place
    python tools/tutorial.py --check  # exit 1 if the page differs from what the program does

The page is its own script. In a fenced ```console block each `$ command` line runs (with
bash, `archspec` meaning this checkout's) in one scratch directory holding a copy of
docs/tutorial/, and the lines after it are replaced by what it printed. A block whose first
line is `# file: NAME` must equal docs/tutorial/NAME; a ```mermaid block whose first line is
`%% output: NAME` is filled from the file NAME that an earlier command wrote.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "tutorial.md"
FILES = ROOT / "docs" / "tutorial"
FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```$", re.S | re.M)


class TutorialError(Exception):
    pass


def _shim(bin_dir: Path) -> dict:
    """An environment whose `archspec` and `python` are this checkout's, whatever is installed."""
    bin_dir.mkdir()
    (bin_dir / "archspec").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m archspec "$@"\n')
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLUMNS", "LINES"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT), COLUMNS="100")
    env.update(JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    return env


def _console(body: str, cwd: Path, env: dict) -> str:
    out = []
    for line in body.splitlines():
        if not line.startswith("$ "):
            continue  # an old output line: it is produced anew
        proc = subprocess.run(["bash", "-c", line[2:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        printed = (proc.stdout + proc.stderr).rstrip("\n")
        out.append(line)
        if printed:
            out.append(printed)
    return "\n".join(out) + "\n"


def render(page: str) -> str:
    with tempfile.TemporaryDirectory(prefix="archspec-tutorial-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(FILES, work)
        env = _shim(Path(tmp) / "bin")

        def block(match: re.Match) -> str:
            lang, body = match.group(1), match.group(2)
            first = body.split("\n", 1)[0]
            if lang == "console":
                body = _console(body, work, env)
            elif first.startswith("# file: "):
                name = first[len("# file: ") :].strip()
                quoted = (FILES / name).read_text()
                if body.split("\n", 1)[1] != quoted:
                    raise TutorialError(f"the page's copy of {name} differs from docs/tutorial/{name}")
            elif lang == "mermaid" and first.startswith("%% output: "):
                name = first[len("%% output: ") :].strip()
                body = first + "\n" + (work / name).read_text()
            return f"```{lang}\n{body}```"

        return FENCE.sub(block, page)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether the page is current")
    args = parser.parse_args(argv)
    page = PAGE.read_text(encoding="utf-8")
    try:
        new = render(page)
    except TutorialError as exc:
        print(f"docs/tutorial.md: {exc}")
        return 1
    if new == page:
        return 0
    if args.check:
        import difflib

        sys.stdout.writelines(difflib.unified_diff(page.splitlines(True), new.splitlines(True), "page", "program"))
        print("docs/tutorial.md is out of date: run python tools/tutorial.py")
        return 1
    PAGE.write_text(new, encoding="utf-8")
    print("rewrote docs/tutorial.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
