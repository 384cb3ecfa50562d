"""Calibrate the simulation to a user's microscope: sampling, Z contrast and probe blur, each measured on the
user's unlabelled images and matched by the same measurement on the project's own simulations."""
