"""The canvas that shows frames: OpenGL when a context can be made, a raster widget otherwise.

Both canvases implement the same small interface:

* ``set_frame(frame)`` — ``uint8 [H, W, 3]`` RGB, shown scaled to fit, aspect kept;
* ``set_message(text)`` — an overlay (errors, "loading…"); empty text hides it;
* ``set_smooth(on)`` — linear (True) or nearest-neighbour (False) filtering;
* ``backend`` (``"opengl"`` or ``"raster"``) and ``description`` for the status bar.

`make_canvas` chooses: the raster canvas on platforms without OpenGL (``offscreen``,
``minimal``, remote desktops and VMs where no context can be made), or when
``LATENT_STUDIO_CANVAS=raster``; the GL canvas otherwise.  If the GL canvas fails
when it first initialises it emits ``glFailed(reason)`` and the window swaps in a
raster canvas.
"""
from __future__ import annotations

import ctypes
import os
import time

import numpy as np
from PyQt6.QtCore import QRect, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QGuiApplication, QImage, QOffscreenSurface, QOpenGLContext, QPainter
from PyQt6.QtOpenGLWidgets import QOpenGLWidget
from PyQt6.QtWidgets import QSizePolicy, QWidget

BACKGROUND = QColor(24, 25, 28)
#: Qt platforms that never have OpenGL
NO_GL_PLATFORMS = {"offscreen", "minimal", "vnc", "linuxfb"}


#: free border around the image, in logical pixels
MARGIN = 12
#: pixels between the tiles of a grid frame (`app.render_worker.render_request`)
TILE_GAP = 2


def fit_rect(width: int, height: int, img_w: int, img_h: int, integer: bool = False, margin: int = 0) -> QRect:
    """The largest rectangle of the image's aspect centred in ``width × height`` (less ``margin`` on each side).

    With ``integer`` (nearest filtering) an upscale snaps to a whole factor, so every
    source pixel becomes the same number of screen pixels.
    """
    if img_w <= 0 or img_h <= 0 or width <= 0 or height <= 0:
        return QRect(0, 0, 0, 0)
    avail_w, avail_h = max(1, width - 2 * margin), max(1, height - 2 * margin)
    scale = min(avail_w / img_w, avail_h / img_h)
    if integer and scale >= 1:
        scale = float(int(scale))
    w, h = max(1, int(round(img_w * scale))), max(1, int(round(img_h * scale)))
    return QRect((width - w) // 2, (height - h) // 2, w, h)


def _paint_message(painter: QPainter, area: QRect, text: str, centred: bool) -> None:
    """A rounded translucent box holding ``text`` (word-wrapped), centred or at the bottom."""
    font = QFont(painter.font())
    font.setPointSizeF(max(9.0, font.pointSizeF() * 1.05))
    painter.setFont(font)
    margin = 16
    box_w = min(area.width() - 2 * margin, 560)
    if box_w <= 40:
        return
    flags = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap)
    bound = painter.boundingRect(QRect(0, 0, box_w - 24, 10_000), flags, text)
    box_h = bound.height() + 20
    x = area.x() + (area.width() - box_w) // 2
    y = area.y() + (area.height() - box_h) // 2 if centred else area.bottom() - box_h - margin
    box = QRectF(x, y, box_w, box_h)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(12, 12, 14, 215))
    painter.drawRoundedRect(box, 8, 8)
    painter.setPen(QColor(236, 236, 240))
    painter.drawText(box.adjusted(12, 10, -12, -10), flags, text)


class CanvasBase:
    """State shared by both canvases (mixed into a QWidget subclass)."""

    backend = "none"

    def _init_canvas(self) -> None:
        self._frame: np.ndarray | None = None
        self._message = ""
        self._smooth = True
        self.frames_set = 0
        self.description = ""
        self.on_painted = None  # called with each paint's duration in ms (the render-time plot's "display")
        self._tiles: list[str] | None = None  # grid view: one label per tile, row by row
        self._tile_columns = 1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(192, 192)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the image leaves any text field

    @property
    def frame(self) -> np.ndarray | None:
        return self._frame

    @property
    def message(self) -> str:
        return self._message

    @property
    def smooth(self) -> bool:
        return self._smooth

    def _check_frame(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"a frame must be uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
        return np.ascontiguousarray(frame)

    # ------------------------------------------------------------------ grid tiles
    def set_tiles(self, labels: list[str] | None, columns: int = 1) -> None:
        """The frame is a grid (`editing.render.tile`, 2 px gaps) of ``labels``' tiles; None: one image."""
        self._tiles = list(labels) if labels else None
        self._tile_columns = max(1, int(columns))
        self.update()

    def _tile_rects(self) -> list[QRect]:
        """Where each tile is drawn, in logical pixels."""
        if self._tiles is None or self._frame is None:
            return []
        r, (fh, fw) = self.image_rect(), self._frame.shape[:2]
        cols = self._tile_columns
        rows = (len(self._tiles) + cols - 1) // cols
        tw, th = (fw - (cols - 1) * TILE_GAP) / cols, (fh - (rows - 1) * TILE_GAP) / rows
        sx, sy = r.width() / fw, r.height() / fh
        out = []
        for i in range(len(self._tiles)):
            row, col = divmod(i, cols)
            x0, y0 = col * (tw + TILE_GAP), row * (th + TILE_GAP)
            out.append(QRect(int(r.x() + x0 * sx), int(r.y() + y0 * sy), int(tw * sx), int(th * sy)))
        return out

    def tile_at(self, x: float, y: float) -> int | None:
        """The grid tile under the point ``(x, y)`` (logical pixels), if any."""
        return next((i for i, t in enumerate(self._tile_rects()) if t.contains(int(x), int(y))), None)

    def _paint_tiles(self, painter: QPainter) -> None:
        for label, rect in zip(self._tiles or [], self._tile_rects()):
            font = QFont(painter.font())
            font.setPointSizeF(max(7.0, min(10.0, rect.height() / 12)))
            painter.setFont(font)
            box = painter.boundingRect(QRect(rect.x() + 4, rect.y() + 4, rect.width(), 40),
                                       int(Qt.AlignmentFlag.AlignLeft), label).adjusted(-3, -1, 3, 1)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(12, 12, 14, 190))
            painter.drawRoundedRect(QRectF(box), 3, 3)
            painter.setPen(QColor(236, 236, 240))
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), label)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self._tiles is not None:
            i = self.tile_at(event.position().x(), event.position().y())
            if i is not None:
                self.tileClicked.emit(i)
                event.accept()
                return
        super().mousePressEvent(event)

    def _painted(self, t0: float) -> None:
        if self.on_painted is not None and self._frame is not None:
            self.on_painted((time.perf_counter() - t0) * 1000)

    def image_rect(self) -> QRect:
        """Where the frame is drawn, in logical pixels."""
        if self._frame is None:
            return QRect()
        h, w = self._frame.shape[:2]
        return fit_rect(self.width(), self.height(), w, h, integer=not self._smooth, margin=MARGIN)

    def device_image_rect(self) -> QRect:
        """Where the frame is drawn, in device pixels (what `QOpenGLWidget.grabFramebuffer` returns)."""
        if self._frame is None:
            return QRect()
        dpr = self.devicePixelRatioF()
        W, H = max(1, int(round(self.width() * dpr))), max(1, int(round(self.height() * dpr)))
        h, w = self._frame.shape[:2]
        return fit_rect(W, H, w, h, integer=not self._smooth, margin=int(round(MARGIN * dpr)))


class RasterCanvas(CanvasBase, QWidget):
    """QPainter + QImage: works everywhere, including without any OpenGL."""

    backend = "raster"
    tileClicked = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None, reason: str = ""):
        QWidget.__init__(self, parent)
        self._init_canvas()
        self._image: QImage | None = None
        self.description = "raster canvas" + (f" ({reason})" if reason else "")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def set_frame(self, frame: np.ndarray) -> None:
        frame = self._check_frame(frame)
        self._frame = frame
        h, w = frame.shape[:2]
        # QImage borrows the array's memory; self._frame keeps it alive
        self._image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.frames_set += 1
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text or ""
        self.update()

    def set_smooth(self, on: bool) -> None:
        self._smooth = bool(on)
        self.update()

    def paintEvent(self, _event) -> None:
        t0 = time.perf_counter()
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        if self._image is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
            p.drawImage(self.image_rect(), self._image)
            self._paint_tiles(p)
        if self._message:
            _paint_message(p, self.rect(), self._message, centred=self._image is None)
        p.end()
        self._painted(t0)


_VERTEX_SHADER = """
#version 120
attribute vec2 position;
attribute vec2 texcoord;
varying vec2 uv;
void main() {
    uv = texcoord;
    gl_Position = vec4(position, 0.0, 1.0);
}
"""

_FRAGMENT_SHADER = """
#version 120
uniform sampler2D image;
varying vec2 uv;
void main() {
    gl_FragColor = vec4(texture2D(image, uv).rgb, 1.0);
}
"""


class GLCanvas(CanvasBase, QOpenGLWidget):
    """Uploads the newest frame into one reused texture and draws it as a quad.

    The texture is re-allocated only when the frame size changes; otherwise the new
    pixels go in with ``glTexSubImage2D``.  The upload happens in `paintGL`, so a burst
    of frames between two repaints costs one upload.
    """

    backend = "opengl"
    glFailed = pyqtSignal(str)
    tileClicked = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        QOpenGLWidget.__init__(self, parent)
        self._init_canvas()
        self._gl = None  # the OpenGL.GL module once initialised
        self._program = 0
        self._vbo = 0
        self._texture = 0
        self._tex_size: tuple[int, int] | None = None
        self._upload_pending = False
        self._filter_pending = True
        self.failure: str | None = None
        self.gl_version = ""
        self.gl_renderer = ""
        self.uploads = 0  # full texture allocations
        self.sub_uploads = 0  # glTexSubImage2D updates
        self.description = "OpenGL canvas"

    # ------------------------------------------------------------------ interface
    def set_frame(self, frame: np.ndarray) -> None:
        self._frame = self._check_frame(frame)
        self._upload_pending = True
        self.frames_set += 1
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text or ""
        self.update()

    def set_smooth(self, on: bool) -> None:
        self._smooth = bool(on)
        self._filter_pending = True
        self.update()

    # ------------------------------------------------------------------ GL
    def initializeGL(self) -> None:
        try:
            from OpenGL import GL
            from OpenGL.GL import shaders

            ctx = self.context()
            if ctx is None or not ctx.isValid():
                raise RuntimeError("no valid OpenGL context")
            fmt = ctx.format()
            if (fmt.majorVersion(), fmt.minorVersion()) < (2, 0):
                raise RuntimeError(f"OpenGL {fmt.majorVersion()}.{fmt.minorVersion()} is too old (2.0 needed)")
            self.gl_version = _gl_string(GL, GL.GL_VERSION)
            self.gl_renderer = _gl_string(GL, GL.GL_RENDERER)
            vs = shaders.compileShader(_VERTEX_SHADER, GL.GL_VERTEX_SHADER)
            fs = shaders.compileShader(_FRAGMENT_SHADER, GL.GL_FRAGMENT_SHADER)
            program = GL.glCreateProgram()
            GL.glAttachShader(program, vs)
            GL.glAttachShader(program, fs)
            GL.glBindAttribLocation(program, 0, "position")
            GL.glBindAttribLocation(program, 1, "texcoord")
            GL.glLinkProgram(program)
            if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
                raise RuntimeError(f"shader link failed: {GL.glGetProgramInfoLog(program)!r}")
            GL.glDeleteShader(vs)
            GL.glDeleteShader(fs)
            self._program = program
            self._vbo = int(GL.glGenBuffers(1))
            self._texture = int(GL.glGenTextures(1))
            self._tex_size = None
            self._upload_pending = self._frame is not None
            self._filter_pending = True
            self._gl = GL
            self.description = f"OpenGL {self.gl_version.split(' ')[0]} canvas ({self.gl_renderer})"
        except Exception as exc:  # no usable GL: the window swaps in the raster canvas
            self.failure = f"OpenGL could not be initialised: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            self._gl = None
            QTimer.singleShot(0, lambda: self.glFailed.emit(self.failure or "OpenGL failed"))

    def _upload(self) -> None:
        GL = self._gl
        frame = self._frame
        h, w = frame.shape[:2]
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._texture)
        # Rows of an RGB frame are 3·W bytes, not 4-aligned.  The alignment is put back
        # afterwards: QPainter's GL engine uploads its glyph cache assuming the default
        # (4), and leaving 1 garbled every message drawn over the frame (seen on llvmpipe).
        previous = int(GL.glGetIntegerv(GL.GL_UNPACK_ALIGNMENT))
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        if self._tex_size != (w, h):
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGB8, w, h, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, frame)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
            self._tex_size = (w, h)
            self._filter_pending = True
            self.uploads += 1
        else:
            GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, frame)
            self.sub_uploads += 1
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, previous)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        self._upload_pending = False

    def _draw_quad(self) -> None:
        GL = self._gl
        dpr = self.devicePixelRatioF()
        W, H = max(1, int(round(self.width() * dpr))), max(1, int(round(self.height() * dpr)))
        r = self.device_image_rect()
        x0, x1 = 2 * r.x() / W - 1, 2 * (r.x() + r.width()) / W - 1
        y0, y1 = 1 - 2 * (r.y() + r.height()) / H, 1 - 2 * r.y() / H  # GL's y points up
        quad = np.array(
            [x0, y0, 0.0, 1.0,  x1, y0, 1.0, 1.0,  x0, y1, 0.0, 0.0,  x1, y1, 1.0, 0.0], dtype=np.float32
        )  # (x, y, u, v); v = 0 is the frame's first (top) row
        GL.glViewport(0, 0, W, H)
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glUseProgram(self._program)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._texture)
        if self._filter_pending:
            filt = GL.GL_LINEAR if self._smooth else GL.GL_NEAREST
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, filt)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, filt)
            self._filter_pending = False
        GL.glUniform1i(GL.glGetUniformLocation(self._program, "image"), 0)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._vbo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, quad.nbytes, quad, GL.GL_STREAM_DRAW)
        stride = 4 * 4
        GL.glEnableVertexAttribArray(0)
        GL.glVertexAttribPointer(0, 2, GL.GL_FLOAT, GL.GL_FALSE, stride, ctypes.c_void_p(0))
        GL.glEnableVertexAttribArray(1)
        GL.glVertexAttribPointer(1, 2, GL.GL_FLOAT, GL.GL_FALSE, stride, ctypes.c_void_p(8))
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glDisableVertexAttribArray(0)
        GL.glDisableVertexAttribArray(1)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glUseProgram(0)

    def paintGL(self) -> None:
        t0 = time.perf_counter()
        p = QPainter(self)
        p.beginNativePainting()
        try:
            GL = self._gl
            if GL is not None:
                GL.glClearColor(BACKGROUND.redF(), BACKGROUND.greenF(), BACKGROUND.blueF(), 1.0)
                GL.glClear(GL.GL_COLOR_BUFFER_BIT)
                if self._frame is not None:
                    if self._upload_pending:
                        self._upload()
                    self._draw_quad()
        except Exception as exc:  # a driver error while drawing: give up GL, the window swaps canvases
            self._gl = None
            self.failure = f"OpenGL drawing failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            QTimer.singleShot(0, lambda: self.glFailed.emit(self.failure or "OpenGL failed"))
        finally:
            p.endNativePainting()
        if self._gl is None:
            p.fillRect(self.rect(), BACKGROUND)
        elif self._frame is not None:
            self._paint_tiles(p)
        if self._message:
            _paint_message(p, self.rect(), self._message, centred=self._frame is None)
        p.end()
        self._painted(t0)

    def cleanup(self) -> None:
        """Free the GL objects (call before the widget goes away)."""
        if self._gl is None or self.context() is None:
            return
        self.makeCurrent()
        try:
            GL = self._gl
            if self._texture:
                GL.glDeleteTextures([self._texture])
            if self._vbo:
                GL.glDeleteBuffers(1, [self._vbo])
            if self._program:
                GL.glDeleteProgram(self._program)
        finally:
            self._texture = self._vbo = self._program = 0
            self._gl = None
            self.doneCurrent()


def _gl_string(GL, name) -> str:
    raw = GL.glGetString(name)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


def probe_opengl() -> str | None:
    """None when an OpenGL 2.0+ context can be made on this display, else the reason it cannot."""
    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"the {platform} Qt platform has no OpenGL"
    ctx = QOpenGLContext()
    if not ctx.create() or not ctx.isValid():
        return "no OpenGL context could be created"
    surface = QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    try:
        if not surface.isValid() or not ctx.makeCurrent(surface):
            return "an OpenGL context could not be made current"
        fmt = ctx.format()
        if (fmt.majorVersion(), fmt.minorVersion()) < (2, 0):
            return f"OpenGL {fmt.majorVersion()}.{fmt.minorVersion()} is too old (2.0 needed)"
        ctx.doneCurrent()
    finally:
        surface.destroy()
    return None


Canvas = RasterCanvas | GLCanvas


def make_canvas(parent: QWidget | None = None, prefer: str | None = None) -> Canvas:
    """The GL canvas when OpenGL works here, else the raster canvas (with its reason in `description`).

    ``prefer`` (or ``$LATENT_STUDIO_CANVAS``): ``"raster"`` forces the raster canvas.
    """
    prefer = (prefer or os.environ.get("LATENT_STUDIO_CANVAS", "")).lower()
    if prefer == "raster":
        return RasterCanvas(parent, "chosen with LATENT_STUDIO_CANVAS=raster")
    reason = probe_opengl()
    if reason is not None:
        return RasterCanvas(parent, reason)
    return GLCanvas(parent)
