"""stemgan: realistic ADF-STEM training images from simulations via cycleGANs."""

import os

__version__ = "0.1.0"

# TensorFlow (>= 2.9) runs its CPU kernels through oneDNN by default only on CPUs with AVX-512 VNNI/BF16 or AMX;
# elsewhere (AVX2 machines: most laptops, a 2-vCPU Zen 3) it falls back to Eigen's, slower for our networks (issue 14,
# on that Zen 3: the FCN train step 1.8x, scoring 2.0-2.3x, Table 1's cells 2x). Read when TensorFlow is first
# imported, so it is set here, before any stemgan module imports it; a user's own setting (0 to turn it off) wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
