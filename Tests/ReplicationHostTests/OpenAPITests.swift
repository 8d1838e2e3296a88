import Foundation
import KeyValueStore
import LockService
import StateMachineAPI
import StateMachineHTTP
import Testing

@testable import ReplicationHost

/// `openapi.yaml` describes every route the server has, and the binary serves that very file.
@Suite("OpenAPI description")
struct OpenAPITests {
    static let documentPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi.yaml").path

    /// `METHOD /path` of every operation under `paths:` (the file's own layout: paths at two
    /// spaces, their methods at four).
    static func describedOperations() throws -> Set<String> {
        let text = try String(contentsOfFile: documentPath, encoding: .utf8)
        var operations: Set<String> = []
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty { inPaths = line == "paths:" }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let key = line.dropFirst(4).prefix { $0 != ":" }
                if ["get", "put", "post", "delete", "patch", "head", "options"].contains(key) {
                    operations.insert("\(key.uppercased()) \(path)")
                }
            }
        }
        return operations
    }

    /// Every route of the stock `rafthost` with the repository's `cluster.yaml` (its first group
    /// runs KeyValueStore): the host's own (``HostRoute``) and each plugin's declared routes,
    /// under `/v1/groups/{group}/` and, for the first group's plugin, under `/v1/`.
    static func serverOperations() -> Set<String> {
        var operations = Set(HostRoute.allCases.map(\.rawValue))
        let plugins: [any StateMachine.Type] = [KeyValueStore.self, LockService.self]
        for plugin in plugins {
            for route in PluginHTTPInterface(for: plugin).routes {
                let pattern = route.pattern.map { segment in
                    switch segment {
                    case .literal(let literal): literal
                    case .parameter(let name): "{\(name)}"
                    }
                }.joined(separator: "/")
                operations.insert("\(route.method) /v1/groups/{group}/\(pattern)")
                if plugin == KeyValueStore.self { operations.insert("\(route.method) /v1/\(pattern)") }
            }
        }
        return operations
    }

    @Test("every route the server has is described, and nothing else")
    func everyRouteDescribed() throws {
        let described = try Self.describedOperations()
        let served = Self.serverOperations()
        #expect(served.subtracting(described).sorted() == [], "routes missing from openapi.yaml")
        #expect(described.subtracting(served).sorted() == [], "operations in openapi.yaml that no route serves")
        #expect(served.contains("GET /v1/kv/{key}") && served.contains("POST /v1/groups/{group}/locks/{lock}/acquire"))
    }

    @Test("the binary embeds openapi.yaml as it is (`make openapi` after editing it)")
    func embeddedCopyIsCurrent() throws {
        let file = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        #expect(OpenAPIDocument.yaml + "\n" == file, "run `make openapi`")
        #expect(file.hasPrefix("openapi: 3.1.0\n"))
    }
}
