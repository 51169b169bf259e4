"""Use cases as plain functions: train, compare, rank, evaluate, fit a fusion, build the hybrid, the demo."""
