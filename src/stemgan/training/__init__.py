"""Training drivers: data pipelines (tf.data), callbacks, resumable runs."""
