"""Keras networks: U-net generators, PatchGAN discriminators (real space and Fourier amplitude), the cycleGAN."""
