"""Pictures of training: loss and accuracy curves, and decision surfaces of 2-input networks.

    from nnpy.plot import plot_history, plot_decision_surface
    fig = plot_history(history, path="loss.png")          # a History, or a fitted estimator
    fig = plot_decision_surface(net, X, y, path="surface.png")

matplotlib is imported inside these functions only (pip install "nnpy-net[plot]"). They draw on
matplotlib Figure objects directly, not through pyplot: no window opens, no backend is chosen
and no global state changes, so they work the same in scripts, servers and notebooks (where a
returned Figure displays itself). Pass `ax` to draw into an axes of your own figure instead.
"""
import numpy as np

__all__ = ["plot_loss", "plot_accuracy", "plot_history", "plot_decision_surface"]

_MISSING = 'nnpy.plot needs matplotlib: pip install "nnpy-net[plot]"'


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(_MISSING) from None
    return Figure(**kwargs)


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(_MISSING) from None


def _axes(ax):
    """`ax`, or the axes of a new figure for one curve plot (matplotlib checked either way)."""
    if ax is not None:
        _require_matplotlib()
        return ax
    return _figure(figsize=(6.4, 4.2), layout="constrained").add_subplot()


def _curves(history):
    """(train loss, validation loss, validation accuracy) lists from a History, a fitted
    NNClassifier/NNRegressor or scikit-learn MLP (loss_curve_; a classifier's
    validation_scores_ with early_stopping are its validation accuracy), or a plain sequence
    of losses."""
    if hasattr(history, "loss") and hasattr(history, "val_loss"):
        return list(history.loss), list(history.val_loss), list(history.val_accuracy)
    if hasattr(history, "loss_curve_"):
        scores = getattr(history, "validation_scores_", None) or []
        classifier = getattr(history, "classes_", None) is not None  # else R^2: not accuracy
        return list(history.loss_curve_), [], list(scores) if classifier else []
    if isinstance(history, (str, bytes)) or not hasattr(history, "__len__"):
        raise TypeError("history must be an nnpy History, a fitted nnpy estimator or a sequence "
                        f"of losses, got {type(history).__name__}")
    return [float(v) for v in history], [], []


def _use_log(values):
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    return values.size > 1 and values.min() > 0 and values.max() / values.min() > 30


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=120)


def plot_loss(history, ax=None, *, log=None, ylabel="loss", title=None, path=None,
              val_label="validation"):
    """The training loss per epoch, and the validation loss when the history has one
    (labelled `val_label`).

    log: logarithmic loss axis (default: when the values span more than a factor of 30).
    Returns the axes (a new figure's when ax is None; `path` saves that figure)."""
    train, val, _ = _curves(history)
    if not train:
        raise ValueError("the history is empty: no epoch was recorded")
    ax = _axes(ax)
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, color="C0", lw=1.6, label="training")
    if val:
        ax.plot(np.arange(1, len(val) + 1), val, color="C1", lw=1.6, label=val_label)
    if log is None:
        log = _use_log(train + val)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.set_xlim(1, max(len(train), len(val), 2))
    ax.grid(True, which="major", alpha=0.3)
    if val:
        ax.legend(frameon=False)
    ax.set_title(title or ("Loss per epoch" + (f": training and {val_label}" if val else "")))
    _save(ax.figure, path)
    return ax


def plot_accuracy(history, ax=None, *, title=None, path=None, val_label="validation"):
    """The validation accuracy per epoch (History.val_accuracy), in percent."""
    _, _, acc = _curves(history)
    if not acc:
        raise ValueError("the history has no validation accuracy: fit with validation=(X, Y)")
    ax = _axes(ax)
    epochs = np.arange(1, len(acc) + 1)
    ax.plot(epochs, 100 * np.asarray(acc), color="C2", lw=1.6, marker="o", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{val_label} accuracy (%)")
    ax.set_xlim(1, max(len(acc), 2))
    ax.grid(True, alpha=0.3)
    best = int(np.argmax(acc))
    ax.annotate(f"best {100 * acc[best]:.1f}% (epoch {best + 1})", xy=(best + 1, 100 * acc[best]),
                xytext=(0.97, 0.06), textcoords="axes fraction", ha="right",
                arrowprops=dict(arrowstyle="->", color="0.4"))
    ax.set_title(title or f"{val_label.capitalize()} accuracy per epoch")
    _save(ax.figure, path)
    return ax


def plot_history(history, path=None, *, log=None, ylabel="loss", title=None,
                 val_label="validation"):
    """A figure of the loss curves, beside the validation accuracy when the history has it.
    Returns the Figure; `path` saves it (any format matplotlib writes: .png, .svg, .pdf)."""
    _, _, acc = _curves(history)
    fig = _figure(figsize=(11, 4.2) if acc else (6.4, 4.2), layout="constrained")
    if acc:
        left, right = fig.subplots(1, 2)
        plot_loss(history, left, log=log, ylabel=ylabel, val_label=val_label)
        plot_accuracy(history, right, val_label=val_label)
    else:
        plot_loss(history, fig.add_subplot(), log=log, ylabel=ylabel, val_label=val_label)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def plot_decision_surface(model, X, y=None, ax=None, *, resolution=200, margin=0.25,
                          title=None, path=None):
    """The outputs of a 2-input model over the plane around the samples X (n, 2), with the
    samples on top, coloured by y (labels or one-hot rows).

    model: an nnpy.Network with 2 inputs, or a fitted NNClassifier/NNRegressor (anything with
    predict_proba or predict taking (n, 2) rows). One output: a colour map of its value with
    the 0.5 contour (the decision boundary). Several outputs: the region of each argmax class.
    Returns the axes (a new figure's when ax is None; `path` saves that figure)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_surface draws 2-input models: X must be (n, 2), got "
                         f"shape {X.shape}")
    n_in = getattr(model, "sizes", (getattr(model, "n_features_in_", 2),))[0]
    if n_in != 2:
        raise ValueError(f"plot_decision_surface draws 2-input models; this one has {n_in} inputs")
    if ax is None:
        fig = _figure(figsize=(6.0, 5.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        _require_matplotlib()
    from matplotlib.colors import ListedColormap

    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    out = _outputs(model, grid)

    labels = None
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            labels = y.argmax(axis=1)
        elif y.ndim == 2:
            labels = (y[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else y[:, 0]
        else:
            labels = y
    if out.shape[1] == 1:
        z = out[:, 0].reshape(gx.shape)
        unit = z.min() >= 0 and z.max() <= 1  # a probability-like output: fix the scale
        mesh = ax.pcolormesh(gx, gy, z, cmap="RdBu_r", shading="auto",
                             **({"vmin": 0, "vmax": 1} if unit else {}))
        if unit and z.min() < 0.5 < z.max():
            ax.contour(gx, gy, z, levels=[0.5], colors="k", linewidths=1.2)
        ax.figure.colorbar(mesh, ax=ax, label="network output")
        colours = ["#2166ac", "#b2182b"]
        if labels is not None:
            classes = np.unique(labels)
            numeric = np.issubdtype(classes.dtype, np.number)
            for i, c in enumerate(classes):
                index = int(c > 0.5) if numeric else min(i, 1)
                mask = labels == c
                ax.scatter(X[mask, 0], X[mask, 1], s=90, c=colours[index], edgecolors="k",
                           linewidths=1.5, label=f"y = {c}", zorder=3)
            ax.legend(loc="upper right", framealpha=0.9)
        else:
            ax.scatter(X[:, 0], X[:, 1], s=60, c="k", edgecolors="white", zorder=3)
    else:
        k = out.shape[1]
        region = out.argmax(axis=1).reshape(gx.shape)
        palette = [f"C{i % 10}" for i in range(k)]
        ax.contourf(gx, gy, region, levels=np.arange(-0.5, k), cmap=ListedColormap(palette),
                    alpha=0.3)
        for i in np.unique(region):  # the boundary of each class's region
            ax.contour(gx, gy, (region == i).astype(float), levels=[0.5], colors="k",
                       linewidths=0.8)
        if labels is not None:
            classes = list(getattr(model, "classes_", range(k)))
            for i, c in enumerate(np.unique(labels)):
                position = classes.index(c) if c in classes else i
                mask = labels == c
                ax.scatter(X[mask, 0], X[mask, 1], s=40, c=palette[position % len(palette)],
                           edgecolors="k", linewidths=0.6, label=f"class {c}", zorder=3)
            ax.legend(loc="best", framealpha=0.9)
        else:
            ax.scatter(X[:, 0], X[:, 1], s=40, c="k", zorder=3)
    ax.set_xlabel("input 1 ($x_1$)")
    ax.set_ylabel("input 2 ($x_2$)")
    ax.set_title(title or "Decision surface")
    _save(ax.figure, path)
    return ax


def _outputs(model, grid):
    if hasattr(model, "predict_proba"):
        out = model.predict_proba(grid)
    else:
        out = model.predict(grid)
    out = np.asarray(out, dtype=float)
    return out.reshape(len(grid), -1)
