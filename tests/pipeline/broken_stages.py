"""A module that fails while it is imported, as a user's half-written module may."""

raise RuntimeError("half-written module")
