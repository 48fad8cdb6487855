"""The one exception family of statesmix."""


class StatesmixError(Exception):
    """Raised for anything wrong with compressed data or with arguments.

    The message says what is wrong: a foreign file, a truncated one, a
    checksum that does not match (naming the frame), an unknown format
    version, an invalid level.
    """
