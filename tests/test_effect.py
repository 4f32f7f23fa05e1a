"""Effect values: constructors, combinators, laziness, lifting, typed errors vs defects."""

import asyncio

import pytest

import effectpy
from effectpy import (
    NONE, Context, Die, Effect, Exit, Fail, Failure, Left, Right, Some, attempt, die, fail,
    from_async, run, run_exit, succeed, suspend, sync, unit,
)


def test_building_runs_nothing_and_running_twice_repeats_effects():
    calls = []
    eff = sync(lambda: calls.append(1)).flat_map(lambda _: sync(lambda: calls.append(2)))
    assert calls == []
    run(eff)
    run(eff)
    assert calls == [1, 2, 1, 2]


def test_map_flat_map_zip():
    assert run(succeed(2).map(lambda x: x + 1)) == 3
    assert run(succeed(2).flat_map(lambda x: succeed(x * 10))) == 20
    assert run(succeed(1).zip(succeed("a"))) == (1, "a")
    assert run(succeed(2).zip_with(succeed(3), lambda a, b: a * b)) == 6
    assert run(succeed(1).as_("x")) == "x"
    assert run(succeed(1).unit()) is None


def test_tap_keeps_value_and_runs_effect():
    seen = []
    assert run(succeed(5).tap(lambda x: sync(lambda: seen.append(x)))) == 5
    assert run(succeed(6).tap(lambda x: seen.append(x))) == 6
    assert seen == [5, 6]


def test_fail_is_typed_and_catch_all_recovers():
    exit_ = run_exit(fail("boom"))
    assert exit_.cause == Fail("boom")
    assert run(fail("boom").catch_all(lambda e: succeed(e + "!"))) == "boom!"
    with pytest.raises(Failure) as info:
        run(fail("boom"))
    assert info.value.error == "boom"
    assert info.value.cause == Fail("boom")


def test_defects_are_not_caught_by_catch_all():
    def boom():
        raise ValueError("bad")
    handled = []
    exit_ = run_exit(sync(boom).catch_all(lambda e: sync(lambda: handled.append(e))))
    assert handled == []
    [defect] = exit_.cause.defects()
    assert isinstance(defect, ValueError)
    assert isinstance(run_exit(die(KeyError("k"))).cause, Die)


def test_exception_in_map_function_is_a_defect():
    exit_ = run_exit(succeed(1).map(lambda _: 1 / 0))
    assert isinstance(exit_.cause.defects()[0], ZeroDivisionError)


def test_attempt_turns_exceptions_into_typed_failures():
    def parse():
        return int("x")
    exit_ = run_exit(attempt(parse))
    [err] = exit_.cause.failures()
    assert isinstance(err, ValueError)
    assert run(attempt(parse).catch_all(lambda e: succeed(type(e).__name__))) == "ValueError"


def test_catch_some_map_error_or_else_fold():
    assert run(fail(1).catch_some(lambda e: succeed("one") if e == 1 else None)) == "one"
    assert run_exit(fail(2).catch_some(lambda e: succeed("one") if e == 1 else None)).cause == Fail(2)
    assert run_exit(fail(2).map_error(lambda e: e * 10)).cause == Fail(20)
    assert run(fail(2).or_else(succeed("other"))) == "other"
    assert run(fail(2).fold(lambda e: f"e{e}", lambda a: f"a{a}")) == "e2"
    assert run(succeed(3).fold(lambda e: f"e{e}", lambda a: f"a{a}")) == "a3"
    assert run(fail(2).fold_effect(lambda e: succeed(-e), lambda a: succeed(a))) == -2


def test_catch_all_cause_sees_defects():
    def boom():
        raise RuntimeError("x")
    out = run(sync(boom).catch_all_cause(lambda c: succeed(type(c.defects()[0]).__name__)))
    assert out == "RuntimeError"


def test_either_and_exit():
    assert run(fail("e").either()) == Left("e")
    assert run(succeed(1).either()) == Right(1)
    assert run(fail("e").exit()) == Exit.fail("e")
    assert run(succeed(1).exit()) == Exit.succeed(1)


def test_ensuring_runs_on_success_failure_and_defect():
    for eff, ok in ((succeed(1), True), (fail("x"), False), (die(ValueError()), False)):
        log = []
        exit_ = run_exit(eff.ensuring(sync(lambda: log.append("fin"))))
        assert log == ["fin"]
        assert exit_.is_success() is ok


def test_on_exit_gets_the_exit_and_on_error_only_failures():
    seen = []
    run_exit(fail("x").on_exit(lambda ex: sync(lambda: seen.append(ex))))
    run_exit(succeed(2).on_exit(lambda ex: seen.append(ex)))
    assert seen == [Exit.fail("x"), Exit.succeed(2)]
    errors = []
    run(succeed(1).on_error(lambda c: errors.append(c)))
    run_exit(fail("y").on_error(lambda c: errors.append(c)))
    assert errors == [Fail("y")]


def test_error_in_finalizer_is_kept_not_swallowed():
    def bad():
        raise OSError("cleanup failed")
    exit_ = run_exit(fail("first").ensuring(sync(bad)))
    assert exit_.cause.failures() == ["first"]
    assert isinstance(exit_.cause.defects()[0], OSError)
    assert type(exit_.cause).__name__ == "Then"
    # a successful effect whose finalizer fails fails with the finalizer's cause
    exit2 = run_exit(succeed(1).ensuring(fail("fin")))
    assert exit2.cause == Fail("fin")


def test_suspend_is_lazy_and_allows_recursion():
    def countdown(n):
        return succeed(n) if n == 0 else suspend(lambda: countdown(n - 1))
    assert run(countdown(10_000)) == 0


def test_effect_fn_gets_context_and_effect_results_are_run():
    class Name(str):
        pass

    async def impl(ctx):
        await asyncio.sleep(0)
        return succeed(ctx.get(Name).upper())

    ctx = Context().add(Name("ada"))
    assert asyncio.run(Effect(impl)._run(ctx)) == "ADA"


def test_await_effect_in_async_code():
    async def main():
        return await succeed(1).map(lambda x: x + 1)
    assert asyncio.run(main()) == 2


def test_from_async_is_rerunnable():
    calls = []

    async def work():
        calls.append(1)
        return len(calls)

    eff = from_async(work)
    assert run(eff) == 1
    assert run(eff) == 2


def test_coroutine_is_lifted_one_shot_with_clear_error_on_second_run():
    async def fetch(x):
        await asyncio.sleep(0)
        return succeed(x * 2)

    eff = succeed(1).flat_map(lambda _: fetch(21))
    assert run(eff) == 42  # a fresh coroutine each time the function runs
    assert run(eff) == 42

    from effectpy import zip_par
    once = zip_par(fetch(1))
    assert run(once) == (2,)
    exit_ = run_exit(once)
    [defect] = exit_.cause.defects()
    assert "can be awaited only once" in str(defect)
    assert "from_async" in str(defect)


def test_bad_input_is_a_clear_type_error_at_construction():
    async def coro_fn(ctx):
        return 1

    with pytest.raises(TypeError, match="got coroutine object"):
        c = coro_fn(None)
        try:
            Effect(c)
        finally:
            c.close()
    with pytest.raises(TypeError, match="expects a function"):
        Effect(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got an Effect"):
        succeed(1).flat_map(succeed(2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expects a function"):
        sync(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="from_async"):
        from_async(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="did you mean succeed"):
        succeed(1).zip(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"from_async\(coro_fn\)"):
        succeed(1).zip(coro_fn)  # type: ignore[arg-type]


def test_flat_map_returning_a_plain_value_is_a_defect_with_a_hint():
    exit_ = run_exit(succeed(1).flat_map(lambda x: x + 1))  # type: ignore[arg-type, return-value]
    [defect] = exit_.cause.defects()
    assert isinstance(defect, TypeError)
    assert "did you mean succeed" in str(defect)


def test_effect_fn_returning_a_non_awaitable_is_a_clear_defect():
    exit_ = run_exit(Effect(lambda ctx: 5))  # type: ignore[arg-type, return-value]
    assert "must return an awaitable" in str(exit_.cause.defects()[0])


def test_failure_raised_inside_async_code_keeps_its_typed_cause():
    async def inner(ctx):
        return await fail("nested")._run(ctx)
    exit_ = run_exit(Effect(inner))
    assert exit_.cause == Fail("nested")


def test_option():
    assert Some(1).is_some() and not Some(1).is_none()
    assert NONE.is_none() and NONE.get_or_else(3) == 3
    assert Some(2).map(lambda x: x * 2) == Some(4)
    assert NONE.map(lambda x: x) is NONE
    assert Some(2).get_or_else(0) == 2
    with pytest.raises(ValueError):
        NONE.value  # noqa: B018


def test_unit_and_run_exit_success():
    assert run(unit) is None
    assert run_exit(succeed(1)).value == 1


def test_the_constructor_works_through_a_subscripted_alias_and_by_keyword():
    # Effect's constructor is its metaclass's __call__ (so the library's own nodes are
    # made by the fast type.__call__ path): every spelling of the call still reaches it
    from typing import Any

    async def impl(ctx):
        return 21

    assert run(Effect[Any, Any, int](impl).map(lambda x: x * 2)) == 42
    assert run(Effect(fn=impl)) == 21
    with pytest.raises(TypeError, match="expects a function"):
        Effect[Any, Any, int](42)  # type: ignore[arg-type]


def test_a_subclass_constructor_makes_an_instance_of_the_subclass():
    class Mine(Effect):
        pass

    async def impl(ctx):
        return 5

    eff = Mine(impl)
    assert type(eff) is Mine and run(eff) == 5


# --- operators from ZIO / Effect-TS, on both backends -------------------------------------


class On:
    """Run effects on one backend (the `on` fixture gives one per backend)."""

    def __init__(self, backend):
        self.backend = backend

    def run(self, effect):
        return run(effect, backend=self.backend)

    def exit(self, effect):
        return run_exit(effect, backend=self.backend)


@pytest.fixture(params=["asyncio", "trio"])
def on(request):
    return On(request.param)


def test_when_and_unless(on):
    ran = []
    eff = sync(lambda: ran.append(1) or "ran")
    assert on.run(eff.when(True)) == Some("ran") and on.run(eff.when(False)) == NONE
    assert on.run(eff.unless(False)) == Some("ran") and on.run(eff.unless(True)) == NONE
    assert len(ran) == 2
    flag = [False]
    gated = eff.when(lambda: flag[0])  # a function is asked at each run, not when built
    assert on.run(gated) == NONE
    flag[0] = True
    assert on.run(gated) == Some("ran")
    assert on.exit(fail("no").when(True)).cause == Fail("no")
    with pytest.raises(TypeError, match="when expects a bool or a function returning one, got int 1"):
        eff.when(1)
    with pytest.raises(TypeError, match="unless expects a bool or a function returning one, got Effect"):
        eff.unless(succeed(True))


def test_tap_error_runs_on_typed_failures_and_keeps_the_error(on):
    seen = []
    assert on.exit(fail("boom").tap_error(lambda e: sync(lambda: seen.append(e)))).cause == Fail("boom")
    assert on.exit(fail("boom").tap_error(seen.append)).cause == Fail("boom")  # a plain function
    assert seen == ["boom", "boom"]
    assert on.run(succeed(1).tap_error(seen.append)) == 1 and seen == ["boom", "boom"]
    assert on.exit(die(KeyError("k")).tap_error(seen.append)).cause.defects()  # defects: not tapped
    assert on.exit(fail("boom").tap_error(lambda e: fail("tap failed"))).cause == Fail("tap failed")
    with pytest.raises(TypeError, match="tap_error expects a function"):
        succeed(1).tap_error(3)


def test_ignore_drops_typed_failures_only(on):
    assert on.run(fail("x").ignore()) is None and on.run(succeed(1).ignore()) is None
    assert isinstance(on.exit(die(KeyError("k")).ignore()).cause.defects()[0], KeyError)


def test_or_die_turns_typed_failures_into_defects(on):
    error = ValueError("bad")
    assert on.exit(fail(error).or_die()).cause == Die(error)
    defect = on.exit(fail("not an exception").or_die()).cause.defects()[0]
    assert isinstance(defect, Failure) and defect.error == "not an exception"
    assert on.exit(fail("x").or_die().catch_all(lambda e: succeed("caught"))).cause.defects()  # no longer typed
    assert on.run(succeed(2).or_die()) == 2


def test_catch_all_defect(on):
    recovered = die(KeyError("k")).catch_all_defect(lambda exc: succeed(f"recovered {exc!r}"))
    assert on.run(recovered) == "recovered KeyError('k')"
    assert on.run(sync(lambda: 1 / 0).catch_all_defect(lambda exc: succeed(type(exc).__name__))) == "ZeroDivisionError"
    assert on.exit(fail("typed").catch_all_defect(lambda exc: succeed("no"))).cause == Fail("typed")
    from effectpy import Deferred, never
    started = Deferred()
    interrupted = started.succeed(None).flat_map(lambda _: never).catch_all_defect(lambda e: succeed("no"))
    exit_ = on.run(interrupted.fork().flat_map(lambda f: started.await_().flat_map(lambda _: f.interrupt())))
    assert exit_.is_interrupted()  # interruption is never caught


def test_sandbox_exposes_the_cause_and_unsandbox_restores_it(on):
    boom = KeyError("k")
    assert on.run(die(boom).sandbox().catch_all(lambda cause: succeed(cause))) == Die(boom)
    assert on.run(fail("x").sandbox().either()) == Left(Fail("x"))
    assert on.run(succeed(1).sandbox()) == 1
    assert on.exit(die(boom).sandbox().unsandbox()).cause == Die(boom)
    assert on.exit(fail("x").sandbox().unsandbox()).cause == Fail("x")
    # map the cause while sandboxed: the defect becomes a typed failure
    typed = die(boom).sandbox().map_error(lambda c: Fail(repr(c.defects()[0]))).unsandbox()
    assert on.exit(typed).cause == Fail("KeyError('k')")
    from effectpy import Then
    assert on.exit(fail("a").ensuring(fail("b")).sandbox().unsandbox()).cause == Then(Fail("a"), Fail("b"))


def test_timed_measures_on_the_contexts_clock(on):
    from effectpy import Clock, Context, Duration, TestClock, sleep, zip_par
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    program = zip_par(sleep(2.5).as_("done").timed(), clock.adjust(10))
    assert on.run(program.provide(env)) == ((Duration.seconds(2.5), "done"), None)
    assert on.exit(fail("x").timed()).cause == Fail("x")


def test_fork_scoped_lives_as_long_as_the_enclosing_scope(on):
    from effectpy import Deferred, never, scoped
    log = []
    started = Deferred()
    worker = started.succeed(None).flat_map(lambda _: never).ensuring(sync(lambda: log.append("worker stopped")))

    def inside(fiber):
        return started.await_().flat_map(lambda _: sync(lambda: log.append(f"scope ends, worker {fiber.state}")))

    on.run(scoped(worker.fork_scoped(name="worker").flat_map(inside)).flat_map(
        lambda _: sync(lambda: log.append("after scoped"))))
    assert log == ["scope ends, worker suspended", "worker stopped", "after scoped"]
    # a plain fork is the fiber's child, not the scope's: it is still running after it
    log.clear()
    started2 = Deferred()
    plain = started2.succeed(None).flat_map(lambda _: never).ensuring(sync(lambda: log.append("plain stopped")))
    on.run(scoped(plain.fork().flat_map(lambda f: started2.await_().as_(f))).flat_map(
        lambda f: sync(lambda: log.append(f"after scoped, plain {f.state}"))))
    assert log == ["after scoped, plain suspended", "plain stopped"]
    with pytest.raises(TypeError, match="name must be a str"):
        succeed(1).fork_scoped(name=3)



def test_run_and_run_exit_name_themselves_when_given_what_is_not_an_effect():
    with pytest.raises(TypeError, match=r"^run expected an Effect, got function <lambda>"):
        effectpy.run(lambda: 1)
    with pytest.raises(TypeError, match=r"^run_exit expected an Effect, got int 3"):
        effectpy.run_exit(3)
