"""`Context`: the services an effect runs with, keyed by type."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Final, TypeVar, cast, final

__all__ = ["Context", "MissingServiceError"]

T = TypeVar("T")


class MissingServiceError(LookupError):
    """An effect asked its `Context` for a service that nobody provided."""


# Services that exist without being provided (the live clock). Filled once by the
# module that defines them; the key is the type asked for, the value a factory.
DEFAULT_SERVICES: Final[dict[type, Callable[[], object]]] = {}


@final
class Context:
    """An immutable map from service type to service.

    `add` and `with_service` return a new context; the old one is unchanged, so a
    context can be shared by concurrent fibers.

    >>> class Db: ...
    >>> ctx = Context().add(Db())
    >>> isinstance(ctx.get(Db), Db)
    True
    """

    __slots__ = ("_services",)

    def __init__(self, services: Mapping[type, object] | None = None) -> None:
        if services is None:
            self._services: dict[type, object] = {}
        else:
            for key in services:
                if not isinstance(key, type):
                    raise TypeError(
                        f"Context keys must be types, got {type(key).__name__} {key!r}"
                    )
            self._services = dict(services)

    def add(self, service: object) -> Context:
        """A new context that also holds ``service`` under ``type(service)``."""
        return self.with_service(type(service), service)

    def with_service(self, key: type[T], service: T) -> Context:
        """A new context that holds ``service`` under ``key`` (e.g. an interface type)."""
        if not isinstance(key, type):
            raise TypeError(
                f"with_service expects a type as its key, got {type(key).__name__} {key!r}"
            )
        services = dict(self._services)
        services[key] = service
        new = Context.__new__(Context)
        new._services = services
        return new

    def merge(self, other: Context) -> Context:
        """A new context holding both; ``other`` wins where both hold a key."""
        new = Context.__new__(Context)
        new._services = {**self._services, **other._services}
        return new

    def get(self, key: type[T]) -> T:
        """The service held under ``key``; raises `MissingServiceError` naming what is held."""
        try:
            return cast(T, self._services[key])
        except KeyError:
            pass
        except TypeError:
            raise TypeError(f"Context.get expects a type, got {type(key).__name__} {key!r}") from None
        if not isinstance(key, type):
            raise TypeError(f"Context.get expects a type, got {type(key).__name__} {key!r}")
        factory = DEFAULT_SERVICES.get(key)
        if factory is not None:
            return cast(T, factory())
        held = ", ".join(sorted(k.__name__ for k in self._services)) or "nothing"
        name = key.__name__
        raise MissingServiceError(
            f"no service {name} in this context (it holds: {held}); "
            f"provide it with ctx.add(...), Context.with_service({name}, ...) or effect.provide(layer)"
        )

    def get_option(self, key: type[T]) -> T | None:
        got = self._services.get(key)
        return cast("T | None", got)

    def __contains__(self, key: object) -> bool:
        return key in self._services

    def __iter__(self) -> Iterator[type]:
        return iter(self._services)

    def __len__(self) -> int:
        return len(self._services)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Context) and other._services == self._services

    def __hash__(self) -> int:
        return hash(tuple(sorted(map(id, self._services.values()))))

    def __repr__(self) -> str:
        return "Context(" + ", ".join(k.__name__ for k in self._services) + ")"

