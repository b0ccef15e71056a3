"""The one refusal every step of a form raises: the command line turns it into exit 1."""

from __future__ import annotations


class Refused(RuntimeError):
    """The form cannot be written as asked; the message names units, ledgers and columns, never values."""
