import ArgumentParser
import Foundation
import NIOHTTP1
import RaftClient

/// `raftctl status [--json]`: every node's `/v1/status` as a table (like `etcdctl endpoint
/// status -w table`) or JSON; exit status 0 when every group has a leader, 3 otherwise.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each node's groups: role, term, leader, commit and applied index.",
        discussion: """
            Asks every node's HTTP API (/v1/status). Exit status 0 when every group has a leader \
            that answered, 3 otherwise.
            """
    )

    /// `--config` (whose nodes' `http` addresses are asked) and `--timeout` (per node).
    @OptionGroup var cluster: ClusterOptions

    /// `--http-endpoints`, instead of `--config`.
    @OptionGroup var http: HTTPOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    /// One node's row set: its `/v1/status` answer, or why it gave none.
    struct Report: Codable {
        var node: String
        var address: String
        var status: NodeStatus?
        var error: String?
    }

    func run() async throws {
        let nodes = try http.nodes(cluster: cluster)
        let reports = await withTaskGroup(of: (Int, Report).self) { group in
            for (index, node) in nodes.enumerated() {
                group.addTask {
                    do {
                        let response = try await httpRequest(
                            .GET,
                            host: node.host,
                            port: node.port,
                            path: "/v1/status",
                            timeout: cluster.timeout.duration,
                            tls: node.tls,
                            token: node.token
                        )
                        guard response.status == .ok else {
                            let status = response.status
                            throw HTTPRequestError(description: "HTTP \(status.code) \(status.reasonPhrase)")
                        }
                        let status = try JSONDecoder().decode(NodeStatus.self, from: Data(response.body))
                        return (index, Report(node: status.node, address: node.address, status: status))
                    } catch {
                        return (index, Report(node: node.name, address: node.address, error: "unreachable: \(error)"))
                    }
                }
            }
            var reports: [(Int, Report)] = []
            for await report in group { reports.append(report) }
            return reports.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let groups = Set(reports.flatMap { $0.status?.groups.map(\.name) ?? [] })
        let led = Set(reports.flatMap { $0.status?.groups.filter { $0.role == "leader" }.map(\.name) ?? [] })
        let healthy = !groups.isEmpty && groups.isSubset(of: led)
        if json {
            struct Output: Encodable {
                var healthy: Bool
                var nodes: [Report]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Output(healthy: healthy, nodes: reports)), as: UTF8.self))
        } else {
            print(Self.table(reports), terminator: "")
            for report in reports {
                if let error = report.error { printError("raftctl: \(report.node) (\(report.address)): \(error)") }
            }
            for group in groups.subtracting(led).sorted() {
                printError("raftctl: group \(group) has no leader that answered")
            }
        }
        if !healthy {
            throw ExitCode(RaftCtlStatus.unavailable.rawValue)
        }
    }

    func validate() throws {
        try http.validate(with: cluster, command: "status")
    }

    /// An ASCII table with one row per node and group, and one per unreachable node.
    static func table(_ reports: [Report]) -> String {
        let header = ["NODE", "ADDRESS", "GROUP", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED"]
        var rows: [[String]] = []
        for report in reports {
            guard let status = report.status else {
                rows.append([report.node, report.address, "-", "unreachable", "-", "-", "-", "-"])
                continue
            }
            for group in status.groups {
                rows.append([
                    status.node, report.address, group.name, group.role, "\(group.term)", group.leader ?? "-",
                    "\(group.commitIndex)", "\(group.appliedIndex)",
                ])
            }
        }
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        let rule = "+" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "+\n"
        func line(_ cells: [String]) -> String {
            "|"
                + zip(cells, widths).map { " " + $0 + String(repeating: " ", count: $1 - $0.count) + " " }
                .joined(separator: "|") + "|\n"
        }
        return rule + line(header) + rule + rows.map(line).joined() + rule
    }
}
