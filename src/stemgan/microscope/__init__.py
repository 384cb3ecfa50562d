"""The virtual microscope: real acquisition effects applied to simulations (the embedded experimental default)."""
