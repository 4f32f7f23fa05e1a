"""The command line: record a script's run, or render a saved trace.

    python -m effectpy trace SCRIPT.py [ARGS...] [--svg OUT.svg] [--perfetto OUT.json]
                                       [--jsonl OUT.jsonl] [--html OUT.html] [--capacity N]
                                       [--asyncio] [--test-clock] [--title TITLE]
    python -m effectpy render TRACE.jsonl [--svg OUT.svg] [--perfetto OUT.json]
                                          [--html OUT.html] [--summary]

``trace`` works like ``python -m cProfile``: the script runs as ``__main__`` (with ARGS as
its ``sys.argv[1:]``; its own options go after ``--``: an unknown option before it is an
error, so that a typo of this command's is not passed on), and
every effect run it makes is recorded (with ``--asyncio``, every asyncio task it creates
too). A script that defines ``main`` (an effect, or a function returning one; with
``--asyncio``, an async function too) and no ``if __name__ == "__main__":`` block has its
``main`` run; ``--test-clock`` always runs ``main``, on a virtual clock.

The recording keeps the last ``--capacity`` events in memory (100,000 by default), which the
pictures are drawn from (they say how many were dropped); ``--jsonl`` writes every event to
its file as the run goes on, so a process that is killed (or a machine that hangs) still
leaves a trace that ``render`` reads (marked truncated).

Exit codes: 0 the run succeeded (or the trace was rendered); 1 the traced program failed
(its pictures are still written: that is what a bug report wants); 2 bad usage; 3 bad input
(a missing file, a script with nothing to run, a malformed trace file); 130 interrupted
(Ctrl-C; the trace so far is still written).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import re
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_PROGRAM_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERRUPTED = 130  # as a shell reports a SIGINT


class BadInput(Exception):
    """A problem with what the user gave us (reported in one line, exit code 3)."""


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command's parser, and its `trace` subcommand's."""
    parser = argparse.ArgumentParser(prog="python -m effectpy", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    trace = sub.add_parser("trace", help="run a script under the recorder and write its pictures",
                           description=" ".join(__doc__.split("\n\n")[2].replace("``", "").split()),
                           allow_abbrev=False,
                           usage="python -m effectpy trace SCRIPT.py [ARGS...] [options] [-- SCRIPT OPTIONS]")
    trace.add_argument("script", help="a Python file, run as __main__ (or its `main` effect: "
                                      "see --test-clock and the description above); the words "
                                      "after it that are not options, and all after --, are its arguments")
    trace.add_argument("--svg", help="write the timeline SVG here")
    trace.add_argument("--perfetto", help="write Chrome trace-event JSON (ui.perfetto.dev) here")
    trace.add_argument("--jsonl", help="write the lossless trace here, every event as it happens")
    trace.add_argument("--html", help="write the interactive timeline here (one standalone page)")
    trace.add_argument("--capacity", type=_capacity, default=None, metavar="N",
                       help="keep the last N events in memory for the pictures (default "
                            "100,000; --jsonl holds them all)")
    trace.add_argument("--asyncio", action="store_true",
                       help="record plain asyncio tasks too (parents, cancellations, outcomes, "
                            "long steps); an async `main` is run with asyncio.run")
    trace.add_argument("--test-clock", action="store_true",
                       help="run `main` on a TestClock advanced automatically: sleeps finish "
                            "instantly, and the same program gives the same trace and picture")
    trace.add_argument("--title", help="title of the timeline picture (default: made from the "
                                        "trace, as `render` makes it)")
    render = sub.add_parser("render", help="render a trace saved with --jsonl / Trace.save_jsonl")
    render.add_argument("trace_file", help="a .jsonl trace")
    render.add_argument("--svg", help="write the timeline SVG here (default: next to the trace)")
    render.add_argument("--perfetto", help="write Chrome trace-event JSON here")
    render.add_argument("--html", help="write the interactive timeline here (one standalone page)")
    render.add_argument("--title", help="title of the timeline picture (default: made from the "
                                         "trace, as `trace` makes it)")
    render.add_argument("--summary", action="store_true", help="print the trace's summary")
    return parser, trace


def _capacity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of events >= 1, got {text!r}")
    return value


def _shape(path: Path) -> tuple[bool, bool]:
    """Whether the script defines ``main`` at its top level, and whether it has an
    ``if __name__ == "__main__":`` block."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise BadInput(f"{path}: not valid Python ({exc.msg}, line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    defines_main = has_guard = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
            defines_main = True
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "main" for t in node.targets):
            defines_main = True
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "main":
            defines_main = True
        elif isinstance(node, ast.If) and _is_main_guard(node.test):
            has_guard = True
    return defines_main, has_guard


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {ast.dump(test.left), ast.dump(test.comparators[0])}
    return sides == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}


def _program_of(main: Any, path: Path, test_clock: bool, plain_asyncio: bool) -> Any:
    """The Effect to run for a script's `main` (with ``--asyncio``, or its coroutine)."""
    from . import Effect
    if isinstance(main, Effect):
        return main
    if callable(main):
        result = main()
        if isinstance(result, Effect):
            return result
        if asyncio.iscoroutine(result):
            if plain_asyncio and not test_clock:
                return result
            result.close()
            if plain_asyncio:
                raise BadInput(f"{path}: main is an async function, which --test-clock cannot run "
                               "(its asyncio sleeps take real time); drop --test-clock")
            raise BadInput(f"{path}: main is an async function; pass --asyncio to run it with "
                           "asyncio.run, or make it return an Effect (e.g. from_async(...))")
        hint = (" (--test-clock runs a `main` effect on a virtual clock; without it the script "
                "runs as __main__)") if test_clock else ""
        raise BadInput(f"{path}: main() returned {type(result).__name__}, expected an Effect{hint}")
    raise BadInput(f"{path}: main is a {type(main).__name__}, expected an Effect or a function returning one")


def _trace_script(args: argparse.Namespace, script_args: list[str]) -> int:
    from . import Failure
    from ._test_clock import TestClock
    from .trace import record
    from .trace._recorder import DEFAULT_CAPACITY

    path = Path(args.script)
    if not path.is_file():
        raise BadInput(f"no script at {path}")
    defines_main, has_guard = _shape(path)
    if args.test_clock and not defines_main:
        raise BadInput(f"{path}: --test-clock needs a `main` effect to run (the script defines no `main`)")
    run_main = defines_main and (args.test_clock or not has_guard)
    failed = interrupted = False
    saved_argv, saved_path = sys.argv, sys.path[:]
    sys.argv = [str(path), *script_args]
    sys.path.insert(0, str(path.resolve().parent))
    recording = contextlib.ExitStack()
    try:
        trace = recording.enter_context(record(args.capacity or DEFAULT_CAPACITY, path=args.jsonl,
                                               asyncio=args.asyncio))
    except OSError as exc:
        sys.argv, sys.path[:] = saved_argv, saved_path
        raise BadInput(f"cannot write {args.jsonl}: {exc.strerror or exc}") from None
    with recording:
        try:
            if run_main:
                namespace = runpy.run_path(str(path), run_name="__effectpy_trace__")
                program = _program_of(namespace["main"], path, args.test_clock, args.asyncio)
                if asyncio.iscoroutine(program):  # --asyncio, and main is an async function
                    asyncio.run(program)  # (it raises if the program failed)
                else:
                    if args.test_clock:
                        exit_ = asyncio.run(TestClock().drive(program))
                    else:
                        import effectpy
                        exit_ = effectpy.run_exit(program)
                    if not exit_.is_success():
                        failed = True
                        print(f"the program failed:\n{trace.pretty_cause(exit_.cause)}", file=sys.stderr)
            else:
                runpy.run_path(str(path), run_name="__main__")
        except BadInput:
            raise
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted (Ctrl-C): writing the trace recorded so far", file=sys.stderr)
        except (Failure, Exception) as exc:
            failed = True
            traceback.print_exception(exc, file=sys.stderr)
        except SystemExit as exc:
            failed = exc.code not in (None, 0)
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path
    if not len(trace):
        if interrupted:
            return EXIT_INTERRUPTED
        what = "no effect was run and no asyncio task created" if args.asyncio else (
            "no effect was run (pass --asyncio to record plain asyncio tasks)")
        raise BadInput(f"{path}: ran, but {what} (nothing to draw)")
    outputs = {"svg": args.svg, "perfetto": args.perfetto, "html": args.html}
    if not any(outputs.values()) and not args.jsonl:
        outputs["svg"] = f"{path.stem}.trace.svg"
    print(trace.summary())
    _write(trace, outputs, args.title)  # BadInput (3) if a file cannot be written
    if args.jsonl:
        print(f"{'trace:':<9} {args.jsonl} (every event)")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PROGRAM_FAILED if failed else EXIT_OK


def _write(trace: Any, outputs: dict[str, str | None], title: str | None) -> None:
    writers = {"svg": ("timeline", lambda p: trace.save_svg(p, title=title)),
               "perfetto": ("perfetto", trace.save_perfetto),
               "html": ("page", lambda p: trace.save_html(p, title=title))}
    for key, (what, save) in writers.items():
        target = outputs.get(key)
        if not target:
            continue
        try:
            print(f"{what + ':':<9} {save(target)}")
        except OSError as exc:
            raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"the trace's events hold malformed data ({type(exc).__name__}: {exc})") from None


def _render(args: argparse.Namespace) -> int:
    from .trace import Trace, TraceFormatError

    path = Path(args.trace_file)
    try:
        trace = Trace.load(path)
    except (OSError, TraceFormatError) as exc:
        raise BadInput(str(exc) if not isinstance(exc, OSError) or isinstance(exc, FileNotFoundError)
                       else f"cannot read {path}: {exc.strerror or exc}") from None
    if trace.truncated:
        print(f"effectpy: {path} ends early (the process that wrote it died first): "
              f"read its {len(trace)} complete events", file=sys.stderr)
    svg = args.svg or (None if args.perfetto or args.html else str(path.with_suffix(".svg")))
    _write(trace, {"svg": svg, "perfetto": args.perfetto, "html": args.html}, args.title)
    if args.summary:
        try:
            print(trace.summary())
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"the trace's events hold malformed data ({type(exc).__name__}: {exc})") from None
    return EXIT_OK


def _option_like(word: str) -> bool:
    """Whether argparse takes ``word`` for an option: it starts with "-" and is not "-", a
    negative number ("-3", "-1.5"), or words with a space."""
    return word.startswith("-") and word != "-" and " " not in word and not re.fullmatch(r"-\d+|-\d*\.\d+", word)


def main(argv: list[str] | None = None) -> int:
    parser, trace_parser = _parsers()
    argv = sys.argv[1:] if argv is None else argv
    # the script's own arguments: what follows `--`, and what this command does not know
    head, tail = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    try:
        args, unknown = parser.parse_known_args(head)
        if unknown and args.command != "trace":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        options = [word for word in unknown if _option_like(word)]
        if options:  # a typo of this command's options must not pass silently to the script
            trace_parser.error(f"unrecognized option{'s' if len(options) > 1 else ''} {' '.join(options)} "
                         f"(the script's own options go after --, e.g. trace app.py --svg out.svg -- "
                         f"{options[0]})")
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    try:
        return _trace_script(args, unknown + tail) if args.command == "trace" else _render(args)
    except BadInput as exc:
        print(f"effectpy: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
