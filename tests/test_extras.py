"""Optional pieces that are missing say what to install, where the user asked for them."""

import subprocess
import sys
import textwrap


def run_without(modules, code):
    """Run ``code`` in a fresh interpreter where importing ``modules`` fails, as when they
    are not installed."""
    blocker = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", blocker + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def test_the_widget_without_the_notebook_extra():
    out = run_without(["anywidget"], """
        import effectpy
        from effectpy.trace import record
        with record() as trace:
            effectpy.run(effectpy.succeed(1))
        for attempt in (lambda: trace.widget(), lambda: effectpy.trace.TimelineWidget):
            try:
                attempt()
            except ModuleNotFoundError as exc:
                print("error:", exc, "| name:", exc.name, "| chained:", exc.__cause__, exc.__suppress_context__)
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "the timeline widget needs 'anywidget'" in line
        assert 'pip install "effectpy[notebook]"' in line
        assert line.endswith("| name: anywidget | chained: None True")


def test_trees_without_the_graphviz_package():
    out = run_without(["graphviz"], """
        import effectpy
        from effectpy.trace import effect_tree
        try:
            effect_tree(effectpy.succeed(1))
        except ImportError as exc:
            print(exc)
    """)
    assert out.returncode == 0, out.stderr
    assert "pip install 'effectpy[notebook]'" in out.stdout
