"""eeg-edge calibration: ONNX export, INT8 QDQ quantization, TensorRT build, parity gates."""
