"""`train fit`: configuration, augmentations, loss, schedule, loop, EMA, DDP, patient-grouped CV, reports."""
