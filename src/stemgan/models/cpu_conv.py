"""2-D convolutions whose gradients run as forward convolutions on CPU (issue 14).

Without oneDNN, TensorFlow's CPU kernels for a convolution's gradients (Conv2DBackpropFilter, Conv2DBackpropInput:
Eigen's) are far slower than its forward kernel. On a 2-vCPU Zen 3 (oneDNN off: TensorFlow's default there), one
thread, batch 8: the
PatchGAN's last layer (16² px, 128 -> 1 channels, 4x4) takes 15-31 ms for its filter gradient and 2.3 ms as a
forward convolution; its 64 -> 128 layer 15.7 -> 7.5 ms (filter) and 14.0 -> 7.5 ms (input); the strided 4x4
layers 1.3-1.7x. Both gradients are convolutions themselves, so they are computed as forward ones:
- filter gradient: the padded input correlated with the output gradient, the batch as the channels
  (input (C_in, H, W, batch) * filter (H_out, W_out, batch, C_out), dilated by the stride);
- input gradient (stride 1): the output gradient convolved with the flipped, transposed kernel;
- pix2pix's 4x4 stride-2 layers: both gradients, and the transposed conv's forward pass, on the 2x2 polyphase
  components (cycleGAN step 1.18x over the stride-2 gradients as above, Eigen).
Same values up to float rounding (relative ~1e-6). On a GPU, under oneDNN (stemgan's default: measured on the
Zen 3, its gradient kernels are as fast as these or faster), under another backend, or for 1x1 kernels (where the
built-in gradients are as fast), the layers are Keras' own: this path serves TensorFlow's Eigen kernels
(TF_ENABLE_ONEDNN_OPTS=0, or TensorFlow imported before stemgan on a CPU without AVX-512 VNNI/BF16).
"""

from __future__ import annotations

import functools
import os

import keras
from keras import layers


def onednn_enabled() -> bool:
    """Whether TensorFlow's CPU kernels are oneDNN's (stemgan turns them on, see stemgan/__init__.py)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a private module: if it moves, trust the switch
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


@functools.lru_cache(maxsize=None)
def forward_conv_gradients() -> bool:
    """Whether this process computes convolution gradients as forward convolutions: TensorFlow on a CPU, with
    Eigen's kernels. oneDNN's own gradient kernels are as fast or faster (FCN train step 199 against 151 tiles/s
    with these on a Zen 3), so under oneDNN, as on a GPU, the layers are Keras' own."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU") and not onednn_enabled()


def same_padding(size, kernel: int, stride: int):
    """(before, after) padding of TensorFlow's 'SAME' along an axis of `size` (an int or a scalar tensor)."""
    import tensorflow as tf

    out = -(-size // stride)
    total = tf.maximum((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pix2pix_geometry(kernel_hw: tuple[int, int], stride: int, padding: str) -> bool:
    """Whether a convolution is pix2pix's down/upsampling one (4x4, stride 2, 'same'): its gradients (and the
    transposed conv's forward pass) are computed on its 2x2 polyphase components, see `polyphase_*`."""
    return tuple(kernel_hw) == (4, 4) and stride == 2 and padding == "same"


def polyphase_filter_gradient(x, dy):
    """d loss / d kernel of a 4x4, stride-2, 'same' conv2d: with x padded to 2 H_out + 2 (1 px before, whatever
    the parity of H) and split into its 2x2 phases (space_to_depth), kernel tap (2t + a, 2u + b) sees phase (a, b)
    at offset (t, u): a 2x2 stride-1 filter gradient on C_in x 4 channels. An undilated forward convolution,
    about as fast as the layer's forward pass (the stride-2 one, dilated by 2, was up to 2x slower)."""
    import tensorflow as tf

    shape, out_shape = tf.shape(x), tf.shape(dy)
    pads = [[0, 0], [1, 2 * out_shape[1] + 1 - shape[1]], [1, 2 * out_shape[2] + 1 - shape[2]], [0, 0]]
    phases = tf.nn.space_to_depth(tf.pad(x, pads), 2)  # channels ordered (a, b, C_in)
    taps = filter_gradient(phases, dy, (2, 2), 1, "valid")  # (t, u, (a, b, C_in), C_out)
    c_in, c_out = x.shape[3], dy.shape[3]
    taps = tf.reshape(taps, [2, 2, 2, 2, c_in, c_out])  # t, u, a, b
    return tf.reshape(tf.transpose(taps, [0, 2, 1, 3, 4, 5]), [4, 4, c_in, c_out])


def polyphase_input_gradient(kernel, dy, input_hw):
    """d loss / d x of a 4x4, stride-2, 'same' conv2d (= conv2d_transpose(dy, kernel)), kernel (4, 4, C_in, C_out).
    With 1 px padding before, even rows are dx[2m] = dy[m] w[1] + dy[m-1] w[3], odd ones dx[2m+1] = dy[m+1] w[0]
    + dy[m] w[2] (likewise along x): all four phases are one 2x2 stride-1 convolution of dy padded by 1, z[q] =
    dy[q-1] u0 + dy[q] u1, with u = (w[3], w[1]) at q = m and (w[2], w[0]) at q = m + 1. Interleaved by
    depth_to_space with the odd phase first, z[q]'s odd row lands at 2q and its even row at 2q + 1: dx shifted
    by one pixel. No zero is multiplied (zero insertion, TensorFlow's way, is Eigen's and 1.1-1.7x slower)."""
    import tensorflow as tf

    taps = {1: (2, 0), 0: (3, 1)}  # phase -> kernel rows of u0, u1
    blocks = [
        tf.stack([tf.stack([kernel[taps[a][u], taps[b][v]] for v in (0, 1)]) for u in (0, 1)])
        for a in (1, 0)
        for b in (1, 0)
    ]  # each (2, 2, C_in, C_out), the odd phase first
    phases_kernel = tf.transpose(tf.concat(blocks, axis=2), [0, 1, 3, 2])  # (2, 2, C_out, 4 C_in)
    z = tf.nn.conv2d(dy, phases_kernel, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.nn.depth_to_space(z, 2)[:, 1 : 1 + input_hw[0], 1 : 1 + input_hw[1]]


def filter_gradient(x, dy, kernel_hw: tuple[int, int], stride: int, padding: str):
    """d loss / d kernel of conv2d(x, kernel, stride, padding), (k_h, k_w, C_in, C_out), from the output
    gradient dy: one forward convolution (input and output gradient swap their batch and channel axes)."""
    import tensorflow as tf

    if pix2pix_geometry(kernel_hw, stride, padding):
        return polyphase_filter_gradient(x, dy)
    (k_h, k_w), shape = kernel_hw, tf.shape(x)
    if padding == "same":
        x = tf.pad(x, [[0, 0], same_padding(shape[1], k_h, stride), same_padding(shape[2], k_w, stride), [0, 0]])
    correlation = tf.nn.conv2d(
        tf.transpose(x, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, "VALID", dilations=stride
    )
    # an input longer than the outputs' reach gives extra offsets beyond the kernel: not the kernel's
    return tf.transpose(correlation[:, :k_h, :k_w, :], [1, 2, 0, 3])


def input_gradient(x, kernel, dy, stride: int, padding: str):
    """d loss / d x of conv2d(x, kernel, stride, padding): for stride 1 a forward convolution of dy with the
    flipped kernel (C_in and C_out swapped), for pix2pix's geometry its polyphase form, else TensorFlow's own."""
    import tensorflow as tf

    k_h, k_w = kernel.shape[0], kernel.shape[1]
    if pix2pix_geometry((k_h, k_w), stride, padding):
        shape = tf.shape(x)
        return polyphase_input_gradient(kernel, dy, (shape[1], shape[2]))
    if stride != 1:
        return tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=kernel, out_backprop=dy, strides=[1, stride, stride, 1],
            padding=padding.upper(),
        )  # fmt: skip
    # the adjoint of padding (before, after) pads (k - 1 - before, k - 1 - after): 'same' the other way round
    # ((k-1)//2 before, the rest after), 'valid' k - 1 on both sides
    pads = [[0, 0]]
    for k in (k_h, k_w):
        before, after = ((k - 1) // 2, k - 1 - (k - 1) // 2) if padding == "same" else (0, 0)
        pads.append([k - 1 - before, k - 1 - after])
    pads.append([0, 0])
    flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
    return tf.nn.conv2d(dy, flipped, 1, pads)


def conv2d(x, kernel, stride: int, padding: str):
    """tf.nn.conv2d (NHWC, no dilation) whose gradients are forward convolutions."""
    import tensorflow as tf

    @tf.custom_gradient
    def convolve(x, kernel):
        def gradients(dy):
            return (
                input_gradient(x, kernel, dy, stride, padding),
                filter_gradient(x, dy, (kernel.shape[0], kernel.shape[1]), stride, padding),
            )

        return tf.nn.conv2d(x, kernel, stride, padding.upper()), gradients

    return convolve(x, kernel)


@keras.saving.register_keras_serializable(package="stemgan")
class Conv2D(layers.Conv2D):
    """keras.layers.Conv2D, with gradients as forward convolutions on CPU (see the module). Same weights, same
    config: a model saved with it loads where stemgan is imported."""

    def convolution_op(self, inputs, kernel):
        square_strides = self.strides[0] == self.strides[1]
        plain = self.data_format == "channels_last" and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
        if not (forward_conv_gradients() and plain and square_strides and max(self.kernel_size) > 1):
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf

        return conv2d(inputs, tf.cast(kernel, inputs.dtype), self.strides[0], self.padding)


def conv2d_transpose(x, kernel, stride: int):
    """tf.nn.conv2d_transpose (NHWC, 'same': the output stride times the input) whose filter gradient is a
    forward convolution; its input gradient, conv2d(dy, kernel), is one already. pix2pix's 4x4 stride-2 one is
    itself computed as a forward convolution (`polyphase_input_gradient`: a transposed conv is that gradient)."""
    import tensorflow as tf

    @tf.custom_gradient
    def convolve(x, kernel):
        shape = tf.shape(x)
        output_shape = tf.stack([shape[0], shape[1] * stride, shape[2] * stride, kernel.shape[2]])

        def gradients(dy):
            # the transposed conv is the adjoint of conv2d(y, kernel): dy takes the input's place, x the output's
            return (
                tf.nn.conv2d(dy, kernel, stride, "SAME"),
                filter_gradient(dy, x, (kernel.shape[0], kernel.shape[1]), stride, "same"),
            )

        if pix2pix_geometry((kernel.shape[0], kernel.shape[1]), stride, "same"):
            upsampled = polyphase_input_gradient(kernel, x, (output_shape[1], output_shape[2]))
        else:
            upsampled = tf.nn.conv2d_transpose(x, kernel, output_shape, stride, "SAME")
        return upsampled, gradients

    return convolve(x, kernel)


@keras.saving.register_keras_serializable(package="stemgan")
class Conv2DTranspose(layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose ('same' padding), with its filter gradient as a forward convolution on CPU."""

    def call(self, inputs):
        square = self.strides[0] == self.strides[1] and max(self.kernel_size) > 1
        plain = self.data_format == "channels_last" and tuple(self.dilation_rate) == (1, 1)
        if not (forward_conv_gradients() and square and plain and self.padding == "same" and not self.output_padding):
            return super().call(inputs)
        import tensorflow as tf

        outputs = conv2d_transpose(inputs, tf.cast(self.kernel, inputs.dtype), self.strides[0])
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, outputs.dtype)
        return outputs if self.activation is None else self.activation(outputs)
