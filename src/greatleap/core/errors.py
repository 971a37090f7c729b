"""Errors that the CLI turns into a one-line message and exit code 2."""


class ConfigError(ValueError):
    """A scenario, override or command-line value is invalid.

    The message is one line that names the offending key and what is allowed, e.g.
    ``nutrition.intake_scale: 7 is out of range (allowed: 0 <= value <= 2)``.
    """
