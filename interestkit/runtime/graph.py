"""One ONNX graph on ONNX Runtime's CPU provider: a session, run in batches."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ModelError

BATCH = 256
THREADS_ENV = "INTERESTKIT_ONNX_THREADS"
_DTYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}


def session(path: Path):
    """An ONNX Runtime CPU session; ``INTERESTKIT_ONNX_THREADS`` sets its intra-op threads (default: all cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = os.environ.get(THREADS_ENV, "").strip()
    if threads:
        if not threads.isdigit():
            raise ModelError(f"{THREADS_ENV}={threads!r}: expected a whole number of threads")
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    # threads that spin while waiting for work take cores from everything else on a shared
    # machine (a Spark executor's other tasks, the server's event loop)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: ONNX Runtime cannot load the graph ({str(error).splitlines()[0]})") from None


class Graph:
    """One ONNX graph with a single input and a single output, run in batches."""

    def __init__(self, path: Path):
        self.session = session(path)
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name
        shape = self.session.get_inputs()[0].shape
        #: token ids of any length (captions): a batch is cut to its longest sentence
        self.any_length = len(shape) == 2 and not isinstance(shape[1], int)
        #: the input's numpy type (token ids: int32 or int64, as the exporter wrote them)
        self.dtype = _DTYPES.get(self.session.get_inputs()[0].type)

    def __call__(self, inputs: np.ndarray, batch: int = BATCH) -> np.ndarray:
        inputs = np.asarray(inputs)
        if self.dtype is not None and inputs.dtype != self.dtype:
            inputs = inputs.astype(self.dtype)
        parts = [self.session.run([self.output], {self.input: inputs[start:start + batch]})[0]
                 for start in range(0, len(inputs), batch)]
        return np.concatenate(parts).astype(np.float32, copy=False)
