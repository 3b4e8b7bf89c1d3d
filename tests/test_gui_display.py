"""The OpenGL canvas on a real X server (``make test`` runs this under xvfb-run).

Marked ``display``: the main offscreen pass skips it; the second pass runs it without
``QT_QPA_PLATFORM=offscreen`` so Qt uses xcb and Mesa's OpenGL.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from gui_helpers import cache_dir, direct_render, generator, make_window, small_controls, wait_frame  # noqa: F401
from PyQt6.QtGui import QGuiApplication, QImage

from app.canvas import MARGIN, GLCanvas, make_canvas
from editing.render import render_state
from editing.state import EditState

pytestmark = pytest.mark.display


def qimage_to_rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    data = np.frombuffer(img.constBits().asstring(bpl * h), dtype=np.uint8).reshape(h, bpl)
    return data[:, : 3 * w].reshape(h, w, 3).copy()


@pytest.fixture
def display(qapp):
    if QGuiApplication.platformName() in ("offscreen", "minimal"):
        pytest.skip("needs a real display (run under xvfb-run without QT_QPA_PLATFORM=offscreen)")
    return qapp


def test_gl_canvas_draws_the_frame_pixel_for_pixel(qtbot, display, generator):  # noqa: F811
    canvas = make_canvas()
    assert isinstance(canvas, GLCanvas), f"no OpenGL here: {canvas.description}"
    qtbot.addWidget(canvas)
    canvas.resize(256 + 2 * MARGIN + 40, 256 + 2 * MARGIN)  # a 64 px frame at 4x (nearest), bars at the sides
    canvas.set_smooth(False)
    canvas.show()
    qtbot.waitExposed(canvas)
    qtbot.waitUntil(lambda: canvas.gl_version != "", timeout=5000)
    assert canvas.failure is None
    major = int(canvas.gl_version.split(".")[0])
    assert major >= 2, canvas.gl_version
    assert canvas.gl_renderer, "glGetString(GL_RENDERER) answered, so a real context is current"

    frame = render_state(generator, EditState(model="dcgan-faces", seed=3))
    canvas.set_frame(frame)
    shot = qimage_to_rgb(canvas.grabFramebuffer())
    assert canvas.uploads == 1
    r = canvas.device_image_rect()
    assert (r.width(), r.height()) == (256, 256)
    drawn = shot[r.y() : r.y() + r.height(), r.x() : r.x() + r.width()]
    expected = cv2.resize(frame, (r.width(), r.height()), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(drawn, expected)
    assert (shot[:, : r.x()] == shot[0, 0]).all(), "the letterbox is plain background"

    # a second frame of the same size reuses the texture (glTexSubImage2D)
    frame2 = render_state(generator, EditState(model="dcgan-faces", seed=4))
    canvas.set_frame(frame2)
    shot2 = qimage_to_rgb(canvas.grabFramebuffer())
    assert canvas.uploads == 1 and canvas.sub_uploads >= 1
    np.testing.assert_array_equal(
        shot2[r.y() : r.y() + r.height(), r.x() : r.x() + r.width()],
        cv2.resize(frame2, (256, 256), interpolation=cv2.INTER_NEAREST),
    )

    # what reaches the screen is the same picture
    qtbot.wait(100)
    screen = canvas.screen().grabWindow(canvas.winId())
    on_screen = qimage_to_rgb(screen.toImage())
    assert on_screen.shape == shot2.shape
    np.testing.assert_allclose(on_screen.astype(int), shot2.astype(int), atol=2)

    # linear filtering changes the upscaled pixels but not the picture's place
    canvas.set_smooth(True)
    smooth = qimage_to_rgb(canvas.grabFramebuffer())
    rs = canvas.device_image_rect()
    patch = smooth[rs.y() : rs.y() + rs.height(), rs.x() : rs.x() + rs.width()].astype(float)
    ref = cv2.resize(frame2, (rs.width(), rs.height()), interpolation=cv2.INTER_LINEAR).astype(float)
    assert np.abs(patch - ref).mean() < 6


def test_window_uses_opengl_on_a_real_display_and_shows_the_rendered_frame(qtbot, display, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    assert isinstance(w.canvas, GLCanvas)
    assert w.canvas_status.text() == "OpenGL canvas"
    assert "OpenGL" in w.canvas_status.toolTip()
    w.control_panel.row(0).slider.setValue(20)
    frame = wait_frame(qtbot, w)
    np.testing.assert_array_equal(frame, direct_render(w, w.state))
    qtbot.waitUntil(lambda: w.canvas.frame is frame, timeout=2000)
    w.set_smooth(False)
    shot = qimage_to_rgb(w.canvas.grabFramebuffer())
    r = w.canvas.device_image_rect()
    drawn = shot[r.y() : r.y() + r.height(), r.x() : r.x() + r.width()]
    np.testing.assert_array_equal(drawn, cv2.resize(frame, (r.width(), r.height()), interpolation=cv2.INTER_NEAREST))


def test_gl_canvas_draws_messages_as_cleanly_as_the_raster_canvas(qtbot, display, generator):  # noqa: F811
    """Text over a GL frame after several uploads (the case that garbled it) matches the raster canvas's."""
    from app.canvas import RasterCanvas

    frame = render_state(generator, EditState(model="dcgan-faces", seed=3))
    gl, raster = make_canvas(), RasterCanvas()
    assert isinstance(gl, GLCanvas), f"no OpenGL here: {gl.description}"
    for c in (gl, raster):
        qtbot.addWidget(c)
        c.resize(420, 300)
        c.show()
        qtbot.waitExposed(c)
    qtbot.waitUntil(lambda: gl.gl_version != "", timeout=5000)
    message = "Could not render this frame:\nthe quick brown fox jumps over the lazy dog 0123456789"
    for seed in (3, 4, 5):  # uploads between glyph-cache fills
        frame = render_state(generator, EditState(model="dcgan-faces", seed=seed))
        for c in (gl, raster):
            c.set_frame(frame)
            c.set_message(message)
        gl_shot = qimage_to_rgb(gl.grabFramebuffer()).astype(int)
    raster_shot = qimage_to_rgb(raster.grab().toImage()).astype(int)
    h = min(gl_shot.shape[0], raster_shot.shape[0])
    bright_gl = (gl_shot[:h] > 200).all(axis=2)  # the message's light text
    bright_raster = (raster_shot[:h] > 200).all(axis=2)
    assert bright_raster.sum() > 200, "the raster canvas drew the text"
    # the two paint engines may place the text a pixel apart: best overlap within ±2 px
    overlap = max(
        (np.roll(bright_gl, (dy, dx), axis=(0, 1)) & bright_raster).sum()
        / max(1, (np.roll(bright_gl, (dy, dx), axis=(0, 1)) | bright_raster).sum())
        for dy in range(-2, 3) for dx in range(-2, 3))
    assert overlap > 0.9, f"only {overlap:.0%} of the text's pixels match the raster canvas's: the GL text is garbled"
