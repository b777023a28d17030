"""Answers from the model and from theory: queueing formulas, sizing, SLOs, sweeps, calibration."""
