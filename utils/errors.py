"""The one exception type that means "the user gave us something we cannot use"."""


class UserError(Exception):
    """Bad input or settings: reported as one line on stderr with exit status 2, never a traceback."""
