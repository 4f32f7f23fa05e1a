"""Only type-checked (by tests/test_typing.py), never run: pins the inferred types of
streams and sinks."""

from typing import Any

from typing_extensions import assert_type

from effectpy import Effect, Option, Sink, Stream


def pinned(words: Stream[str]) -> None:
    numbers = Stream.range(5)
    assert_type(numbers, Stream[int])
    assert_type(numbers.scan("", lambda acc, x: acc + str(x)), Stream[str])
    assert_type(numbers.zip_with_index(), Stream[tuple[int, int]])
    assert_type(numbers.zip(words), Stream[tuple[int, str]])
    assert_type(numbers.zip_latest(words), Stream[tuple[int, str]])
    assert_type(numbers.merge(words, halt="either"), Stream[int | str])
    assert_type(numbers + words, Stream[int | str])
    assert_type(numbers.flat_map(lambda x: words), Stream[str])
    assert_type(numbers.flat_map_par(2, lambda x: words), Stream[str])
    assert_type(numbers.catch_all(lambda e: words), Stream[int | str])
    assert_type(numbers.sliding(2), Stream[list[int]])
    assert_type(numbers.group_by(str), Stream[tuple[str, Stream[int]]])
    assert_type(numbers.partition(bool), Effect[Any, Any, tuple[Stream[int], Stream[int]]])
    assert_type(numbers.broadcast(2, 4), Effect[Any, Any, tuple[Stream[int], ...]])
    assert_type(numbers.run(Sink.collect_all()), Effect[Any, Any, list[int]])
    assert_type(numbers.run(Sink.head()), Effect[Any, Any, Option[int]])
    assert_type(numbers.run(Sink.count()), Effect[Any, Any, int])
    assert_type(numbers.run(Sink.take(2)), Effect[Any, Any, list[int]])
    assert_type(numbers.run(Sink.fold("", lambda acc: True, lambda acc, x: acc + str(x))), Effect[Any, Any, str])
