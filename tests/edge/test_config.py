"""edge/config.py: the [run] policy validates once, with errors that name the field."""

import pytest

from edge.config import RunConfig
from edge.errors import SpecError


def test_an_unknown_alarm_target_is_a_spec_error_naming_the_field():
    with pytest.raises(SpecError, match=r"run\.alarm\.target must be one of seizure, lpd.*got 'seizures'"):
        RunConfig().replace(alarm={"target": "seizures"})


def test_the_defaults_validate():
    assert RunConfig().validate() == RunConfig()
