package import CoreMetrics
package import RaftCore
import Synchronization

/// The swift-metrics instruments of one group on one node, labelled `node` and `group` (and
/// `peer` for the replication lag), under the names of the README's metrics list.
///
/// It is handed the group's ``GroupStatus`` at most once a second by the executor and before every
/// `/metrics` scrape, not per batch (that would cost the hot path a dozen instrument updates
/// per batch): gauges take the new values, counters grow to the highest value seen, so a status
/// recorded out of order never counts twice. Sync latencies are recorded one by one.
package final class GroupInstruments: Sendable {
    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]
    private let peerName: @Sendable (NodeID) -> String

    private let term: Gauge
    private let isLeader: Gauge
    private let commitIndex: Gauge
    private let appliedIndex: Gauge
    private let lastIndex: Gauge
    private let snapshotIndex: Gauge
    private let snapshotBytes: Gauge
    private let fsyncs: Counter
    private let proposals: Counter
    private let appliedEntries: Counter
    private let elections: Counter
    private let leaseReads: Counter
    private let leaseStalls: Counter
    private let snapshots: Counter
    private let fsyncSeconds: Timer

    private struct State {
        /// The value each counter last grew to, by counter name.
        var counted: [String: UInt64] = [:]
        /// The lag gauge of each peer the last status had.
        var lag: [NodeID: Gauge] = [:]
    }

    private let state = Mutex(State())

    /// The instruments of group `group` on node `node`, made by `factory`.
    package init(
        node: String,
        group: String,
        factory: any MetricsFactory,
        peerName: @escaping @Sendable (NodeID) -> String
    ) {
        self.factory = factory
        self.peerName = peerName
        let dimensions = [("node", node), ("group", group)]
        self.dimensions = dimensions
        func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: dimensions, factory: factory) }
        func counter(_ name: String) -> Counter { Counter(label: name, dimensions: dimensions, factory: factory) }
        term = gauge("rafthost_term")
        isLeader = gauge("rafthost_is_leader")
        commitIndex = gauge("rafthost_commit_index")
        appliedIndex = gauge("rafthost_applied_index")
        lastIndex = gauge("rafthost_last_index")
        snapshotIndex = gauge("rafthost_snapshot_index")
        snapshotBytes = gauge("rafthost_snapshot_bytes")
        fsyncs = counter("rafthost_fsyncs_total")
        proposals = counter("rafthost_proposals_total")
        appliedEntries = counter("rafthost_applied_entries_total")
        elections = counter("rafthost_elections_total")
        leaseReads = counter("rafthost_lease_reads_total")
        leaseStalls = counter("rafthost_lease_stalls_total")
        snapshots = counter("rafthost_snapshots_total")
        fsyncSeconds = Timer(label: "rafthost_fsync_seconds", dimensions: dimensions, factory: factory)
    }

    /// Records one storage sync that took `seconds`.
    package func recordSync(seconds: Double) {
        fsyncSeconds.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// Brings every gauge and counter to `status`.
    package func record(_ status: GroupStatus) {
        term.record(Double(status.term))
        isLeader.record(status.role == .leader ? 1 : 0)
        commitIndex.record(Double(status.commitIndex))
        appliedIndex.record(Double(status.appliedIndex))
        lastIndex.record(Double(status.lastIndex))
        snapshotIndex.record(Double(status.snapshotIndex))
        snapshotBytes.record(Double(status.metrics.lastSnapshotBytes))
        state.withLock { state in
            func grow(_ counter: Counter, _ value: (GroupStatus) -> UInt64) {
                let old = state.counted[counter.label] ?? 0
                let new = value(status)
                if new > old {
                    counter.increment(by: Int64(clamping: new - old))
                    state.counted[counter.label] = new
                }
            }
            grow(fsyncs) { UInt64($0.syncs) }
            grow(proposals) { $0.metrics.proposals }
            grow(appliedEntries) { $0.metrics.appliedEntries }
            grow(elections) { $0.metrics.elections }
            grow(leaseReads) { $0.metrics.leaseReads }
            grow(leaseStalls) { $0.metrics.leaseStalls }
            grow(snapshots) { $0.metrics.snapshots }
            for (peer, gauge) in state.lag where status.replicationLag[peer] == nil {
                gauge.destroy()
                state.lag[peer] = nil
            }
            for (peer, lag) in status.replicationLag {
                let gauge =
                    state.lag[peer]
                    ?? Gauge(
                        label: "rafthost_replication_lag_entries",
                        dimensions: dimensions + [("peer", peerName(peer))],
                        factory: factory
                    )
                state.lag[peer] = gauge
                gauge.record(Double(lag))
            }
        }
    }
}
