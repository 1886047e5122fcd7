"""Prometheus metrics, kept in a registry per application so several apps (tests) never collide."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

import bot
from bot.jobs.runner import JobStats

JobStatsSource = Callable[[], Mapping[str, JobStats]]


class JobCollector(Collector):
    """Each periodic job's runs, failures, last duration and last success, read from the runner at
    each scrape (alert when a job's last success is old)."""

    def __init__(self, source: JobStatsSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("bot_job_runs", "Passes of each periodic job.", labels=["job"])
        failures = CounterMetricFamily("bot_job_failures", "Passes that failed.", labels=["job"])
        duration = GaugeMetricFamily(
            "bot_job_last_duration_seconds", "How long the last pass took.", labels=["job"]
        )
        success = GaugeMetricFamily(
            "bot_job_last_success_timestamp_seconds",
            "When the last pass succeeded (0: never).",
            labels=["job"],
        )
        for name, stats in self._source().items():
            runs.add_metric([name], stats.runs)
            failures.add_metric([name], stats.failures)
            duration.add_metric([name], stats.last_duration)
            success.add_metric([name], 0 if stats.last_success is None else stats.last_success.timestamp())
        yield from (runs, failures, duration, success)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bot_http_requests",
            "HTTP requests answered, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bot_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.queues = Gauge(
            "bot_queue_items",
            "Inbox events and outbox messages by state, read at each scrape; alert on inbox_given_up > 0.",
            ["queue"],
            registry=self.registry,
        )
        info = Counter("bot_build", "Build information.", ["version"], registry=self.registry)
        info.labels(version=bot.__version__).inc(0)

    def watch_jobs(self, source: JobStatsSource) -> None:
        self.registry.register(JobCollector(source))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    content_type = CONTENT_TYPE_LATEST

    def middleware(self) -> Middleware:
        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as error:
                status = error.status
                raise
            finally:
                self.requests.labels(request.method, name, str(status)).inc()
                self.latency.labels(name).observe(time.perf_counter() - started)

        return measure
