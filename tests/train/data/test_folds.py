import numpy as np
import pytest

from edge.errors import DataError
from train.data import patient_kfold


def test_no_patient_in_two_folds_and_rows_balanced():
    rng = np.random.default_rng(1)
    patients = rng.integers(0, 60, size=1000)
    folds = patient_kfold(patients, k=5, seed=3)
    assert folds.shape == patients.shape and set(folds) == set(range(5))
    for p in np.unique(patients):
        assert len(set(folds[patients == p])) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= np.bincount(patients).max()


def test_seed_changes_assignment_deterministically():
    patients = np.repeat(np.arange(20), 3)
    a, b = patient_kfold(patients, 4, seed=0), patient_kfold(patients, 4, seed=0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, patient_kfold(patients, 4, seed=1))


def test_fewer_patients_than_folds_is_a_clear_error():
    with pytest.raises(DataError, match="cannot make 5 patient folds from 3 patient"):
        patient_kfold(np.array([1, 2, 3, 3]), k=5, seed=0)
