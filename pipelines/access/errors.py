"""The one refusal of every command that reads as a unit or changes who may: the command line turns it
into exit 1."""

from __future__ import annotations


class Refused(RuntimeError):
    """It cannot be done as asked; the message names units, ledgers, columns and logins, never values."""
