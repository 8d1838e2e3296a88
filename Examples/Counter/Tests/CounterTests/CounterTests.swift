import Counter
import Foundation
import RaftTesting
import StateMachineAPI
import Testing

/// Determinism, snapshot round trip, codec round trip and malformed input: the checks every
/// plugin passes before a host serves it.
@Test(arguments: StateMachineConformanceCheck.allCases)
func conformance(_ check: StateMachineConformanceCheck) throws {
    let suite = StateMachineConformance<Counter>(seed: 7, count: 200, queries: [Counter.Query()]) { random in
        Counter.Command(add: Int64.random(in: -5...5, using: &random))
    }
    try suite.run(check)
}

/// The JSON shapes the README promises.
@Test func jsonShapes() throws {
    #expect(try JSONDecoder().decode(Counter.Command.self, from: Data(#"{"add":5}"#.utf8)) == .init(add: 5))
    #expect(try JSONDecoder().decode(Counter.Query.self, from: Data("{}".utf8)) == Counter.Query())
    #expect(String(decoding: try JSONEncoder().encode(Counter.Response(5)), as: UTF8.self) == "5")
}
