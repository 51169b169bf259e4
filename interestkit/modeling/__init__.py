"""Models: InterestModel and its formats, features and their cache, configs, training (no click, no MLflow)."""
