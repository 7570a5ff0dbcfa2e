"""A stand-in for the TRex Python package (tests only)."""
