"""Backends: sets of kernels behind the protocol of :mod:`fastact._backends.base`."""
