"""scikit-learn's multi-layer perceptrons on nnpy's compiled core: NNClassifier and NNRegressor.

    from nnpy.estimators import NNClassifier
    clf = NNClassifier(hidden_layer_sizes=(100,), random_state=0).fit(X, y)
    clf.predict(X), clf.predict_proba(X), clf.score(X, y), clf.coefs_, clf.loss_curve_

They take every parameter of scikit-learn's MLPClassifier / MLPRegressor, with the same
meaning, default and checks (see scikit-learn's documentation of those classes), and set the
same fitted attributes (one difference in use: `make_pipeline` names the step after the class,
`nnclassifier` / `nnregressor` where it was `mlpclassifier` / `mlpregressor`, so a parameter
grid written for scikit-learn's, `{"mlpclassifier__alpha": ...}`, needs its keys renamed, or
name the step yourself: `Pipeline([("mlpclassifier", NNClassifier())])`); the network itself is an nnpy.Network (`network_`) trained by nnpy's
compiled core. With the same `random_state` they draw the same initial weights, the same
early-stopping split and the same order of samples in every epoch as scikit-learn does, so the
two follow the same path (to rounding, which chaotic training amplifies over many epochs).

    hidden_layer_sizes, activation ("identity", "logistic", "tanh", "relu"),
    solver ("lbfgs", "sgd", "adam"), alpha (L2 penalty, 0.5 * alpha * sum(W**2) divided by the
    batch's sample count or weight sum), batch_size ("auto" = min(200, n_samples)),
    learning_rate ("constant", "invscaling", "adaptive"; sgd only), learning_rate_init,
    power_t, max_iter (epochs, or lbfgs iterations), shuffle, random_state, tol, verbose,
    warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
    beta_1, beta_2, epsilon, n_iter_no_change, max_fun (lbfgs)
    NNRegressor also has scikit-learn's first parameter `loss` ("squared_error" only: nnpy has
    no exponential output for "poisson").
    dtype  nnpy's own: None (default: follow X, as scikit-learn does: float32 X gives float32
           coefs_, intercepts_ and predictions, anything else float64; warm starts and
           partial_fit keep the fitted network's), np.float64 or np.float32.
    class_weight  NNClassifier only, nnpy's own: None (default), "balanced" or a dict
           {label: weight}, the meaning it has in scikit-learn's other classifiers
           (compute_class_weight): each sample's weight is multiplied by its class's. Not
           for multi-label y; "balanced" not in partial_fit (it needs all of y).

Beyond scikit-learn's MLP, opt-in (its defaults unchanged):

    clf = NNClassifier(early_stopping=True, class_weight="balanced", random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val)     # your own validation set, no split
    clf.validation_scores_, clf.validation_loss_curve_

fit(X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None): X_val, y_val
as HistGradientBoostingClassifier.fit takes them: with early_stopping=True early stopping
scores them instead of a validation_fraction split (ValueError without early_stopping);
validation_loss_curve_ holds the loss on the validation set after each epoch (with
early_stopping, also with the split; None otherwise).

fit(X, y, sample_weight=None); partial_fit(X, y, sample_weight=None[, classes]) (sgd and adam:
one epoch, the optimiser's state kept from call to call); predict, predict_proba,
predict_log_proba, score.

Fitted attributes (as scikit-learn's): coefs_ and intercepts_ (coefs_[i] is (n_in, n_out);
read-only views of network_'s weights: assign clf.coefs_ = [...] to change them), loss_,
best_loss_, loss_curve_, validation_scores_, best_validation_score_ (sgd/adam; validation
scores are the accuracy or R^2 on the held-out fraction), t_, n_iter_, n_layers_, n_outputs_,
out_activation_, classes_, n_features_in_, feature_names_in_; network_ is the model.

The classifier: softmax output for several classes, one logistic unit for two (as
scikit-learn, so coefs_ have its shapes), logistic units with binary cross-entropy for
multi-label y (a 2-D indicator matrix). The regressor: identity output, squared error, no
scaling of the targets.

Where nnpy differs from scikit-learn, in detail:
- Adam: nnpy's is torch.optim.Adam's formula, w -= lr * m_hat / (sqrt(v_hat) + epsilon) with
  bias-corrected m_hat, v_hat; scikit-learn adds epsilon before the bias correction,
  w -= lr_t * m / (sqrt(v) + epsilon) with lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t),
  which is the same step with epsilon scaled by sqrt(1 - beta_2**t). Steps differ only where
  sqrt(v_hat) is within a few orders of magnitude of epsilon (1e-8 by default).
- lbfgs runs scipy's L-BFGS-B on the exact loss and gradient, with the parameters in nnpy's
  order (W_0, b_0, W_1, ...) instead of scikit-learn's (all weights, then all intercepts):
  L-BFGS does not depend on that order, so its iterates are those of L-BFGS-B on the exact
  objective, to rounding. scikit-learn's are too while its outputs stay clear of 0 and 1;
  where they saturate, the clipping below changes the function its line search sees, and
  the classifiers' iterates part (unscaled inputs of scale 100: 0.36 apart after one
  iteration). Regression agrees for one output (several: see below).
- log-loss values are exact; scikit-learn clips probabilities to [eps, 1 - eps] first, which
  caps one sample's loss at about 36 (float64) and flattens it where outputs saturate.
- A step that would make a weight infinite or NaN stops training with scikit-learn's
  ValueError ("Solver produced non-finite parameter weights"), raised at that step instead of
  after the remaining epochs; it is a SolverDiverged, also an nnpy.TrainingDiverged. With
  early_stopping, as with scikit-learn, no error: training stops there (scikit-learn goes on
  with NaN weights until n_iter_no_change), the epoch's loss and validation score are NaN,
  a ConvergenceWarning says so, and the best validation score's weights are kept.
- Ctrl-C (KeyboardInterrupt) during sgd/adam training propagates; scikit-learn turns it into
  a warning and returns. Either way the estimator is left fitted as far as it got (the
  completed steps; with early_stopping, the best weights so far).
- Several regression outputs: loss_ and loss_curve_ are 0.5 * the sum over outputs of the
  squared errors (the function whose gradient both libraries follow); scikit-learn reports
  the mean over outputs, and its lbfgs line search sees that mean with the gradient of the
  sum, so its lbfgs iterates differ there. tol applies to nnpy's value.
- coefs_ / intercepts_ are read-only: in-place edits raise ValueError instead of being lost.
- Sparse X is not accepted (nnpy's core is dense): convert with X.toarray().
- partial_fit is absent with solver="lbfgs" for both estimators (scikit-learn's regressor
  offers it and then runs lbfgs; its documentation and its classifier say stochastic only).

To and from scikit-learn's own MLP, and from an nnpy.Network:

    mlp = clf.to_sklearn()                  # a fitted MLPClassifier: same weights, predictions
    clf = NNClassifier.from_sklearn(mlp)    # and back (NNRegressor: MLPRegressor)
    clf = NNClassifier.from_network(net, classes=["a", "b", "c"])   # a fitted estimator

scikit-learn is imported by this package only (pip install "nnpy-net[sklearn]").
"""
from __future__ import annotations

try:  # every module of this package imports scikit-learn (validate_data: 1.6 and later)
    from sklearn.utils.validation import validate_data  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError('nnpy.estimators needs scikit-learn >= 1.6: pip install "nnpy-net[sklearn]"'
                      f" ({err})") from None

from ._classifier import NNClassifier
from ._regressor import NNRegressor
# with the constructors' option types and the optimiser's record (in an estimator's pickle)
from ._shared import (HiddenActivation, LearningRateSchedule, RandomState, Solver,
                      SolverDiverged, _Optimizer)

from ._search import NNGridSearchCV
from ._ensemble import NNEnsembleClassifier, NNEnsembleRegressor

__all__ = ["NNClassifier", "NNRegressor", "SolverDiverged", "NNGridSearchCV",
           "NNEnsembleClassifier", "NNEnsembleRegressor"]

# A pickle names a class by its module: these keep this one, the public path (an estimator's
# pickle holds its _Optimizer too), whichever module of the package defines them.
for _public in (NNClassifier, NNRegressor, SolverDiverged, _Optimizer, NNGridSearchCV,
                NNEnsembleClassifier, NNEnsembleRegressor):
    _public.__module__ = __name__
del _public
