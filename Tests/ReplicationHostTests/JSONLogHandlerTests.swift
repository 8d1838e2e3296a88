import ArgumentParser
import Foundation
import Logging
import Synchronization
import Testing

@testable import RaftHostCLI

@Suite("--log-format json: one JSON object per log line")
struct JSONLogHandlerTests {
    /// The lines a handler wrote.
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])

        var all: [String] { lines.withLock { $0 } }

        func handler(label: String, provider: Logger.MetadataProvider? = nil) -> JSONLogHandler {
            JSONLogHandler(label: label, metadataProvider: provider) { [self] line in
                lines.withLock { $0.append(line) }
            }
        }
    }

    /// `line` parsed as a JSON object.
    static func object(_ line: String) throws -> [String: Any] {
        #expect(!line.contains("\n"), "one object per line")
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(parsed as? [String: Any])
    }

    @Test("every line has the timestamp, level, label, message, source and each metadata key as a field")
    func fields() throws {
        let lines = Lines()
        var logger = Logger(label: "rafthost") { lines.handler(label: $0) }
        logger.logLevel = .debug
        logger[metadataKey: "raft.group"] = "main"
        logger.info("became leader", metadata: ["raft.term": "7", "raft.leader": "\(3)"])
        logger.trace("not written")
        logger.debug("second", source: "ReplicationHost")

        let written = lines.all
        try #require(written.count == 2)
        let first = try Self.object(written[0])
        #expect(first["level"] as? String == "info")
        #expect(first["label"] as? String == "rafthost")
        #expect(first["message"] as? String == "became leader")
        #expect(first["source"] as? String == "ReplicationHostTests")
        #expect(first["raft.group"] as? String == "main")
        #expect(first["raft.term"] as? String == "7")
        #expect(first["raft.leader"] as? String == "3")
        #expect(
            Set(first.keys) == [
                "timestamp", "level", "label", "message", "source", "raft.group", "raft.term",
                "raft.leader",
            ]
        )
        let timestamp = try #require(first["timestamp"] as? String)
        let parsedDate = try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(timestamp)
        #expect(abs(parsedDate.timeIntervalSinceNow) < 60)

        let second = try Self.object(written[1])
        #expect(second["level"] as? String == "debug")
        #expect(second["source"] as? String == "ReplicationHost")
        #expect(second["raft.group"] as? String == "main")
        #expect(second["raft.term"] == nil)
    }

    @Test("quotes, backslashes, newlines and control characters in messages and metadata are escaped")
    func escaping() throws {
        let lines = Lines()
        let logger = Logger(label: "a \"quoted\" label") { lines.handler(label: $0) }
        let message = "line one\nline \"two\"\twith \\ and \u{01}\r and é ✓"
        let value = "a \"value\"\nover two lines \u{1F}"
        logger.warning(
            "\(message)",
            metadata: [
                "raft.reason": "\(value)",
                "key \"with\" quotes\n": "x",
                "nested": ["inner": "\"q\"", "list": ["1", "two\n"]],
            ]
        )

        let line = try #require(lines.all.first)
        let object = try Self.object(line)
        #expect(object["label"] as? String == "a \"quoted\" label")
        #expect(object["message"] as? String == message)
        #expect(object["raft.reason"] as? String == value)
        #expect(object["key \"with\" quotes\n"] as? String == "x")
        let nested = try #require(object["nested"] as? [String: Any])
        #expect(nested["inner"] as? String == "\"q\"")
        #expect(nested["list"] as? [String] == ["1", "two\n"])
    }

    @Test("a metadata key named like a field is written as metadata.<key>; the call's metadata wins")
    func precedence() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["raft.node": "n1", "raft.group": "provided"] }
        var logger = Logger(label: "rafthost") { lines.handler(label: $0, provider: provider) }
        logger[metadataKey: "raft.group"] = "logger"
        logger.error("failed", metadata: ["message": "shadow", "raft.term": "2"])
        logger.error("failed", metadata: ["raft.group": "call"])

        let written = lines.all
        try #require(written.count == 2)
        let first = try Self.object(written[0])
        #expect(first["message"] as? String == "failed")
        #expect(first["metadata.message"] as? String == "shadow")
        #expect(first["raft.node"] as? String == "n1")
        #expect(first["raft.group"] as? String == "provided")
        #expect(try Self.object(written[1])["raft.group"] as? String == "call")
    }

    @Test("serve and up take --log-format text or json; text is the default; anything else is refused")
    func flagParses() throws {
        let defaults = try Serve.parse(["--node", "n1"])
        #expect(defaults.options.logFormat == .text)
        let serve = try Serve.parse(["--node", "n1", "--log-format", "json"])
        #expect(serve.options.logFormat == .json)
        let up = try Up.parse(["--log-format", "json", "--config", "plugins.yaml"])
        #expect(up.options.logFormat == .json)
        #expect(throws: (any Error).self) { try Serve.parse(["--node", "n1", "--log-format", "xml"]) }
    }
}
