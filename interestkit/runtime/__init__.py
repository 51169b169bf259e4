"""Inference without TensorFlow: exported model graphs run on ONNX Runtime."""
