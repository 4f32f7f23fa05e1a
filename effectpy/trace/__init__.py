"""Recording what the runtime does (fork, cancel, acquire, release, fail, ...).

The recorder and its exports arrive with the trace issue; the runtime already calls the
instrument hooks of `effectpy.lowlevel` at every step of interest.
"""

__all__: list[str] = []
