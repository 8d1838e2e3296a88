import ClusterConfig
import Foundation
import KeyValueStore
import LockService
import NIOHTTP1
import RaftClient
import Testing

@testable import ReplicationHost

/// The operators' routes: the console page, the cluster view it polls and the OpenAPI
/// description, on three in-process nodes whose HTTP ports are in the configuration.
@Suite("Console and cluster view")
struct ConsoleTests {
    private static func view(port: Int) async throws -> ClusterView {
        let answer = try await httpRequest(.GET, port: port, "/v1/cluster")
        #expect(answer.status == 200 && answer.contentType == "application/json")
        return try JSONDecoder().decode(ClusterView.self, from: Data(answer.bytes))
    }

    @Test("a follower's /v1/cluster shows every node, the leader, lag and leader changes; a stopped node unreachable")
    func clusterView() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(
            directory: directory,
            groups: HTTPTests.groups,
            maxBodySize: 1024,
            requestTimeout: .seconds(20),
            fixedHTTPPorts: true
        )
        let recorder = LogRecorder()
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            let leader = try #require(try await cluster.waitForLeaders()["kv"])
            let followers = ["n1", "n2", "n3"].filter { $0 != leader }
            let follower = try #require(cluster.httpPorts[followers[0]])
            _ = try await httpRequest(.PUT, port: follower, "/v1/kv/k", body: "v")
            _ = try await httpRequest(.GET, port: follower, "/v1/kv/k")

            // Served by a follower: every node reachable, the leader, its lag table and the counters.
            let view = try await eventually(within: .seconds(20), "the leader's lag table lists both followers") {
                let view = try await Self.view(port: follower)
                let leading = view.nodes.first { $0.id == leader }?.status?.groups.first { $0.name == "kv" }
                return leading?.replicationLag?.keys.sorted() == followers ? view : nil
            }
            #expect(view.cluster == "http" && view.servedBy == followers[0])
            #expect(view.nodes.map(\.id) == ["n1", "n2", "n3"] && view.nodes.allSatisfy(\.reachable))
            let kv = try #require(view.groups.first { $0.name == "kv" })
            #expect(kv.leader == leader && kv.stateMachine == "KeyValueStore" && kv.term > 0)
            #expect(kv.leaderChanges.first?.leader == leader && kv.leaderChanges.first?.term == kv.term)
            let leaderKV = try #require(view.nodes.first { $0.id == leader }?.status?.groups.first { $0.name == "kv" })
            #expect((leaderKV.proposals ?? 0) >= 1 && (leaderKV.reads ?? 0) >= 1)

            // Stop the other follower: the view still answers at once and shows it unreachable.
            await cluster.stop(followers[1])
            let after = try await Self.view(port: follower)
            let stopped = try #require(after.nodes.first { $0.id == followers[1] })
            #expect(!stopped.reachable && stopped.status == nil && stopped.error != nil)
            #expect(after.groups.first { $0.name == "kv" }?.leader == leader)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("GET / is the console page, /v1/openapi.yaml the description; a wrong method is 405 with Allow")
    func pages() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(directory: directory, groups: HTTPTests.groups, maxBodySize: 1024)
        do {
            try await cluster.start("n1", logger: LogRecorder().logger(label: "n1"))
            let port = try #require(cluster.httpPorts["n1"])
            let page = try await httpRequest(.GET, port: port, "/")
            #expect(page.status == 200 && page.contentType == "text/html; charset=utf-8")
            #expect(
                page.body.contains("<title>RaftHost console</title>") && page.body.contains(#"fetch("/v1/cluster""#)
            )
            #expect(!page.body.contains("http://") && !page.body.contains("https://"), "no external assets")

            let description = try await httpRequest(.GET, port: port, "/v1/openapi.yaml")
            #expect(description.status == 200 && description.contentType == "application/yaml")
            #expect(description.body == (try String(contentsOfFile: OpenAPITests.documentPath, encoding: .utf8)))

            let refused = try await httpRequest(.POST, port: port, "/v1/status")
            #expect(refused.status == 405 && refused.headers.first(name: "allow") == "GET")
            let plugin = try await httpRequest(.PATCH, port: port, "/v1/kv/k")
            #expect(plugin.status == 405 && plugin.headers.first(name: "allow") == "GET, PUT, DELETE")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

}
