import ArgumentParser
import Foundation
import NIOHTTP1

/// `raftctl call --group G (--command VALUE | --query VALUE)`: one command or query to the state
/// machine of any group, whatever its plugin, through the nodes' HTTP API, and its answer on
/// standard output.
///
/// The request is `POST /v1/groups/{group}/command` or `POST /v1/groups/{group}/query` (with
/// `?consistency=stale` for `--consistency stale`) on a node's HTTP port; the node forwards it to
/// the leader. The body is the plugin's command or query as JSON, or with `--binary` in the
/// plugin's binary encoding (`application/octet-stream`).
///
/// A command carries one random client id and sequence number 1 (`Raft-Client-ID`,
/// `Raft-Sequence`), so when a node does not answer for good (no connection, 503, another 5xx)
/// the same request goes to the next node, round after round until `--timeout`, and is still
/// applied at most once: the group's session table answers a repeat. Queries carry neither.
///
/// Exit status: 0 with the plugin's answer, 2 for bad arguments, an unreadable value file or a
/// request a node refused (400, 404 for an unknown group, 415 when the plugin takes no JSON,
/// with the node's message), 3 when no node gave a final answer before `--timeout` (a command's
/// outcome is then unknown). Never 1: a plugin's "not found" is part of its answer.
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Send a command or a query to any group's state machine and print the answer.",
        discussion: """
            Posts the value to /v1/groups/<group>/command or /query on a node's HTTP API (the \
            node forwards it to the leader): the plugin's command or query as JSON, or with \
            --binary in its binary encoding. Prints the answer: JSON followed by a newline, or \
            with --binary the bytes unchanged. A command is sent with one random client id and \
            sequence number, so trying the next node after a failure never applies it twice. \
            Exit status 0 with the plugin's answer (its own "not found" included), 2 when a node \
            refuses the request (unknown group, undecodable value, no JSON support), 3 when no \
            node answers before --timeout (a command's outcome is then unknown).
            """
    )

    /// `--config` (whose nodes' `http` addresses are used), `--group` and `--timeout` (for every
    /// attempt together).
    @OptionGroup var cluster: ClusterOptions

    /// `--http-endpoints`, instead of `--config`.
    @OptionGroup var http: HTTPOptions

    @Option(
        help: ArgumentHelp(
            "A command for the group's state machine, as JSON; @path reads it from a file, @- from standard input.",
            valueName: "json|@path"
        )
    )
    var command: String?

    @Option(
        help: ArgumentHelp(
            "A query for the group's state machine, as JSON; @path reads it from a file, @- from standard input.",
            valueName: "json|@path"
        )
    )
    var query: String?

    @Flag(
        help: """
            Send the value's bytes in the plugin's binary encoding (the value must be @path or @-) \
            and write the binary answer unchanged.
            """
    )
    var binary = false

    @Option(
        help: ArgumentHelp(
            "For a query: stale lets the node asked answer from its own state, possibly behind (default: linearizable).",
            valueName: "consistency"
        )
    )
    var consistency: ConsistencyArgument?

    func validate() throws {
        try http.validate(with: cluster, command: "call")
        let (option, value) = try self.value()
        if binary, !value.hasPrefix("@") {
            throw ValidationError("--binary sends a file's bytes: give --\(option) @path, or @- for standard input")
        }
        if value == "@" {
            throw ValidationError("--\(option) @ names no file: give @path, or @- for standard input")
        }
        if consistency != nil, command != nil {
            throw ValidationError("--consistency applies to queries, not to --command")
        }
    }

    func run() async throws {
        var answer = try await self.answer()
        if !binary, answer.last != UInt8(ascii: "\n") {
            answer.append(UInt8(ascii: "\n"))
        }
        FileHandle.standardOutput.write(Data(answer))
    }

    /// Reads the value, sends it to the nodes in turn until one answers for good, and returns the
    /// body of its 200 answer.
    func answer() async throws -> [UInt8] {
        let (option, value) = try self.value()
        let body = try Self.read(value, option: option)
        let nodes = try http.nodes(cluster: cluster)
        let group = try http.groupName(cluster: cluster)
        var path = "/v1/groups/\(Self.pathSegment(group))/\(option)"
        if consistency == .stale {
            path += "?consistency=stale"
        }
        var headers = [("Content-Type", binary ? "application/octet-stream" : "application/json")]
        if command != nil {
            headers += [("Raft-Client-ID", "\(UInt64.random(in: 1...UInt64.max))"), ("Raft-Sequence", "1")]
        }
        return try await Self.post(
            path: path,
            headers: headers,
            body: body,
            to: nodes,
            timeout: cluster.timeout.duration,
            outcomeUnknown: command != nil
        )
    }

    /// The option given, `command` or `query`, and its value.
    private func value() throws -> (option: String, value: String) {
        switch (command, query) {
        case (let command?, nil): ("command", command)
        case (nil, let query?): ("query", query)
        default: throw ValidationError("give exactly one of --command and --query")
        }
    }

    /// The bytes of a value: the text itself, or a file's contents for `@path` (`@-`: standard input).
    static func read(_ value: String, option: String) throws -> [UInt8] {
        guard value.hasPrefix("@") else {
            return Array(value.utf8)
        }
        let path = String(value.dropFirst())
        do {
            if path == "-" {
                return Array(try FileHandle.standardInput.readToEnd() ?? Data())
            }
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let source = path == "-" ? "standard input" : "'\(path)'"
            throw RaftCtlError(.usage, "--\(option): cannot read \(source): \(error.localizedDescription)")
        }
    }

    /// A group name as one path segment, percent-encoded.
    static func pathSegment(_ name: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;?")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
    }

    /// Posts the same request to the nodes in turn, from the first, until one gives a final
    /// answer: the body of a 200, or a `RaftCtlError` with the usage status for another 4xx (the
    /// node's message). No connection or a 5xx moves on to the next node; after a round where
    /// every node failed, it waits a little (50 ms, doubling up to 1 s) before the next.
    ///
    /// - Parameter outcomeUnknown: whether the failure message says that the request may have
    ///   taken effect (a command) when it may have reached a node.
    static func post(
        path: String,
        headers: [(String, String)],
        body: [UInt8],
        to nodes: [HTTPOptions.Node],
        timeout: Duration,
        outcomeUnknown: Bool
    ) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var failures: [String?] = Array(repeating: nil, count: nodes.count)
        var reachedNode = false
        var pause = Duration.milliseconds(50)
        var attempt = 0
        while !nodes.isEmpty, ContinuousClock.now < deadline {
            let index = attempt % nodes.count
            let node = nodes[index]
            do {
                let response = try await httpRequest(
                    .POST,
                    host: node.host,
                    port: node.port,
                    path: path,
                    headers: headers,
                    body: body,
                    timeout: deadline - .now,
                    connectTimeout: .seconds(1),
                    tls: node.tls,
                    token: node.token
                )
                switch response.status.code {
                case 200:
                    return response.body
                case 500...599:
                    failures[index] = Self.describe(response)
                    reachedNode = true
                default:
                    throw RaftCtlError(.usage, "\(node.name) (\(node.address)): \(Self.describe(response))")
                }
            } catch let error as RaftCtlError {
                throw error
            } catch {
                failures[index] = "\(error)"
                reachedNode = reachedNode || (error as? HTTPRequestError)?.connected != false
            }
            attempt += 1
            if attempt.isMultiple(of: nodes.count) {
                let remaining = deadline - .now
                guard remaining > .zero else { break }
                try await Task.sleep(for: min(pause, remaining))
                pause = min(pause * 2, .seconds(1))
            }
        }
        let reasons = zip(nodes, failures).compactMap { node, failure in
            failure.map { "\(node.name) (\(node.address)): \($0)" }
        }
        var message = "no node answered within \(timeout)"
        if !reasons.isEmpty {
            message += ": " + reasons.joined(separator: "; ")
        }
        if outcomeUnknown, reachedNode {
            message += " (whether the command was applied is unknown)"
        }
        throw RaftCtlError(.unavailable, message)
    }

    /// `HTTP 415 Unsupported Media Type: <the error of the JSON body>`.
    private static func describe(_ response: HTTPResponse) -> String {
        struct ErrorBody: Decodable {
            var error: String
        }
        let status = "HTTP \(response.status.code) \(response.status.reasonPhrase)"
        if let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)) {
            return "\(status): \(body.error)"
        }
        let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? status : "\(status): \(text)"
    }
}
