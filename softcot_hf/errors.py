"""Errors the command line shows as one line (no traceback): the user's input was wrong, and the message says how."""


class InputError(ValueError):
    """A value the user gave (a flag, a file, a name) that the library refuses; the message names it and the fix.
    `softcot-hf` prints it as `softcot-hf COMMAND: error: MESSAGE`; from Python it is an ordinary `ValueError`."""


__all__ = ["InputError"]
