"""Prometheus metrics, kept in a registry per application so several apps (tests) never collide."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
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


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)


class RequestStats(Collector):
    """Requests counted in plain dicts on the event loop (one thread: no lock per request, unlike
    prometheus_client's own Counter and Histogram), turned into metric families at each scrape."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        # Per route: the count in each bucket (the last one is +Inf), and the sum of durations.
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.counts[key] = self.counts.get(key, 0) + 1
        buckets = self.buckets.get(route)
        if buckets is None:
            buckets = self.buckets[route] = [0] * (len(LATENCY_BUCKETS) + 1)
            self.sums[route] = 0.0
        buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sums[route] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "bot_http_requests", "HTTP requests answered, by route and status.",
            labels=["method", "route", "status"],
        )  # fmt: skip
        for labels, count in list(self.counts.items()):
            requests.add_metric(list(labels), count)
        latency = HistogramMetricFamily(
            "bot_http_request_duration_seconds", "Time to answer an HTTP request.", labels=["route"]
        )
        for route, buckets in list(self.buckets.items()):
            cumulative, total = [], 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), buckets, strict=True):
                total += count
                cumulative.append((_bound(bound), total))
            latency.add_metric([route], cumulative, self.sums[route])
        yield from (requests, latency)


class InboxBacklog(Collector):
    """The inbox events waiting to be processed and the age of the oldest, as last read (at a scrape,
    or by the worker after each batch): alert when the age keeps growing."""

    def __init__(self) -> None:
        self.waiting = 0
        self.oldest_age_seconds = 0.0

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "bot_inbox_backlog", "Inbox events stored and not yet processed.", value=self.waiting
        )
        yield GaugeMetricFamily(
            "bot_inbox_backlog_age_seconds",
            "How long the oldest unprocessed inbox event has waited (0: none).",
            value=self.oldest_age_seconds,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http = RequestStats()
        self.registry.register(self.http)
        self.backlog = InboxBacklog()
        self.registry.register(self.backlog)
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
        observe = self.http.observe
        clock = time.perf_counter

        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = clock()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as error:
                status = error.status
                raise
            finally:
                route = request.match_info.route.resource
                name = route.canonical if route is not None else "unmatched"
                observe(request.method, name, status, clock() - started)

        return measure
