"""The ``%%effect`` cell magic (``%load_ext effectpy``).

The cell is Python whose last expression is an effect (top-level ``await`` works); the magic
runs it under `effectpy.trace.record`, shows the timeline, and returns the effect's value, so
it is the cell's output and ``_`` holds it. A failure shows its cause and the timeline up to
the failure, then raises, so "run all" stops there. Ctrl-C stops the run (its finalizers
run), shows and saves the trace so far, marked as interrupted, then raises
`KeyboardInterrupt`. The recording keeps the last ``--capacity`` events (100,000 by
default; the pictures say how many were dropped); ``--jsonl PATH`` writes every event to
PATH as it happens, so even a kernel that dies leaves a trace `Trace.load` reads.

The cell's code runs as IPython runs a cell (``transform_cell``, the AST transformers, the
shell's compiler with top-level ``await``), but without a nested ``run_cell``, which would
take over the outer cell's result. Its errors are raised with their traceback starting at
the cell's code, and the magic's own frames are hidden from IPython's tracebacks
(``__tracebackhide__``).

Typing is loosened for this module: IPython's magics API is untyped.
"""

# mypy: disable-error-code="misc,no-untyped-call,untyped-decorator,union-attr,attr-defined"

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import inspect
import threading
from collections.abc import Callable, Coroutine
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

if TYPE_CHECKING:
    from effectpy import Exit

__all__ = ["EffectMagics", "load_ipython_extension"]

T = TypeVar("T")

INTERRUPTED: Final = "interrupted by Ctrl-C"
WAIT_POLL: Final = 0.1  # seconds: how soon a kernel's waiting thread sees a Ctrl-C it missed


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(EffectMagics)


def _loop_running() -> bool:
    # (a test, so that the run is not inside this `except`: its errors would chain to it)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _blocking(main: Callable[[], Coroutine[Any, Any, T]],
              here: Callable[[Coroutine[Any, Any, T]], T] = asyncio.run) -> T:
    """Run the coroutine ``main()`` to its end: with ``here`` (a new event loop) if no event
    loop runs in this thread, else (in a Jupyter kernel, whose loop is running) on a new loop
    in a worker thread.

    Ctrl-C cancels ``main()`` and waits for it to end (an effect's finalizers run), then
    raises `KeyboardInterrupt`: `asyncio.run` does so itself; with a worker thread, Ctrl-C
    comes to this thread, which cancels the worker's task (a second Ctrl-C stops waiting)."""
    __tracebackhide__ = True
    if not _loop_running():
        return here(main())
    ended: dict[str, Any] = {}
    known = threading.Event()  # the worker's loop and task are in `ended` (or it never got there)
    finished = threading.Event()  # the worker is done (an interrupted `Thread.join` can't say)

    async def with_handle() -> T:
        ended["loop"], ended["task"] = asyncio.get_running_loop(), asyncio.current_task()
        known.set()
        return await main()

    def target() -> None:
        try:
            ended["value"] = asyncio.run(with_handle())
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            ended["error"] = exc
        finally:
            known.set()
            finished.set()

    # the worker runs in a copy of this context, so `record()` (a context variable) sees it
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), name="effectpy-%%effect",
                              daemon=True)
    stopped: KeyboardInterrupt | None = None
    try:
        worker.start()
        _wait(finished)
    except KeyboardInterrupt as exc:  # Ctrl-C in a kernel: raised here, not in the worker
        stopped = exc
    if stopped is not None:
        if worker.ident is not None:  # (else Ctrl-C came before the worker started)
            _cancel(known, finished, ended)
        if not isinstance(ended.get("error", asyncio.CancelledError()), asyncio.CancelledError):
            raise ended["error"]  # cleanup failed: that, as `asyncio.run` does
        raise stopped
    if "error" in ended:
        raise ended["error"]
    return ended["value"]  # type: ignore[no-any-return]


def _wait(finished: threading.Event) -> None:
    """Wait until ``finished`` is set, interruptible by Ctrl-C: a signal that comes just
    before this thread blocks, or that the OS hands to another thread (or any, on Windows),
    does not wake a wait without a timeout. (Not `Thread.join`: on Python 3.11, a join
    that Ctrl-C interrupts marks the thread as ended although it still runs.)"""
    while not finished.wait(WAIT_POLL):
        pass


def _cancel(known: threading.Event, finished: threading.Event, ended: dict[str, Any]) -> None:
    """Cancel the worker's main task and wait until the worker is done (a second Ctrl-C
    stops the wait: the cleanup then goes on in the background)."""
    try:
        known.wait()
        loop, task = ended.get("loop"), ended.get("task")
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the run is over
                loop.call_soon_threadsafe(task.cancel)
        _wait(finished)
    except KeyboardInterrupt:
        return


def _from_cell(tb: TracebackType | None, filename: str) -> TracebackType | None:
    """The traceback from its first frame in the cell's code (without the frames of the
    magic, asyncio and the worker thread that ran it), or all of it if none is."""
    first = tb
    while first is not None and first.tb_frame.f_code.co_filename != filename:
        first = first.tb_next
    return first if first is not None else tb


def _is_async(code: CodeType) -> bool:
    return bool(code.co_flags & inspect.CO_COROUTINE)


def _compile_cell(shell: Any, cell: str) -> tuple[CodeType, CodeType, str]:
    """The cell's statements and its last expression, compiled as IPython compiles a cell,
    and the name they are compiled under (its source is in `linecache`, so tracebacks show
    it; line numbers count the ``%%effect`` line, as the notebook shows the cell)."""
    # a first empty line stands for the magic's line
    source = "\n" + shell.transform_cell(cell)
    executing = shell.displayhook.exec_result  # the running cell's, None outside run_cell
    number = executing.execution_count if executing is not None else shell.execution_count
    filename = shell.compile.cache(source, number)
    tree = shell.transform_ast(shell.compile.ast_parse(source, filename=filename))
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("%%effect: the cell's last line must be an expression giving an Effect")
    *statements, last = tree.body
    flags = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0) if shell.autoawait else 0
    with shell.compile.extra_flags(flags):
        head = shell.compile(ast.Module(statements, type_ignores=[]), filename, "exec")
        tail = shell.compile(ast.Expression(last.value), filename, "eval")
    return head, tail, filename


def _evaluate(shell: Any, head: CodeType, tail: CodeType) -> Any:
    """Run the cell's statements, then return its last expression's value. With top-level
    ``await``, both run as one coroutine: on IPython's loop (as an ``await`` cell runs), or
    in a Jupyter kernel, whose loop is busy running this cell, in a worker thread."""
    __tracebackhide__ = True
    glob, local = shell.user_global_ns, shell.user_ns
    if not (_is_async(head) or _is_async(tail)):
        exec(head, glob, local)
        return eval(tail, glob, local)

    async def run() -> Any:
        __tracebackhide__ = True
        ran = eval(head, glob, local)
        if _is_async(head):
            await ran
        value = eval(tail, glob, local)
        return (await value) if _is_async(tail) else value

    return _blocking(run, here=shell.loop_runner)


def _cell_effect(shell: Any, cell: str) -> Any:
    """The effect the cell's last expression gives, once its statements have run. An error
    in the cell's code is raised with its traceback starting at that code."""
    __tracebackhide__ = True
    from effectpy import Effect
    from effectpy._core._effect import lift

    head, tail, filename = _compile_cell(shell, cell)
    error: BaseException | None = None
    try:
        value = _evaluate(shell, head, tail)
    except BaseException as exc:  # noqa: BLE001 - raised below, without the magic's frames
        error = exc
    if error is not None:
        raise error.with_traceback(_from_cell(error.__traceback__, filename))
    return value if isinstance(value, Effect) else lift(value, "%%effect")


def _shows_widgets(shell: Any) -> bool:
    """Whether the frontend can show a widget: a terminal shows text only (its display
    formatter is limited to text/plain, and perhaps images); notebooks show HTML."""
    return "text/html" in shell.display_formatter.active_types


@magics_class
class EffectMagics(Magics):
    @magic_arguments()
    @argument("--test-clock", action="store_true",
              help="run on a TestClock advanced automatically: sleeps finish at once, deterministically")
    @argument("--svg", help="also write the timeline SVG to this path")
    @argument("--perfetto", help="also write Chrome trace-event JSON (ui.perfetto.dev) to this path")
    @argument("--jsonl", help="also write the trace (JSONL) to this path, every event as it happens")
    @argument("--capacity", type=int, default=None, metavar="N",
              help="keep the last N events in memory for the pictures (default 100,000; "
                   "--jsonl holds them all)")
    @argument("--tree", action="store_true", help="also show the effect tree, annotated from the run")
    @argument("--no-widget", action="store_true",
              help="show the timeline as a static SVG instead of the interactive widget")
    @argument("--name", help="bind the Trace to this variable")
    @cell_magic
    def effect(self, line: str, cell: str) -> Any:
        """Run the cell's effect under the recorder and show its timeline."""
        __tracebackhide__ = True
        from IPython.display import display

        from effectpy import Failure, TestClock
        from effectpy._core._runtime import run_ending_daemons
        from effectpy.trace import record
        from effectpy.trace._story import title_of
        from effectpy.trace._recorder import DEFAULT_CAPACITY

        args = parse_argstring(self.effect, line)
        shell = self.shell
        effect = _cell_effect(shell, cell)

        def main() -> Coroutine[Any, Any, Any]:
            return TestClock().drive(effect) if args.test_clock else run_ending_daemons(effect)

        exit_ = stopped = None
        capacity = DEFAULT_CAPACITY if args.capacity is None else args.capacity
        with record(capacity, path=args.jsonl) as trace:
            widget = self._widget(trace, effect, args) if _shows_widgets(shell) else None
            # live: the widget grows while the effect runs
            handle = display(widget, display_id=True) if widget is not None else None
            try:
                with widget.live() if widget is not None else contextlib.nullcontext():
                    exit_ = _blocking(main)
            except BaseException as exc:  # noqa: BLE001 - Ctrl-C: raised once the trace is shown
                stopped = exc
        fatal = stopped if stopped is not None else _fatal_defect(exit_)
        # a run raises Failure (not KeyboardInterrupt) when a finalizer fails after Ctrl-C
        interrupted = isinstance(fatal, (KeyboardInterrupt, Failure))
        marked = f" ({INTERRUPTED})" if interrupted else ""
        label = (args.name or "%%effect") + marked  # what the text summary is about
        # the pictures' title: the one rule every renderer follows (`effectpy.trace`'s
        # default), marked when Ctrl-C stopped the run
        heading = title_of(trace.fibers(), None) + marked if interrupted else None
        if args.name:
            shell.user_ns[args.name] = trace
        if handle is not None:
            widget.title = heading or ""
            handle.update(widget)  # the static fallbacks (SVG, text) now hold the whole run
        self._show(trace, effect, args, label, heading, shown=widget is not None)
        if stopped is not None:
            if isinstance(stopped, Failure):  # a finalizer failed after Ctrl-C
                stopped.args = (trace.pretty_cause(stopped.cause),)
            elif isinstance(stopped, KeyboardInterrupt):
                stopped = stopped.with_traceback(None)  # (where the wait was: noise)
            # its context is the run's cancellation (asyncio's CancelledError): noise
            raise stopped from None
        if fatal is not None:
            raise fatal
        assert exit_ is not None
        if exit_.is_success():
            return exit_.value
        text = trace.pretty_cause(exit_.cause)  # fibers as the trace names them
        display({"text/plain": text}, raw=True)
        failure = Failure(exit_.cause)
        failure.args = (text,)
        raise failure

    @staticmethod
    def _widget(trace: Any, effect: Any, args: Any) -> Any:
        """The timeline widget, or None with ``--no-widget`` or without ``anywidget``."""
        if args.no_widget:
            return None
        try:
            from effectpy.trace._widget import TimelineWidget
        except ImportError:  # no effectpy[notebook]: the static SVG instead
            return None
        return TimelineWidget(trace, effect)

    @staticmethod
    def _show(trace: Any, effect: Any, args: Any, label: str, svg_title: str | None, shown: bool) -> None:
        """Write the files asked for, and show the static timeline (unless the widget shows
        it, titled ``svg_title``) and the effect tree; ``label`` says what the text
        summary (for a terminal) is about."""
        from IPython.display import SVG, display

        from effectpy.trace import render_svg
        if args.svg:
            trace.save_svg(args.svg, title=svg_title)
        if args.perfetto:
            trace.save_perfetto(args.perfetto)
        if not shown:
            # the text for frontends that show text only (a terminal): the final summary
            display({"image/svg+xml": trace.to_svg(title=svg_title),
                     "text/plain": f"{label}: {trace.summary(timings=False)}"}, raw=True)
        if args.tree:
            display(SVG(render_svg(trace.effect_tree(effect))))


def _fatal_defect(exit_: Exit[Any] | None) -> BaseException | None:
    """A `KeyboardInterrupt` or `SystemExit` that escaped the effect's code: raised as
    itself, as `effectpy.run` does."""
    if exit_ is None or exit_.is_success():
        return None
    for defect in exit_.cause.defects():
        if not isinstance(defect, Exception):
            return defect
    return None
