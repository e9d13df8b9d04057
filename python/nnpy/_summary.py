"""Network.summary: a table of the layers, as Keras' model.summary() and torchinfo print it
(the method is defined here and set on the class in nnpy.network)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .network import Network

__all__ = ["summary"]


def summary(self: Network) -> str:
    """A table of the layers, as Keras' model.summary() and torchinfo print it: each
    layer's output shape, activation and number of parameters (weights + biases), then
    the totals. Returns the text: print(net.summary()).

    Returns
    -------
    str

    Examples
    --------
    >>> print(nnpy.Network([13, 16, 3], output="softmax").summary())
    Network: 13 -> 16 -> 3, float64, loss cross_entropy
    layer     output shape   activation   weights   biases   parameters
    input     (None, 13)     -                  0        0            0
    dense_1   (None, 16)     sigmoid          208       16          224
    output    (None, 3)      softmax           48        3           51
    total: 275 parameters (2.1 KiB)
    """
    rows = [("layer", "output shape", "activation", "weights", "biases", "parameters"),
            ("input", f"(None, {self.sizes[0]})", "-", "0", "0", "0")]
    for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
        last = l == self.n_layers - 1
        rows.append(("output" if last else f"dense_{l + 1}", f"(None, {n_out})",
                     self.output if last else self.activation, str(n_in * n_out),
                     str(n_out), str(n_in * n_out + n_out)))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = [f"Network: {' -> '.join(map(str, self.sizes))}, {self.dtype.name}, "
             f"loss {self.loss_name}"]
    for row in rows:
        cells = [row[c].ljust(widths[c]) if c < 3 else row[c].rjust(widths[c])
                 for c in range(len(row))]
        lines.append("   ".join(cells).rstrip())
    n_params = len(self._flat)
    lines.append(f"total: {n_params} parameters ({_size(n_params * self.dtype.itemsize)})")
    return "\n".join(lines)


def _size(n_bytes: int) -> str:
    """A byte count for people: 2.1 KiB, 3.4 MiB."""
    value = float(n_bytes)
    if value < 1024:
        return f"{n_bytes} B"
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
