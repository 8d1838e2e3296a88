import RaftCore
import RaftStorage
import SimulationThread
import Testing

/// SplitMix64: a seeded generator, so that a failing sequence replays exactly.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite(.onSimulationThread) struct DifferentialTests {
    /// Random appends (many of them conflicting), hard states, compactions and snapshot installs go to
    /// `MemoryStorage` and to a `DiskStorage` with tiny segments; the disk is reopened every few steps.
    /// Both must always load the same state.
    /// Seeds cycle through the ways a compaction drops the log: always a compaction record, a
    /// rewrite or a record depending on the kept log's size, always a rewrite.
    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func diskStorageAgreesWithMemoryStorage(seed: UInt64) throws {
        try withTemporaryDirectory { directory in
            var random = SeededGenerator(state: seed)
            let maxLogRewrite = [0, 300, 1 << 20][Int(seed % 3)]
            let options = DiskStorage.Options(fsync: .never, maxSegmentSize: 600, maxLogRewrite: maxLogRewrite)
            var disk = try DiskStorage(directory: directory, options: options)
            let memory = MemoryStorage()
            var term: Term = 1
            for step in 1...300 {
                let state = try memory.load()
                let snapshotIndex = state.snapshot?.metadata.index ?? 0
                let lastIndex = state.entries.last?.index ?? snapshotIndex
                let targets: [any PersistentStorage] = [memory, disk]
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5:
                    if Bool.random(using: &random) && Int.random(in: 0..<4, using: &random) == 0 {
                        term += 1
                    }
                    let first = LogIndex.random(in: snapshotIndex + 1...lastIndex + 1, using: &random)
                    let count = LogIndex.random(in: 1...6, using: &random)
                    let entries = makeEntries(
                        first...first + count - 1,
                        term: term,
                        size: Int.random(in: 0..<80, using: &random)
                    )
                    for target in targets {
                        try target.append(entries)
                    }
                case 5..<7:
                    let hardState = HardState(
                        term: term,
                        vote: Bool.random(using: &random) ? NodeID(UInt64.random(in: 0...3, using: &random)) : nil,
                        commit: LogIndex.random(in: 0...lastIndex, using: &random)
                    )
                    for target in targets {
                        try target.saveHardState(hardState)
                    }
                case 7:
                    guard lastIndex > snapshotIndex else {
                        continue
                    }
                    let index = LogIndex.random(in: snapshotIndex + 1...lastIndex, using: &random)
                    let entryTerm = state.entries[Int(index - snapshotIndex - 1)].term
                    for target in targets {
                        try target.compact(to: makeSnapshot(index: index, term: entryTerm, size: 50))
                    }
                case 8:
                    // Sometimes the log holds the snapshot point, sometimes it does not.
                    let index = LogIndex.random(in: snapshotIndex + 1...lastIndex + 5, using: &random)
                    let held = index <= lastIndex ? state.entries[Int(index - snapshotIndex - 1)].term : term
                    let snapshotTerm = Bool.random(using: &random) ? held : held + 1
                    term = max(term, snapshotTerm)
                    for target in targets {
                        try target.installSnapshot(makeSnapshot(index: index, term: snapshotTerm, size: 50))
                    }
                default:
                    for target in targets {
                        try target.sync()
                    }
                }
                #expect(try disk.load() == memory.load(), "seed \(seed), step \(step)")
                if step % 25 == 0 {
                    try disk.sync()
                    disk.close()
                    disk = try DiskStorage(directory: directory, options: options)
                    #expect(disk.warnings == [], "seed \(seed), step \(step)")
                    #expect(try disk.load() == memory.load(), "seed \(seed), step \(step) after reopening")
                }
            }
        }
    }
}
