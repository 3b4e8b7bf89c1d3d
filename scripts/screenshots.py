"""README screenshots at 1366x768: xvfb-run -a -s "-screen 0 1366x768x24" python scripts/screenshots.py resources/screenshots (main window, layer view, animation controls, render-time plot)."""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("LATENT_STUDIO_DATA", "/tmp/latent-studio-shots/data")
os.environ.setdefault("LATENT_STUDIO_CACHE", "/tmp/latent-studio-shots/cache")
from PyQt6.QtWidgets import QApplication

app = QApplication([sys.argv[0]])
from app.style import apply_style
apply_style(app)
from app.settings import Settings, ini_settings
from app.window import MainWindow
from methods.registry import METHODS
from methods.cache import discover_cached
import models
G = models.load_generator("dcgan-faces", "cpu")
cs = discover_cached(G, METHODS["ganspace"], METHODS["ganspace"].make_config(samples=2000, components=12, regression_samples=2000, batch=250))
cs = cs.renamed(0, "gender").renamed(1, "rotation").renamed(2, "lighting")
out = sys.argv[1]

def wait(cond, t=60):
    end = time.monotonic() + t
    while not cond() and time.monotonic() < end:
        app.processEvents(); time.sleep(0.02)

w = MainWindow(controls=cs, settings=Settings(ini_settings("/tmp/latent-studio-shots/s.ini")), device="cpu", autosave=False)
w.show()
wait(lambda: w.frame is not None and w.state.controls is not None)
w.set_value(0, 2.0); w.set_value(2, -1.5)
wait(lambda: w.shown_stamp >= w.last_stamp and w.worker.idle())
for _ in range(30): app.processEvents(); time.sleep(0.03)
scr = app.primaryScreen()
print("window", w.frameGeometry(), "screen", scr.geometry(), w.canvas.description)
scr.grabWindow(0).save(f"{out}/window.png")
# animation controls + plot + layer view
w.seed_panel_dock.show(); w.render_plot_dock.show()
w.seed_panel.walk_seeds.setText("0, 5, 9, 12"); w.seed_panel.speed.setValue(1.0)
w.seed_panel.animate.setChecked(True)
t0 = time.monotonic()
while time.monotonic() - t0 < 6: app.processEvents(); time.sleep(0.01)
w.render_plot.refresh()
for _ in range(10): app.processEvents(); time.sleep(0.03)
scr.grabWindow(0).save(f"{out}/animation.png")
w.seed_panel.grab().save(f"{out}/animation_panel.png")
w.render_plot.grab().save(f"{out}/render_plot.png")
w.seed_panel.animate.setChecked(False)
wait(lambda: w.worker.idle())
w.seed_panel_dock.hide(); w.render_plot_dock.hide()
w.layer_view_dock.show()
w.layer_view.layer_box.setCurrentText(G.layer_names()[3])
wait(lambda: w.layer_view.acts is not None)
for _ in range(20): app.processEvents(); time.sleep(0.03)
scr.grabWindow(0).save(f"{out}/layer_view.png")
print("layer", w.layer_view.info.text())
w.close()
