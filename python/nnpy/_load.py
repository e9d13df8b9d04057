"""How many cores are free for fit's threads right now.

A product split between threads waits for the slowest of them at its end. When another
process wants a core, the kernel shares the cores between it and fit's threads in time slices
(milliseconds), far longer than one product (tenths of a millisecond): every product then waits
for a thread that is not running, and two threads train several times slower than one. So
`fit(n_threads=None)` counts, before each call into the core, the tasks of other processes
that are runnable at that moment (Linux: /proc/loadavg's fourth field counts every runnable
task on the machine; this process's own are subtracted, read from /proc/self/task), and uses
only the cores they leave free. Another Python thread of this process counts as another task:
two fits in two threads share the cores rather than each taking all of them.

Where the counts cannot be read (no /proc: macOS, Windows), `others_running` returns None and
fit uses every available core, as with an idle machine.
"""
from __future__ import annotations

import os
import threading
from typing import List, Optional, Set

_LOADAVG = "/proc/loadavg"
_TASKS = "/proc/self/task"
_SAMPLES = 3    # readings of the run queue; a task runnable in every one of them is taken as
                # wanting a core (a busy process is; a kernel thread that wakes for a few
                # microseconds is caught by one reading at most)


def _runnable() -> int:
    """Tasks runnable on the machine right now, this process's included (/proc/loadavg's
    "running/total" field)."""
    with open(_LOADAVG, "rb") as f:
        return int(f.read().split()[3].split(b"/")[0])


def _own_runnable(others: Set[int]) -> int:
    """This process's tasks that are runnable right now, except the threads in `others`."""
    count = 0
    for name in os.listdir(_TASKS):
        if int(name) in others:
            continue
        try:
            with open(f"{_TASKS}/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread has ended meanwhile
            continue
        # the state follows the command name, which is in parentheses and may contain any byte
        if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R":
            count += 1
    return count


def others_running() -> Optional[int]:
    """Runnable tasks that are not this thread's or its OpenMP workers' (other processes, and
    this process's other Python threads), scaled to the CPUs this process may run on; None
    where the platform does not say.

    Each reading of the run queue lies between two readings of this process's tasks and
    subtracts the smaller of them: an OpenMP worker that stops spinning between the readings
    then counts as another task, never the other way round (which would start threads against
    a busy process). The smallest count over the readings is taken."""
    try:
        current = threading.get_ident()
        python = {t.native_id for t in threading.enumerate()
                  if t.ident != current and t.native_id is not None}
        own = _own_runnable(python)
        counts: List[int] = []
        for _ in range(_SAMPLES):
            running = _runnable()
            after = _own_runnable(python)
            counts.append(running - min(own, after))
            own = after
    except (OSError, ValueError, IndexError):
        return None
    others = max(0, min(counts))
    try:  # the run queue is the whole machine's; this process may be limited to some CPUs
        usable, online = len(os.sched_getaffinity(0)), os.cpu_count() or 1
    except AttributeError:
        return others
    return others if usable >= online else -(-others * usable // online)


def free_cores(cores: int) -> Optional[int]:
    """Of `cores` cores, those that other runnable tasks leave free right now (at least 1);
    None where that cannot be measured."""
    others = others_running()
    if others is None:
        return None
    return max(1, cores - others)
