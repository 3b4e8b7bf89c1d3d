"""The undo stack of edit states (pure Python)."""
from __future__ import annotations

from app.history import History
from editing.state import EditState


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def states(n: int) -> list[EditState]:
    return [EditState(model="m", seed=i) for i in range(n)]


def test_undo_and_redo_walk_back_and_forth_through_states():
    s = states(3)
    h = History(s[0])
    h.push(s[1])
    h.push(s[2])
    assert h.undo() == s[1]
    assert h.undo() == s[0]
    assert h.undo() is None and h.current == s[0]
    assert h.redo() == s[1]
    assert h.redo() == s[2]
    assert h.redo() is None


def test_a_drag_with_one_key_is_one_undo_step_until_sealed():
    s = states(5)
    h = History(s[0])
    for st in s[1:4]:
        h.push(st, key=("drag", 0))
    assert len(h) == 2 and h.current == s[3]
    h.seal()
    h.push(s[4], key=("drag", 0))
    assert len(h) == 3
    assert h.undo() == s[3]
    assert h.undo() == s[0]


def test_keyboard_steps_merge_only_within_the_time_window():
    clock = Clock()
    s = states(4)
    h = History(s[0], clock=clock)
    h.push(s[1], key=("step", 2), window=0.8)
    clock.t = 0.5
    h.push(s[2], key=("step", 2), window=0.8)
    assert len(h) == 2
    clock.t = 2.0
    h.push(s[3], key=("step", 2), window=0.8)
    assert len(h) == 3


def test_different_keys_never_merge():
    s = states(3)
    h = History(s[0])
    h.push(s[1], key=("drag", 0))
    h.push(s[2], key=("drag", 1))
    assert len(h) == 3


def test_an_edit_after_undo_discards_the_redo_branch():
    s = states(4)
    h = History(s[0])
    h.push(s[1])
    h.push(s[2])
    h.undo()
    h.push(s[3])
    assert not h.can_redo()
    assert h.undo() == s[1]


def test_pushing_the_current_state_records_nothing():
    s = states(2)
    h = History(s[0])
    h.push(s[0])
    assert len(h) == 1 and not h.can_undo()


def test_history_is_bounded_and_keeps_the_newest_states():
    s = states(50)
    h = History(s[0], limit=10)
    for st in s[1:]:
        h.push(st)
    assert len(h) == 10
    assert h.current == s[49]
    for _ in range(9):
        h.undo()
    assert h.current == s[40] and not h.can_undo()


def test_reset_starts_a_new_history():
    s = states(3)
    h = History(s[0])
    h.push(s[1])
    h.reset(s[2])
    assert h.current == s[2] and not h.can_undo() and not h.can_redo()
