"""2-D convolutions whose gradients run as forward convolutions on CPU (issue 14).

TensorFlow's CPU kernels for a convolution's gradients (Conv2DBackpropFilter, Conv2DBackpropInput: Eigen, with
or without oneDNN) are far slower than its forward kernel (oneDNN). On a 2-vCPU Zen 3, one thread, batch 8: the
PatchGAN's last layer (16² px, 128 -> 1 channels, 4x4) takes 15-31 ms for its filter gradient and 2.3 ms as a
forward convolution; its 64 -> 128 layer 15.7 -> 7.5 ms (filter) and 14.0 -> 7.5 ms (input); the strided 4x4
layers 1.3-1.7x. Both gradients are convolutions themselves, so they are computed as forward ones:
- filter gradient: the padded input correlated with the output gradient, the batch as the channels
  (input (C_in, H, W, batch) * filter (H_out, W_out, batch, C_out), dilated by the stride);
- input gradient (stride 1): the output gradient convolved with the flipped, transposed kernel.
Same values up to float rounding (relative ~1e-6). On a GPU, under another backend, or for 1x1 kernels (where
the built-in gradients are as fast), the layers are Keras' own.
"""

from __future__ import annotations

import functools

import keras
from keras import layers


@functools.lru_cache(maxsize=None)
def forward_conv_gradients() -> bool:
    """Whether this process computes convolution gradients as forward convolutions: TensorFlow on a CPU only."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def same_padding(size, kernel: int, stride: int):
    """(before, after) padding of TensorFlow's 'SAME' along an axis of `size` (an int or a scalar tensor)."""
    import tensorflow as tf

    out = -(-size // stride)
    total = tf.maximum((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def filter_gradient(x, dy, kernel_hw: tuple[int, int], stride: int, padding: str):
    """d loss / d kernel of conv2d(x, kernel, stride, padding), (k_h, k_w, C_in, C_out), from the output
    gradient dy: one forward convolution (input and output gradient swap their batch and channel axes)."""
    import tensorflow as tf

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
    flipped kernel (C_in and C_out swapped), else TensorFlow's own."""
    import tensorflow as tf

    k_h, k_w = kernel.shape[0], kernel.shape[1]
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
    forward convolution; its input gradient, conv2d(dy, kernel), is one already."""
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

        return tf.nn.conv2d_transpose(x, kernel, output_shape, stride, "SAME"), gradients

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
