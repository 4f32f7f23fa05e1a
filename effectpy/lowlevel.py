"""Low-level hooks: instruments that observe the runtime, and fiber internals.

>>> import effectpy
>>> from effectpy.lowlevel import Instrument, instrument
>>> class Count(Instrument):
...     def __init__(self): self.started = 0
...     def fiber_started(self, fiber, parent): self.started += 1
>>> with instrument(Count()) as counter:
...     effectpy.run(effectpy.zip_par(effectpy.unit, effectpy.unit))
(None, None)
>>> counter.started
3
"""

from ._core._effect import async_callback, with_fiber
from ._core._hooks import HOOKS, Instrument, instrument

__all__ = ["HOOKS", "Instrument", "async_callback", "instrument", "with_fiber"]
