"""The exceptions that the CLI turns into a one-line message: ThcError exits 1, UsageError 2."""


class ThcError(Exception):
    """A user-facing error: bad input, damaged file, refused overwrite."""


class UsageError(ThcError):
    """A command line that cannot be carried out as given: options that do not go together, or a
    value outside what an option takes (exit 2, as Typer's own usage errors)."""
