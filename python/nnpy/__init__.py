"""nnpy: a small, fast neural-network library: the blog post's API on a compiled Cython core.

    from nnpy import init_net, forwardPass, backPropogation   # the post's API, unchanged
    net = nnpy.Network([64, 32, 10]); net.fit(X, Y, epochs=30, lr=3.0, batch_size=10)
"""
from ._version import __version__

from ._dispatch import CPU_LEVEL
from .post import sigmoid, sigmoid_prime, cost, init_net, forwardPass, backPropogation
from .network import Network, History, TrainingDiverged
from .labels import one_hot
from . import schedules  # nnpy.schedules.StepDecay, ... (Network.fit's lr)
from . import optimizers  # nnpy.optimizers.SGD, Adam (Network.fit's optimizer)
from .stack import NetworkStack, StackHistory
from . import io  # nnpy.io.save_network, from_network2_json, ... after a plain `import nnpy`
from .modelfile import Model, load  # nnpy.load("x.model"): what `nnpy train --save` wrote

__all__ = ["sigmoid", "sigmoid_prime", "cost", "init_net", "forwardPass", "backPropogation",
           "Network", "History", "TrainingDiverged", "NetworkStack", "StackHistory", "one_hot",
           "schedules", "optimizers", "Model", "load", "CPU_LEVEL", "__version__"]
