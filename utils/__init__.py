"""Helpers around the networks: image and video I/O, hints, haze physics, plots, metrics, run folders."""
