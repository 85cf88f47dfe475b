"""The one exception type the stages turn into a one-line error message."""


class PipelineError(Exception):
    """Bad input or a bad file: the message names the value or file and what was expected."""
