"""A scraper module that cannot be imported (its import raises something else than ImportError):
``cedula_stats`` must still report the pauses of the chain's other entries."""

raise RuntimeError("this module is broken on purpose")
