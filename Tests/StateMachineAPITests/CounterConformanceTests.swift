import RaftTesting
import StateMachineAPI
import Testing

// The conformance test of Docs.docc/WritingAStateMachine.md, as written there.
@Test(arguments: StateMachineConformanceCheck.allCases)
func conformance(_ check: StateMachineConformanceCheck) throws {
    let suite = StateMachineConformance<Counter>(seed: 7, count: 200, queries: [.value]) { random in
        Bool.random(using: &random) ? .add(Int64.random(in: -5...5, using: &random)) : .reset
    }
    try suite.run(check)
}
