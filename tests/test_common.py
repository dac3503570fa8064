"""scikit-learn's common estimator checks over every public skae estimator.

Estimators are discovered from ``skae.__all__``, not hand-listed, so a new
public estimator is checked as soon as it is exported. Besides the checks
``parametrize_with_checks`` yields, the DataFrame checks (feature names,
``get_feature_names_out``, ``set_output`` with pandas and polars) and the
parameter validation check that scikit-learn's own
``sklearn/tests/test_common.py`` runs on its estimators.
"""

import inspect
import warnings

import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_global_set_output_transform_polars,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_set_output_transform_polars,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from conftest import HOLD_OUT

import skae

#: Small settings that keep the checks fast; applied only where the estimator has them.
#: Early stopping on a hold-out split (``HOLD_OUT``): the checks' data are a few
#: dozen rows, which AutoencoderTransformer's default cross-validates (five more
#: networks per fit); test_early_stopping.py runs the fit-related checks on that.
FAST_PARAMS = {"random_state": 0, "max_epochs": 5, **HOLD_OUT}

#: check name -> reason, per estimator class name. Reasons must be ones a
#: scikit-learn maintainer would accept.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def public_estimator_classes():
    """Every class in ``skae.__all__`` that is a scikit-learn estimator."""
    classes = []
    for name in skae.__all__:
        obj = getattr(skae, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not inspect.isabstract(obj):
            classes.append(obj)
    return classes


def make_estimator(cls):
    """``cls`` with its defaults, except a fixed seed and few epochs where it has them.

    A meta-estimator (an ``estimator`` parameter, e.g. an outlier detector over a
    transformer) gets its default inner estimator made fast the same way; with no
    default it wraps ``AutoencoderTransformer``.
    """
    params = cls().get_params(deep=False)
    overrides = {k: v for k, v in FAST_PARAMS.items() if k in params}
    if "estimator" in params:
        inner = params["estimator"]
        inner_cls = type(inner) if isinstance(inner, BaseEstimator) else skae.AutoencoderTransformer
        overrides["estimator"] = make_estimator(inner_cls)
    return cls(**overrides)


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


ESTIMATORS = [make_estimator(cls) for cls in public_estimator_classes()]


def test_every_public_estimator_is_checked():
    names = {type(est).__name__ for est in ESTIMATORS}
    assert {"AutoencoderTransformer", "VAETransformer"} <= names
    assert all(name in skae.__all__ for name in names)
    unknown = set(EXPECTED_FAILED_CHECKS) - names
    assert not unknown, f"expected failures listed for unknown estimators: {unknown}"


def test_checked_estimators_are_fast():
    # Every estimator (and wrapped estimator) that trains runs few epochs, seeded.
    for est in ESTIMATORS:
        for name, value in est.get_params(deep=True).items():
            key = name.rsplit("__", 1)[-1]
            if key in FAST_PARAMS:
                assert value == FAST_PARAMS[key], (type(est).__name__, name, value)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


#: Checks that scikit-learn's own test_common.py runs beside parametrize_with_checks,
#: which does not yield them: column names of pandas input, and, for transformers,
#: feature names out and set_output with pandas and polars (polars: the test extra).
DATAFRAME_CHECKS = [check_dataframe_column_names_consistency]
TRANSFORMER_DATAFRAME_CHECKS = [
    check_get_feature_names_out_error,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
    check_set_output_transform_polars,
    check_global_set_output_transform_polars,
]


def dataframe_checks():
    params = []
    for est in ESTIMATORS:
        checks = list(DATAFRAME_CHECKS)
        if hasattr(est, "transform"):
            checks += TRANSFORMER_DATAFRAME_CHECKS
        for check in checks:
            params.append(pytest.param(est, check, id=f"{type(est).__name__}-{check.__name__}"))
    return params


@pytest.mark.parametrize("estimator, check", dataframe_checks())
def test_sklearn_dataframe_checks(estimator, check):
    reason = expected_failed_checks(estimator).get(check.__name__)
    if reason is not None:
        pytest.xfail(reason)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        check(type(estimator).__name__, clone(estimator))
    if check is check_dataframe_column_names_consistency:
        # As scikit-learn's test (the check itself refuses "X does not have valid
        # feature names"): nor does a DataFrame reach an inner estimator fitted on
        # arrays (the detector's). The other checks mix arrays and DataFrames.
        names = [w for w in record if "was fitted without feature names" in str(w.message)]
        assert not names, names[0].message


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: type(est).__name__)
def test_sklearn_param_validation(estimator):
    # Also run by scikit-learn's own test_common.py, not by parametrize_with_checks:
    # every method refuses a parameter outside its _parameter_constraints.
    check_param_validation(type(estimator).__name__, clone(estimator))
