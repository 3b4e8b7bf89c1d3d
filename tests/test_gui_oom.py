"""Out of memory while rendering: the worker frees memory, moves to the CPU, retries, and says so."""
from __future__ import annotations

import numpy as np
from gui_helpers import cache_dir, direct_render, generator, make_window, small_controls, wait_frame  # noqa: F401



def test_out_of_memory_during_a_render_is_retried_with_a_notice(qtbot, make_window, small_controls, monkeypatch):  # noqa: F811
    import torch

    from app import render_worker

    w = make_window(controls=small_controls)
    net = w.generator.unwrapped
    original = net.synthesize
    calls = {"n": 0}
    moved = []

    def once(*a, **k):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(*a, **k)

    monkeypatch.setattr(net, "synthesize", once)
    monkeypatch.setattr(render_worker, "move_to_cpu", lambda G: moved.append(G) or True)
    with qtbot.waitSignal(w.worker.notice, timeout=10_000) as notice:
        w.image_panel.seedEdited.emit(3)
    assert "CPU" in notice.args[0] and moved == [net]
    frame = wait_frame(qtbot, w)
    assert calls["n"] == 2 and not w.canvas.message
    np.testing.assert_array_equal(frame, direct_render(w, w.state))
    assert "CPU" in w.statusBar().currentMessage()
