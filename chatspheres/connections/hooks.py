"""Filling the hooks calls offers, so calls never imports connections."""


def install() -> None:
    """Connect connections to calls (filled in as the hooks land)."""
