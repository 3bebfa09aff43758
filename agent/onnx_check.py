"""Refuse an ONNX model whose tensors live outside it, before ONNX Runtime sees the model.

A tensor of an ONNX model may name a file holding its values (``data_location: EXTERNAL`` with a
``location``), and ONNX Runtime reads such a file when it loads the model. A model sent to the agent
must carry every value itself, so the agent never reads a file a request names: recent ONNX Runtime
releases refuse absolute and escaping paths, older ones (as on a device) may not, and even a path
inside the agent's working directory is none of a request's business. The ``onnx`` package is not
needed: this walks the protobuf wire format of the messages that can hold tensors (the graph, its
nodes' attributes, sub-graphs, functions, training graphs) and stops at the first external tensor.
"""

from __future__ import annotations

__all__ = ["ModelRefused", "check_model"]

#: Nested graphs deeper than this are refused (a model nests a few levels at most).
MAX_DEPTH = 32

# Message kinds and, per kind, the fields (number -> kind) that hold messages worth descending into.
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _TENSOR, _SPARSE, _TRAINING, _FUNCTION = range(8)
_CHILDREN: dict[int, dict[int, int]] = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _TENSOR: {},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _FUNCTION: {7: _NODE, 11: _ATTRIBUTE},
}
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _EXTERNAL = 13, 14, 1


class ModelRefused(ValueError):
    """The bytes are not an ONNX model the agent loads; the message says why, in one clause."""


def check_model(data: bytes) -> None:
    """Raise :class:`ModelRefused` unless ``data`` is a protobuf ``ModelProto`` with no external tensor.

    Only the structure is checked; whether ONNX Runtime can run the model is for it to say.
    """
    if not data:
        raise ModelRefused("the model is empty")
    _walk(memoryview(data), _MODEL, 0)


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ModelRefused("not an ONNX model (malformed protobuf varint)")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _walk(buf: memoryview, kind: int, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ModelRefused(f"the model nests graphs deeper than {MAX_DEPTH} levels")
    children = _CHILDREN[kind]
    pos, end = 0, len(buf)
    location: int | None = None
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ModelRefused("not an ONNX model (protobuf field number 0)")
        if wire == 0:
            value, pos = _varint(buf, pos)
            if kind == _TENSOR and field == _TENSOR_DATA_LOCATION:
                location = value
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise ModelRefused("not an ONNX model (a protobuf field runs past the end)")
            if kind == _TENSOR and field == _TENSOR_EXTERNAL_DATA:
                raise ModelRefused("a tensor of the model refers to external data (a file); send self-contained models")
            child = children.get(field)
            if child is not None:
                _walk(buf[pos : pos + length], child, depth + 1)
            pos += length
        else:  # 3 and 4: groups, which ONNX never uses; 6 and 7 do not exist
            raise ModelRefused(f"not an ONNX model (protobuf wire type {wire})")
        if pos > end:
            raise ModelRefused("not an ONNX model (a protobuf field runs past the end)")
    if location == _EXTERNAL:
        raise ModelRefused(
            "a tensor of the model is stored externally (data_location EXTERNAL); send self-contained models"
        )
