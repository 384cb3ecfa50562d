#!/usr/bin/env bash
# The paper-size cycleGAN train step on a GPU machine that has JAX but no TensorFlow (as the team's lent H200):
#   bash benchmarks/gpu_jax_profile.sh OUT_DIR [WHEEL_DIR]
# WHEEL_DIR holds keras, namex and optree wheels where the machine cannot reach PyPI. Each configuration runs in
# its own process (its own peak memory) under a time limit; figures go to OUT_DIR/gpu.json, one JSON line each.
set -u
out=${1:?usage: gpu_jax_profile.sh OUT_DIR [WHEEL_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
if [ -n "${2:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$2"/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$root/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import jax, keras; print('jax', jax.__version__, 'keras', keras.__version__, jax.devices())" | tee -a "$out/gpu.txt"
cd "$root/benchmarks"
for options in "--precision mixed_bfloat16" "--precision float32" "--precision mixed_bfloat16 --batch-size 128"; do
    echo "== paper profile $options"
    # shellcheck disable=SC2086  # options are words
    timeout "${STEP_TIMEOUT_S:-170}" python3 train_throughput_jax.py --params ../params.yaml \
        --profile ../profiles/paper.yaml $options --steps 20 --json "$out/gpu.json" 2>&1 | tail -n 4
done
