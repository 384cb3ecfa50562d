"""Network pieces: Fourier-amplitude input, losses, image pool, lr schedule, tiled inference, matching."""

from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from stemgan.evaluation.matching import match_points
from stemgan.models.fourier import fft_log_amplitude
from stemgan.models.image_pool import ImagePool
from stemgan.models.losses import discriminator_loss, distance, generator_loss
from stemgan.models.schedule import ConstantThenLinearDecay
from stemgan.models.tiled_inference import predict_tiled


def lattice_tiles(n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    phases = rng.uniform(0, 2 * np.pi, (n, 2))
    tiles = np.cos(2 * np.pi * x / 6 + phases[:, :1, None]) * np.cos(2 * np.pi * y / 6 + phases[:, 1:, None])
    return tiles[..., None].astype(np.float32)


def test_fft_amplitude_is_per_image_and_batch_order_invariant():
    tiles = lattice_tiles(5, 32, 0) + np.random.default_rng(1).normal(0, 0.3, (5, 32, 32, 1)).astype(np.float32)
    order = np.array([3, 0, 4, 1, 2])
    whole = fft_log_amplitude(tf.constant(tiles)).numpy()
    permuted = fft_log_amplitude(tf.constant(tiles[order])).numpy()
    np.testing.assert_allclose(permuted, whole[order], atol=1e-5)
    single = fft_log_amplitude(tf.constant(tiles[2:3])).numpy()
    np.testing.assert_allclose(single[0], whole[2], atol=1e-5)  # no mixing across the batch
    assert np.allclose(whole.mean(axis=(1, 2, 3)), 0, atol=1e-4) and np.allclose(
        whole.std(axis=(1, 2, 3)), 1, atol=1e-3
    )
    # spatial fftshift only: the lattice's 1/6 px^-1 reflections sit symmetric about the centre (16, 16)
    spectrum = whole[0, ..., 0]
    assert spectrum[16 + 5, 16 + 5] == pytest.approx(spectrum[16 - 5, 16 - 5], abs=1e-4)


def test_image_pool_passes_through_until_full_then_mixes():
    pool = ImagePool(size=4, tile_size=8, seed=0)
    first = tf.ones((4, 8, 8, 1))
    np.testing.assert_array_equal(pool(first).numpy(), first.numpy())  # filling: images pass through
    outs = [pool(tf.fill((4, 8, 8, 1), float(k))).numpy()[:, 0, 0, 0] for k in range(2, 12)]
    values = np.concatenate(outs)
    current = np.repeat(np.arange(2, 12), 4)
    assert 0.25 < np.mean(values != current) < 0.75  # about half are swapped for older images
    assert np.all(values <= current)  # a swapped image is always an older one
    assert ImagePool(size=0, tile_size=8, seed=0)(first) is first


def test_lr_constant_then_linear_to_zero():
    schedule = ConstantThenLinearDecay(0.002, decay_start_step=100, total_steps=200)
    values = [float(schedule(s)) for s in (0, 99, 100, 150, 200, 250)]
    assert values == pytest.approx([0.002, 0.002, 0.002, 0.001, 0.0, 0.0])


@pytest.mark.parametrize("tta", [False, True])
def test_tiled_inference_reassembles_the_image(tta):
    image = np.random.default_rng(0).normal(size=(100, 90)).astype(np.float32)
    doubled = predict_tiled(lambda t: 2 * t, image, tile=32, stride=16, tta=tta)
    assert doubled.shape == (100, 90, 1)
    np.testing.assert_allclose(doubled[..., 0], 2 * image, atol=1e-5)
    # each of the 8 views is mapped back: averaging them gives the image itself, not a symmetrised copy
    identity = predict_tiled(lambda t: t, image, tile=32, stride=16, tta=True)
    np.testing.assert_allclose(identity[..., 0], image, atol=1e-5)
    # and the views are really applied: an orientation-dependent operation comes out averaged over them
    grad = predict_tiled(lambda t: np.gradient(t, axis=2), image, tile=32, stride=16, tta=False)
    grad_tta = predict_tiled(lambda t: np.gradient(t, axis=2), image, tile=32, stride=16, tta=True)
    assert not np.allclose(grad_tta, grad, atol=0.1)


def test_matching_is_one_to_one_within_radius():
    predicted = np.array([[0, 0], [1.0, 0], [10, 10], [20, 20]])
    true = np.array([[0.5, 0], [30, 30], [20, 21.4]])
    m = match_points(predicted, true, radius=1.5)
    # (0,0) and (1,0) compete for (0.5,0): one wins; (20,20)-(20,21.4) matches; (30,30) is missed
    assert m.true_positives == 2 and m.precision == pytest.approx(0.5) and m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert match_points(np.zeros((0, 2)), true, 1.0).recall == 0.0


@pytest.mark.parametrize("upsampling", ["transpose", "resize"])
def test_upsampling_modes_and_the_checkerboard(upsampling):
    import keras

    from stemgan.models.blocks import upscale_conv
    from stemgan.models.networks import unet_generator

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 4))
    model = keras.Model(inputs, upscale_conv(inputs, 1, upsampling, use_bias=False))
    interior = model(np.ones((1, 16, 16, 4), np.float32)).numpy()[0, 4:-4, 4:-4, 0]
    phases = [interior[i::2, j::2].mean() for i in (0, 1) for j in (0, 1)]
    # a flat input: strided transposed convs give a period-2 pattern (uneven kernel overlap), resize+conv none
    if upsampling == "transpose":
        assert np.ptp(phases) > 10 * np.ptp(interior[0::2, 0::2]) + 1e-6
    else:
        assert np.ptp(interior) < 1e-5
    generator = unet_generator(32, 3, 8, 32, "instance", 0.0, "g", upsampling)
    out = generator(np.random.default_rng(0).normal(size=(2, 32, 32, 1)).astype(np.float32)).numpy()
    assert out.shape == (2, 32, 32, 1) and np.all(np.abs(out) <= 1)


@pytest.mark.parametrize("symmetries", ["dihedral", "scan_preserving"])
def test_scan_preserving_augmentation_keeps_rows_as_rows(symmetries):
    from stemgan.training.data import augment

    # row-wise scan noise: every row constant, rows differ
    rows = np.random.default_rng(1).normal(size=(16, 1, 1)) * np.ones((16, 16, 1))
    tile = tf.constant(rows, tf.float32)
    views = [augment(tile, tf.constant([s, 7], tf.int64), None, symmetries).numpy() for s in range(40)]
    rows_kept = [np.ptp(v, axis=1).max() < 1e-6 for v in views]
    if symmetries == "scan_preserving":
        assert all(rows_kept)
    else:  # rot90 turns the rows into columns for about half of the draws
        assert 5 < sum(rows_kept) < 35


def test_scan_preserving_tta_maps_row_artefacts_back_unaveraged():
    image = np.random.default_rng(2).normal(size=(64, 64)).astype(np.float32)
    # a network that adds a row-wise pattern in its own frame: views that rotate mix rows with columns
    stripes = np.cos(np.arange(32) * np.pi / 2)[None, :, None, None].astype(np.float32)

    def predict(t):
        return t + stripes

    def change_along_rows(out):  # zero while the added pattern stays constant along each row
        return np.abs(np.diff(out[..., 0] - image, axis=1)).mean()

    full = predict_tiled(predict, image, tile=32, stride=32, tta=True)
    kept = predict_tiled(predict, image, tile=32, stride=32, tta=True, scan_preserving=True)
    assert change_along_rows(kept) < 1e-5 and change_along_rows(full) > 0.01


def test_residual_generator_starts_near_identity_and_passes_noise():
    import keras

    from stemgan.models.networks import unet_generator

    keras.utils.set_random_seed(0)
    noise = np.random.default_rng(3).normal(0, 0.2, size=(2, 32, 32, 1)).astype(np.float32)
    plain = unet_generator(32, 3, 8, 32, "instance", 0.0, "g", "transpose")(noise).numpy()
    residual = unet_generator(32, 3, 8, 32, "instance", 0.0, "r", "transpose", residual=True)(noise).numpy()
    correlation = lambda a: np.corrcoef(a.ravel(), noise.ravel())[0, 1]  # noqa: E731
    # untrained, a residual refiner keeps the input's per-pixel noise; a plain U-net scrambles it
    assert correlation(residual) > 0.9 and abs(correlation(plain)) < 0.5


def test_smooth_input_field_has_its_amplitude_and_correlation_length():
    from stemgan.training.input_noise import gaussian_random_field

    white = np.random.default_rng(3).standard_normal((8, 256, 256)).astype(np.float32)
    field = gaussian_random_field(white, correlation_px=8.0).numpy()
    assert abs(field.std() - 1.0) < 0.1
    # Gaussian covariance exp(-r^2 / 4c^2): ~0.94 at r = c/2, ~0.14 at r = 2.8c; white noise has none
    lag = lambda f, r: np.mean(f * np.roll(f, r, axis=-1)) / np.mean(f * f)  # noqa: E731
    assert lag(field, 4) > 0.85 and lag(field, 22) < 0.3 and abs(lag(white, 4)) < 0.02


def test_input_field_gives_tiles_random_offsets_and_is_off_by_default():
    from stemgan.training.data import augment
    from stemgan.training.input_noise import InputNoise

    zeros = tf.zeros((32, 32, 1))
    seeds = [tf.constant([s, 5], tf.int64) for s in range(60)]
    white_only = np.stack([augment(zeros, s, InputNoise(0.2)).numpy() for s in seeds])
    with_field = np.stack([augment(zeros, s, InputNoise(0.2, 0.2, 48.0)).numpy() for s in seeds])
    # white noise averages out over a tile; a field of 48 px correlation moves the whole tile
    assert white_only.mean(axis=(1, 2, 3)).std() < 0.02
    assert 0.1 < with_field.mean(axis=(1, 2, 3)).std() < 0.3
    # same seed, same white draws: what the field adds is smooth (white noise would step by ~0.3)
    assert np.abs(np.diff(with_field - white_only, axis=2)).max() < 0.02
    again = augment(zeros, seeds[0], InputNoise(0.2, 0.2, 48.0)).numpy()
    np.testing.assert_array_equal(again, with_field[0])


def test_training_streams_run_without_the_autotune_thread_and_yield_what_autotuning_would():
    from stemgan.training.data import unpaired_stream
    from stemgan.training.fcn_train import crop_stream
    from stemgan.training.input_noise import InputNoise

    rng = np.random.default_rng(4)
    images, targets = rng.random((3, 48, 48), np.float32), rng.random((3, 48, 48, 2), np.float32)
    sim, exp = lattice_tiles(6, 32, 0), lattice_tiles(5, 32, 1)
    streams = {  # built anew for each pass: a second iterator of one shuffled dataset is its next epoch
        "cycleGAN": lambda: unpaired_stream(sim, exp, 2, 3, InputNoise(0.1, 0.1, 8.0)),
        "FCN": lambda: crop_stream(images, targets, 32, 2, 3, 0.05),
    }
    autotuned = tf.data.Options()
    autotuned.autotune.enabled = True
    for name, stream in streams.items():
        # the thread whose next wake-up a dropped iterator waits for, up to ~30 s at the end of every fit
        assert stream().options().autotune.enabled is False, name
        for ours, tuned in zip(stream().take(12), stream().with_options(autotuned).take(12)):
            for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(tuned)):
                np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_field_amplitude_estimate_recovers_a_known_field_and_is_zero_for_a_clean_set():
    from stemgan.training.data import FIELD_CANVAS_TILES, augment
    from stemgan.training.input_noise import InputNoise, estimate_field_sigma

    sim = lattice_tiles(300, 32, 4)
    known = InputNoise(0.0, 2 * 0.05, 16.0)  # sigma 0.05 in the paper's [0, 1] units
    exp = np.stack([augment(tf.constant(t), tf.constant([i, 3], tf.int64), known).numpy() for i, t in enumerate(sim)])
    assert estimate_field_sigma(sim, exp, 16.0, FIELD_CANVAS_TILES) == pytest.approx(0.05, rel=0.25)
    assert estimate_field_sigma(sim, lattice_tiles(300, 32, 5), 16.0, FIELD_CANVAS_TILES) == pytest.approx(
        0.0, abs=0.01
    )


def test_white_amplitude_estimate_reads_the_noise_floor_not_the_lattice_or_smooth_offsets():
    from stemgan.training.input_noise import InputNoise, estimate_white_sigma

    sim = lattice_tiles(300, 32, 4)
    rng = np.random.default_rng(6)
    smooth = InputNoise(0.0, 2 * 0.1, 16.0).draw(np.zeros_like(sim), rng)
    exp = sim + smooth + rng.normal(0.0, 2 * 0.04, sim.shape).astype(np.float32)  # sigma 0.04 on [0, 1]
    assert estimate_white_sigma(sim, exp, pixel_size_A=0.2) == pytest.approx(0.04, rel=0.1)
    assert estimate_white_sigma(sim, lattice_tiles(300, 32, 5), pixel_size_A=0.2) == pytest.approx(0.0, abs=0.005)


def test_adversarial_losses_take_their_textbook_values():
    """LSGAN, BCE and hinge at known logits (they are written in keras.ops, shared with the JAX benchmark)."""
    ones, zeros = tf.ones((2, 4, 4, 1)), tf.zeros((2, 4, 4, 1))
    assert float(discriminator_loss("lsgan", ones, zeros)) == 0.0  # a perfect critic
    assert float(generator_loss("lsgan", zeros)) == pytest.approx(1.0)
    assert float(discriminator_loss("bce", zeros, zeros)) == pytest.approx(np.log(2.0), rel=1e-6)
    assert float(generator_loss("bce", 3.0 * ones)) == pytest.approx(np.log1p(np.exp(-3.0)), rel=1e-6)
    assert float(discriminator_loss("hinge", 2.0 * ones, -2.0 * ones)) == 0.0  # both outside the margin
    assert float(discriminator_loss("hinge", zeros, zeros)) == pytest.approx(1.0)
    assert float(generator_loss("hinge", 0.5 * ones)) == pytest.approx(-0.5)
    assert float(distance("l1", ones, -ones)) == pytest.approx(2.0)
    assert float(distance("l2", ones, -ones)) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="unknown adversarial loss 'wgan'"):
        generator_loss("wgan", zeros)


def _conv_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.sin(layer(x)))  # a non-uniform output gradient
    return [loss, *tape.gradient(loss, [x, *layer.trainable_variables])]


@pytest.mark.parametrize(
    "transpose, shape, filters, kernel, stride, padding",
    [
        (False, (3, 16, 16, 8), 1, 4, 1, "same"),  # the PatchGAN's last layer
        (False, (3, 15, 17, 3), 5, 4, 2, "same"),  # odd sizes: asymmetric 'same' padding, a spare row
        (False, (2, 16, 12, 5), 7, 4, 2, "same"),  # pix2pix's downsampling, even sizes: polyphase gradients
        (False, (2, 13, 12, 3), 4, 4, 2, "valid"),  # 4x4 stride 2 but 'valid': TensorFlow's input gradient
        (False, (2, 12, 11, 4), 6, 3, 1, "valid"),
        (False, (2, 9, 9, 2), 3, 4, 3, "same"),
        (True, (3, 8, 8, 16), 4, 4, 2, "same"),  # the U-net's upsampling: a polyphase forward pass
        (True, (2, 5, 7, 3), 2, 4, 2, "same"),  # odd input sizes
        (True, (2, 7, 9, 3), 1, 3, 3, "same"),
    ],
)
def test_cpu_convolutions_give_keras_outputs_and_gradients(
    transpose, shape, filters, kernel, stride, padding, monkeypatch
):
    """stemgan's Conv2D/Conv2DTranspose compute their gradients as forward convolutions on CPU (when TensorFlow's
    kernels are Eigen's): the same loss, input and weight gradients as Keras' own layers with the same weights, to
    float rounding."""
    import keras

    from stemgan.models import cpu_conv
    from stemgan.models.cpu_conv import Conv2D, Conv2DTranspose

    # this suite runs with oneDNN (stemgan's default), where the layers take Keras' path: the Eigen-time path is
    # switched on here so that it is the one compared
    monkeypatch.setattr(cpu_conv, "forward_conv_gradients", lambda: True)
    ours_class, keras_class = (
        (Conv2DTranspose, keras.layers.Conv2DTranspose) if transpose else (Conv2D, keras.layers.Conv2D)
    )
    settings = dict(strides=stride, padding=padding, activation="relu", bias_initializer="random_normal")
    theirs, ours = keras_class(filters, kernel, **settings), ours_class(filters, kernel, **settings)
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype(np.float32))
    theirs.build(x.shape), ours.build(x.shape)
    ours.set_weights(theirs.get_weights())
    for expected, got in zip(_conv_gradients(theirs, x), _conv_gradients(ours, x)):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert type(keras.layers.deserialize(keras.layers.serialize(ours))) is ours_class  # saved models reload


def test_importing_stemgan_turns_tensorflows_onednn_kernels_on_unless_the_user_said_no():
    """TensorFlow uses oneDNN on CPU by default only with AVX-512 VNNI/BF16 or AMX; stemgan asks for it everywhere
    (on an AVX2 Zen 3: the FCN train step 1.8x, scoring 2.0-2.3x), and then trains with TensorFlow's own gradient
    kernels. A user's TF_ENABLE_ONEDNN_OPTS=0 is kept, and the forward-convolution gradients take over."""
    import subprocess
    import sys

    probe = (
        "import stemgan, tensorflow as tf; from stemgan.models.cpu_conv import forward_conv_gradients, onednn_enabled;"
        "print(onednn_enabled(), forward_conv_gradients())"
    )
    for setting, expected in ((None, "True False"), ("0", "False True")):
        env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
        env.update({"TF_ENABLE_ONEDNN_OPTS": setting} if setting else {})
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.splitlines()[-1] == expected, (setting, out.stdout, out.stderr[-2000:])
