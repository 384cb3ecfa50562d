"""stemgan: realistic ADF-STEM training images from simulations via cycleGANs."""

__version__ = "0.1.0"
