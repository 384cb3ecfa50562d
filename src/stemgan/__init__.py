"""stemgan: realistic ADF-STEM training images from simulations via cycleGANs."""

import os

__version__ = "0.1.0"

# TensorFlow (>= 2.9) runs its CPU kernels through oneDNN by default only on CPUs with AVX-512 VNNI/BF16 or AMX;
# elsewhere (AVX2 machines: most laptops, the Zen 3 CI hosts) it falls back to Eigen's, 1.3-2.7x slower for our
# networks (issue 14: FCN train 1.6x, cycleGAN 1.35x, scoring 2.5x). Read when TensorFlow is first imported, so it
# is set here, before any stemgan module imports it; a user's own setting (0 to turn it off) wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
