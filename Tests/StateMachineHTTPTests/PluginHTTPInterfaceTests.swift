import KeyValueStore
import LockService
import StateMachineAPI
import Testing

@testable import StateMachineHTTP

@Suite("Plugin HTTP interface")
struct PluginHTTPInterfaceTests {
    @Test("a route matches its method and pattern; parameters come out percent-decoded as given")
    func matching() throws {
        let interface = PluginHTTPInterface(for: KeyValueStore.self)
        guard case .route(let route, let parameters) = interface.match(method: "POST", path: ["kv", "a/b", "append"])
        else {
            Issue.record("no route for POST kv/{key}/append")
            return
        }
        #expect(parameters == ["key": "a/b"])
        let request = PluginRequest(method: "POST", parameters: parameters, body: Array("x".utf8))
        let operation = try route.operation(request)
        #expect(operation.kind == .command)
        #expect(try KeyValueStore.Command(decoding: operation.bytes) == .append(key: "a/b", value: "x"))

        guard case .methodNotAllowed(let allowed) = interface.match(method: "PATCH", path: ["kv", "k"]),
            allowed == ["GET", "PUT", "DELETE"]
        else {
            Issue.record("PATCH kv/{key} should be a known path with a wrong method")
            return
        }
        guard case .none = interface.match(method: "GET", path: ["kv", "k", "extra", "segments"]) else {
            Issue.record("a longer path matched")
            return
        }
    }

    @Test("a route refuses what it cannot turn into a command, with its status")
    func refusals() throws {
        let interface = PluginHTTPInterface(for: KeyValueStore.self)
        guard case .route(let route, let parameters) = interface.match(method: "PUT", path: ["kv", "k"]) else {
            Issue.record("no route for PUT kv/{key}")
            return
        }
        let invalidUTF8 = PluginRequest(method: "PUT", parameters: parameters, body: [0xFF, 0xFE])
        #expect(throws: HTTPRouteError(status: 400, "the body must be UTF-8")) { try route.operation(invalidUTF8) }
        let emptyKey = PluginRequest(method: "PUT", parameters: ["key": ""], body: [])
        #expect(throws: HTTPRouteError(status: 400, "the key is empty")) { try route.operation(emptyKey) }
    }

    @Test("JSON forms exist exactly for Codable commands, queries and responses")
    func json() throws {
        let keyValue = PluginHTTPInterface(for: KeyValueStore.self)
        let toBinary = try #require(keyValue.commandFromJSON)
        let encoded = try toBinary(Array(#"{"put":{"key":"k","value":"v"}}"#.utf8))
        #expect(try KeyValueStore.Command(decoding: encoded) == .put(key: "k", value: "v"))
        #expect(throws: (any Error).self) { try toBinary(Array(#"{"put":{}}"#.utf8)) }
        let toJSON = try #require(keyValue.responseToJSON)
        #expect(
            String(decoding: try toJSON(KeyValueStore.Response.noKey.encoded()), as: UTF8.self) == "{\"noKey\":{}}\n"
        )

        let locks = PluginHTTPInterface(for: LockService.self)
        #expect(locks.commandFromJSON == nil && locks.queryFromJSON == nil && locks.responseToJSON == nil)
        #expect(!locks.routes.isEmpty)
    }
}
