"""Help ▸ Keyboard shortcuts and Help ▸ About."""
from __future__ import annotations

from PyQt6.QtWidgets import QMessageBox

APP_NAME = "Latent Studio"

SHORTCUTS = (
    "Ctrl+Z / Ctrl+Shift+Z — undo / redo\n"
    "← → (on a focused slider) — step it by 0.1σ\n"
    "PgUp / PgDn — previous / next seed\n"
    "R — reset all controls\n"
    "G — grid of seeds\n"
    "Ctrl+F — filter controls\n"
    "Ctrl+S — save preset, Ctrl+L — load preset\n"
    "Ctrl+E — export the frame as PNG\n"
    "Double-click a control's name — rename it\n"
    "Vocabulary ▸ Describe controls: Enter saves and goes on, Ctrl+→ skips, Ctrl+← goes back\n"
    "Ctrl+Shift+M — segmentation overlay on/off (Semantics menu)"
)


def show_shortcuts(parent) -> None:
    QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", SHORTCUTS, QMessageBox.StandardButton.Ok, parent).open()


def show_about(parent) -> None:
    QMessageBox.about(
        parent, f"About {APP_NAME}",
        f"<b>{APP_NAME}</b><br>Explore and steer the latent spaces of pretrained GANs.<br>"
        "Everything here is also a headless command: <tt>python main.py --help</tt>.",
    )
