"""nnpy.plot: the figures have the curves, labels and files they should, and without matplotlib
the functions say how to install it."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nnpy

matplotlib = pytest.importorskip("matplotlib")

from nnpy import plot  # noqa: E402

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


@pytest.fixture(scope="module")
def xor_net():
    net = nnpy.Network([2, 3, 1], init="uniform01", seed=0)
    history = net.fit(XOR_X, XOR_Y, epochs=2000, lr=1.0)
    return net, history


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_loss_curve_of_a_history(xor_net, tmp_path):
    _, history = xor_net
    path = tmp_path / "loss.png"
    ax = plot.plot_loss(history, path=path)
    lines = ax.get_lines()
    assert len(lines) == 1
    np.testing.assert_allclose(lines[0].get_ydata(), history.loss)
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, len(history.loss) + 1))
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel().startswith("loss")
    assert ax.get_title()
    assert ax.get_yscale() == "log"  # the XOR loss falls by orders of magnitude
    width, height = png_size(path)
    assert width > 500 and height > 300


def test_validation_curve_and_accuracy_panel(tmp_path):
    history = nnpy.History(loss=[1.0, 0.5, 0.4], val_loss=[1.1, 0.7, 0.6],
                           val_accuracy=[0.5, 0.7, 0.8])
    fig = plot.plot_history(history, tmp_path / "h.png", title="run")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(loss_ax.get_lines()[1].get_ydata(), history.val_loss)
    assert loss_ax.get_legend() is not None
    assert loss_ax.get_yscale() == "linear"  # a factor 2.75: no log scale
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), [50, 70, 80])
    assert "accuracy" in acc_ax.get_ylabel() and acc_ax.get_xlabel() == "epoch"
    assert fig._suptitle.get_text() == "run"
    assert (tmp_path / "h.png").stat().st_size > 10_000


def test_history_without_validation_has_one_panel():
    fig = plot.plot_history([3.0, 2.0, 1.5], log=True)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_yscale() == "log"


def test_estimator_curves():
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.exceptions import ConvergenceWarning
    from nnpy.estimators import NNClassifier
    X = np.random.default_rng(0).normal(size=(80, 2))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="max_iter=20"):  # 20 epochs, patience 50
        clf = NNClassifier(random_state=0, max_iter=20, early_stopping=True,
                           n_iter_no_change=50).fit(X, y)
    ax = plot.plot_loss(clf)
    assert len(ax.get_lines()) == 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), clf.loss_curve_)
    ax = plot.plot_accuracy(clf)  # validation_scores_: the held-out accuracy per epoch
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(),
                               100 * np.array(clf.validation_scores_))


def test_empty_history_and_bad_input():
    with pytest.raises(ValueError, match="empty"):
        plot.plot_loss(nnpy.History())
    with pytest.raises(ValueError, match="validation accuracy"):
        plot.plot_accuracy(nnpy.History(loss=[1.0]))
    with pytest.raises(TypeError, match="history"):
        plot.plot_loss(3.0)


def test_decision_surface_of_xor(xor_net, tmp_path):
    net, _ = xor_net
    path = tmp_path / "surface.png"
    ax = plot.plot_decision_surface(net, XOR_X, XOR_Y, path=path, resolution=60)
    assert "x_1" in ax.get_xlabel() and "x_2" in ax.get_ylabel()
    # the colour mesh holds the network's outputs over the grid
    mesh = [c for c in ax.collections if isinstance(c, matplotlib.collections.QuadMesh)][0]
    values = np.asarray(mesh.get_array()).ravel()
    assert values.size == 60 * 60
    assert values.min() < 0.1 and values.max() > 0.9
    # the four samples, in two colours, with a legend
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["y = 0", "y = 1"]
    assert png_size(path)[0] > 400


def test_decision_surface_of_a_classifier(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.datasets import make_blobs
    from nnpy.estimators import NNClassifier
    from sklearn.exceptions import ConvergenceWarning
    X, y = make_blobs(n_samples=150, centers=3, random_state=2)
    with warnings.catch_warnings():  # whether 100 epochs converge does not matter to the plot
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = NNClassifier(random_state=0, max_iter=100).fit(X, y)
    ax = plot.plot_decision_surface(clf, X, y, path=tmp_path / "blobs.png", resolution=80)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]


def test_decision_surface_needs_two_inputs():
    net = nnpy.Network([3, 2, 1], seed=0)
    with pytest.raises(ValueError, match="2-input"):
        plot.plot_decision_surface(net, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot.plot_decision_surface(nnpy.Network([2, 2, 1]), np.zeros((4, 3)))


def test_no_pyplot_state_is_touched(xor_net):
    _, history = xor_net
    plot.plot_history(history)
    assert "matplotlib.pyplot" not in sys.modules or not __import__(
        "matplotlib.pyplot").pyplot.get_fignums()


def test_without_matplotlib_the_error_says_how_to_install(tmp_path):
    # a fresh interpreter where importing matplotlib fails
    blocker = tmp_path / "block" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    code = ("import nnpy.plot as p\n"
            "try:\n    p.plot_loss([1.0, 0.5])\n"
            "except ImportError as e:\n    print('ERR', e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path / "block")), timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'pip install "nnpy-net[plot]"' in done.stdout
