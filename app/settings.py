"""Persistent settings of the window: recent models and presets, view options (QSettings)."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings

ORGANIZATION = "LatentStudio"
APPLICATION = "Latent Studio"


def default_settings() -> QSettings:
    """The user's settings store (platform native: an ini file on Linux, the registry on Windows)."""
    return QSettings(ORGANIZATION, APPLICATION)


def ini_settings(path: str | Path) -> QSettings:
    """A settings store in one ini file (tests, portable installs)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


class RecentList:
    """A most-recent-first list of strings kept under one settings key, at most ``limit`` long."""

    def __init__(self, settings: QSettings, key: str, limit: int = 8):
        self.settings = settings
        self.key = key
        self.limit = limit

    def items(self) -> list[str]:
        raw = self.settings.value(self.key, [])
        if isinstance(raw, str):  # QSettings returns a lone string for one-element lists
            raw = [raw]
        return [str(x) for x in (raw or []) if str(x)]

    def add(self, item: str) -> None:
        items = [item] + [x for x in self.items() if x != item]
        self.settings.setValue(self.key, items[: self.limit])
        self.settings.sync()

    def remove(self, item: str) -> None:
        self.settings.setValue(self.key, [x for x in self.items() if x != item])
        self.settings.sync()

    def clear(self) -> None:
        self.settings.setValue(self.key, [])
        self.settings.sync()


class Settings:
    """What the window remembers between runs."""

    def __init__(self, store: QSettings | None = None):
        self.store = store if store is not None else default_settings()
        self.recent_models = RecentList(self.store, "recent/models")
        self.recent_presets = RecentList(self.store, "recent/presets")
        self.recent_controls = RecentList(self.store, "recent/controls")

    def get_bool(self, key: str, default: bool) -> bool:
        v = self.store.value(key, default)
        if isinstance(v, str):
            return v.lower() in ("1", "true", "yes")
        return bool(v)

    def set(self, key: str, value) -> None:
        self.store.setValue(key, value)

    def get(self, key: str, default=None):
        return self.store.value(key, default)

    def last_folder(self) -> str:
        return str(self.store.value("paths/last_folder", str(Path.home())))

    def remember_folder(self, path: str | Path) -> None:
        p = Path(path)
        self.store.setValue("paths/last_folder", str(p if p.is_dir() else p.parent))
