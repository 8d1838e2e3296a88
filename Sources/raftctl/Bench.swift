import ArgumentParser
import ClusterConfig
import Foundation
import Histogram
import KeyValueClient
import RaftClient
import Synchronization

/// `raftctl bench`: a closed-loop load generator over the native client protocol, like etcd's
/// benchmark tool. Each client sends its next request when the previous answer arrives.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency of a key/value group.",
        discussion: """
            Each of --clients workers runs a closed loop on one of --conns connections (a
            connection is one RaftClient: a socket per node). Writes on one connection are
            serialized (exactly-once sessions keep one outstanding command per client), so
            write concurrency is min(clients, conns); reads share connections freely.
            """
    )

    enum Operation: String, ExpressibleByArgument, CaseIterable {
        case put, get, append, mixed
    }

    enum Target: String, ExpressibleByArgument, CaseIterable {
        /// Every client talks to the leader (it follows hints).
        case leader
        /// Client i talks only to node i mod n (stale reads spread over the replicas).
        case all
    }

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "Concurrent workers.") var clients: Int = 16
    @Option(help: "Connections (RaftClient instances) the workers share.") var conns: Int = 16
    @Option(help: "put, get, append or mixed (50% get, 50% put).") var op: Operation = .put
    @Option(help: "Distinct keys (bench-00000001 ...).") var keys: Int = 10_000
    @Option(name: .customLong("value-size"), help: "Bytes per written value.") var valueSize: Int = 128
    @Option(help: ArgumentHelp("How long to run (e.g. 10s).", valueName: "duration"))
    var duration: DurationArgument?
    @Option(help: "Stop after this many requests in total (instead of --duration).") var total: Int?
    @Option(help: "leader or all.") var target: Target = .leader
    @Option(help: "linearizable or stale (reads).") var consistency: ConsistencyArgument = .linearizable
    @Option(
        name: .customLong("command-format"),
        help: "keyvalue (KeyValueStore's commands) or text (set <key> <value> / get <key>, as Examples/WasmKeyValue)."
    )
    var commandFormat: CommandFormat = .keyvalue
    @Flag(help: "Print the result as JSON.") var json = false

    /// How the benchmark's puts and gets are encoded for the group's plugin.
    enum CommandFormat: String, ExpressibleByArgument, CaseIterable {
        case keyvalue, text
    }

    func validate() throws {
        guard clients > 0, conns > 0, keys > 0, valueSize >= 0 else {
            throw ValidationError("--clients, --conns and --keys must be positive, --value-size not negative")
        }
        if duration != nil && total != nil {
            throw ValidationError("--duration and --total exclude each other")
        }
        if commandFormat == .text && op == .append {
            throw ValidationError("--command-format text has set and get only: use --op put, get or mixed")
        }
    }

    func run() async throws {
        let endpoints = try cluster.endpointList()
        let group = try cluster.groupName()
        let connectionCount = min(conns, clients)
        var configuration = RaftClient.Configuration(timeout: cluster.timeout.duration)
        configuration.tls = try cluster.clientTLS()
        configuration.token = cluster.bearerToken()
        func client(_ reachable: [RaftClient.Endpoint]) -> KeyValueClient {
            KeyValueClient(RaftClient(endpoints: reachable, group: group, configuration: configuration))
        }
        let connections = (0..<connectionCount).map { index in
            // Writes always find the leader; with --target all, reads stay on one node each.
            let writer = client(endpoints)
            let reader = target == .all ? client([endpoints[index % endpoints.count]]) : writer
            return Connection(reader: reader, writer: writer)
        }
        let plan = Plan(
            operation: op,
            format: commandFormat,
            keys: keys,
            value: String(repeating: "x", count: valueSize),
            consistency: consistency == .stale ? .stale : .linearizable,
            deadline: total == nil ? ContinuousClock.now + (duration?.duration ?? .seconds(10)) : nil,
            budget: total.map { Budget($0) }
        )
        let started = ContinuousClock.now
        let results = await withTaskGroup(of: WorkerResult.self) { group in
            for worker in 0..<clients {
                let connection = connections[worker % connectionCount]
                group.addTask { await plan.runWorker(worker, on: connection) }
            }
            var merged = WorkerResult()
            for await result in group { merged.add(result) }
            return merged
        }
        let elapsed = ContinuousClock.now - started
        for connection in connections {
            await connection.writer.close()
            await connection.reader.close()
        }
        report(results, elapsed: elapsed)
    }

    private func report(_ result: WorkerResult, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let throughput = Double(result.latencies.totalCount) / max(seconds, 1e-9)
        func ms(_ percentile: Double) -> Double { Double(result.latencies.valueAtPercentile(percentile)) / 1000 }
        let summary: [(String, Double)] = [
            ("mean", result.latencies.mean / 1000), ("p50", ms(50)), ("p90", ms(90)), ("p99", ms(99)),
            ("p99.9", ms(99.9)),
            ("max", Double(result.latencies.max) / 1000),
        ]
        if json {
            var fields = [
                "\"op\":\"\(op.rawValue)\"", "\"clients\":\(clients)", "\"conns\":\(min(conns, clients))",
                "\"requests\":\(result.latencies.totalCount)", "\"errors\":\(result.errors)",
                String(format: "\"seconds\":%.3f", seconds), String(format: "\"throughput\":%.1f", throughput),
            ]
            fields += summary.map { String(format: "\"%@_ms\":%.3f", $0.0, $0.1) }
            print("{" + fields.joined(separator: ",") + "}")
        } else {
            print(
                "op \(op.rawValue), \(clients) clients on \(min(conns, clients)) connections, target \(target.rawValue)"
            )
            print(
                String(
                    format: "%llu requests in %.2f s: %.1f req/s, %d errors",
                    result.latencies.totalCount,
                    seconds,
                    throughput,
                    result.errors
                )
            )
            print("latency ms: " + summary.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: "  "))
        }
    }
}

/// What every worker does; shared read-only between them except for the request budget.
private struct Plan: Sendable {
    var operation: Bench.Operation
    var format: Bench.CommandFormat
    var keys: Int
    var value: String
    var consistency: RaftClient.ReadConsistency
    var deadline: ContinuousClock.Instant?
    var budget: Budget?

    func runWorker(_ worker: Int, on connection: Connection) async -> WorkerResult {
        var result = WorkerResult()
        var generator = SystemRandomNumberGenerator()
        while shouldContinue() {
            let key = String(format: "bench-%08d", Int.random(in: 1...keys, using: &generator))
            let isWrite: Bool
            switch operation {
            case .put, .append: isWrite = true
            case .get: isWrite = false
            case .mixed: isWrite = Bool.random(using: &generator)
            }
            let sent = ContinuousClock.now
            do {
                if format == .text {
                    if isWrite {
                        _ = try await connection.writer.raft.submit(Array("set \(key) \(value)".utf8))
                    } else {
                        _ = try await connection.reader.raft.query(Array("get \(key)".utf8), consistency: consistency)
                    }
                } else if !isWrite {
                    _ = try await connection.reader.get(key, consistency: consistency)
                } else if operation == .append {
                    try await connection.writer.append(key, value: value)
                } else {
                    try await connection.writer.put(key, value: value)
                }
                let latency = ContinuousClock.now - sent
                let micros = latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000
                _ = result.latencies.record(UInt64(max(1, micros)))
            } catch {
                result.errors += 1
            }
        }
        return result
    }

    private func shouldContinue() -> Bool {
        if let budget { return budget.take() }
        return ContinuousClock.now < deadline!
    }
}

/// One connection's clients: `writer` reaches every node, `reader` may be pinned to one.
private struct Connection: Sendable {
    var reader: KeyValueClient
    var writer: KeyValueClient
}

/// A shared count of requests left to send (`--total`).
private final class Budget: Sendable {
    private let remaining: Mutex<Int>

    init(_ total: Int) {
        remaining = Mutex(total)
    }

    func take() -> Bool {
        remaining.withLock { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
    }
}

private struct WorkerResult: Sendable {
    /// Microseconds, up to one minute at three significant digits.
    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var errors = 0

    mutating func add(_ other: WorkerResult) {
        latencies.add(other.latencies)
        errors += other.errors
    }
}
