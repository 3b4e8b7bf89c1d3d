"""The headless core shared by the GUI and the CLI: edit state, presets, rendering, export. No Qt."""
