"""nnpy.export against real consumers: ONNX files run in onnxruntime, C headers compiled by the
system's C compiler, both compared with `predict` / `predict_proba`."""
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nnpy
from nnpy import _model
from nnpy.export import ONNX_IR_VERSION, ONNX_OPSET, to_c, to_onnx


# (hidden activation, output) pairs: every activation and output of nnpy's table, each hidden
# one with each output
PAIRS = [(hidden, output) for hidden in _model.HIDDEN for output in _model.OUTPUTS]


def network(hidden, output, sizes=(4, 6, 5, 3), dtype=np.float64, seed=0, scale=1.0):
    """A Network with the given activations and N(0, scale) weights."""
    net = nnpy.Network(list(sizes), activation=hidden, output=output, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    net.weights = [rng.normal(0, scale, w.shape) for w in net.weights]
    net.biases = [rng.normal(0, scale, b.shape) for b in net.biases]
    return net


def inputs(n_in, n=50, seed=1, dtype=np.float64):
    return np.random.default_rng(seed).normal(0, 2.0, (n, n_in)).astype(dtype)


# absolute and relative: outputs reach 50 and more, and products summed in another order (SIMD
# lanes, blocks) differ there by a float ulp or two
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


# ---------------------------------------------------------------------------------------------
# ONNX in onnxruntime
# ---------------------------------------------------------------------------------------------

def session(model, **options):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    buffer = io.BytesIO()
    to_onnx(model, buffer, **options)
    return ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden, output", PAIRS)
def test_onnxruntime_computes_predict(hidden, output, dtype):
    net = network(hidden, output, dtype=dtype)
    run = session(net)
    (x,), (y,) = run.get_inputs(), run.get_outputs()
    element = "tensor(double)" if dtype == np.float64 else "tensor(float)"
    assert (x.name, x.type, x.shape[1]) == ("X", element, 4)
    assert (y.name, y.type, y.shape[1]) == ("output", element, 3)
    X = inputs(4, dtype=dtype)
    out = run.run(None, {"X": X})[0]
    assert out.dtype == dtype
    expected = net.predict(X)
    if output == "exp":   # exp(z) turns an error e in z into a relative one of e: compare the z
        out, expected = np.log(out), np.log(expected)
    np.testing.assert_allclose(out, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("sizes", [(3, 1), (2, 7, 1), (5, 3, 3, 3, 3, 2)])
def test_onnx_shapes(sizes):
    net = network("sigmoid", "sigmoid", sizes=sizes)
    X = inputs(sizes[0], n=1)            # one row, and many
    np.testing.assert_allclose(session(net).run(None, {"X": X})[0], net.predict(X), atol=1e-12)
    X = inputs(sizes[0], n=300)
    np.testing.assert_allclose(session(net).run(None, {"X": X})[0], net.predict(X), atol=1e-12)


def test_onnx_float_export_of_a_double_network():
    net = network("sigmoid", "softmax")
    run = session(net, dtype=np.float32)
    assert run.get_inputs()[0].type == "tensor(float)"
    X = inputs(4, dtype=np.float32)
    np.testing.assert_allclose(run.run(None, {"X": X})[0], net.predict(X.astype(np.float64)),
                               atol=1e-5)


def test_onnx_file_opset_and_checker(tmp_path):
    onnx = pytest.importorskip("onnx")
    net = network("sigmoid", "softmax")
    returned = to_onnx(net, tmp_path / "net.onnx")
    model = onnx.load(str(tmp_path / "net.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model == returned
    assert model.ir_version == ONNX_IR_VERSION
    assert [(o.domain, o.version) for o in model.opset_import] == [("", ONNX_OPSET)]
    assert {n.op_type for n in model.graph.node} == {"Gemm", "Sigmoid", "Softmax", "Identity"}
    assert model.producer_name == "nnpy"


def test_onnx_extreme_inputs_stay_finite():
    net = network("sigmoid", "softmax", scale=30.0)
    X = inputs(4) * 100
    out = session(net).run(None, {"X": X})[0]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, net.predict(X), atol=1e-12)


def test_to_onnx_refuses_what_is_not_a_model():
    pytest.importorskip("onnx")
    with pytest.raises(TypeError, match="nnpy.Network or a fitted"):
        to_onnx([[1.0]], io.BytesIO())
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        to_onnx(nnpy.Network([2, 1]), io.BytesIO(), dtype=np.int32)


# ---- the estimators -------------------------------------------------------------------------

def fitted(kind, y, **params):
    """A fitted NNClassifier / NNRegressor on 60 random samples (skipped before issue 10's
    estimators, which keep their network in `network_`)."""
    pytest.importorskip("sklearn")
    from nnpy import estimators
    if "solver" not in getattr(estimators, kind)().get_params():
        pytest.skip("these estimators predate issue 10 (scikit-learn's MLP parameters)")
    X = inputs(4, n=len(y))
    model = getattr(estimators, kind)(hidden_layer_sizes=(6,), max_iter=30, random_state=0,
                                      **params)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # ConvergenceWarning: 30 iterations are plenty
        model.fit(X, y)
    return model, X


LABELS = {"int": np.array([3, 7, 11]), "str": np.array(["cat", "dog", "emu"]),
          "float": np.array([1.0, 2.0, 4.0])}   # integral: scikit-learn refuses others


@pytest.mark.parametrize("labels", list(LABELS))
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_onnx_classifier_as_skl2onnx(labels, n_classes, activation):
    rng = np.random.default_rng(0)
    y = LABELS[labels][:n_classes][rng.integers(0, n_classes, 60)]
    clf, X = fitted("NNClassifier", y, activation=activation)
    assert clf.out_activation_ == ("logistic" if n_classes == 2 else "softmax")
    run = session(clf)
    assert [o.name for o in run.get_outputs()] == ["label", "probabilities"]
    assert run.get_outputs()[1].type == "tensor(double)"
    label, proba = run.run(None, {"X": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-12)
    expected = clf.predict(X)
    if labels == "str":
        assert run.get_outputs()[0].type == "tensor(string)"
        assert label.tolist() == expected.tolist()
    else:
        assert run.get_outputs()[0].type == ("tensor(int64)" if labels == "int" else
                                             "tensor(double)")
        assert label.dtype == (np.int64 if labels == "int" else np.float64)
        np.testing.assert_array_equal(label, expected)


def test_onnx_bool_labels_and_float32():
    y = np.random.default_rng(0).random(60) < 0.5
    clf, X = fitted("NNClassifier", y, dtype=np.float32)
    run = session(clf)
    assert [o.type for o in run.get_outputs()] == ["tensor(bool)", "tensor(float)"]
    label, proba = run.run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-5)
    # near p = 0.5 float rounding may differ; elsewhere the labels agree
    sure = np.abs(proba[:, 1] - 0.5) > 1e-4
    np.testing.assert_array_equal(label[sure], clf.predict(X)[sure])


def test_onnx_multilabel_classifier():
    rng = np.random.default_rng(0)
    Y = (rng.random((60, 3)) < 0.5).astype(int)
    clf, X = fitted("NNClassifier", Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    label, proba = session(clf).run(None, {"X": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-12)
    assert label.dtype == np.int64 and label.shape == (60, 3)
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize("n_targets", [1, 2])
def test_onnx_regressor(n_targets):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(60, n_targets)) * 5
    reg, X = fitted("NNRegressor", y.ravel() if n_targets == 1 else y)
    run = session(reg)
    (out,) = run.get_outputs()
    assert out.name == "variable"
    result = run.run(None, {"X": X})[0]
    np.testing.assert_allclose(result, np.reshape(reg.predict(X), (60, n_targets)), atol=1e-12)


def test_onnx_unfitted_estimator():
    pytest.importorskip("onnx")
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError
    from nnpy.estimators import NNClassifier
    with pytest.raises(NotFittedError):
        to_onnx(NNClassifier(), io.BytesIO())


# ---- optional dependency ------------------------------------------------------------------

def test_import_nnpy_export_imports_no_onnx():
    code = ("import sys, nnpy, nnpy.export, nnpy.io\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('onnx', 'onnxruntime', 'sklearn')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_to_onnx_without_onnx_says_what_to_install(tmp_path):
    from test_optional_imports import blocked_env, run
    done = run("import nnpy, nnpy.export\n"
               "try:\n    nnpy.export.to_onnx(nnpy.Network([2, 1]), 'x.onnx')\n"
               "except ImportError as e:\n    print(e)\n", blocked_env(tmp_path, "onnx"))
    assert 'pip install "nnpy-net[onnx]"' in done.stdout, done.stderr


# ---------------------------------------------------------------------------------------------
# C headers compiled with cc
# ---------------------------------------------------------------------------------------------

CC = shutil.which(os.environ.get("CC", "cc"))
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]


def c_literal(value, dtype):
    if dtype == np.float32:
        return np.format_float_scientific(np.float32(value), unique=True) + "f"
    return repr(float(value))


def compile_and_run(tmp_path, headers, X, dtype, extra_sources=(), extra_flags=()):
    """Compiles a program that includes `headers` ({name: header path}), runs each network's
    NAME_predict on every row of X and returns {name: outputs (n, n_out)}."""
    T = "float" if dtype == np.float32 else "double"
    rows = ",\n".join("    {" + ", ".join(c_literal(v, dtype) for v in row) + "}"
                      for row in X)
    lines = ["#include <stdio.h>"] + [f'#include "{path}"' for path in headers.values()]
    lines += [f"static const {T} inputs[{len(X)}][{X.shape[1]}] = {{\n{rows}\n}};",
              "int main(void)", "{", "    int i, k;"]
    for name in headers:
        upper = name.upper()
        lines += [f"    for (i = 0; i < {len(X)}; ++i) {{",
                  f"        {T} y[{upper}_N_OUTPUTS];",
                  f"        {name}_predict(inputs[i], y);",
                  f"        for (k = 0; k < {upper}_N_OUTPUTS; ++k)",
                  f'            printf("%.17g ", (double)y[k]);',
                  f'        printf("\\n");',
                  f"    }}"]
    lines += ["    return 0;", "}", ""]
    (tmp_path / "main.c").write_text("\n".join(lines))
    sources = [str(tmp_path / "main.c")] + [str(s) for s in extra_sources]
    done = subprocess.run([CC, *CFLAGS, *extra_flags, "-o", str(tmp_path / "main"), *sources,
                           "-lm"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ran = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    results = {}
    for k, name in enumerate(headers):
        block = lines[k * len(X):(k + 1) * len(X)]
        results[name] = np.array([[float(v) for v in line.split()] for line in block])
    return results


@needs_cc
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden, output", PAIRS)
def test_c_header_computes_predict(tmp_path, hidden, output, dtype):
    net = network(hidden, output, dtype=dtype)
    to_c(net, tmp_path / "net.h", name="net")
    X = inputs(4, dtype=dtype)
    out = compile_and_run(tmp_path, {"net": tmp_path / "net.h"}, X, dtype)["net"]
    expected = net.predict(X)
    if output == "exp":   # exp(z) turns an error e in z into a relative one of e: compare the z
        out, expected = np.log(out), np.log(expected)
    np.testing.assert_allclose(out, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@needs_cc
@pytest.mark.parametrize("sizes", [(3, 1), (1, 1), (2, 9, 1), (5, 4, 7, 3, 2)])
def test_c_header_shapes(tmp_path, sizes):
    net = network("sigmoid", "sigmoid", sizes=sizes)
    to_c(net, tmp_path / "net.h")
    X = inputs(sizes[0], n=10)
    out = compile_and_run(tmp_path, {"nnpy_net": tmp_path / "net.h"}, X, np.float64)
    np.testing.assert_allclose(out["nnpy_net"], net.predict(X), rtol=0, atol=1e-12)


@needs_cc
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_c_sigmoid_and_softmax_do_not_overflow(tmp_path, dtype):
    net = network("sigmoid", "softmax", dtype=dtype, scale=40.0)
    to_c(net, tmp_path / "net.h", name="big")
    X = inputs(4, dtype=dtype) * 50
    out = compile_and_run(tmp_path, {"big": tmp_path / "net.h"}, X, dtype)["big"]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, net.predict(X), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@needs_cc
def test_two_headers_in_one_program_and_one_header_in_two_files(tmp_path):
    a = network("sigmoid", "sigmoid", sizes=(4, 3, 2), seed=1)
    b = network("sigmoid", "softmax", sizes=(4, 5, 3), seed=2)
    to_c(a, tmp_path / "a.h", name="model_a")
    to_c(b, tmp_path / "b.h", name="model_b")
    # a second translation unit including the same header: static inline, so it links
    (tmp_path / "other.c").write_text(f'#include "{tmp_path / "a.h"}"\n'
                                      f'#include "{tmp_path / "a.h"}"\n'   # include guard
                                      "double other(const double *x);\n"
                                      "double other(const double *x)\n{\n"
                                      "    double y[MODEL_A_N_OUTPUTS];\n"
                                      "    model_a_predict(x, y);\n    return y[0];\n}\n")
    X = inputs(4, n=8)
    out = compile_and_run(tmp_path, {"model_a": tmp_path / "a.h", "model_b": tmp_path / "b.h"},
                          X, np.float64, extra_sources=[tmp_path / "other.c"])
    np.testing.assert_allclose(out["model_a"], a.predict(X), atol=1e-12)
    np.testing.assert_allclose(out["model_b"], b.predict(X), atol=1e-12)


def test_c_header_text(tmp_path):
    net = network("sigmoid", "sigmoid", sizes=(2, 3, 1), dtype=np.float32)
    buffer = io.StringIO()
    to_c(net, buffer, name="tiny")
    text = buffer.getvalue()
    assert "static const float tiny_w0[3][2]" in text
    assert "static inline void tiny_predict(const float *x, float *y)" in text
    assert "#define TINY_N_INPUTS 2" in text and "#define TINY_N_OUTPUTS 1" in text
    assert "expf(" in text and "malloc" not in text
    assert [line for line in text.splitlines() if line.startswith("#include")] == \
        ["#include <math.h>"]


@pytest.mark.parametrize("name, error", [
    ("2net", ValueError), ("my-net", ValueError), ("", ValueError), ("net h", ValueError),
    ("int", ValueError), ("static", ValueError), ("__net", ValueError), ("_Net", ValueError),
    ("ñet", ValueError), (None, TypeError), (b"net", TypeError)])
def test_c_names_must_be_identifiers(tmp_path, name, error):
    with pytest.raises(error, match="name"):
        to_c(nnpy.Network([2, 1]), tmp_path / "n.h", name=name)
    assert not (tmp_path / "n.h").exists()


# Names whose identifiers C reserves, and the rule each message names
RESERVED_NAMES = [
    ("_x", "starts with an underscore"),          # _X_N_INPUTS: _ and a capital
    ("_net", "starts with an underscore"),        # _net_predict: file scope
    ("_", "starts with an underscore"),
    ("a__b", "double underscore"), ("net_", "double underscore"),   # net__predict
    ("bool", "C keyword"), ("true", "C keyword"), ("_Bool", "C keyword"),
    ("n" * 53, "at most 52"),
]


@pytest.mark.parametrize("name, rule", RESERVED_NAMES)
def test_c_names_making_reserved_identifiers_are_refused(tmp_path, name, rule):
    with pytest.raises(ValueError, match=f"name {name!r}.*{rule}"):
        to_c(nnpy.Network([2, 1]), tmp_path / "n.h", name=name)
    assert not (tmp_path / "n.h").exists()


# Accepted names, those of library functions and of the header's own variables among them:
# to_c never uses the name alone, only as a prefix
ACCEPTED_NAMES = ["nnpy_net", "exp", "tanh", "expf", "sigmoid", "predict", "main", "x", "y",
                  "z", "e", "h0", "i", "top", "total", "N", "net_2", "Model", "n" * 52]


def _identifiers(text):
    """The identifiers of C source text, outside comments."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", text))


def test_c_headers_make_no_reserved_identifier():
    for name in ACCEPTED_NAMES:
        for output in ("sigmoid", "softmax"):
            buffer = io.StringIO()
            to_c(network("sigmoid", output, sizes=(3, 4, 2)), buffer, name=name)
            for identifier in _identifiers(buffer.getvalue()):
                assert not identifier.startswith("_") and "__" not in identifier, \
                    (name, identifier)
                assert len(identifier) <= 63, (name, identifier)


@needs_cc
def test_c_headers_with_every_accepted_name_compile_together_strictly(tmp_path):
    """Every accepted name's header, all in one program beside the standard library's headers,
    compiles with -std=c99 -Wall -Wextra -pedantic -Werror (and -Wshadow) and computes
    predict."""
    net = network("tanh", "softmax", sizes=(3, 4, 2))
    headers = {}
    for k, name in enumerate(ACCEPTED_NAMES):
        headers[name] = tmp_path / f"h{k}.h"
        to_c(net, headers[name], name=name)
    (tmp_path / "std.h").write_text("".join(f"#include <{h}.h>\n" for h in (
        "assert", "ctype", "errno", "float", "limits", "locale", "math", "setjmp", "signal",
        "stdarg", "stddef", "stdio", "stdlib", "string", "time")))
    X = inputs(3, n=3)
    out = compile_and_run(tmp_path, headers, X, np.float64,
                          extra_flags=["-Wshadow", "-include", str(tmp_path / "std.h")])
    for name in ACCEPTED_NAMES:
        np.testing.assert_allclose(out[name], net.predict(X), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Whole models: estimators, Models (nnpy.load) and scaler + estimator Pipelines, on raw inputs
# ---------------------------------------------------------------------------------------------

# Raw features far from standardised: means up to 1000, scales from 0.01 to 100
RAW_MEAN = np.array([0.0, 1000.0, -3.0, 50.0])
RAW_SCALE = np.array([1.0, 100.0, 0.01, 5.0])


def raw_inputs(n=60, seed=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 4)) * RAW_SCALE + RAW_MEAN).astype(dtype)


def _fit_quietly(model, X, y):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # ConvergenceWarning: 30 iterations are plenty
        return model.fit(X, y)


def _pipeline(kind, y, scalers, dtype=np.float64, **params):
    pytest.importorskip("sklearn")
    from sklearn.pipeline import make_pipeline
    from nnpy import estimators
    estimator = getattr(estimators, kind)(hidden_layer_sizes=(6,), max_iter=30, random_state=0,
                                          dtype=dtype, **params)
    return _fit_quietly(make_pipeline(*scalers, estimator), raw_inputs(len(y)), y)


def _model(kind, hidden="sigmoid", dtype=np.float64):
    """An nnpy Model (what nnpy train saves and nnpy.load reads) with random weights."""
    from nnpy.modelfile import Model
    rng = np.random.default_rng(5)
    if kind == "binary":
        net = network(hidden, "sigmoid", sizes=(4, 5, 1), dtype=dtype)
        net = nnpy.Network([4, 5, 1], activation=hidden, output="sigmoid", loss="cross_entropy",
                           dtype=dtype, seed=0)
        options = {"classes": ["no", "yes"]}
    elif kind == "classes":
        net = nnpy.Network([4, 5, 3], activation=hidden, output="softmax", dtype=dtype, seed=0)
        options = {"classes": [2, 5, 9]}
    else:
        net = nnpy.Network([4, 5, 1], activation=hidden, output="identity", dtype=dtype, seed=0)
        options = {"target_scaling": (300.0, 80.0)}   # values well past FANN's clip at 150
    net.weights = [rng.normal(0, 1.0, w.shape) for w in net.weights]
    net.biases = [rng.normal(0, 1.0, b.shape) for b in net.biases]
    return Model(net, ["a", "b", "c", "d"], "y", mean=RAW_MEAN + 0.1, scale=RAW_SCALE * 1.5,
                 **options)


def _model_round_trip(model, tmp_path):
    """The Model as nnpy.load reads it back from a file."""
    model.save(tmp_path / "m.model")
    return nnpy.load(tmp_path / "m.model")


def _labels(n, classes, seed=0):
    return np.asarray(classes)[np.random.default_rng(seed).integers(0, len(classes), n)]


def accepted_models():
    """name -> a function making (the model, raw inputs X) for each kind every exporter takes
    (all with sigmoid/tanh/identity layers, so FANN can hold those without softmax)."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
    n = 60
    return {
        "classifier, binary": lambda: fitted("NNClassifier", _labels(n, [0, 1]),
                                             activation="tanh")[0],
        "classifier, 3 classes": lambda: fitted("NNClassifier", _labels(n, ["a", "b", "c"]),
                                                activation="logistic")[0],
        "classifier, multi-label": lambda: fitted(
            "NNClassifier", (np.random.default_rng(0).random((n, 3)) < 0.5).astype(int),
            activation="tanh")[0],
        "regressor": lambda: fitted("NNRegressor", np.random.default_rng(0).normal(size=n) * 5,
                                    activation="tanh")[0],
        "regressor, 2 outputs": lambda: fitted(
            "NNRegressor", np.random.default_rng(0).normal(size=(n, 2)), activation="logistic")[0],
        "Model, binary": lambda: _model("binary"),
        "Model, 3 classes": lambda: _model("classes", hidden="tanh"),
        "Model, regression": lambda: _model("regress", hidden="tanh"),
        "Model, regression, identity hidden": lambda: _model("regress", hidden="identity"),
        "Pipeline StandardScaler, binary": lambda: _pipeline(
            "NNClassifier", _labels(n, [False, True]), [StandardScaler()], activation="tanh"),
        "Pipeline StandardScaler, 3 classes": lambda: _pipeline(
            "NNClassifier", _labels(n, [3, 7, 11]), [StandardScaler()], activation="tanh"),
        "Pipeline of four scalers, regressor": lambda: _pipeline(
            "NNRegressor", np.random.default_rng(1).normal(size=n) * 3 + 20,
            [RobustScaler(), MinMaxScaler((-2, 3)), MaxAbsScaler(), StandardScaler(with_mean=False)],
            activation="logistic"),
        "Pipeline MinMaxScaler, multi-label": lambda: _pipeline(
            "NNClassifier", (np.random.default_rng(0).random((n, 2)) < 0.5).astype(int),
            [MinMaxScaler()], activation="logistic"),
    }


ACCEPTED = ["classifier, binary", "classifier, 3 classes", "classifier, multi-label",
            "regressor", "regressor, 2 outputs", "Model, binary", "Model, 3 classes",
            "Model, regression", "Model, regression, identity hidden",
            "Pipeline StandardScaler, binary", "Pipeline StandardScaler, 3 classes",
            "Pipeline of four scalers, regressor", "Pipeline MinMaxScaler, multi-label"]


def make_accepted(name, tmp_path):
    pytest.importorskip("sklearn")
    model = accepted_models()[name]()
    if name.startswith("Model"):
        model = _model_round_trip(model, tmp_path)   # as nnpy.load gives it
    return model


def expected_outputs(model, X):
    """(probabilities or values (n, k), labels or None): what the model itself predicts."""
    if hasattr(model, "predict_proba") and (not hasattr(model, "task") or
                                           model.task == "classify"):
        return model.predict_proba(X), model.predict(X)
    return np.reshape(model.predict(X), (len(X), -1)), None


def test_every_accepted_kind_is_listed():
    pytest.importorskip("sklearn")
    assert sorted(accepted_models()) == sorted(ACCEPTED)


@pytest.mark.parametrize("name", ACCEPTED)
def test_onnx_of_every_accepted_kind_computes_its_predictions_on_raw_inputs(tmp_path, name):
    model = make_accepted(name, tmp_path)
    X = raw_inputs()
    run = session(model)
    results = run.run(None, {"X": X})
    values, labels = expected_outputs(model, X)
    if labels is None:
        assert [o.name for o in run.get_outputs()] == ["variable"]
        np.testing.assert_allclose(results[0], values, rtol=1e-12, atol=1e-12)
    else:
        assert [o.name for o in run.get_outputs()] == ["label", "probabilities"]
        np.testing.assert_allclose(results[1], values, rtol=0, atol=1e-12)
        assert results[0].tolist() == np.asarray(labels).tolist()


@needs_cc
@pytest.mark.parametrize("name", ACCEPTED)
def test_c_of_every_accepted_kind_computes_its_predictions_on_raw_inputs(tmp_path, name):
    model = make_accepted(name, tmp_path)
    X = raw_inputs(n=20)
    to_c(model, tmp_path / "m.h", name="model")
    out = compile_and_run(tmp_path, {"model": tmp_path / "m.h"}, X, np.float64)["model"]
    values, _ = expected_outputs(model, X)
    np.testing.assert_allclose(out, values, rtol=1e-12, atol=1e-12)


def test_the_scaling_matters():
    """The raw inputs are far from standardised: the network alone on them computes something
    else, so the tests above would see a lost or wrong scaling."""
    pytest.importorskip("sklearn")
    X = raw_inputs()
    for name in ("Model, binary", "Pipeline StandardScaler, binary",
                 "Pipeline of four scalers, regressor"):
        model = accepted_models()[name]()
        net = model.network if hasattr(model, "network") else model[-1].network_
        assert not np.allclose(net.predict(X), expected_outputs(model, X)[0][:, -1:], atol=1e-3)


@pytest.mark.parametrize("exporter", ["onnx", "c"])
def test_float32_pipeline_and_model(tmp_path, exporter):
    """A float32 network's graph and code scale in float: to float32's rounding."""
    from sklearn.preprocessing import StandardScaler
    models = [_pipeline("NNClassifier", _labels(60, [0, 1, 2]), [StandardScaler()],
                        dtype=np.float32, activation="tanh"),
              _model("regress", hidden="tanh", dtype=np.float32)]
    X = raw_inputs(n=20)
    for model in models:
        values, _ = expected_outputs(model, X)
        if exporter == "onnx":
            out = session(model).run(None, {"X": X.astype(np.float32)})[-1]
        else:
            if CC is None:
                pytest.skip("no C compiler (cc) on PATH")
            to_c(model, tmp_path / "m.h", name="model")
            out = compile_and_run(tmp_path, {"model": tmp_path / "m.h"}, X.astype(np.float32),
                                  np.float32)["model"]
        np.testing.assert_allclose(out, values, rtol=2e-5, atol=2e-5)


def test_onnx_scaling_nodes_come_before_the_first_layer():
    onnx = pytest.importorskip("onnx")
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    model = _pipeline("NNRegressor", np.arange(60.0), [StandardScaler(), MinMaxScaler()],
                      activation="tanh")
    graph = to_onnx(model, io.BytesIO()).graph
    assert [n.op_type for n in graph.node][:5] == ["Sub", "Div", "Mul", "Add", "Gemm"]
    onnx.checker.check_model(to_onnx(model, io.BytesIO()), full_check=True)


def test_c_header_of_a_classifier_names_its_classes(tmp_path):
    model = _model_round_trip(_model("binary"), tmp_path)
    buffer = io.StringIO()
    to_c(model, buffer, name="churn")
    text = buffer.getvalue()
    assert "#define CHURN_N_OUTPUTS 2" in text
    assert "'no', 'yes'" in text and "static const double churn_in0[4]" in text


@pytest.mark.parametrize("exporter", ["to_onnx", "to_c", "to_fann"])
def test_pipelines_nnpy_cannot_export_are_refused_naming_the_step(tmp_path, exporter):
    pytest.importorskip("onnx")
    from sklearn.decomposition import PCA
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, PolynomialFeatures, StandardScaler
    from nnpy.estimators import NNClassifier
    from nnpy.fann import to_fann
    export = {"to_onnx": to_onnx, "to_c": to_c, "to_fann": to_fann}[exporter]
    y = _labels(60, [0, 1])
    refused = [
        (_pipeline("NNClassifier", y, [PCA(4)]), r"step 'pca' is a PCA.*affine scalers"),
        (_pipeline("NNClassifier", y, [StandardScaler(), PolynomialFeatures()]),
         "step 'polynomialfeatures' is a PolynomialFeatures"),
        (_pipeline("NNClassifier", y, [MinMaxScaler(clip=True)]), "clip=True"),
        (_fit_quietly(make_pipeline(StandardScaler(), LogisticRegression()), raw_inputs(), y),
         "last step 'logisticregression' is a LogisticRegression"),
    ]
    for model, message in refused:
        with pytest.raises(TypeError, match=message):
            export(model, tmp_path / "out")
        assert not (tmp_path / "out").exists()
    with pytest.raises(NotFittedError):
        export(make_pipeline(StandardScaler(), NNClassifier()), tmp_path / "out")
    with pytest.raises(TypeError, match=f"{exporter} needs an nnpy.Network or a fitted"):
        export(StandardScaler(), tmp_path / "out")


def test_to_c_needs_a_network(tmp_path):
    with pytest.raises(TypeError, match="to_c needs an nnpy.Network or a fitted"):
        to_c("net", tmp_path / "n.h")


def test_every_activation_of_the_table_is_the_cores():
    """The table's rows are the core's list (activation_kinds.tp), and each has its exports."""
    from nnpy import _family
    from nnpy._dispatch import core
    assert list(_family.ACTIVATIONS) == list(core.ACTIVATION_CODES)
    for name, row in _family.ACTIVATIONS.items():
        assert callable(row.onnx) and "z" in row.c, name
        # the core takes the derivative from z exactly where the table has no formula from a
        if row.derivative is not None:
            assert (row.derivative_of_a is None) == (name in core.ACTIVATIONS_FROM_Z), name


@pytest.mark.parametrize("encoding", [
    {"categories": {"colour": ["blue", "red"]}},
    {"fill": {"size": 1.5}},
])
def test_a_model_with_encoded_columns_is_refused_by_c_and_fann(tmp_path, encoding):
    """A model from `nnpy train` that one-hot encodes text columns or fills missing cells takes
    raw columns a C header or a FANN file could not: both refuse it (naming the encoding and
    pointing to to_onnx) rather than write a file that expects encoded inputs. A Pipeline's
    scalers cannot come before that encoding: every exporter refuses such a Pipeline."""
    pytest.importorskip("sklearn")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from nnpy.estimators import NNRegressor
    from nnpy.io import to_fann
    X = np.random.default_rng(0).normal(size=(30, 3))
    estimator = _fit_quietly(NNRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
                             X, X[:, 0])
    if "categories" in encoding:
        features = ["size", "colour"]   # size, then colour=blue, colour=red: 3 inputs
    else:
        features = ["size", "weight", "height"]
    model = nnpy.Model.from_estimator(estimator, features, "target", **encoding)
    for export, path, why in ((to_c, "m.h", "a C header takes"),
                              (to_fann, "m.net", "a FANN file has no preprocessing")):
        with pytest.raises(ValueError, match="one-hot text columns|missing-value fills") as info:
            export(model, tmp_path / path)
        assert why in str(info.value) and "to_onnx" in str(info.value)
        assert not (tmp_path / path).exists()
    pipeline = make_pipeline(StandardScaler().fit(X), model)
    exporters = [(to_c, "p.h"), (to_fann, "p.net")]
    if _has("onnx"):
        exporters.append((to_onnx, "p.onnx"))
    for export, path in exporters:
        with pytest.raises(ValueError, match="the Pipeline's scalers would come before"):
            export(pipeline, tmp_path / path)
        assert not (tmp_path / path).exists()


def _has(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------------------------
# ONNX of a Model that encodes its columns: one input per raw column
# ---------------------------------------------------------------------------------------------

COLOURS = ["blue", "green", "red"]


def _encoding_model(kind, fill=True, seed=0):
    """A Model of the columns size (numeric), colour (text, 3 categories), weight (numeric):
    5 network inputs, standardised far from 0/1, with the fills size 1.5, colour "red"."""
    pytest.importorskip("sklearn")
    from nnpy.estimators import NNClassifier, NNRegressor
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 5))
    options = {}
    if kind == "regress":
        estimator = NNRegressor(hidden_layer_sizes=(6,), max_iter=20, random_state=0)
        y = X[:, 0] - X[:, 3]
        options["target_scaling"] = (300.0, 80.0)
    else:
        estimator = NNClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0)
        y = np.array(["no", "yes"] if kind == "binary" else [2, 5, 9])[
            rng.integers(0, 2 if kind == "binary" else 3, 40)]
    _fit_quietly(estimator, X, y)
    return nnpy.Model.from_estimator(
        estimator, ["size", "colour", "weight"], "target", mean=[10.0, 0.2, 0.3, 0.4, 50.0],
        scale=[3.0, 0.5, 0.4, 0.5, 10.0], categories={"colour": COLOURS},
        fill={"size": 1.5, "colour": "red"} if fill else None, **options)


def _raw_columns(n=30, seed=4):
    """Raw columns for _encoding_model: numbers with NaN (missing), colours with "" (missing)."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, n)
    size[[2, 7]] = np.nan
    colour = np.array(COLOURS, dtype=object)[rng.integers(0, 3, n)]
    colour[[3, 7, 11]] = ""
    return {"size": size, "colour": colour, "weight": rng.normal(50, 10, n)}


def _feed(columns):
    """The raw columns as the exported graph's inputs: one [N, 1] tensor per column."""
    return {name: np.asarray(values)[:, None] for name, values in columns.items()}


@pytest.mark.parametrize("kind", ["classes", "binary", "regress"])
def test_onnx_of_a_model_with_text_columns_and_fills_takes_raw_columns(tmp_path, kind):
    model = _model_round_trip(_encoding_model(kind), tmp_path)   # as nnpy.load gives it
    columns = _raw_columns()
    run = session(model)
    assert [(i.name, i.type, i.shape) for i in run.get_inputs()] == [
        ("size", "tensor(double)", ["N", 1]), ("colour", "tensor(string)", ["N", 1]),
        ("weight", "tensor(double)", ["N", 1])]
    results = run.run(None, _feed(columns))
    if kind == "regress":
        assert [o.name for o in run.get_outputs()] == ["variable"]
        np.testing.assert_allclose(results[0][:, 0], model.predict(columns), rtol=1e-12,
                                   atol=1e-12)
    else:
        np.testing.assert_allclose(results[1], model.predict_proba(columns), rtol=0,
                                   atol=1e-12)
        assert results[0].tolist() == model.predict(columns).tolist()
    # the fills matter: the rows with a missing value are those of the filled columns
    filled = {"size": np.where(np.isnan(columns["size"]), 1.5, columns["size"]),
              "colour": np.where(columns["colour"] == "", "red", columns["colour"]),
              "weight": columns["weight"]}
    np.testing.assert_allclose(run.run(None, _feed(filled))[-1], results[-1], rtol=0,
                               atol=0)


def test_onnx_of_a_model_with_fills_only_takes_raw_columns():
    """Fills without text columns: one double input per column, NaN filled by Where(IsNaN)."""
    pytest.importorskip("sklearn")
    from nnpy.estimators import NNRegressor
    X = np.random.default_rng(0).normal(size=(30, 3))
    estimator = _fit_quietly(NNRegressor(hidden_layer_sizes=(4,), max_iter=10, random_state=0),
                             X, X[:, 0])
    model = nnpy.Model.from_estimator(estimator, ["a", "b", "c"], "y", mean=[1.0, 2.0, 3.0],
                                      scale=[0.5, 2.0, 4.0], fill={"a": -1.0, "c": 7.25})
    columns = {"a": np.array([0.5, np.nan, 2.0]), "b": np.array([1.0, 2.0, 3.0]),
               "c": np.array([np.nan, np.nan, 1.0])}
    pytest.importorskip("onnx")
    onnx_model = to_onnx(model, io.BytesIO())
    assert [o.domain for o in onnx_model.opset_import] == [""]     # no ai.onnx.ml needed
    run = session(model)
    assert [(i.name, i.type) for i in run.get_inputs()] == [("a", "tensor(double)"),
                                                           ("b", "tensor(double)"),
                                                           ("c", "tensor(double)")]
    np.testing.assert_allclose(run.run(None, _feed(columns))[0][:, 0], model.predict(columns),
                               rtol=1e-12, atol=1e-12)


def test_onnx_unseen_and_missing_categories_as_model_predict():
    """unknown="error" (the default, as Model.predict's): an unseen category makes the run
    fail, as predict raises; unknown="ignore": all zeros, as predict(X, unknown="ignore"). A
    missing text value ("") without a fill fails the run, as predict refuses it."""
    model = _encoding_model("classes")
    columns = _raw_columns(n=12)
    columns["colour"][4] = "purple"
    with pytest.raises(ValueError, match="'purple', a category the model did not see"):
        model.predict(columns)
    run = session(model)
    with pytest.raises(Exception, match="Unknown Category"):
        run.run(None, _feed(columns))
    ignoring = session(model, unknown="ignore")
    np.testing.assert_allclose(ignoring.run(None, _feed(columns))[1],
                               model.predict_proba(columns, unknown="ignore"), rtol=0,
                               atol=1e-12)

    unfilled = _encoding_model("classes", fill=False)
    columns = {"size": np.array([1.0, 2.0]), "colour": np.array(["red", ""], dtype=object),
               "weight": np.array([50.0, 40.0])}
    with pytest.raises(ValueError, match="missing value"):
        unfilled.predict(columns)
    with pytest.raises(Exception, match="Unknown Category"):
        session(unfilled).run(None, _feed(columns))
    with pytest.raises(ValueError, match="unknown must be 'error' or 'ignore'"):
        to_onnx(unfilled, io.BytesIO(), unknown="zeros")


def test_onnx_float32_of_a_model_with_text_columns():
    model = _encoding_model("classes")
    columns = _raw_columns()
    run = session(model, dtype=np.float32)
    assert [i.type for i in run.get_inputs()] == ["tensor(float)", "tensor(string)",
                                                  "tensor(float)"]
    feed = _feed(columns)
    feed["size"], feed["weight"] = feed["size"].astype(np.float32), \
        feed["weight"].astype(np.float32)
    np.testing.assert_allclose(run.run(None, feed)[1], model.predict_proba(columns), rtol=0,
                               atol=1e-5)


def test_onnx_column_named_as_a_graph_tensor_is_refused():
    pytest.importorskip("sklearn")
    pytest.importorskip("onnx")
    from nnpy.estimators import NNRegressor
    X = np.random.default_rng(0).normal(size=(30, 2))
    estimator = _fit_quietly(NNRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
                             X, X[:, 0])
    model = nnpy.Model.from_estimator(estimator, ["a", "variable"], "y", fill={"a": 0.0})
    with pytest.raises(ValueError, match="the feature column 'variable' has the name of a "
                                         "tensor"):
        to_onnx(model, io.BytesIO())


def test_onnx_of_a_model_trained_by_the_command_line_on_a_csv_file(tmp_path):
    """`nnpy train` on a CSV file with a text column and missing cells (--missing median):
    the ONNX file, given the file's raw columns, computes the model's predictions."""
    pytest.importorskip("sklearn")
    import csv
    from nnpy.cli import main
    rng = np.random.default_rng(0)
    rows = []
    for i in range(90):
        colour, size = COLOURS[i % 3], rng.normal(10, 3)
        label = "big" if size + 4 * (colour == "green") > 11 else "small"
        rows.append([colour, repr(size), repr(rng.normal(50, 10)), label])
    rows[5][1], rows[17][2], rows[8][0] = "", "NA", ""
    with open(tmp_path / "shop.csv", "w", newline="") as f:
        csv.writer(f).writerows([["colour", "size", "weight", "label"]] + rows)
    assert main(["train", str(tmp_path / "shop.csv"), "--target", "label", "--missing",
                 "median", "--hidden", "6", "--epochs", "30", "--save",
                 str(tmp_path / "shop.model")]) == 0
    model = nnpy.load(tmp_path / "shop.model")
    assert model.categories and model.fill
    to_onnx(model, tmp_path / "shop.onnx")
    ort = pytest.importorskip("onnxruntime")
    run = ort.InferenceSession(str(tmp_path / "shop.onnx"), providers=["CPUExecutionProvider"])
    columns = {"colour": np.array([r[0] for r in rows], dtype=object),
               "size": np.array([float(r[1]) if r[1] else np.nan for r in rows]),
               "weight": np.array([np.nan if r[2] == "NA" else float(r[2]) for r in rows])}
    assert [i.name for i in run.get_inputs()] == list(model.feature_names)
    label, probabilities = run.run(None, _feed({n: columns[n] for n in model.feature_names}))
    np.testing.assert_allclose(probabilities, model.predict_proba(columns), rtol=0, atol=1e-12)
    assert label.tolist() == model.predict(columns).tolist()
