"""Errors a user can cause. The CLI and the dashboard show their message, never a stack trace."""


class MUError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class DataError(MUError):
    """A dataset, folder, file or forget selection that cannot be used."""


class CheckpointError(MUError):
    """A checkpoint that is missing, corrupt or belongs to something else."""


class Cancelled(MUError):
    """The user cancelled a running job; nothing was stored."""


class Diverged(MUError):
    """A loss became NaN or infinite; nothing was stored."""
