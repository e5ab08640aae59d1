"""Exceptions that map to the contract's exit codes (2: bad input, 3: red flag)."""

from __future__ import annotations


class BrainBrrError(Exception):
    exit_code = 1

    def __init__(self, lines: list[str] | str):
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


class ConfigError(BrainBrrError):
    """Invalid configuration: one line per problem, naming the key, value and what is allowed."""

    exit_code = 2


class InputError(BrainBrrError):
    """Bad input files or arguments: one line per problem, naming the file and the fix."""

    exit_code = 2


class RedFlagStop(BrainBrrError):
    """A red flag ended the stage (guards.strict)."""

    exit_code = 3
