"""rnncourse_grader.codec: round trips of every node type, hostile trees, message framing."""
import base64
import collections
import io
import json
import math

import numpy as np
import pytest

from rnncourse.rnn import RNNParams, RNNStepCache
from rnncourse.text import Vocabulary
from rnncourse_grader import codec
from rnncourse_grader.codec import CodecError, Limits, Unsupported, decode, encode


def through_json(value, **kw):
    """encode -> JSON text -> decode, as across the channel."""
    return decode(json.loads(json.dumps(encode(value), allow_nan=False)), **kw)


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2 ** 80, 1.5, -0.0, 1e-300, "",
                                   "héllo\n\x00", (), [], {}])
def test_plain_values(value):
    out = through_json(value)
    assert type(out) is type(value) and out == value


def test_special_floats():
    out = through_json([float("nan"), float("inf"), -float("inf"), 0.1 + 0.2])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf
    assert out[3] == 0.1 + 0.2
    assert encode(float("nan")) == {"t": "float", "v": "nan"}


@pytest.mark.parametrize("arr", [
    np.arange(12, dtype=np.int64).reshape(3, 4),
    np.arange(6, dtype=np.int32),
    np.array([[np.nan, np.inf], [-np.inf, 1.0]]),
    np.ones((2, 3, 4), dtype=np.float32),
    np.zeros((0, 5)),
    np.array(3.0),                          # 0-d stays an array
    np.array([True, False]),
    np.arange(12.0).reshape(3, 4).T,        # not C-contiguous
    np.arange(10.0)[::3],
    np.array(["ab", "c"]),
])
def test_arrays(arr):
    out = through_json(arr)
    assert isinstance(out, np.ndarray) and out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    out[...] = out                          # writeable
    assert encode(arr)["t"] == "nd"


@pytest.mark.parametrize("scalar", [np.float64(2.5), np.float32(-1.25), np.int64(7), np.int8(-3),
                                    np.bool_(True), np.float64("nan")])
def test_numpy_scalars(scalar):
    tree = encode(scalar)
    assert tree["t"] == "npscalar"
    out = through_json(scalar)
    assert type(out) is type(scalar)
    assert out == scalar or (np.isnan(out) and np.isnan(scalar))


def test_list_and_tuple_kept_apart():
    out = through_json([1, (2, [3, (4,)])])
    assert out == [1, (2, [3, (4,)])] and isinstance(out[1], tuple) and isinstance(out[1][1], list)


def test_nested_dicts_with_int_and_tuple_keys():
    value = {0: {"a": 1, 2: [np.arange(3)]}, (1, "x"): None, 2.5: "f", None: True, True: 0,
             "deep": {"deeper": {3: np.eye(2)}}}
    out = through_json(value)
    assert list(out) == list(value)
    assert out[0]["a"] == 1 and np.array_equal(out[0][2][0], np.arange(3))
    assert out[(1, "x")] is None and out[2.5] == "f" and out[None] is True and out[True] == 0
    assert np.array_equal(out["deep"]["deeper"][3], np.eye(2))


def test_numpy_scalar_keys_become_python_keys():
    out = through_json({np.int64(3): "a", np.float64(0.5): "b"})
    assert out == {3: "a", 0.5: "b"} and type(list(out)[0]) is int


def test_dict_with_unsupported_key_is_unsupported():
    tree = encode({frozenset([1]): 1})
    assert tree["t"] == "unsupported" and "frozenset" in tree["type"]


def rnn_params(seed=0):
    rng = np.random.default_rng(seed)
    return RNNParams(U=rng.normal(size=(3, 2)), W=rng.normal(size=(3, 3)), b=rng.normal(size=3))


def test_rnn_params_namedtuple():
    p = rnn_params()
    tree = encode(p)
    assert tree["t"] == "namedtuple" and tree["cls"] == "rnncourse.rnn.RNNParams"
    assert tree["fields"] == ["U", "W", "b"]
    out = through_json(p)
    assert type(out) is RNNParams
    for a, b in zip(out, p):
        np.testing.assert_array_equal(a, b)


def test_rnn_step_cache_with_nested_params():
    p = rnn_params(1)
    cache = RNNStepCache(x=np.ones((4, 2)), h_prev=np.zeros((4, 3)), h_next=np.full((4, 3), 0.5),
                         params=p, activation="tanh")
    out = through_json(cache)
    assert type(out) is RNNStepCache and type(out.params) is RNNParams
    assert out.activation == "tanh"
    np.testing.assert_array_equal(out.h_next, cache.h_next)
    np.testing.assert_array_equal(out.params.W, p.W)


def test_unknown_namedtuple_becomes_collections_namedtuple():
    Point = collections.namedtuple("Point", ["x", "y"])
    out = through_json(Point(1, np.arange(2)))
    assert type(out) is not Point and out._fields == ("x", "y") and type(out).__name__ == "Point"
    assert out.x == 1 and np.array_equal(out.y, np.arange(2))


def test_namedtuple_with_fields_of_another_class_is_not_that_class():
    tree = {"t": "namedtuple", "cls": "rnncourse.rnn.RNNParams", "fields": ["A", "B"],
            "items": [{"t": "int", "v": 1}, {"t": "int", "v": 2}]}
    out = decode(tree)
    assert type(out) is not RNNParams and out._fields == ("A", "B")


def test_namedtuple_with_bad_field_names_is_a_plain_tuple():
    tree = {"t": "namedtuple", "cls": "x.Y", "fields": ["not valid", "class"],
            "items": [{"t": "int", "v": 1}, {"t": "int", "v": 2}]}
    out = decode(tree)
    assert type(out) is tuple and out == (1, 2)


def test_vocabulary_dataclass():
    vocab = Vocabulary.from_text("hello world\n")
    tree = encode(vocab)
    assert tree["t"] == "dataclass" and tree["cls"] == "rnncourse.text.Vocabulary"
    assert set(tree["fields"]) == {"chars", "eos"}         # init fields only
    out = through_json(vocab)
    assert type(out) is Vocabulary and out == vocab
    assert out.encode("hello") is not None and out.size == vocab.size


def test_dataclass_outside_rnncourse_is_unsupported():
    import dataclasses

    @dataclasses.dataclass
    class Mine:
        a: int = 1
    out = through_json(Mine())
    assert isinstance(out, Unsupported) and "Mine" in repr(out)


def test_generator_state_gives_the_same_draws():
    rng = np.random.default_rng(1234)
    rng.normal(size=3)
    out = through_json(rng)
    assert isinstance(out, np.random.Generator) and out is not rng
    np.testing.assert_array_equal(out.normal(size=5), rng.normal(size=5))
    np.testing.assert_array_equal(out.integers(0, 100, size=5), rng.integers(0, 100, size=5))


@pytest.mark.parametrize("bitgen", ["MT19937", "Philox", "SFC64", "PCG64DXSM"])
def test_other_bit_generators(bitgen):
    rng = np.random.Generator(getattr(np.random, bitgen)(7))
    out = through_json(rng)
    assert type(out.bit_generator).__name__ == bitgen
    np.testing.assert_array_equal(out.random(4), rng.random(4))


def test_callables_are_registered_and_proxied():
    calls = []

    def f(x):
        return x * 2
    callables = {}
    tree = encode({"f": f, "g": [len]}, callables)
    assert tree["items"][0][1] == {"t": "callable", "id": 1}
    assert callables == {1: f, 2: len}

    def callback(key, args, kwargs):
        calls.append((key, args, kwargs))
        return callables[key](*args, **kwargs)
    out = decode(json.loads(json.dumps(tree)), callback=callback)
    assert out["f"](21) == 42 and out["g"][0]("abc") == 3
    assert calls == [(1, (21,), {}), (2, ("abc",), {})]


def test_callable_without_callback_is_an_error():
    with pytest.raises(CodecError, match="callable"):
        decode({"t": "callable", "id": 1})


def test_callable_without_registry_is_unsupported():
    assert encode(print)["t"] == "unsupported"


def test_unsupported_values():
    gen = (i for i in range(3))
    tree = encode(gen)
    assert tree["t"] == "unsupported" and tree["type"] == "generator"
    out = through_json([gen, object(), np.array([1, None], dtype=object)])
    assert all(isinstance(o, Unsupported) for o in out)
    assert "generator" in repr(out[0]) and "object" in repr(out[2])
    assert out[0] != out[1] and out[0] == out[0]


def test_unsupported_repr_is_cut():
    class Long:
        def __repr__(self):
            return "x" * 10_000
    tree = encode(Long())
    assert len(tree["repr"]) == 200


def test_hostile_repr_does_not_break_encoding():
    class Bad:
        def __repr__(self):
            raise RuntimeError("no")
    assert encode(Bad()) == {"t": "unsupported", "type": Bad.__module__ + "." + Bad.__qualname__,
                             "repr": ""}


def test_self_referencing_list_is_cut_at_the_depth_limit():
    a = []
    a.append(a)
    out = through_json(a)
    depth = 0
    while isinstance(out, list):
        out, depth = out[0], depth + 1
    assert isinstance(out, Unsupported) and depth == Limits().depth


def test_encode_refuses_too_many_parts():
    with pytest.raises(CodecError, match="parts"):
        encode(list(range(100)), limits=Limits(nodes=50))
    with pytest.raises(CodecError, match="bytes"):
        encode([np.zeros(100), np.zeros(100)], limits=Limits(array_bytes=1000))


# ---------------------------------------------------------------------------- hostile trees
def test_object_dtype_npy_refused():
    tree = {"t": "nd", "npy": npy(np.array([1, {"a": 2}], dtype=object), allow_pickle=True)}
    with pytest.raises(CodecError, match="object"):
        decode(tree)


def test_structured_dtype_with_objects_refused():
    arr = np.zeros(2, dtype=[("a", "f8"), ("b", "O")])
    with pytest.raises(CodecError, match="object"):
        decode({"t": "nd", "npy": npy(arr, allow_pickle=True)})


def test_raw_pickle_and_npz_refused():
    import pickle
    for raw in (pickle.dumps(np.arange(3)), b"PK\x03\x04" + b"\x00" * 40, b""):
        with pytest.raises(CodecError):
            decode({"t": "nd", "npy": base64.b64encode(raw).decode()})


def test_bad_base64_refused():
    with pytest.raises(CodecError, match="base64"):
        decode({"t": "nd", "npy": "not base64!!"})
    with pytest.raises(CodecError):
        decode({"t": "nd", "npy": 12})


def test_npy_header_announcing_more_data_refused():
    raw = base64.b64decode(npy(np.zeros(4)))
    header_big = raw.replace(b"'shape': (4,), ", b"'shape': (10000000000000,), ")
    assert header_big != raw
    with pytest.raises(CodecError):
        decode({"t": "nd", "npy": base64.b64encode(header_big).decode()})
    cut = bytes(raw)[:-8]
    with pytest.raises(CodecError, match="bytes"):
        decode({"t": "nd", "npy": base64.b64encode(cut).decode()})


def test_npscalar_must_be_zero_d():
    with pytest.raises(CodecError, match="npscalar"):
        decode({"t": "npscalar", "npy": npy(np.arange(3))})


def test_huge_depth_refused():
    tree = {"t": "none"}
    for _ in range(1000):
        tree = {"t": "list", "items": [tree]}
    with pytest.raises(CodecError, match="deeper"):
        decode(tree)
    shallow = {"t": "list", "items": [{"t": "list", "items": []}]}
    assert decode(shallow, limits=Limits(depth=1)) == [[]]
    with pytest.raises(CodecError):
        decode(shallow, limits=Limits(depth=0))


def test_node_and_array_limits():
    tree = {"t": "list", "items": [{"t": "none"}] * 100}
    with pytest.raises(CodecError, match="parts"):
        decode(tree, limits=Limits(nodes=50))
    arrays = {"t": "list", "items": [{"t": "nd", "npy": npy(np.zeros(1000))}] * 3}
    assert len(decode(arrays)) == 3
    with pytest.raises(CodecError, match="bytes"):
        decode(arrays, limits=Limits(array_bytes=20_000))


def test_zero_itemsize_arrays_count_their_elements():
    arr = np.zeros(1000, dtype="V0")
    assert decode({"t": "nd", "npy": npy(arr)}).shape == (1000,)
    with pytest.raises(CodecError, match="bytes"):
        decode({"t": "nd", "npy": npy(arr)}, limits=Limits(array_bytes=100))


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "subprocess.Popen",
                                  "rnncourse.rnn.__class__", "rnncourse.rnn.__builtins__",
                                  "rnncourse.rnn.np", "rnncourse.rnn.rnn_step_forward",
                                  "rnncourse.nosuchmodule.X", "rnncourse..X", "rnncourse",
                                  "rnncourse.rnn.RNNParams.__init__", 17, None])
def test_unknown_class_names_are_not_resolved(name):
    nt = {"t": "namedtuple", "cls": name, "fields": ["a"], "items": [{"t": "int", "v": 1}]}
    out = decode(nt)
    assert type(out).__module__ == "rnncourse_grader.codec" or type(out) is tuple
    assert tuple(out) == (1,)
    dc = {"t": "dataclass", "cls": name, "fields": {"command": {"t": "str", "v": "echo hi"}}}
    assert isinstance(decode(dc), Unsupported)


def test_dataclass_with_unknown_or_invalid_fields():
    tree = {"t": "dataclass", "cls": "rnncourse.text.Vocabulary",
            "fields": {"chars": {"t": "tuple", "items": []}, "_index": {"t": "none"}}}
    with pytest.raises(CodecError, match="unknown fields"):
        decode(tree)
    tree["fields"] = {"chars": {"t": "tuple", "items": [{"t": "str", "v": "ab"}]}}
    with pytest.raises(CodecError, match="Vocabulary"):
        decode(tree)


@pytest.mark.parametrize("tree", [
    None, 3, "none", [], {}, {"t": 3}, {"t": "what"}, {"t": "__class__"},
    {"t": "int", "v": "3"}, {"t": "int", "v": True}, {"t": "int", "v": 1.5},
    {"t": "bool", "v": 1}, {"t": "str", "v": None},
    {"t": "float", "v": 1.5}, {"t": "float", "v": "1e400x"}, {"t": "float", "v": "1" * 100},
    {"t": "float", "v": "__import__('os')"},
    {"t": "list"}, {"t": "list", "items": {}}, {"t": "tuple", "items": [1]},
    {"t": "dict", "items": [[{"t": "none"}]]},
    {"t": "dict", "items": [[{"t": "list", "items": []}, {"t": "none"}]]},
    {"t": "dict", "items": [[{"t": "nd", "npy": npy(np.zeros(1))}, {"t": "none"}]]},
    {"t": "namedtuple", "cls": "rnncourse.rnn.RNNParams", "fields": ["U"], "items": []},
    {"t": "rng", "state": {"bit_generator": "os.system"}},
    {"t": "rng", "state": {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1}}},
    {"t": "rng", "state": {"bit_generator": "PCG64", "state": {"state": 1.5, "inc": 1}}},
    {"t": "rng", "state": "PCG64"},
    {"t": "dataclass", "cls": "rnncourse.text.Vocabulary", "fields": []},
    {"t": "callable", "id": "1"},
])
def test_malformed_trees_raise_codec_error(tree):
    with pytest.raises(CodecError):
        decode(tree, callback=lambda *a: None)


def test_codec_error_is_a_value_error():
    assert issubclass(CodecError, ValueError)


# ---------------------------------------------------------------------------- framing
def test_message_round_trip():
    buf = io.BytesIO()
    msgs = [{"op": "run", "code": "print('é')"}, {"value": encode(np.arange(3))}, [1, 2], "x"]
    for m in msgs:
        codec.write_message(buf, m)
    data = buf.getvalue()
    first = json.dumps(msgs[0], separators=(",", ":")).encode()
    assert data[:8] == b"%08x" % len(first) and data[8:8 + len(first)] == first
    buf.seek(0)
    assert [codec.read_message(buf) for _ in msgs] == msgs
    with pytest.raises(EOFError):
        codec.read_message(buf)


def test_write_refuses_non_json():
    with pytest.raises(CodecError):
        codec.write_message(io.BytesIO(), {"x": float("nan")})
    with pytest.raises(CodecError):
        codec.write_message(io.BytesIO(), {"x": object()})


class Trickle(io.RawIOBase):
    """A pipe that returns at most 3 bytes per read."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def readable(self):
        return True

    def read(self, n=-1):
        return self.data.read(min(n, 3))


def test_short_reads_are_retried():
    buf = io.BytesIO()
    codec.write_message(buf, {"a": list(range(50))})
    assert codec.read_message(Trickle(buf.getvalue())) == {"a": list(range(50))}


@pytest.mark.parametrize("data, match", [
    (b"0000zzzz{}", "header"),
    (b"-0000001{}", "header"),
    (b"0x000002{}", "header"),
    (b" 0000002{}", "header"),
    (b"0000", "header"),
    (b"00000010{}", "cut short"),
    (b"00000002{x", "JSON"),
    (b"00000002\xff\xfe", "JSON"),
    (b"ffffffff", "bytes"),
])
def test_bad_messages(data, match):
    with pytest.raises(CodecError, match=match):
        codec.read_message(io.BytesIO(data))


def test_oversize_message_refused_before_reading_it():
    buf = io.BytesIO()
    codec.write_message(buf, {"x": "a" * 1000})
    buf.seek(0)
    with pytest.raises(CodecError, match="at most 100"):
        codec.read_message(buf, max_bytes=100)
    assert buf.tell() == 8


def test_deeply_nested_json_is_a_codec_error():
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(CodecError):
        codec.read_message(io.BytesIO(b"%08x" % len(body) + body))


def test_classes_of_the_graders_private_copy_travel_as_rnncourse_classes():
    """checks.py builds its cases with rnncourse.grading.private_rnncourse(): its Vocabulary and
    NamedTuples must arrive in the worker as the course's own classes (not Unsupported)."""
    import rnncourse.grading as grading
    import rnncourse.rnn
    import rnncourse.text
    rc = grading.private_rnncourse()
    vocab = rc.text.Vocabulary.from_text("ab\n")
    tree = codec.encode(vocab)
    assert tree["cls"] == "rnncourse.text.Vocabulary"
    back = codec.decode(tree)
    assert type(back) is rnncourse.text.Vocabulary and back.chars == vocab.chars
    params = codec.decode(codec.encode(rc.rnn.RNNParams(np.ones(2), np.ones(2), np.ones(2))))
    assert type(params) is rnncourse.rnn.RNNParams
