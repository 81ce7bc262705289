"""The errors the course raises on bad input; each message names the cause and the fix.

Torch-free, so the command line can catch them without importing torch.
"""


class MNISTDataError(RuntimeError):
    """The data is missing or damaged. The message says which file and how to fix it."""
