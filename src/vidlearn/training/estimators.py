"""The scikit-learn side of the classical baselines: which estimators each task takes, their
pipelines (``StandardScaler -> [PCA(n)] -> estimator``; the defaults are described in
`vidlearn.training.baseline`), fitting within what a fold's rows allow, and their scores."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vidlearn.errors import ConfigError
from vidlearn.predictors.classical import TargetScale, align_scores, check_task

__all__ = ["CLASSIFIERS", "MULTILABEL_ESTIMATORS", "REGRESSORS", "estimators", "make_pipeline", "multilabel_scores"]


CLASSIFIERS = ("svm", "logreg", "knn", "rf")


REGRESSORS = ("svm", "ridge", "knn", "rf")


MULTILABEL_ESTIMATORS = ("svm", "logreg", "knn")  # one-vs-rest (a forest's ONNX graph fails on float64 input)


_ALIASES = {"svr": "svm", "svc": "svm"}




def estimators(task: str = "classification") -> tuple[str, ...]:
    """The estimator names a task accepts (``svm`` is SVC for classification, SVR for regression;
    multilabel fits one binary classifier per class, one-vs-rest)."""
    return {"classification": CLASSIFIERS, "multilabel": MULTILABEL_ESTIMATORS}.get(check_task(task), REGRESSORS)


def _estimator(name: str, task: str, seed: int, options: Mapping[str, Any]) -> Any:
    from sklearn import ensemble, linear_model, neighbors, svm

    forest = {"n_estimators": 300, "random_state": seed, "n_jobs": 1}
    defaults: dict[str, tuple[type, dict[str, Any]]]
    if check_task(task) in ("classification", "multilabel"):
        defaults = {
            "svm": (svm.SVC, {"kernel": "rbf", "C": 1.0, "gamma": "scale", "break_ties": True}),
            "logreg": (linear_model.LogisticRegression, {"C": 1.0, "max_iter": 5000}),
            "knn": (neighbors.KNeighborsClassifier, {"n_neighbors": 5}),
            "rf": (ensemble.RandomForestClassifier, forest),
        }
    else:
        defaults = {
            "svm": (svm.SVR, {"kernel": "rbf", "C": 1.0, "gamma": "scale", "epsilon": 0.1}),
            "ridge": (linear_model.Ridge, {"alpha": 1.0}),
            "knn": (neighbors.KNeighborsRegressor, {"n_neighbors": 5}),
            "rf": (ensemble.RandomForestRegressor, forest),
        }
    key = _ALIASES.get(name, name)
    if key not in defaults:
        raise ConfigError(f"baseline.estimator: unknown {task} estimator {name!r}; choose from {', '.join(defaults)}")
    if task == "multilabel" and key not in MULTILABEL_ESTIMATORS:
        raise ConfigError(f"baseline.estimator: {name!r} is not available for multilabel; choose from {', '.join(MULTILABEL_ESTIMATORS)}")
    cls, params = defaults[key]
    try:
        estimator = cls(**{**params, **dict(options)})
    except TypeError as exc:
        raise ConfigError(f"baseline.options: {exc}") from None
    if task == "multilabel":
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(estimator)
    return estimator


def make_pipeline(estimator: str = "svm", *, task: str = "classification", pca: int | None = None, seed: int = 0,
                  **options: Any) -> Any:
    """``StandardScaler -> [PCA(pca)] -> estimator`` as an unfitted scikit-learn Pipeline."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if pca is not None and int(pca) < 1:
        raise ConfigError(f"baseline.pca: number of components must be >= 1, got {pca}")
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", PCA(n_components=int(pca), random_state=seed)))
    steps.append(("clf", _estimator(estimator, task, seed, options)))
    return Pipeline(steps)


def _fit(pipe: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """Fit, shrinking PCA and k to what the training rows allow."""
    if "pca" in pipe.named_steps:
        want = pipe.named_steps["pca"].n_components
        pipe.set_params(pca__n_components=int(min(want, x.shape[0], x.shape[1])))
    clf = pipe.named_steps["clf"]
    if hasattr(clf, "n_neighbors"):
        clf.set_params(n_neighbors=int(min(clf.n_neighbors, x.shape[0])))
    if hasattr(getattr(clf, "estimator", None), "n_neighbors"):  # one-vs-rest k-NN
        clf.set_params(estimator__n_neighbors=int(min(clf.estimator.n_neighbors, x.shape[0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        pipe.fit(x, y)
    return pipe


def _fit_regressor(pipe: Any, x: np.ndarray, y: np.ndarray) -> tuple[Any, TargetScale]:
    scale = TargetScale.of(y)
    return _fit(pipe, x, scale.forward(y)), scale


def _scores(pipe: Any, x: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """(N, len(classes)) scores; classes the fold never saw get a score below every other."""
    clf = pipe.named_steps["clf"]
    if hasattr(clf, "predict_proba"):  # False for SVC without probability=True
        raw = np.asarray(pipe.predict_proba(x), dtype=np.float64)
    else:
        raw = np.asarray(pipe.decision_function(x), dtype=np.float64)
    return align_scores(raw, [str(c) for c in clf.classes_], classes)


def multilabel_scores(pipe: Any, x: np.ndarray) -> np.ndarray:
    """(N, K) one-vs-rest scores in [0, 1]: the classifiers' probabilities, or for SVC the sigmoid
    of its decision values (0.5 is its own decision boundary)."""
    if hasattr(pipe.named_steps["clf"], "predict_proba"):
        return np.asarray(pipe.predict_proba(x), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-np.asarray(pipe.decision_function(x), dtype=np.float64).reshape(len(x), -1)))
