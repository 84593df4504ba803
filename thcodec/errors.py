"""The one exception type that the CLI turns into a one-line message and exit code 1."""


class ThcError(Exception):
    """A user-facing error: bad input, damaged file, refused overwrite."""
