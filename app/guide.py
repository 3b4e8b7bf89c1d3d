"""Help ▸ Guide: a short page inside the program — σ units, per-layer ranges with this
model's own resolutions, each method in a sentence with its paper, and the shortcuts."""
from __future__ import annotations

import html

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from methods.registry import METHODS

from .help import SHORTCUTS

LINEAR_SEMANTICS = ("Linear semantics", "a linear map from generator features to a segmentation, "
                    "then sampling and editing by layout (Semantics menu)",
                    "Yang, Chai, Wang, Li, Zhou, Zhang: Linear Semantics in Generative Adversarial Networks (CVPR 2021)")


def guide_html(G=None) -> str:
    """The guide as HTML; with a generator ``G`` the layer table is this model's."""
    e = html.escape
    parts = ["<h2>Latent Studio in five minutes</h2>",
             "<h3>Units: σ</h3><p>A slider's value is in the control's own unit. For GANSpace one unit is "
             "one standard deviation (σ) of the samples along that direction, so ±2 stays among typical "
             "images and ±5 leaves them. Other methods scale their directions to a comparable step. "
             "‖Δ‖ beside a slider is the length of the edit in latent units. The ± box above the sliders "
             "sets their range; Shift+drag moves finely, the wheel steps a focused slider.</p>",
             "<h3>Per-layer ranges</h3><p>The editable latent has one row per generator layer "
             "(StyleGAN's W+). A control restricted to rows a–b changes only what those layers decide: "
             "early rows (low resolution) pose and shape, late rows colour and texture. "
             "Both boxes name rows, the last one included.</p>"]
    if G is not None:
        rows = "".join(f"<tr><td>{i}</td><td>{e(label.split(': ', 1)[-1])}</td></tr>"
                       for i, label in enumerate(G.describe_layers()))
        parts.append(f"<p>{e(G.name)} ({G.resolution}px) has {G.num_layers} rows:</p>"
                     f"<table cellpadding='2'><tr><th>row</th><th>feeds</th></tr>{rows}</table>")
    items = [(spec.display_name, spec.summary, spec.paper) for spec in METHODS.values()] + [LINEAR_SEMANTICS]
    parts.append("<h3>Methods</h3><ul>" + "".join(
        f"<li><b>{e(name)}</b>: {e(summary)}." + (f" <i>{e(paper)}</i>" if paper else "") + "</li>"
        for name, summary, paper in items) + "</ul>")
    parts.append("<h3>Seeds and animation</h3><p>View ▸ Seeds and animation blends neighbouring seeds "
                 "(in W for StyleGANs, by slerp in z for the others), drags between four seeds, "
                 "animates a walk and exports it as a looping mp4 (also <tt>main.py export --walk</tt>).</p>")
    parts.append("<h3>Shortcuts</h3><pre>" + e(SHORTCUTS) + "</pre>")
    return "".join(parts)


class GuideDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Latent Studio guide")
        self.resize(640, 620)
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setHtml(guide_html(window.generator))
        lay.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)


def show_guide(window) -> GuideDialog:
    dlg = GuideDialog(window)
    dlg.show()
    window.guide_dialog = dlg
    return dlg
