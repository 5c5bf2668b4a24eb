"""The heart-disease job as a scikit-learn pipeline: ColumnTransformer preprocessing, a chainrule
network, tuned by GridSearchCV.

    pip install 'chainrule[sklearn]'
    python examples/sklearn_heart.py

scikit-learn does the tabular work (impute the few missing values, standardise the 5 numeric
variables, one-hot encode the 8 categorical ones: 13 variables become 28 inputs) and the
cross-validated search over the learning rate and the hidden width; chainrule trains the network
(``cr.sklearn.NeuralNetClassifier``: inputs → hidden ReLU units → 2 logits, Adam on cross-entropy).
The best pipeline is refitted on all training patients and scored on the held-out 20 %.
"""
import functools
import time

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import chainrule as cr
from chainrule.datasets import load_heart_disease


def mlp(n_features, n_outputs, hidden=16):
    """The lectures' network: inputs → *hidden* ReLU units → one logit per class."""
    return cr.nn.Sequential(cr.nn.Linear(n_features, hidden), cr.nn.ReLU(),
                            cr.nn.Linear(hidden, n_outputs))


def pipeline(data, seed=0):
    """ColumnTransformer (numeric: median + standardise; categorical: mode + one-hot) → network."""
    numeric = [i for i, k in enumerate(data.feature_kinds) if k == "numeric"]
    categorical = [i for i, k in enumerate(data.feature_kinds) if k == "categorical"]
    levels = [data.categories[data.feature_names[i]] for i in categorical]
    pre = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(categories=levels, handle_unknown="ignore")),
         categorical)])
    net = cr.sklearn.NeuralNetClassifier(module=mlp, max_epochs=60, batch_size=32,
                                         random_state=seed)
    return Pipeline([("pre", pre), ("net", net)])


def main(seed=0, verbose=True):
    """Tune, refit and test; returns (test accuracy, best parameters)."""
    data = load_heart_disease()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, stratify=data.target, random_state=seed)
    grid = {"net__lr": [1e-3, 1e-2],
            "net__module": [functools.partial(mlp, hidden=h) for h in (8, 32)]}
    search = GridSearchCV(pipeline(data, seed), grid, cv=StratifiedKFold(5, shuffle=True,
                                                                         random_state=seed))
    start = time.perf_counter()
    search.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = search.score(X_test, y_test)
    best = dict(search.best_params_)
    best["net__module"] = f"hidden={best['net__module'].keywords['hidden']}"
    if verbose:
        n_inputs = search.best_estimator_["pre"].transform(X_test[:1]).shape[1]
        print(f"{len(y_train)} training / {len(y_test)} test patients; 13 variables -> "
              f"{n_inputs} inputs")
        print(f"grid search: {len(search.cv_results_['params'])} settings x 5 folds in "
              f"{seconds:.1f} s; best {best} (cross-validated accuracy "
              f"{search.best_score_:.3f})")
        print(f"test accuracy of the refitted best pipeline: {accuracy:.3f}")
        proba = search.predict_proba(X_test[:3])
        print("first three test patients, P(disease):", np.round(proba[:, 1], 3).tolist())
    return accuracy, best


if __name__ == "__main__":
    main()
