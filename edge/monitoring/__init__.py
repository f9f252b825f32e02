"""What the predictions mean over time: smoothing, burden, the alarm policy, qEEG trends."""
