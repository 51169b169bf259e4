"""Real-time serving: the interest service over the ranking pipeline, its state store and HTTP layer."""
