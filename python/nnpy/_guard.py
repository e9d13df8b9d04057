"""The thread guard of a Network (and of a NetworkStack): who may use it at a time, from
several threads. Reads share it, writes are short and exclusive, a fit is long and alone (see
Guard)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

__all__ = ["Guard"]


class Guard:
    """Who may use one Network at a time, from several threads.

    read     predict, loss, gradients, accuracy, save, copy, pickling, to_params: any number
             at once.
    write    assigning weights or biases: one at a time, with no read under way; reads and
             writes wait for each other (both are short), writers first.
    train    fit: alone. A fit while anything else is under way, or anything from another
             thread while a fit runs, raises RuntimeError at once (a fit is long: waiting for
             it would hang the caller). The fitting thread itself may read and write (its
             callback runs between calls into the core).
    core.predict_one (the one-sample path) takes no lock: it holds the GIL from its check to
    its last read and refuses when `_exclusive` names another thread (a write or a fit)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers: Dict[int, int] = {}         # thread id -> reads under way in that thread
        self._writer: Optional[int] = None     # thread id of the write under way
        self._writers_waiting = 0   # writes waiting for reads to end (new reads wait for them)
        self._trainer: Optional[int] = None    # thread id of the fit under way
        self._exclusive: Optional[int] = None  # the writer's or trainer's thread (see predict_one)

    def _refuse_if_training(self, me: int) -> None:
        if self._trainer is not None and self._trainer != me:
            raise RuntimeError("this Network is being trained by fit in another thread; "
                               "wait for it, or give each thread its own net.copy()")

    @contextmanager
    def read(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            self._refuse_if_training(me)
            # a fit's own thread (its callback) runs while the core does not: no count needed
            counted = self._trainer != me
            while counted and ((self._writer is not None and self._writer != me) or
                               (self._writers_waiting and me not in self._readers)):
                self._cond.wait()
                self._refuse_if_training(me)
            if counted:
                self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            if counted:
                with self._cond:
                    self._readers[me] -= 1
                    if not self._readers[me]:
                        del self._readers[me]
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            self._refuse_if_training(me)
            # inside a fit's callback or a write of this thread: nothing else can be under way
            owned = self._trainer != me and self._writer != me
            if owned:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or any(t != me for t in self._readers):
                        self._cond.wait()
                        self._refuse_if_training(me)
                finally:
                    self._writers_waiting -= 1
                self._writer = self._exclusive = me
        try:
            yield
        finally:
            if owned:
                with self._cond:
                    self._writer = self._exclusive = None
                    self._cond.notify_all()

    @contextmanager
    def train(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._trainer == me:
                raise RuntimeError("fit was called from inside a fit of the same Network "
                                   "(its callback); train a net.copy() instead")
            self._refuse_if_training(me)
            if self._writer is not None or self._readers:
                raise RuntimeError("this Network is in use by another thread; fit needs it "
                                   "alone")
            self._trainer = self._exclusive = me
        try:
            yield
        finally:
            with self._cond:
                self._trainer = self._exclusive = None
                self._cond.notify_all()
