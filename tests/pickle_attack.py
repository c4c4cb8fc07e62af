"""A malicious checkpoint payload for the safe-loading tests (issue 17 §1), shared by every test that
checks a loader refuses it (tests/ is on sys.path through its conftest.py)."""
import os


class WritesMarker:
    """Unpickling this runs ``os.system('touch <marker>')``: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )
