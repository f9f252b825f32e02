"""Synthetic HMS data: physiologically motivated EEG patterns in exactly the Kaggle layout."""
