"""Names of the inpainting methods and of the ways the model runs (light: no torch)."""

METHODS = ("model", "memory", "lastseen", "telea")
BACKENDS = ("auto", "eager", "compile", "onnx", "openvino")  # how the model runs (engine/backends.py)
