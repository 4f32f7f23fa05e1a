"""`Layer`: a recipe that builds services (possibly with resources) into a `Context`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ._core._context import Context
from ._core._effect import Effect, _make, lift, uninterruptible_mask, with_fiber
from ._core._nodes import IN_SCOPE, PROVIDE, SUCCEED, SUSPEND
from ._core._scope import Scope
from ._deferred import Deferred

__all__ = ["Layer"]

A = TypeVar("A")
E = TypeVar("E")

_Memo = dict["Layer", Deferred[Any, Context]]


class Layer:
    """Builds services into a `Context`, acquiring their resources in a `Scope`.

    Layers compose: ``a >> b`` builds ``a`` then ``b`` (which can use ``a``'s services);
    ``a + b`` builds both concurrently from the same input. Each layer in a composition is
    built once per build (memoised) even if it appears several times, and resources are
    released in reverse order of acquisition when the scope closes.

    >>> import effectpy
    >>> class Greeting(str): ...
    >>> layer = Layer.succeed(Greeting("hello"))
    >>> effectpy.run(effectpy.service(Greeting).provide(layer))
    'hello'
    """

    __slots__ = ("_build", "_label")

    def __init__(self, build: Callable[[Context], Effect[Any, Any, Context]], *, label: str = "layer") -> None:
        """``build(ctx)`` is an effect making the output `Context`; resources it acquires
        with `acquire_release` belong to the layer's scope."""
        if not callable(build) or isinstance(build, Effect):
            raise TypeError(f"Layer expects a function ctx -> Effect[Context], got {type(build).__name__} {build!r}")
        self._build = build
        self._label = label

    @staticmethod
    def succeed(service: object, *, key: type | None = None) -> Layer:
        """A layer holding ``service`` (under ``key``, default ``type(service)``)."""
        k = type(service) if key is None else key
        out = Context().with_service(k, service)
        return Layer(lambda _ctx: _make(SUCCEED, out), label=f"succeed({k.__qualname__})")

    @staticmethod
    def from_effect(effect: Effect[Any, E, A], *, key: type | None = None) -> Layer:
        """A layer whose service is made by ``effect`` (run with the layer's input context;
        resources acquired in it live until the layer's scope closes)."""
        eff = lift(effect, "Layer.from_effect")

        def build(ctx: Context) -> Effect[Any, Any, Context]:
            return _make(PROVIDE, eff, ctx).map(
                lambda svc: Context().with_service(type(svc) if key is None else key, svc))
        return Layer(build, label="from_effect")

    scoped = from_effect

    def __rshift__(self, other: Layer) -> Layer:
        """Build this layer, then ``other`` with this layer's services; both are kept."""
        if not isinstance(other, Layer):
            return NotImplemented
        return _Composed(self, other, parallel=False)

    def __add__(self, other: Layer) -> Layer:
        """Build both layers concurrently from the same input; keep both outputs."""
        if not isinstance(other, Layer):
            return NotImplemented
        return _Composed(self, other, parallel=True)

    def _output(self, ctx: Context, scope: Scope, memo: _Memo) -> Effect[Any, Any, Context]:
        """This layer's output context, built once per memo."""
        def go() -> Effect[Any, Any, Context]:
            cell = memo.get(self)
            if cell is not None:
                return cell.await_()
            cell = Deferred()
            memo[self] = cell
            built = self._make(ctx, scope, memo)
            return built.on_exit(lambda ex: cell.done(ex)).flat_map(lambda _: cell.await_())
        return _make(SUSPEND, go)

    def _make(self, ctx: Context, scope: Scope, memo: _Memo) -> Effect[Any, Any, Context]:
        return _make(IN_SCOPE, lift(self._build(ctx), f"{self._label}'s build"), scope)

    def build_scoped(self, ctx: Context, scope: Scope) -> Effect[Any, Any, Context]:
        """An effect building this layer on ``ctx``: succeeds with ``ctx`` plus the layer's
        services; the resources are released when ``scope`` closes. Awaitable:
        ``env = await layer.build_scoped(Context(), scope)``."""
        if not isinstance(ctx, Context):
            raise TypeError(f"build_scoped expects a Context, got {type(ctx).__name__} {ctx!r}")
        if not isinstance(scope, Scope):
            raise TypeError(f"build_scoped expects a Scope, got {type(scope).__name__} {scope!r}")
        return _make(SUSPEND, lambda: self._output(ctx, scope, {})).map(ctx.merge)

    def _provide_to(self, effect: Effect[Any, E, A]) -> Effect[Any, E, A]:
        """``effect.provide(layer)``: build for this run, tear down after it."""
        def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
            scope = Scope()

            def run_with(ctx: Context) -> Effect[Any, Any, Any]:
                return _make(PROVIDE, effect, ctx)

            def use(fiber_ctx: Context) -> Effect[Any, Any, Any]:
                return restore(self.build_scoped(fiber_ctx, scope).flat_map(run_with))

            return with_fiber(lambda f: use(f._ctx)).on_exit(lambda ex: scope.close(ex))
        return uninterruptible_mask(body)

    def __repr__(self) -> str:
        return f"<Layer {self._label}>"


class _Composed(Layer):
    __slots__ = ("_left", "_right", "_parallel")

    def __init__(self, left: Layer, right: Layer, *, parallel: bool) -> None:
        self._left = left
        self._right = right
        self._parallel = parallel
        op = "+" if parallel else ">>"
        super().__init__(lambda ctx: _make(SUCCEED, ctx), label=f"({left._label} {op} {right._label})")

    def _make(self, ctx: Context, scope: Scope, memo: _Memo) -> Effect[Any, Any, Context]:
        left, right = self._left, self._right
        if self._parallel:
            from ._concurrent import zip_par
            return zip_par(left._output(ctx, scope, memo), right._output(ctx, scope, memo)).map(
                lambda both: both[0].merge(both[1]))
        return left._output(ctx, scope, memo).flat_map(
            lambda out: right._output(ctx.merge(out), scope, memo).map(out.merge))

