"""ONNX models from files, run with onnxruntime: only self-contained ones. A tensor whose data
lives in another file (``data_location: EXTERNAL``) would make onnxruntime open that path (relative
to the working directory when the model comes as bytes), so a model from a file could read any
file the process can; such models are refused before onnxruntime sees them."""

from __future__ import annotations

from typing import Any

from vidlearn.errors import first_line

__all__ = ["external_data_problem", "onnx_session"]


def external_data_problem(model_bytes: bytes) -> str | None:
    """Why an ONNX model must not be run, or None when it is self-contained: it is not ONNX, or a
    tensor anywhere in it (initializers, constants, subgraphs) keeps its data in another file."""
    import onnx
    from onnx import TensorProto

    try:
        model = onnx.ModelProto.FromString(model_bytes)  # parses only: external data is not loaded
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends: "not ONNX"
        return f"not an ONNX model ({first_line(exc)})"
    graphs = [model.graph]
    while graphs:  # the main graph and every subgraph (If/Loop/Scan bodies)
        graph = graphs.pop()
        tensors = list(graph.initializer) + [t for s in graph.sparse_initializer for t in (s.values, s.indices)]
        for node in graph.node:
            for attr in node.attribute:
                tensors += ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
                sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors)
                tensors += [t for s in sparse for t in (s.values, s.indices)]
                graphs += ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
        for t in tensors:
            if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
                where = next((e.value for e in t.external_data if e.key == "location"), "?")
                return f"tensor {t.name!r} keeps its data in another file ({where!r}); models with external data are refused"
    return None



def onnx_session(model_bytes: bytes) -> Any:
    """An onnxruntime session (CPU, one thread) over a self-contained ONNX model held in memory;
    ValueError for a model with external data (see :func:`external_data_problem`)."""
    import onnxruntime as ort

    problem = external_data_problem(model_bytes)
    if problem:
        raise ValueError(problem)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
