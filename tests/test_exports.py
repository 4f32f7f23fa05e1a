import importlib
import inspect

import effectpy
import effectpy.lowlevel


def test_star_import_is_exactly_all():
    ns: dict[str, object] = {}
    exec("from effectpy import *", ns)
    ns.pop("__builtins__")
    assert sorted(ns) == sorted(effectpy.__all__)


def test_all_is_sorted_unique_and_public():
    assert len(set(effectpy.__all__)) == len(effectpy.__all__)
    for name in effectpy.__all__:
        assert not name.startswith("_"), name
        assert hasattr(effectpy, name), name


def test_no_submodule_names_exported():
    for name in effectpy.__all__:
        assert not inspect.ismodule(getattr(effectpy, name)), name
    for shadow in ("random", "queue", "time", "asyncio", "typing", "trace"):
        assert shadow not in effectpy.__all__


def test_every_public_core_name_exported_exactly_once():
    """Each public name of the private modules is reachable from exactly one public module."""
    public = {"effectpy": set(effectpy.__all__), "effectpy.lowlevel": set(effectpy.lowlevel.__all__)}
    modules = [
        "effectpy._core._cause", "effectpy._core._effect", "effectpy._core._context",
        "effectpy._core._scope", "effectpy._core._duration", "effectpy._concurrent",
        "effectpy._resource", "effectpy._layer", "effectpy._ref", "effectpy._deferred",
        "effectpy._semaphore", "effectpy._queue", "effectpy._test_clock", "effectpy._option",
        "effectpy._blocking", "effectpy._core._hooks", "effectpy._schedule", "effectpy._stream",
        "effectpy._pubsub", "effectpy._channel",
    ]
    for modname in modules:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            homes = [m for m, names in public.items() if name in names]
            assert len(homes) == 1, (modname, name, homes)


def test_importing_effectpy_does_not_import_jupyter_or_trio():
    import subprocess
    import sys
    code = (
        "import sys, effectpy, effectpy.trace, effectpy.lowlevel\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'graphviz', 'trio', 'jupyter_core') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_trace_module_exports_exactly_its_all():
    import effectpy.trace
    ns: dict[str, object] = {}
    exec("from effectpy.trace import *", ns)
    ns.pop("__builtins__")
    assert sorted(ns) == sorted(effectpy.trace.__all__)
    for name in effectpy.trace.__all__:
        assert not inspect.ismodule(getattr(effectpy.trace, name)), name
