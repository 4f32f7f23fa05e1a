"""Trees as pictures: `effect_tree`, `Trace.fiber_tree`, and `render_svg` with and without
Graphviz's `dot` (the fallback layout is tested by hiding `dot`)."""

import asyncio
import shutil
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET

import graphviz
import pytest

import effectpy
from effectpy import (
    Context, Effect, Layer, TestClock, acquire_release, die, fail, for_each_par, from_async, never,
    race, race_success, scoped, sleep, succeed, suspend, sync, unit, zip_par,
)
from effectpy.trace import Trace, TraceEvent, effect_tree, record, render_svg
from effectpy.trace import _tree_picture
from effectpy.trace._tree_picture import Arrow, Box, Line, Picture, picture_of, to_digraph

SVG = "{http://www.w3.org/2000/svg}"


# --- helpers ---------------------------------------------------------------------------------


def picture(graph) -> Picture:
    """The picture the graph was written from (dot draws its DOT source, the fallback draws
    the picture itself; test_the_digraph_is_written_from_its_picture checks they agree)."""
    pic = picture_of(graph)
    assert pic is not None
    return pic


def box_map(graph) -> dict[str, Box]:
    return {box.name: box for box in picture(graph).boxes}


def boxes(graph) -> dict[str, str]:
    """box name -> its label text, lines joined with " | "."""
    return {name: " | ".join(line.text for line in box.lines) for name, box in box_map(graph).items()}


def edges(graph) -> list[tuple[str, str, str]]:
    return [(a.tail, a.head, a.label) for a in picture(graph).arrows]


def find(graph, text: str) -> str:
    """The one box whose label contains ``text``."""
    found = [name for name, label in boxes(graph).items() if text in label]
    assert len(found) == 1, (text, found, boxes(graph))
    return found[0]


def svg_text(svg: str) -> str:
    root = ET.fromstring(svg)
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


def text_list(svg: str) -> list[str]:
    """Every text element's text, whitespace folded, sorted."""
    return sorted(" ".join("".join(el.itertext()).split()) for el in ET.fromstring(svg).iter(f"{SVG}text"))


def drive(program):
    """Run ``program`` as the root fiber on a fresh TestClock; returns (exit, trace)."""
    clock = TestClock()
    with record() as trace:
        exit_ = asyncio.run(clock.drive(program))
    return exit_, trace


def fetch(name, seconds):
    conn = acquire_release(succeed(f"conn-{name}"), lambda c: sync(lambda: None))
    return conn.flat_map(lambda _: sleep(seconds)).as_(name).named(name)


def guide_race():
    return race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))


@pytest.fixture
def no_dot(monkeypatch):
    """Graphviz's `dot` is not installed (as far as effectpy and graphviz can tell)."""
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "dot" else real_which(cmd, *a, **k))
    monkeypatch.setattr(_tree_picture, "_notice_given", False)
    yield


@pytest.fixture
def quiet_fallback(no_dot, monkeypatch):
    """No dot, and the one-time notice already given."""
    monkeypatch.setattr(_tree_picture, "_notice_given", True)


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


# --- effect_tree: structure ------------------------------------------------------------------


def test_importing_effectpy_never_imports_graphviz():
    code = ("import sys, effectpy, effectpy.trace, effectpy.trace._effect_tree, effectpy.trace._fiber_tree\n"
            "assert 'graphviz' not in sys.modules\n"
            "effectpy.trace.effect_tree(effectpy.succeed(1))\n"
            "assert 'graphviz' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_effect_tree_is_a_digraph_of_the_race():
    g = effect_tree(guide_race())
    assert isinstance(g, graphviz.Digraph)
    race_box = find(g, "race \u00b7 3 branches")
    assert "first to finish decides" in boxes(g)[race_box]
    out = [(h, label) for t, h, label in edges(g) if t == race_box]
    assert [label for _, label in out] == ["[0]", "[1]", "[2]"]
    assert [boxes(g)[h] for h, _ in out] == ["named 'Primary'", "named 'Backup'", "named 'Fallback'"]
    seq = boxes(g)[find(g, "as_('Backup')")]
    assert seq == "sequence \u00b7 3 steps | 1. acquire_release \u2193 | 2. flat_map(<lambda>) | 3. as_('Backup')"
    acq = boxes(g)[find(g, "conn-Backup")]
    assert acq.startswith("acquire_release | acquire: succeed('conn-Backup') | release: <lambda>")


def test_chains_fold_into_one_sequence_and_user_functions_are_never_called():
    calls = []

    def fetch_user(uid):
        calls.append(uid)
        return succeed(uid)

    def parse(x):
        calls.append(x)
        return x

    program = succeed(1).flat_map(fetch_user).map(parse).catch_all(lambda e: succeed(0)).tap(print)
    g = effect_tree(program)
    assert list(boxes(g).values()) == [
        "sequence \u00b7 5 steps | 1. succeed(1) | 2. flat_map(fetch_user) | 3. map(parse) | "
        "4. catch_all(<lambda>) | 5. tap(print)"]
    assert calls == []
    # where the user's functions are is in the tooltip (file:line)
    tooltip = box_map(g)["n0"].tooltip
    assert "fetch_user (test_trees.py:" in tooltip


def test_library_steps_show_the_effects_they_hold():
    g = effect_tree(sleep(1).zip(succeed(2)).or_else(fail("nope")).delay(0.5))
    labels = boxes(g)
    assert labels["n0"] == "sequence \u00b7 2 steps | 1. sleep 500 ms | 2. then \u2193"
    inner = find(g, "1. sleep 1 s")
    assert labels[inner] == "sequence \u00b7 3 steps | 1. sleep 1 s | 2. zip \u2193 | 3. or_else \u2193"
    assert {(labels[h], label) for t, h, label in edges(g) if t == inner} == {
        ("succeed(2)", "step 2"), ("fail('nope')", "step 3")}


def test_queue_operations_are_named_steps():
    q = effectpy.Queue(maxsize=2)
    g = effect_tree(q.offer(1).flat_map(lambda _: q.take()))
    assert list(boxes(g).values()) == [
        "sequence \u00b7 2 steps | 1. queue.offer | 2. flat_map(<lambda>)"]
    assert list(boxes(effect_tree(q.take())).values()) == ["queue.take"]
    assert q.qsize() == 0  # drawing runs nothing


def test_labelled_nodes_for_every_combinator():
    async def fetch_data():
        return 1

    layer = Layer.succeed(Context())
    program = zip_par(
        sleep(1).timeout(2),
        for_each_par(range(5), lambda i: succeed(i), parallelism=2),
        race_success(fail(1), succeed(2)),
        scoped(acquire_release(sync(lambda: 1), lambda r: None, lambda r: succeed(r))),
        succeed(1).ensuring(sync(lambda: None)).on_exit(lambda ex: None),
        never.fork(name="bg"),
        sleep(1).named("napper").fork_daemon(),
        unit.uninterruptible(),
        succeed(1).provide(layer),
        suspend(lambda: unit),
        Effect(lambda ctx: fetch_data()),
        from_async(fetch_data),
        die(ValueError("boom")),
        sleep(2).timeout_to(1, "late"),
    )
    g = effect_tree(program)
    labels = " || ".join(boxes(g).values())
    for expected in [
        "zip_par \u00b7 14 branches", "timeout 2 s | fails with TimeoutError if slower",
        "for_each_par(<lambda>) | 5 items \u00b7 at most 2 at a time",
        "race_success \u00b7 2 branches | first success wins",
        "scoped | releases its resources when it ends",
        "acquire_release | acquire: sync(<lambda>) | release: <lambda> | use: <lambda>",
        "ensuring | finalizer: sync(<lambda>)", "on_exit | finalizer: <lambda>",
        "fork | name 'bg' | runs in a new fiber", "never",
        "fork_daemon | name 'napper' | outlives its parent", "named 'napper'",
        "uninterruptible", "provide", "suspend(<lambda>)", "Effect(<lambda>)",
        "from_async(fetch_data)", "die(ValueError: boom)", "timeout_to 1 s",
    ]:
        assert expected in labels, expected
    assert "map(tuple)" not in labels  # zip_par's own step is part of the zip_par box


def test_a_lifted_coroutine_is_shown_and_not_consumed():
    async def fetch_data():
        return 7

    coro = fetch_data()
    program = zip_par(coro, succeed(1))
    g = effect_tree(program)
    assert "await fetch_data()" in boxes(g).values()
    assert effectpy.run(program) == (7, 1)  # still runnable: the picture did not await it


def test_long_chains_are_stack_safe_fast_and_bounded():
    program = succeed(0)
    for i in range(100_000):
        program = program.map(lambda x: x + 1) if i % 2 else program.flat_map(succeed)
    start = time.perf_counter()
    g = effect_tree(program)
    svg = render_svg(g)
    assert time.perf_counter() - start < 5
    label = boxes(g)["n0"]
    assert label.startswith("sequence \u00b7 100,001 steps | 1. succeed(0) | 2. flat_map(succeed) | 3. map(<lambda>)")
    assert "\u22ee 99,984 more steps" in label and label.endswith("100001. map(<lambda>)")
    assert "100,001 steps" in svg


def test_deep_nesting_is_iterative_and_capped():
    program = succeed(1)
    for i in range(100_000):
        program = program.uninterruptible() if i % 2 else program.named(f"n{i}")
    g = effect_tree(program, max_nodes=50)
    labels = boxes(g)
    assert len(labels) == 50
    assert labels["n49"].endswith("| \u2026 1 more below, not shown")
    assert "box limit reached: showing 50 boxes; 1 parts not shown (max_nodes=50)" in g.source


def test_wide_groups_are_capped_and_say_what_was_left_out():
    program = zip_par(*[sleep(0.01).named(f"w{i}") for i in range(2000)])
    g = effect_tree(program)
    labels = boxes(g)
    assert len(labels) == 500
    assert labels["n0"].endswith("| \u2026 1,501 more below, not shown")  # 1,501 branches
    assert "2,000 parts not shown" in g.source  # and the sleeps under the 499 branches drawn
    with pytest.raises(ValueError, match="max_nodes"):
        effect_tree(program, max_nodes=0)


def test_forever_and_shared_effects_do_not_loop():
    tick = sync(lambda: None)
    loop = tick.flat_map(lambda _: sleep(1)).forever()
    g = effect_tree(zip_par(loop, loop))
    seqs = [label for label in boxes(g).values() if label.startswith("sequence")]
    assert seqs == ["sequence \u00b7 3 steps | 1. sync(<lambda>) | 2. flat_map(<lambda>) | "
                    "3. \u21bb forever (repeat from step 1)"] * 2


def test_effect_tree_rejects_what_is_not_an_effect():
    async def coro_fn():
        return 1

    with pytest.raises(TypeError, match="expects an Effect"):
        effect_tree(coro_fn)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a Trace"):
        effect_tree(succeed(1), trace="nope")  # type: ignore[arg-type]


# --- effect_tree: annotated by a run ----------------------------------------------------------


def test_race_annotated_with_winner_losers_and_releases():
    program = guide_race()
    exit_, trace = drive(program)
    assert exit_.value == "Backup"
    g = effect_tree(program, trace)
    labels = boxes(g)
    race_box = labels[find(g, "race \u00b7 3 branches")]
    assert "\u2605 winner: [1] Backup (#3)" in race_box and "1 ok \u00b7 2 interrupted" in race_box
    backup = labels[find(g, "named 'Backup'")]
    assert backup == "named 'Backup' | \u2605 winner | \u2713 #3 succeeded at 200 ms"
    primary = labels[find(g, "named 'Primary'")]
    assert primary == "named 'Primary' | \u2298 #2 interrupted by #1 at 200 ms"
    attrs = box_map(g)
    assert attrs[find(g, "named 'Backup'")].border == _tree_picture.OUTCOME["success"][1]
    assert attrs[find(g, "named 'Primary'")].border == _tree_picture.OUTCOME["interrupted"][1]
    assert "'conn-Primary' released at 200 ms (interrupted)" in labels[find(g, "conn-Primary")]
    assert "ran in fiber #1" in g.source
    # the same through the Trace method
    assert trace.effect_tree(program).source == g.source


def test_the_running_fiber_is_found_under_a_wrapper():
    """The program ran as zip_par[0] of a harness: its branches are still found."""
    program = guide_race()
    clock = TestClock()
    with record() as trace:
        effectpy.run(zip_par(program, clock.adjust(1)).provide(Context().with_service(effectpy.Clock, clock)))
    g = effect_tree(program, trace)
    assert "\u2605 winner: [1] Backup (#4)" in boxes(g)[find(g, "race \u00b7")]
    assert "ran in fiber #2" in g.source
    assert effect_tree(program, trace, fiber=2).source == g.source
    unmatched = effect_tree(program, trace, fiber=1)  # told the wrong fiber: nothing matches
    assert "winner" not in " ".join(boxes(unmatched).values())
    with pytest.raises(ValueError, match="no fiber #99"):
        effect_tree(program, trace, fiber=99)


def test_zip_par_fail_fast_annotated():
    def task(name, seconds, ok=True):
        body = sleep(seconds).flat_map(lambda _: succeed(name) if ok else fail(f"{name} failed"))
        return body.named(name)

    program = zip_par(task("users", 0.5), task("orders", 0.2, ok=False), task("stock", 1.0))
    _, trace = drive(program.exit())
    g = effect_tree(program, trace)
    labels = boxes(g)
    assert "0 ok \u00b7 1 failed \u00b7 2 interrupted" in labels[find(g, "zip_par")]
    assert labels[find(g, "named 'orders'")] == "named 'orders' | \u2717 #3 failed: 'orders failed'"
    assert "interrupted by #1" in labels[find(g, "named 'users'")]


def test_timeout_and_for_each_par_annotated():
    def item(i):
        return sleep(0.1).as_(i) if i != 3 else sleep(0.15).flat_map(lambda _: fail("bad item"))

    program = zip_par(sleep(5).timeout(1).either(), for_each_par(range(10), item, parallelism=2).either())
    _, trace = drive(program)
    g = effect_tree(program, trace)
    labels = boxes(g)
    assert "\u2717 timed out at 1 s" in labels[find(g, "timeout 1 s")]
    assert "interrupted by #2" in labels[find(g, "sleep 5 s")]
    each = labels[find(g, "for_each_par(item)")]
    assert "3 ok \u00b7 1 failed \u00b7 1 interrupted \u00b7 5 never started" in each


def test_fork_annotated():
    program = never.fork(name="bg").flat_map(lambda f: sleep(1).zip(f.interrupt()))
    _, trace = drive(program)
    g = effect_tree(program, trace)
    labels = boxes(g)
    assert labels[find(g, "fork |")].startswith("fork | name 'bg'")
    assert "\u2298 #2 interrupted by #1 at 1 s" in labels[find(g, "never")]


# --- fiber_tree ------------------------------------------------------------------------------


def test_fiber_tree_of_the_race():
    _, trace = drive(guide_race())
    g = trace.fiber_tree()
    assert isinstance(g, graphviz.Digraph)
    labels = boxes(g)
    assert labels["f1"] == "#1 main | 0 \u2192 200 ms (200 ms) | \u2713 success"
    assert labels["f3"] == ("#3 Backup | 0 \u2192 200 ms (200 ms) | \u2713 success | resources: 1 acquired, 1 released | "
                            "'conn-Backup' released at 200 ms (success)")
    assert labels["f2"].startswith("#2 Primary | 0 \u2192 200 ms (200 ms) | \u2298 interrupted by #1")
    assert sorted(edges(g)) == [("f1", "f2", ""), ("f1", "f3", ""), ("f1", "f4", "")]
    attrs = box_map(g)
    assert attrs["f3"].fill == _tree_picture.OUTCOME["success"][0]
    assert attrs["f2"].fill == _tree_picture.OUTCOME["interrupted"][0]
    assert "4 fibers" in g.source


def event(seq, kind, fiber, parent=None, name=None, **data):
    return TraceEvent(seq, float(seq), kind, fiber, parent, None, name, data)


def test_fiber_tree_failure_never_ended_and_leaked_resource():
    trace = Trace([
        event(0, "fork", 1),
        event(1, "fork", 2, parent=1, name="worker"),
        event(2, "acquire", 2, name="worker", resource=1, value="'socket'"),
        event(3, "fork", 3, parent=1, name="doomed"),
        event(4, "fail", 3, name="doomed", error="'boom'", cause="Fail('boom')"),
        event(5, "exit", 3, name="doomed", outcome="failure", cause="Fail('boom')"),
        event(6, "exit", 1, outcome="success"),
    ])
    g = trace.fiber_tree()
    labels = boxes(g)
    assert labels["f2"] == ("#2 worker | started 1 s \u00b7 never ended | \u2026 never ended | "
                            "resources: 1 acquired, 0 released | \u26a0 'socket' never released")
    assert labels["f3"] == "#3 doomed | 3 s \u2192 5 s (2 s) | \u2717 failed: 'boom'"
    attrs = box_map(g)
    assert attrs["f2"].dashed
    assert attrs["f3"].border == _tree_picture.OUTCOME["failure"][1]


def test_fiber_tree_summarises_big_sibling_groups():
    events = [event(0, "fork", 1)]
    for i in range(2, 3002):
        events.append(event(len(events), "fork", i, parent=1, name=f"for_each_par[{i - 2}]"))
        events.append(event(len(events), "exit", i, name=f"for_each_par[{i - 2}]",
                            outcome="success" if i % 100 else "interrupted"))
    g = Trace(events).fiber_tree(max_children=20)
    labels = boxes(g)
    assert len(labels) == 22
    assert labels["more0"] == "\u2026 2,980 more fibers | 30 interrupted, 2,950 success | (and their children)"
    assert "showing 21 of 3,001 fibers" in g.source
    g = Trace(events).fiber_tree(max_nodes=5, max_children=100)
    assert len(boxes(g)) == 6
    with pytest.raises(ValueError, match="max_children"):
        Trace(events).fiber_tree(max_children=0)


# --- render_svg: with dot, and the fallback ---------------------------------------------------


@needs_dot
def test_render_svg_uses_dot_when_installed():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = render_svg(effect_tree(guide_race()))
    assert "drawn by effectpy" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert "race \u00b7 3 branches" in svg_text(svg)


def test_fallback_when_dot_is_missing_warns_once(no_dot):
    g = effect_tree(guide_race())
    with pytest.warns(RuntimeWarning, match="Graphviz's `dot` program was not found"):
        svg = render_svg(g)
    assert "drawn by effectpy's built-in tree layout" in svg
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second notice
        again = render_svg(g)
    assert again == svg
    root = ET.fromstring(svg)
    texts = svg_text(svg)
    for label in ["race \u00b7 3 branches", "named 'Backup'", "1. acquire_release \u2193", "[1]", "release: <lambda>"]:
        assert label in texts
    # the same colours as the dot rendering
    rects = [r.attrib for r in root.iter(f"{SVG}rect")][1:]
    assert {"fill": "#e8efff", "stroke": "#3b5bdb"}.items() <= rects[0].items()
    assert len(rects) == len(boxes(g))


def test_fallback_when_graphviz_cannot_execute_dot(monkeypatch):
    monkeypatch.setattr(_tree_picture, "_notice_given", False)
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: "/usr/bin/dot")

    def missing(self, *args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    with pytest.warns(RuntimeWarning, match="not found"):
        svg = render_svg(effect_tree(succeed(1)))
    assert "drawn by effectpy" in svg and "succeed(1)" in svg_text(svg)


def test_the_notice_never_breaks_rendering_when_warnings_are_errors(no_dot):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = render_svg(effect_tree(succeed(1)))
    assert "succeed(1)" in svg_text(svg)


def test_notebook_display_falls_back_too(quiet_fallback):
    bundle = effect_tree(succeed(1))._repr_mimebundle_()
    assert "drawn by effectpy" in bundle["image/svg+xml"]


def test_fallback_is_deterministic(quiet_fallback):
    svgs = []
    for _ in range(3):
        program = guide_race()
        _, trace = drive(program)
        svgs.append((render_svg(effect_tree(program, trace)), render_svg(trace.fiber_tree())))
    assert svgs[0] == svgs[1] == svgs[2]
    for svg in svgs[0]:
        ET.fromstring(svg)


def hand_built_picture() -> Picture:
    """Two roots, a cycle, a loop, a second parent, labels, a dashed box and a caption."""
    pic = Picture("handmade", caption=["a caption", "second caption line"])
    pic.boxes += [Box("a", [Line("alpha", bold=True), Line("left detail", align="left")], "#e8efff", "#3b5bdb"),
                  Box("b", [Line("beta")], "#ffffff", "#adb5bd", dashed=True, tooltip="tip\\N one\ntwo"),
                  Box("c", [Line("gamma")], "#ffffff", "#adb5bd"),
                  Box("r2", [Line("second root")], "#f1ecff", "#7048e8")]
    pic.arrows += [Arrow("a", "b", "go"), Arrow("a", "c", "x\\y"),
                   Arrow("b", "a", "\u21bb back", dashed=True, constraint=False),  # a cycle
                   Arrow("c", "c", "loop"), Arrow("r2", "c")]  # a loop, and a second parent
    return pic


def test_fallback_draws_the_picture_with_cross_edges_loops_and_roots(quiet_fallback):
    svg = render_svg(to_digraph(hand_built_picture()))
    root = ET.fromstring(svg)
    texts = svg_text(svg)
    for label in ["alpha", "left detail", "beta", "gamma", "second root", "go", "x\\y", "\u21bb back", "loop",
                  "a caption", "second caption line"]:
        assert label in texts, label
    nodes = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "node"]
    assert [g.attrib["id"] for g in nodes] == ["node-a", "node-r2", "node-b", "node-c"]  # breadth first
    assert nodes[2].find(f"{SVG}title").text == "tip\\N one | two"
    assert nodes[0].find(f"{SVG}title").text == "alpha left detail"  # no tooltip: the label
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == len(list(root.iter(f"{SVG}polygon"))) == 5  # every arrow has its head
    # the tree edges a->b (the box is dashed, not the edge) and a->c are solid; the cycle,
    # the loop and the second parent are dashed cross edges
    assert [bool(p.attrib.get("stroke-dasharray")) for p in paths] == [False, False, True, True, True]


def test_a_graph_effectpy_did_not_make_needs_dot(no_dot):
    hand_made = graphviz.Digraph("mine")
    hand_made.edge("a", "b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "drawn with the built-in layout" notice either
        for graph in (hand_made, graphviz.Graph()):
            with pytest.raises(RuntimeError, match=r"needs Graphviz's `dot`.*not made by effectpy.*"
                                                    r"install Graphviz \(apt-get install graphviz"):
                render_svg(graph)
    changed = effect_tree(succeed(1))
    changed.node("extra")  # the picture no longer says what the graph holds: not drawn stale
    with pytest.raises(RuntimeError, match="changed after it was made"):
        render_svg(changed)
    with pytest.raises(RuntimeError, match="changed after it was made"):
        changed._repr_mimebundle_()
    copy = effect_tree(succeed(1)).copy()  # an unchanged copy still draws
    with pytest.warns(RuntimeWarning, match="not found"):
        assert "succeed(1)" in svg_text(render_svg(copy))


@needs_dot
def test_dot_draws_any_digraph():
    g = graphviz.Digraph("mine")
    g.node("a", "first\\lsecond line\\l")
    g.edge("a", "b", label="go")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        texts = svg_text(render_svg(g))
    for label in ["first", "second line", "b", "go"]:
        assert label in texts, label


@needs_dot
def test_the_digraph_is_written_from_its_picture(monkeypatch):
    """What dot draws from the DOT source is what the fallback draws from the picture: the
    same texts, and each box's colours in its node statement."""
    program, trace = nasty_run()
    graphs = [effect_tree(program, trace), trace.fiber_tree(), effect_tree(guide_race()),
              to_digraph(hand_built_picture())]
    with_dot = [render_svg(g) for g in graphs]
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)
    monkeypatch.setattr(_tree_picture, "_notice_given", True)
    for graph, svg in zip(graphs, with_dot):
        assert text_list(svg) == text_list(render_svg(graph))
        statements = {line.split(" ", 1)[0].strip(): line for line in graph.body if " -> " not in line}
        for box in picture(graph).boxes:
            line = statements[box.name]
            assert f'fillcolor="{box.fill}"' in line and f'color="{box.border}"' in line
            assert ("dashed" in line) == box.dashed
        assert [line.split(" [", 1)[0].strip() for line in graph.body if " -> " in line] == [
            f"{a.tail} -> {a.head}" for a in picture(graph).arrows]


def test_render_svg_rejects_other_things():
    with pytest.raises(TypeError, match="graphviz graph"):
        render_svg("digraph { a }")  # type: ignore[arg-type]


# --- escaping ---------------------------------------------------------------------------------


NASTY = "<script>alert(1)</script> & \"q\" \\l \\N \x00\x1b \ud800 \u2028 end\\"


def nasty_run():
    program = zip_par(sleep(1).flat_map(lambda _: fail(NASTY)).named(NASTY), succeed(NASTY).named("<b>"))
    _, trace = drive(program.exit())
    return program, trace


def check_escaped(svg: str) -> None:
    root = ET.fromstring(svg)  # valid XML
    assert "<script" not in svg and "<b>" not in svg
    text = svg_text(svg) + " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}title"))
    assert "<script>alert(1)</script>" in text


@needs_dot
def test_user_text_is_escaped_with_dot():
    program, trace = nasty_run()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no graphviz syntax warnings either
        for graph in (effect_tree(program, trace), trace.fiber_tree()):
            check_escaped(render_svg(graph))


def test_user_text_is_escaped_in_the_fallback(quiet_fallback):
    program, trace = nasty_run()
    for graph in (effect_tree(program, trace), trace.fiber_tree()):
        svg = render_svg(graph)
        check_escaped(svg)
        assert "\x00" not in svg and "\x1b" not in svg


def test_user_text_in_labels_is_plain_text():
    """A backslash sequence in user text is not a DOT escape, and `<...>` is not HTML."""
    program, trace = nasty_run()
    labels = " ".join(boxes(trace.fiber_tree()).values())
    assert "<script>alert(1)</script> & \"q\" \\l \\N" in labels


@needs_dot
def test_backslashes_read_the_same_with_dot_and_in_the_fallback(monkeypatch):
    name = "a\\b \\N \\G \\l \\\\ end"
    trace = Trace([event(0, "fork", 1, name=name), event(1, "exit", 1, name=name, outcome="success")])
    graph = trace.fiber_tree()
    with_dot = svg_text(render_svg(graph))
    assert f"#1 {name}" in with_dot
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)
    monkeypatch.setattr(_tree_picture, "_notice_given", True)
    assert f"#1 {name}" in svg_text(render_svg(graph))


def test_retry_is_drawn_and_annotated_with_the_number_of_retries():
    import effectpy
    from effectpy import Schedule, fail
    from effectpy.trace import effect_tree, record

    program = fail("flaky").retry(Schedule.recurs(2)).either()
    assert "retry · Schedule.recurs(2)" in effect_tree(program).source
    with record() as trace:
        effectpy.run(program)
    assert "retried 2 times" in trace.effect_tree(program).source
