"""Optuna studies over cycleGAN hyperparameters against downstream defect-finding F1; promotion."""
