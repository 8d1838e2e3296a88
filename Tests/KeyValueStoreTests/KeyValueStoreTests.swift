import KeyValueStore
import RaftTesting
import StateMachineAPI
import Testing

@Suite("KeyValueStore semantics")
struct KeyValueStoreTests {
    private var store = KeyValueStore()
    private var index: UInt64 = 0

    private mutating func apply(_ command: KeyValueStore.Command) -> KeyValueStore.Response {
        index += 1
        return store.apply(command, context: ApplyContext(index: index, time: index))
    }

    private func get(_ key: String) -> KeyValueStore.Response {
        store.query(.get(key: key), context: QueryContext(index: index, time: index))
    }

    @Test mutating func getOfMissingKeyIsErrNoKeyAndDistinctFromEmptyValue() {
        #expect(get("a") == .noKey)
        #expect(get("a").valueOrEmpty == "")
        #expect(apply(.put(key: "a", value: "")) == .ok)
        #expect(get("a") == .value(""))
        #expect(get("a").valueOrEmpty == "")
        #expect(get("a") != .noKey)
    }

    @Test mutating func putOverwrites() {
        #expect(apply(.put(key: "k", value: "1")) == .ok)
        #expect(apply(.put(key: "k", value: "2")) == .ok)
        #expect(get("k") == .value("2"))
    }

    @Test mutating func appendToMissingKeyActsAsPut() {
        #expect(apply(.append(key: "k", value: "x")) == .ok)
        #expect(get("k") == .value("x"))
        #expect(apply(.append(key: "k", value: "y")) == .ok)
        #expect(get("k") == .value("xy"))
    }

    @Test mutating func deleteRemovesAndReportsMissingKeys() {
        _ = apply(.put(key: "k", value: "v"))
        #expect(apply(.delete(key: "k")) == .ok)
        #expect(get("k") == .noKey)
        #expect(apply(.delete(key: "k")) == .noKey)
        #expect(store.count == 0)
    }

    @Test(arguments: [
        // (initial value, expected, new, swapped, value after)
        (String?.none, String?.none, "n", true, String?.some("n")),
        (nil, "x", "n", false, nil),
        ("x", nil, "n", false, "x"),
        ("x", "x", "n", true, "n"),
        ("x", "y", "n", false, "x"),
        ("", "", "n", true, "n"),
        ("", nil, "n", false, ""),
    ])
    func compareAndSwap(initial: String?, expected: String?, new: String, swapped: Bool, after: String?) {
        var store = KeyValueStore(contents: initial.map { ["k": $0] } ?? [:])
        let response = store.apply(
            .compareAndSwap(key: "k", expected: expected, new: new),
            context: ApplyContext(index: 1, time: 0)
        )
        #expect(response == .compareAndSwap(swapped: swapped, current: after))
        #expect(store["k"] == after)
    }

    @Test mutating func keysAreIndependent() {
        _ = apply(.put(key: "a", value: "1"))
        _ = apply(.append(key: "b", value: "2"))
        _ = apply(.delete(key: "a"))
        #expect(store.contents == ["b": "2"])
    }

    @Test func snapshotIsIndependentOfInsertionHistory() throws {
        var forward = KeyValueStore()
        var backward = KeyValueStore()
        let keys = (0..<200).map { "key\($0)" }
        for (number, key) in keys.enumerated() {
            _ = forward.apply(.put(key: key, value: key), context: ApplyContext(index: UInt64(number + 1), time: 0))
        }
        for (number, key) in keys.reversed().enumerated() {
            _ = backward.apply(.put(key: key, value: key), context: ApplyContext(index: UInt64(number + 1), time: 0))
        }
        #expect(try forward.snapshot() == backward.snapshot())
        #expect(try KeyValueStore(snapshot: forward.snapshot()) == forward)
    }

    @Test func snapshotWithDuplicateKeysIsRejected() {
        var writer = BinaryWriter()
        writer.writeUInt8(1)
        writer.writeVarint(2)
        for _ in 0..<2 {
            writer.writeString("k")
            writer.writeString("v")
        }
        #expect(throws: BinaryDecodingError.self) { try KeyValueStore(snapshot: writer.bytes) }
    }

    @Test func streamedSnapshotKeepsFormatVersion1AndRoundTripsInSmallPieces() throws {
        let contents = Dictionary(
            uniqueKeysWithValues: (0..<2_000).map { ("key\($0)", String(repeating: "v", count: $0 % 300)) }
        )
        let store = KeyValueStore(contents: contents)
        // Version 1 as written before the store had shards: every key in ascending order. It
        // still reads, and the same pairs written now, in another order, read the same.
        var version1 = BinaryWriter()
        version1.writeUInt8(1)
        version1.writeVarint(UInt64(contents.count))
        for key in contents.keys.sorted() {
            version1.writeString(key)
            version1.writeString(contents[key]!)
        }
        #expect(try KeyValueStore(snapshot: version1.bytes) == store)

        var pieces: [[UInt8]] = []
        var output = SnapshotOutputStream(bufferSize: 1_024) { pieces.append($0) }
        try store.writeSnapshot(to: &output)
        try output.flush()
        let streamed = pieces.flatMap { $0 }
        #expect(streamed.count == version1.bytes.count && streamed.first == 1)
        #expect(try KeyValueStore(snapshot: streamed).contents == contents)
        #expect(try store.snapshot() == streamed)
        // Bounded by the buffer plus one pair, however large the store.
        #expect(output.peakBufferedBytes <= 1_024 + 320)
        #expect(pieces.count > streamed.count / 1_400)

        var offset = 0
        var input = SnapshotInputStream(count: streamed.count, chunkSize: 512) { count in
            let end = min(offset + min(count, 97), streamed.count)
            defer { offset = end }
            return Array(streamed[offset..<end])
        }
        #expect(try KeyValueStore(snapshotStream: &input) == store)
        try input.finish()
    }

    @Test func streamedSnapshotIsDeterministicAndRejectsDamage() throws {
        var forward = KeyValueStore()
        var backward = KeyValueStore()
        for number in 0..<500 {
            _ = forward.apply(.put(key: "k\(number)", value: "\(number)"), context: ApplyContext(index: 1, time: 0))
            _ = backward.apply(
                .put(key: "k\(499 - number)", value: "\(499 - number)"),
                context: ApplyContext(index: 1, time: 0)
            )
        }
        let bytes = try SnapshotOutputStream.collect(bufferSize: 100) { try forward.writeSnapshot(to: &$0) }
        #expect(try SnapshotOutputStream.collect(bufferSize: 7) { try backward.writeSnapshot(to: &$0) } == bytes)
        for length in [1, 2, bytes.count / 2, bytes.count - 1] {
            var truncated = SnapshotInputStream(Array(bytes.prefix(length)))
            #expect(throws: BinaryDecodingError.self) { try KeyValueStore(snapshotStream: &truncated) }
        }
        var version2 = SnapshotInputStream([2, 0])
        #expect(throws: BinaryDecodingError.self) { try KeyValueStore(snapshotStream: &version2) }
    }

    @Test func unknownSnapshotVersionIsRejected() {
        #expect(throws: BinaryDecodingError.self) { try KeyValueStore(snapshot: [2, 0]) }
    }

    @Test func commandEncodingIsCompact() {
        // Tag, two one-byte lengths, the UTF-8 bytes.
        #expect(KeyValueStore.Command.put(key: "k", value: "v").encoded() == [0, 1, 107, 1, 118])
        #expect(KeyValueStore.Response.ok.encoded() == [0])
    }
}

@Suite("KeyValueStore conformance")
struct KeyValueStoreConformanceTests {
    private static let keys = ["a", "b", "", "ключ", "k e y"]

    private static let suite = StateMachineConformance<KeyValueStore>(
        seed: 42,
        count: 300,
        queries: keys.map { .get(key: $0) }
    ) { random in
        let key = keys.randomElement(using: &random) ?? "a"
        let value = String(UInt64.random(in: 0...9, using: &random))
        switch UInt8.random(in: 0..<5, using: &random) {
        case 0: return .put(key: key, value: value)
        case 1: return .append(key: key, value: value)
        case 2: return .delete(key: key)
        case 3: return .compareAndSwap(key: key, expected: nil, new: value)
        default:
            return .compareAndSwap(key: key, expected: String(UInt64.random(in: 0...9, using: &random)), new: value)
        }
    }

    @Test(arguments: StateMachineConformanceCheck.allCases)
    func conformance(_ check: StateMachineConformanceCheck) throws {
        try Self.suite.run(check)
    }
}
