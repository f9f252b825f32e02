"""`train fit`: config.py (what a fit learns), augment.py (train-only transforms), loop.py (one model's
training, read top to bottom), run.py (fit -> patient-grouped CV -> bundle), evaluate.py (held-out scores,
temperature, `train eval` / `train predict`), reports.py (bundle files), resume.py, distributed.py."""
