"""Scopes, acquire_release, scoped, Context and Layer."""

import asyncio

import pytest

from effectpy import (
    Context, Exit, Fail, Layer, MissingServiceError, Scope, acquire_release, fail, for_each_par,
    never, scoped, service, succeed, sync, unit, yield_now, zip_par,
)
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture


def resource(log, name):
    return acquire_release(sync(lambda: log.append(f"open {name}")).as_(name),
                           lambda r, ex: sync(lambda: log.append(f"close {r} {'ok' if ex.is_success() else 'err'}")))


def test_scoped_releases_in_reverse_order():
    log = []
    eff = scoped(resource(log, "a").zip(resource(log, "b")).tap(lambda _: sync(lambda: log.append("use"))))
    assert run(eff) == ("a", "b")
    assert log == ["open a", "open b", "use", "close b ok", "close a ok"]


def test_release_sees_failure_exit():
    log = []
    run_exit(scoped(resource(log, "a").flat_map(lambda _: fail("boom"))))
    assert log == ["open a", "close a err"]


def test_without_scoped_the_fiber_scope_releases_at_fiber_end():
    log = []
    eff = resource(log, "x").tap(lambda _: sync(lambda: log.append("still open")))
    assert run(eff) == "x"
    assert log == ["open x", "still open", "close x ok"]


def test_scope_finalizers_run_once_lifo_and_errors_are_kept():
    log = []
    scope = Scope()
    scope.add_finalizer(sync(lambda: log.append(1)))
    scope.add_finalizer(lambda ex: fail("second failed"))
    scope.add_finalizer(lambda: log.append(3))
    exit_ = run_exit(scope.close())
    assert log == [3, 1]
    assert exit_.cause == Fail("second failed")
    assert run_exit(scope.close()).is_success()  # closing again runs nothing
    assert log == [3, 1]
    with pytest.raises(RuntimeError, match="already closed"):
        scope.add_finalizer(sync(lambda: None))


def test_child_scope_closes_with_parent():
    log = []
    parent = Scope()
    child = parent.fork()
    child.add_finalizer(lambda ex: sync(lambda: log.append(("child", ex.is_success()))))
    run(parent.close(Exit.fail("x")))
    assert log == [("child", False)]


def test_a_scope_with_nothing_to_run_closes_at_once():
    empty = Scope()
    assert empty._close_if_empty() and empty.closed
    with pytest.raises(RuntimeError):
        empty.add_finalizer(unit)
    busy = Scope()
    busy.add_finalizer(unit)
    assert not busy._close_if_empty() and not busy.closed  # it has a finalizer to run


@pytest.mark.asyncio_only
def test_scope_close_is_awaitable():
    log = []

    async def main():
        scope = Scope()
        scope.add_finalizer(sync(lambda: log.append("closed")))
        await scope.close()

    asyncio.run(main())
    assert log == ["closed"]


def test_context_is_immutable_and_missing_service_error_names_what_is_held():
    class Db:
        pass

    class Cache:
        pass

    base = Context()
    ctx = base.add(Db())
    assert Db not in base and Db in ctx
    with pytest.raises(MissingServiceError, match=r"no service .*Cache.*holds: .*Db"):
        ctx.get(Cache)
    with pytest.raises(TypeError):
        ctx.get("Db")  # type: ignore[arg-type]


def test_layers_compose_memoise_and_tear_down_in_reverse():
    log = []

    class Config(dict):
        pass

    class Db:
        def __init__(self, url):
            self.url = url

    config = Layer.from_effect(sync(lambda: log.append("config") or Config(url="db://")))
    db = Layer.scoped(service(Config).flat_map(lambda cfg: acquire_release(
        sync(lambda: log.append("db open")).as_(Db(cfg["url"])),
        lambda d: sync(lambda: log.append("db close")))))

    app = config >> (db + config)  # config appears twice: built once
    result = run(service(Db).map(lambda d: d.url).provide(app))
    assert result == "db://"
    assert log == ["config", "db open", "db close"]


@pytest.mark.asyncio_only
def test_build_scoped_and_scope_close():
    log = []

    class Res:
        pass

    layer = Layer.scoped(acquire_release(succeed(Res()), lambda r: sync(lambda: log.append("released"))))

    async def main():
        scope = Scope()
        env = await layer.build_scoped(Context(), scope)
        assert isinstance(env.get(Res), Res)
        assert log == []
        await scope.close()

    asyncio.run(main())
    assert log == ["released"]


def test_provide_context():
    class Name(str):
        pass
    assert run(service(Name).provide(Context().add(Name("x")))) == "x"
    exit_ = run_exit(service(Name))
    assert isinstance(exit_.cause.defects()[0], MissingServiceError)


def test_every_acquire_has_its_release_under_interruption():
    """Property: whichever branch fails first, every acquired resource is released once."""
    import random
    rng = random.Random(1234)
    for _ in range(30):
        log = []
        n = rng.randint(2, 6)
        fail_at = rng.randrange(n)
        yields = [rng.randint(0, 3) for _ in range(n)]

        def branch(i):
            def body(r):
                eff = succeed(None)
                for _ in range(yields[i]):
                    eff = eff.flat_map(lambda _: yield_now)
                return eff.flat_map(lambda _: fail(f"b{i}") if i == fail_at else never)
            return resource(log, f"r{i}").flat_map(body)

        exit_ = run_exit(for_each_par(range(n), branch) if rng.random() < 0.5 else zip_par(*[branch(i) for i in range(n)]))
        assert exit_.is_failure()
        opened = {e.split()[1] for e in log if e.startswith("open")}
        closed = [e.split()[1] for e in log if e.startswith("close")]
        assert sorted(closed) == sorted(opened), log


def test_acquire_into_a_closed_scope_releases_at_once_and_fails_clearly():
    log = []
    res = acquire_release(sync(lambda: log.append("acquired")).as_("conn"),
                          lambda c: sync(lambda: log.append("released")))
    layer = Layer.from_effect(res.map(lambda c: Context))
    scope = Scope()
    run(scope.close())
    exit_ = run_exit(layer.build_scoped(Context(), scope))
    assert log == ["acquired", "released"]
    assert "already closed" in str(exit_.cause.defects()[0])
