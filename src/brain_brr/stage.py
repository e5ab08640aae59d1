"""The command line every ``stages/*.py`` file shares, and the exit codes of every command.

Exit codes: 0 success, 2 bad input or configuration (one line per problem on
stderr), 3 a red flag ended the stage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from brain_brr.config import Params, load_params
from brain_brr.errors import BrainBrrError

EXIT_INTERRUPTED = 130


def load_stage_params(path: str | None) -> Params:
    """``params.yaml`` at the repository root, or the file given with ``--params``."""
    from brain_brr.tracking.run import repo_root

    if path is not None:
        return load_params(path)
    # Named as the user knows it ("params.yaml"), also inside DVC's temporary experiment copies.
    return load_params(repo_root() / "params.yaml", shown_as="params.yaml")


def exit_code(action: Callable[[], Any], interrupted_hint: str = "") -> int:
    """Run ``action``; map the project's errors to their exit codes with their lines on stderr."""
    try:
        return int(action() or 0)
    except BrainBrrError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        what = f"interrupted ({exc})" if str(exc) else "interrupted"
        print(f"{what}{'; ' + interrupted_hint if interrupted_hint else ''}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def stage_main(
    run: Callable[..., Any],
    doc: str | None,
    argv: list[str] | None = None,
    *,
    resume: bool = False,
    interrupted_hint: str = "",
) -> int:
    """The command line of one ``stages/<name>.py``: ``[--params FILE] [--resume]``, then ``run(params, ...)``."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    if resume:
        parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)
    kwargs = {"resume": args.resume} if resume else {}
    hint = interrupted_hint or "run it again (`dvc repro`): finished work is reused"
    return exit_code(lambda: run(load_stage_params(args.params), **kwargs), hint)
