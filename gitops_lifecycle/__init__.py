"""Keeps GitOps clusters tidy and waits for what init containers need."""

__version__ = "0.1.0"
