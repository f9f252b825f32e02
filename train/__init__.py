"""eeg-edge training (workstation): HMS data layer, synthetic data, models, `train fit`."""
