"""The server's Prometheus metrics (prometheus-client), one registry per app."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """Requests by route and status, latency, batch sizes, queue depth, the served model."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("interestkit_requests", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("interestkit_request_seconds", "time to answer a request, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("interestkit_batch_posts", "posts per model batch", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.queue_depth = Gauge("interestkit_queue_posts", "posts waiting for the next model batch",
                                 registry=self.registry)
        self.model = Info("interestkit_model", "the served model", registry=self.registry)

    def observe(self, route: str, method: str, status: int, seconds: float):
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def set_model(self, info: dict):
        self.model.info({"name": str(info.get("name")), "version": str(info.get("version")),
                         "uri": str(info.get("uri", ""))})

    def render(self) -> bytes:
        return generate_latest(self.registry)
