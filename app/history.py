"""Undo/redo over immutable `EditState` values (pure Python, no Qt).

Every edit pushes the new state.  A run of pushes with the same *coalescing key*
(one slider drag, or one control stepped by the keyboard in quick succession)
replaces the top entry instead of adding one, so a drag is one undo step.
"""
from __future__ import annotations

import time
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class History(Generic[T]):
    """A bounded undo stack of states with a cursor.

    ``push(state, key)`` coalesces into the top entry when ``key`` is not None, equals
    the key of the previous push, the run is not sealed and (when ``window`` is given)
    the previous push was at most ``window`` seconds ago.
    """

    def __init__(self, initial: T, limit: int = 500, clock: Callable[[], float] = time.monotonic):
        if limit < 2:
            raise ValueError("a history needs room for at least two states")
        self._states: list[T] = [initial]
        self._index = 0
        self._limit = limit
        self._clock = clock
        self._key: Hashable | None = None
        self._key_time = 0.0
        self._window: float | None = None

    # ------------------------------------------------------------------ reading
    @property
    def current(self) -> T:
        return self._states[self._index]

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def __len__(self) -> int:
        return len(self._states)

    # ------------------------------------------------------------------ writing
    def push(self, state: T, key: Hashable | None = None, window: float | None = None) -> bool:
        """Record ``state`` as the new current state; returns True when it was coalesced.

        Pushing a state equal to the current one records nothing.  Any redo branch
        beyond the cursor is discarded.
        """
        now = self._clock()
        if state == self.current:
            if key is not None and key == self._key:
                self._key_time = now
            return False
        del self._states[self._index + 1 :]
        coalesce = (
            key is not None
            and key == self._key
            and self._index > 0
            and (self._window is None or now - self._key_time <= self._window)
        )
        if coalesce:
            self._states[self._index] = state
        else:
            self._states.append(state)
            self._index += 1
            if len(self._states) > self._limit:
                drop = len(self._states) - self._limit
                del self._states[:drop]
                self._index -= drop
        self._key, self._key_time, self._window = key, now, window
        return coalesce

    def seal(self) -> None:
        """End the current coalescing run (a slider was released): the next push is a new step."""
        self._key = None

    def replace_current(self, state: T) -> None:
        """Change the current entry in place (not an undo step), e.g. to rebase after a model load."""
        self._states[self._index] = state

    def undo(self) -> T | None:
        """Step back; returns the state to show, or None at the bottom."""
        self.seal()
        if not self.can_undo():
            return None
        self._index -= 1
        return self.current

    def redo(self) -> T | None:
        """Step forward again; returns the state to show, or None at the top."""
        self.seal()
        if not self.can_redo():
            return None
        self._index += 1
        return self.current

    def reset(self, state: T) -> None:
        """Forget everything; ``state`` becomes the only entry (a new model was opened)."""
        self._states = [state]
        self._index = 0
        self.seal()
