"""eeg-edge bedside runtime: live EEG over LSL -> rolling soft predictions. Imports no torch."""

__version__ = "0.1.0"
