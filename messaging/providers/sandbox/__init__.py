"""The sandbox provider: every capability, no network, deterministic outcomes (see provider.py)."""

from .provider import SandboxProvider, outcome_for, sign

__all__ = ["SandboxProvider", "outcome_for", "sign"]
