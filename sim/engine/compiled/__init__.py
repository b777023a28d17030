"""The fast engine's compiled event loop (numba): the reference model transcribed over arrays."""
