/// Majority arithmetic over a voter set: the one place the engine counts to a quorum.
///
/// The commit index is the highest log index a majority stores, a ReadIndex round or a lease is
/// confirmed through the highest round a majority acknowledged (``majorityValue(of:_:)``); an
/// election is won by a majority of granted votes and check-quorum needs a majority of
/// recently active voters (``voteResult(of:_:)``).
enum Quorum {
    /// The number of voters that form a majority of `voterCount` voters.
    static func size(of voterCount: Int) -> Int {
        voterCount / 2 + 1
    }

    /// The highest value a majority of `voters` has reached: the largest `v` such that a
    /// majority of the voters have `value(voter) >= v`.
    static func majorityValue<Value: Comparable>(of voters: [NodeID], _ value: (NodeID) -> Value) -> Value {
        precondition(!voters.isEmpty, "a group has at least one voter")
        var values = voters.map(value)
        values.sort(by: >)
        return values[size(of: voters.count) - 1]
    }

    enum VoteResult: Sendable, Hashable {
        /// A majority said yes.
        case won
        /// A majority said no.
        case lost
        /// Neither yet.
        case pending
    }

    /// Counts a vote among `voters`; `vote(voter)` is true for yes, false for no and nil for a
    /// voter that has not answered.
    static func voteResult(of voters: [NodeID], _ vote: (NodeID) -> Bool?) -> VoteResult {
        var yes = 0
        var no = 0
        for voter in voters {
            switch vote(voter) {
            case true?: yes += 1
            case false?: no += 1
            case nil: break
            }
        }
        let majority = size(of: voters.count)
        if yes >= majority { return .won }
        if no >= majority { return .lost }
        return .pending
    }
}
