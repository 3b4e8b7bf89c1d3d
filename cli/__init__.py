"""Headless commands of main.py (no Qt imported)."""
