public import CoreMetrics
package import Prometheus
import Synchronization

/// Where a node's metrics go: swift-metrics instruments (``GroupInstruments``), made by the
/// factory the node was given, else by the process's swift-metrics backend once one is
/// bootstrapped, else by a Prometheus registry of the node's own. `GET /metrics` renders the
/// registry when the factory is a `PrometheusMetricsFactory`.
public enum RaftHostMetrics {
    /// Upper bounds of the `rafthost_fsync_seconds` histogram's buckets.
    package static let fsyncBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]

    /// The process's swift-metrics factory when a backend was bootstrapped, else a new
    /// Prometheus factory over a registry of its own.
    public static func defaultFactory() -> any MetricsFactory {
        let factory = MetricsSystem.factory
        return factory is NOOPMetricsHandler ? prometheusFactory() : factory
    }

    /// A Prometheus factory over `registry` with the buckets of the node's histograms.
    package static func prometheusFactory(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["rafthost_fsync_seconds"] = fsyncBuckets
        return factory
    }

    private static let bootstrapped = Atomic(false)

    /// Bootstraps swift-metrics with a Prometheus factory, so that every instrument of the
    /// process (the nodes' and any library's) is exported at `/metrics`, unless the process
    /// bootstrapped a backend of its own, which it keeps. Only the first call of a process
    /// does anything.
    package static func bootstrapPrometheus() {
        guard !bootstrapped.exchange(true, ordering: .relaxed) else { return }
        guard MetricsSystem.factory is NOOPMetricsHandler else { return }
        MetricsSystem.bootstrap(prometheusFactory())
    }
}
