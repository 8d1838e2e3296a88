import Foundation
import NIOCore
import NIOHTTP1

/// The operators' membership and leadership routes of the HTTP API, JSON in and out:
///
/// - `GET /v1/groups/{group}/members`: the members (``MembersView``);
/// - `POST /v1/groups/{group}/members` `{"name": "n4", "peer": "host:port", "client": ...,
///   "http": ..., "learner": false}`: adds a member (addresses may be left out for a node of the
///   node's `cluster.yaml`); without `learner: true` it joins as a learner and is promoted once
///   it has caught up;
/// - `POST /v1/groups/{group}/members/{name}/promote`, `DELETE /v1/groups/{group}/members/{name}`;
/// - `GET /v1/groups/{group}/leader`, `POST /v1/groups/{group}/leader` `{"to": "n2"}` (or `{}`:
///   the most up-to-date follower);
/// - `GET /v1/groups/{group}/snapshot`: a backup (`SnapshotFile`) taken by the leader once it has
///   applied everything committed before the request.
///
/// Changes are answered once applied. A node that does not lead answers 307 with the leader's
/// URL in `Location` (`curl -L` follows it); 409 when the change cannot be made as asked, 503
/// when it may work later (a change in progress, no leader).
package struct MembershipHTTP: Sendable {
    package typealias Members = @Sendable (String) -> MembersView?
    package typealias Perform = @Sendable (MembershipOperation, String) async -> MembershipOutcome
    package typealias Backup = @Sendable (String) async -> Result<HTTPStreamedBody, MembershipOutcome>

    private let members: Members
    private let perform: Perform
    private let backup: Backup
    /// `http`, or `https` when the cluster speaks TLS: the scheme of the redirects.
    private let scheme: String

    package init(
        members: @escaping Members,
        perform: @escaping Perform,
        backup: @escaping Backup,
        scheme: String = "http"
    ) {
        self.members = members
        self.perform = perform
        self.backup = backup
        self.scheme = scheme
    }

    /// Answers one of the membership and leadership routes of ``HostRoute``.
    package func serve(
        _ route: HostRoute,
        parameters: [String: String],
        _ request: HTTPRequest,
        path: String
    ) async -> HTTPAnswer {
        let group = parameters["group", default: ""]
        let name = parameters["name", default: ""]
        switch route {
        case .members:
            guard let view = members(group) else {
                return .error(.notFound, "this cluster has no group named \"\(group)\"")
            }
            return .json(.ok, view)
        case .addMember:
            guard let body = decode(AddMember.self, request) else {
                return .error(
                    .badRequest,
                    #"the body must be JSON: {"name": "n4", "peer": "host:port", "client": "host:port", "http": "host:port", "learner": false}"#
                )
            }
            let member = MemberDirectory.Member(
                name: body.name,
                id: 0,
                peer: body.peer ?? "",
                client: body.client ?? "",
                http: body.http ?? ""
            )
            return answer(await perform(.add(member, asVoter: !(body.learner ?? false)), group), path: path)
        case .promoteMember:
            return answer(await perform(.promote(name: name), group), path: path)
        case .removeMember:
            return answer(await perform(.remove(name: name), group), path: path)
        case .leader:
            guard let view = members(group) else {
                return .error(.notFound, "this cluster has no group named \"\(group)\"")
            }
            return .json(.ok, LeaderView(group: group, leader: view.leader))
        case .transferLeader:
            guard let body = decode(TransferLeader.self, request) else {
                return .error(
                    .badRequest,
                    #"the body must be JSON: {"to": "n2"}, or {} for the most up-to-date follower"#
                )
            }
            let outcome = await perform(.transferLeadership(to: body.to), group)
            if case .done(let view) = outcome { return .json(.ok, LeaderView(group: group, leader: view.leader)) }
            return answer(outcome, path: path)
        case .snapshot:
            switch await backup(group) {
            case .success(let file):
                var answer = HTTPAnswer(.ok, contentType: "application/octet-stream", body: [])
                answer.streamedBody = file
                answer.headers.append((name: "content-disposition", value: "attachment; filename=\"\(group).snap\""))
                return answer
            case .failure(let outcome):
                return answer(outcome, path: path)
            }
        default:
            return .error(.notFound, "no such path: \(path)")
        }
    }

    private func answer(_ outcome: MembershipOutcome, path: String) -> HTTPAnswer {
        switch outcome {
        case .done(let view):
            return .json(.ok, view)
        case .unknownGroup:
            return .error(.notFound, "no such group")
        case .rejected(let reason):
            return .error(.conflict, reason)
        case .unavailable(let reason):
            return .error(.serviceUnavailable, reason)
        case .notLeader(let leader, let http?):
            var redirect = HTTPAnswer.json(
                .temporaryRedirect,
                ["error": "this node does not lead the group; \(leader ?? "the leader") does", "leader": leader ?? ""]
            )
            redirect.headers.append((name: "location", value: "\(scheme)://\(http)\(path)"))
            return redirect
        case .notLeader:
            return .error(.serviceUnavailable, "the group has no leader right now; retry")
        }
    }

    private func decode<Body: Decodable>(_ type: Body.Type, _ request: HTTPRequest) -> Body? {
        let bytes = Array(request.body.readableBytesView)
        return try? JSONDecoder().decode(Body.self, from: Data(bytes.isEmpty ? Array("{}".utf8) : bytes))
    }

    private struct AddMember: Decodable {
        var name: String
        var peer: String?
        var client: String?
        var http: String?
        var learner: Bool?
    }

    private struct TransferLeader: Decodable {
        var to: String?
    }

    private struct LeaderView: Encodable {
        var group: String
        var leader: String?
    }
}
