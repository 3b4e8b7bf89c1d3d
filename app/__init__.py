"""The desktop program (Qt only): windows, widgets, the render thread, dialogs."""
