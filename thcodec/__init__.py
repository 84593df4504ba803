"""thcodec: a talking-head video codec for calls over bad networks."""

__version__ = "0.1.0"
