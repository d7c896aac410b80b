"""Every registered model exports to ONNX (opset 17) and onnxruntime reproduces its output."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from vidlearn.models import list_models


@pytest.mark.parametrize("name", list_models())
def test_onnx_export_matches_onnxruntime(name: str, zoo) -> None:
    model = zoo.randomize(zoo.tiny_model(name, num_classes=3)).eval()
    x1 = zoo.tiny_input(model, batch=1)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks evaluated at export time
        torch.onnx.export(
            model,
            (x1,),
            buf,
            opset_version=17,
            dynamo=False,
            input_names=["video"],
            output_names=["logits"],
            dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}},
        )
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    # exported with batch 1, run with batch 3: the batch axis is really dynamic
    x3 = zoo.tiny_input(model, batch=3)
    (got,) = session.run(None, {"video": x3.numpy()})
    with torch.no_grad():
        expected = model(x3).numpy()
    assert got.shape == (3, 3)
    assert expected.std() > 1e-2  # outputs of order one, so the comparison below means something
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
