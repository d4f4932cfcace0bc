"""Errors a user can cause. The CLI turns them into one line and exit status 2."""


class UserError(Exception):
    """A problem with what the user gave us (an input, a flag, a data source).

    The message must name the input and say what is wrong, in one line.
    """
