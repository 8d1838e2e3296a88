import ArgumentParser
import ClusterConfig
import Foundation
import NIOHTTP1

/// `raftctl member list | add | add-learner | promote | remove`: a group's membership, through
/// the nodes' HTTP API (`/v1/groups/{group}/members`).
struct Member: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member",
        abstract: "List or change the members of a group.",
        discussion: """
            Changes go to the group's leader (any node redirects there) and are answered once \
            applied. Without --group a change applies to every group, one after the other; \
            list shows every group. Exit status 0 when done, 2 when the change cannot be made \
            as asked, 3 when no leader answered before --timeout.
            """,
        subcommands: [MemberList.self, MemberAdd.self, MemberAddLearner.self, MemberPromote.self, MemberRemove.self]
    )

    @OptionGroup var cluster: ClusterOptions
}

/// The options every member command shares, and its requests.
struct MemberTarget: ParsableArguments {
    @OptionGroup var cluster: ClusterOptions
    @OptionGroup var http: HTTPOptions

    func validate() throws {
        try http.validate(with: cluster, command: "member")
    }

    /// `--group`, or every group of the configuration.
    func groups() throws -> [String] {
        if let group = cluster.group { return [group] }
        if http.httpEndpoints != nil { return ["kv"] }
        return try ClusterConfiguration.load(path: cluster.config ?? "cluster.yaml").groups.map(\.name)
    }

    /// Sends `method path body` to the nodes until one answers for the group's leader: 307
    /// redirects are followed, 503 answers retried (with a pause) until `--timeout`. Returns
    /// the 200 answer's body, which goes to `bodyFile` instead when given.
    func send(
        _ method: HTTPMethod,
        _ path: String,
        body: [UInt8]? = nil,
        into bodyFile: BodyFile? = nil
    ) async throws -> [UInt8] {
        let nodes = try http.nodes(cluster: cluster)
        let deadline = ContinuousClock.now + cluster.timeout.duration
        var lastProblem = "no node answered"
        var pause = Duration.milliseconds(50)
        var redirect: (host: String, port: Int)?
        var attempt = 0
        // Every node is reached with the same TLS settings and token.
        let (tls, token) = (nodes.first?.tls, nodes.first?.token)
        while ContinuousClock.now < deadline {
            let target = redirect ?? (nodes[attempt % nodes.count].host, nodes[attempt % nodes.count].port)
            redirect = nil
            attempt += 1
            do {
                let response = try await httpRequest(
                    method,
                    host: target.host,
                    port: target.port,
                    path: path,
                    headers: body == nil ? [] : [("content-type", "application/json")],
                    body: body,
                    timeout: deadline - .now,
                    connectTimeout: .seconds(1),
                    tls: tls,
                    token: token,
                    bodyFile: bodyFile
                )
                switch response.status.code {
                case 200:
                    return response.body
                case 307:
                    if let location = response.headers.first(name: "location"),
                        let url = URL(string: location), let host = url.host, let port = url.port
                    {
                        redirect = (host, port)
                        continue
                    }
                    lastProblem = "a redirect without a usable location"
                case 503:
                    lastProblem = Self.errorText(response)
                default:
                    throw RaftCtlError(.usage, "\(hostAndPort(target.host, target.port)): \(Self.errorText(response))")
                }
            } catch let error as RaftCtlError {
                throw error
            } catch {
                lastProblem = "\(hostAndPort(target.host, target.port)): \(error)"
            }
            if attempt.isMultiple(of: nodes.count) {
                let remaining = deadline - .now
                guard remaining > .zero else { break }
                try await Task.sleep(for: min(pause, remaining))
                pause = min(pause * 2, .seconds(1))
            }
        }
        throw RaftCtlError(.unavailable, "no leader answered within \(cluster.timeout.duration): \(lastProblem)")
    }

    static func errorText(_ response: HTTPResponse) -> String {
        struct ErrorBody: Decodable { var error: String }
        let status = "HTTP \(response.status.code) \(response.status.reasonPhrase)"
        if let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)) {
            return "\(status): \(body.error)"
        }
        return status
    }

    /// A group's members as a table: name, id, role, leader mark, addresses, match index.
    static func table(_ body: [UInt8]) throws -> String {
        struct View: Decodable {
            struct Entry: Decodable {
                var name: String
                var id: UInt64
                var role: String
                var isLeader: Bool
                var peer: String
                var client: String
                var http: String
                var matchIndex: UInt64?
            }
            var group: String
            var joint: Bool
            var members: [Entry]
            var removed: [UInt64]
        }
        guard let view = try? JSONDecoder().decode(View.self, from: Data(body)) else {
            throw RaftCtlError(.unavailable, "the node's answer is not a member list")
        }
        var lines = ["group \(view.group)" + (view.joint ? " (joint configuration)" : "")]
        for member in view.members {
            let leader = member.isLeader ? " leader" : ""
            let match = member.matchIndex.map { " match=\($0)" } ?? ""
            lines.append(
                "  \(member.name) id=\(member.id) \(member.role)\(leader) peer=\(member.peer) client=\(member.client) "
                    + "http=\(member.http)\(match)"
            )
        }
        if !view.removed.isEmpty {
            lines.append("  removed ids: \(view.removed.map(String.init).joined(separator: ","))")
        }
        return lines.joined(separator: "\n")
    }

    static func path(_ group: String, _ rest: String) -> String {
        let encoded = group.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? group
        return "/v1/groups/\(encoded)/\(rest)"
    }
}

struct MemberList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show each group's members.")
    @OptionGroup var target: MemberTarget

    func run() async throws {
        for group in try target.groups() {
            // Any node answers: its view of the membership (with match indexes on the leader).
            print(try MemberTarget.table(try await target.send(.GET, MemberTarget.path(group, "members"))))
        }
    }
}

/// `add` and `add-learner`: the new member's name and (unless the file lists it) addresses.
struct NewMemberOptions: ParsableArguments {
    @Argument(help: "The new member's name (a node id; never one that was removed).")
    var name: String
    @Option(help: "Its peer address (host:port); default: from the configuration file.")
    var peer: String?
    @Option(help: "Its client address (host:port); default: from the configuration file.")
    var client: String?
    @Option(name: .customLong("http"), help: "Its HTTP address (host:port); default: from the configuration file.")
    var httpAddress: String?

    /// The request body; addresses not given come from the node's entry in `--config` when it
    /// has one (the leader's own file may predate the node).
    func body(learner: Bool, cluster: ClusterOptions, http: HTTPOptions) -> [UInt8] {
        struct Body: Encodable {
            var name: String
            var peer, client, http: String?
            var learner: Bool
        }
        let known =
            http.httpEndpoints == nil
            ? (try? ClusterConfiguration.load(path: cluster.config ?? "cluster.yaml"))?.node(id: name) : nil
        let body = Body(
            name: name,
            peer: peer ?? known?.peer.description,
            client: client ?? known?.client.description,
            http: httpAddress ?? known?.http.description,
            learner: learner
        )
        return (try? Array(JSONEncoder().encode(body))) ?? []
    }
}

extension MemberTarget {
    /// Adds `member` to every targeted group and prints each group's members.
    func add(_ member: NewMemberOptions, learner: Bool) async throws {
        for group in try groups() {
            let answer = try await send(
                .POST,
                Self.path(group, "members"),
                body: member.body(learner: learner, cluster: cluster, http: http)
            )
            print(try Self.table(answer))
        }
    }
}

struct MemberAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a voter: it joins as a learner and is promoted once it has caught up."
    )
    @OptionGroup var target: MemberTarget
    @OptionGroup var member: NewMemberOptions

    func run() async throws {
        try await target.add(member, learner: false)
    }
}

struct MemberAddLearner: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-learner",
        abstract: "Add a learner: it receives the log but does not vote."
    )
    @OptionGroup var target: MemberTarget
    @OptionGroup var member: NewMemberOptions

    func run() async throws {
        try await target.add(member, learner: true)
    }
}

struct MemberPromote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Make a caught-up learner a voter."
    )
    @OptionGroup var target: MemberTarget
    @Argument(help: "The learner's name.") var name: String

    func run() async throws {
        for group in try target.groups() {
            print(
                try MemberTarget.table(
                    try await target.send(.POST, MemberTarget.path(group, "members/\(name)/promote"))
                )
            )
        }
    }
}

struct MemberRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a member; its id is never used again in the group."
    )
    @OptionGroup var target: MemberTarget
    @Argument(help: "The member's name.") var name: String

    func run() async throws {
        for group in try target.groups() {
            print(try MemberTarget.table(try await target.send(.DELETE, MemberTarget.path(group, "members/\(name)"))))
        }
    }
}

/// `raftctl leader transfer [--to NODE]`.
struct Leader: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leader",
        abstract: "Show or move a group's leadership.",
        subcommands: [LeaderTransfer.self]
    )
    @OptionGroup var cluster: ClusterOptions
}

struct LeaderTransfer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Hand the leadership to a voter (default: the most up-to-date follower); answered once done."
    )
    @OptionGroup var target: MemberTarget
    @Option(help: "The voter to hand the leadership to.") var to: String?

    func run() async throws {
        for group in try target.groups() {
            let body = Array((to.map { #"{"to":"\#($0)"}"# } ?? "{}").utf8)
            let answer = try await target.send(.POST, MemberTarget.path(group, "leader"), body: body)
            print(
                "group \(group): "
                    + String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
    }
}
