"""NNGridSearchCV: scikit-learn's GridSearchCV, with the candidates that can share a
NetworkStack trained together (re-exported by nnpy.estimators)."""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, ParameterGrid, check_cv
from sklearn.model_selection._validation import (_fit_and_score, _insert_error_scores, _score,
                                                 _warn_or_raise_about_fit_failures)
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params

from ._stacked_fit import failure_text, fit_members, shared_key, stackable

__all__ = ["NNGridSearchCV"]


class NNGridSearchCV(GridSearchCV):
    """Exhaustive search over a parameter grid, as scikit-learn's GridSearchCV, with the
    NNClassifier / NNRegressor candidates that differ only in per-member settings trained
    together as one nnpy.NetworkStack per cross-validation split.

    The interface, the splits, the scoring and every result (``cv_results_``,
    ``best_params_``, ``best_score_``, ``best_index_``, ``best_estimator_``, ``scorer_``,
    ``n_splits_``, ``refit_time_``, ``multimetric_``) are GridSearchCV's, and so is each
    score: each candidate's fit on each split ends as its own ``fit`` would (the stack's
    members follow their lone fits bit for bit), so ``cv_results_`` equals
    ``GridSearchCV(estimator, param_grid)``'s on the same splits (the times aside).

    Which candidates share a stack: those whose estimator is an NNClassifier or NNRegressor
    with ``solver`` "sgd" or "adam", ``early_stopping=False``, ``verbose=0`` and an int
    ``random_state``, and whose parameters are equal except ``learning_rate_init``,
    ``alpha``, ``momentum``, ``beta_1``, ``beta_2``, ``epsilon``, ``tol``,
    ``n_iter_no_change``, ``max_iter``, ``learning_rate`` and ``power_t``: for each split,
    they train as one NetworkStack, one ``NetworkStack.fit`` per epoch on the rows of the
    split in the order their shared ``random_state`` draws, each member with its own
    settings, loss curve, convergence test (``tol``, ``n_iter_no_change``) and schedule.
    With ``shuffle=False``, ``random_state`` too (it then draws only the initial weights).
    Other parameters (``hidden_layer_sizes``, ``activation``, ``solver``, ``batch_size``,
    ``shuffle``, ``class_weight``, ``dtype``, ..., and ``random_state`` with ``shuffle=True``:
    it orders the rows of every epoch, and the members of a stack see the same rows) make
    separate stacks. Fitted
    one by one, exactly as GridSearchCV fits them: candidates with ``solver="lbfgs"``,
    ``early_stopping=True`` (its own validation split and best-weights logic), ``verbose``,
    a ``random_state`` that is None or a RandomState (draws that depend on the order of the
    fits), estimators other than NNClassifier / NNRegressor (pipelines, subclasses,
    ensembles), and every fit when ``fit`` is given parameters other than ``sample_weight``.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune, usually an NNClassifier or NNRegressor.
    param_grid : dict or list of dicts
        As GridSearchCV's.
    scoring : str, callable, list, tuple or dict, default None
        As GridSearchCV's (None: the estimator's ``score``).
    n_jobs : int, default None
        The stacks (and the one-by-one fits) run as joblib tasks over this many workers;
        under ``joblib.parallel_backend("dask")`` they run on a Dask cluster.
    refit : bool, str or callable, default True
        As GridSearchCV's.
    cv : int, cross-validation generator or iterable, default 5
        As GridSearchCV's.
    verbose : int, default 0
        Prints the number of fits when > 0.
    pre_dispatch : int or str, default "2*n_jobs"
        As GridSearchCV's.
    error_score : "raise" or float, default np.nan
        The score of a fit that fails (a member that diverges fails alone).
    return_train_score : bool, default False
        As GridSearchCV's.

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        GridSearchCV's keys. ``mean_fit_time`` of a stacked candidate is its share of its
        stack's time (the stack's time over its members).
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_,
    refit_time_, multimetric_ : as GridSearchCV's.
    n_stacks_ : int
        How many NetworkStacks the search trained (one per group of candidates and split).

    Examples
    --------
    >>> from nnpy.estimators import NNClassifier, NNGridSearchCV
    >>> search = NNGridSearchCV(NNClassifier((32,), max_iter=30, random_state=0),
    ...                         {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]})
    >>> search.fit(X, y).best_params_
    """

    def __init__(self, estimator: Any, param_grid: Any, *, scoring: Any = None,
                 n_jobs: Optional[int] = None, refit: Any = True, cv: Any = 5,
                 verbose: int = 0, pre_dispatch: Any = "2*n_jobs", error_score: Any = np.nan,
                 return_train_score: bool = False) -> None:
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score)

    def fit(self, X: Any, y: Any = None, **params: Any) -> "NNGridSearchCV":
        """Runs the search: every candidate of the grid on every split, then refits the best
        on all of X, y (with ``refit``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default None
        **params : dict
            Passed to the estimator's ``fit`` (``sample_weight`` is split along with X and
            y); any other parameter makes every candidate fit one by one.

        Returns
        -------
        self
        """
        self._validate_params()
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        routed = self._get_routed_params_for_fit(_check_method_params(X, params=params))
        params = dict(routed.estimator.fit)
        score_params = dict(routed.scorer.score)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = cv.get_n_splits(X, y, **routed.splitter.split)
        splits = list(cv.split(X, y, **routed.splitter.split))
        if len(splits) != self.n_splits_:
            raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. "
                             f"Expected {self.n_splits_} splits, got {len(splits)}")
        candidates = list(ParameterGrid(self.param_grid))
        base = clone(self.estimator)
        n_splits = len(splits)
        if self.verbose > 0:
            print(f"Fitting {n_splits} folds for each of {len(candidates)} candidates, "
                  f"totalling {len(candidates) * n_splits} fits")
        if not candidates or not splits:
            raise ValueError("No fits were performed. Was the CV iterator empty? Were there "
                             "no candidates?")

        groups, alone = _group(base, candidates, set(params) - {"sample_weight"})
        options = dict(scorer=scorers, score_params=score_params,
                       return_train_score=self.return_train_score,
                       error_score=self.error_score)
        tasks = [delayed(_stack_task)(base, [(c, candidates[c]) for c in members], X, y,
                                      train, test, params.get("sample_weight"), **options)
                 for members in groups for train, test in splits]
        self.n_stacks_ = len(tasks)
        tasks += [delayed(_alone_task)(base, c, candidates[c], X, y, train, test, params,
                                       self.verbose, **options)
                  for c in alone for train, test in splits]
        where = [(c, s) for members in groups for s in range(n_splits) for c in members] + \
            [(c, s) for c in alone for s in range(n_splits)]
        parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)
        flat = [result for results in parallel(tasks) for result in results]
        out: List[Any] = [None] * (len(candidates) * n_splits)
        for (c, s), result in zip(where, flat):
            out[c * n_splits + s] = result
        _warn_or_raise_about_fit_failures(out, self.error_score)
        if callable(self.scoring):
            _insert_error_scores(out, self.error_score)
        results = self._format_results(candidates, n_splits, out, defaultdict(list))
        self.multimetric_ = isinstance(out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(out[0]["test_scores"])
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base).set_params(
                **clone(self.best_params_, safe=False))
            started = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y, **params)
            else:
                self.best_estimator_.fit(X, **params)
            self.refit_time_ = time.time() - started
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = getattr(scorers, "_scorers", scorers)
        self.cv_results_ = results
        return self


def _group(base: Any, candidates: List[Dict[str, Any]],
           other_params: set) -> Tuple[List[List[int]], List[int]]:
    """The candidates in groups that share a stack, and those fitted one by one."""
    groups: Dict[Any, List[int]] = {}
    alone = []
    for c, parameters in enumerate(candidates):
        try:
            estimator = clone(base).set_params(**clone(parameters, safe=False))
        except Exception:   # the one-by-one fit reports it as GridSearchCV does
            estimator = None
        if other_params or estimator is None or not stackable(estimator):
            alone.append(c)
        else:
            groups.setdefault(shared_key(estimator), []).append(c)
    return list(groups.values()), alone


def _alone_task(base: Any, c: int, parameters: Dict[str, Any], X: Any, y: Any,
                train: np.ndarray, test: np.ndarray, params: Dict[str, Any], verbose: int,
                scorer: Any, score_params: Dict[str, Any], return_train_score: bool,
                error_score: Any) -> List[Any]:
    """One candidate on one split, as GridSearchCV fits and scores it."""
    return [_fit_and_score(clone(base), X, y, scorer=scorer, train=train, test=test,
                           verbose=verbose, parameters=parameters, fit_params=params,
                           score_params=score_params, return_train_score=return_train_score,
                           return_n_test_samples=True, return_times=True,
                           error_score=error_score)]


def _stack_task(base: Any, members: List[Tuple[int, Dict[str, Any]]], X: Any, y: Any,
                train: np.ndarray, test: np.ndarray, sample_weight: Any, scorer: Any,
                score_params: Dict[str, Any], return_train_score: bool,
                error_score: Any) -> List[Dict[str, Any]]:
    """A group of candidates on one split as one NetworkStack, each scored as GridSearchCV
    scores it; a list of _fit_and_score's results, one per candidate."""
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
    sw_train = None if sample_weight is None else _safe_indexing(sample_weight, train)
    score_test = _check_method_params(X, params=score_params, indices=test)
    score_train = _check_method_params(X, params=score_params, indices=train)
    estimators = [clone(base).set_params(**clone(parameters, safe=False))
                  for _, parameters in members]
    started = time.perf_counter()
    errors = fit_members(estimators, X_train, y_train, sw_train)
    fit_time = (time.perf_counter() - started) / len(estimators)
    results = []
    for estimator, error in zip(estimators, errors):
        result: Dict[str, Any] = {"fit_error": None, "n_test_samples": len(test),
                                  "fit_time": fit_time}
        if error is not None:
            if error_score == "raise":
                raise error
            names = getattr(scorer, "_scorers", None)
            failed = {name: error_score for name in names} if isinstance(names, dict) \
                else error_score
            result.update(fit_error=failure_text(error), test_scores=failed, score_time=0.0)
            if return_train_score:
                result["train_scores"] = failed
        else:
            started = time.perf_counter()
            result["test_scores"] = _score(estimator, X_test, y_test, scorer, score_test,
                                           error_score)
            result["score_time"] = time.perf_counter() - started
            if return_train_score:
                result["train_scores"] = _score(estimator, X_train, y_train, scorer,
                                                score_train, error_score)
        results.append(result)
    return results
