"""Generator families behind one interface (`Generator`), and checkpoint loading. No Qt."""
from .base import Generator, LoadError
from .loading import load_generator
from .registry import DEFAULT_MODEL, REGISTRY

__all__ = ["Generator", "LoadError", "load_generator", "DEFAULT_MODEL", "REGISTRY"]
