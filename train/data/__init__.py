"""The Kaggle HMS data layer: layout validation, tables, cached 50 s windows and patient folds."""

from train.data.folds import patient_kfold
from train.data.table import HmsTable, load_table, validate_layout
from train.data.windows import WindowSet, build_window_set, fill_gaps

__all__ = ["HmsTable", "WindowSet", "build_window_set", "fill_gaps", "load_table", "patient_kfold", "validate_layout"]
