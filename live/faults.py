"""Fault injection points: named steps of the order path where a test may kill the process.

``checkpoint(name)`` is a no-op unless ``DRYDOCK_FAULT_KILL_AT`` is set to a number N: then the
N-th checkpoint passed in this process (counting from 1) sends SIGKILL to the process itself, a
real crash with no cleanup, no ``finally`` and no flush. The fault-injection harness
(tests/live/test_fault_injection.py, ``make bench``) restarts the run after each kill.
"""

from __future__ import annotations

import os
import signal

ENV = "DRYDOCK_FAULT_KILL_AT"
#: The steps between a decision and a journaled fill, in the order the runner passes them.
POINTS = ("decided", "ordered", "submitted", "filled")
#: The chain venues' step between a transaction stored signed and its broadcast (inside submit).
CHAIN_POINTS = ("signed",)
_target = int(os.environ.get(ENV, "0") or 0)
_passed = 0


def checkpoint(name: str) -> None:
    """Count one pass through ``name``; die here if this is the pass the harness asked for."""
    global _passed
    if not _target:
        return
    _passed += 1
    if _passed == _target:
        os.kill(os.getpid(), signal.SIGKILL)
