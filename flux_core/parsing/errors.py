"""Why a whole upload is refused: the error every parser raises, importable without pandas."""


class UnreadableUpload(ValueError):
    """The whole file is refused; ``str(error)`` is written for a restaurant owner."""
