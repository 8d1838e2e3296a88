import Foundation
import SimulationThread
import Testing

/// Engine tests that read as transcripts, in the spirit of etcd-io/raft's datadriven
/// interaction tests (`testdata/*.txt`).
///
/// A transcript is a text file in `testdata/` next to this source (excluded from the target in
/// `Package.swift`; the test reads it from the source tree). It is a sequence of
/// commands, each followed by a `----` line and the output the command must print, up to the
/// next blank line; lines starting with `#` between commands are comments:
///
/// ```
/// # A follower that hears nothing campaigns with pre-vote first.
/// cluster voters=1,2,3
/// ----
/// ok
///
/// campaign n1
/// ----
/// n1 became preCandidate term=0
/// n1 -> n2 preVote term=1 lastIndex=0 lastTerm=0
/// n1 -> n3 preVote term=1 lastIndex=0 lastTerm=0
/// ```
///
/// The commands and the output lines are described in `TranscriptCluster.swift`. A command
/// that prints nothing prints `ok`. Run with `REWRITE=1` in the environment to replace every
/// expected output with what the engine printed; then read the diff and check it against the
/// Raft rules before committing it: a transcript that records wrong behaviour is a bug.
struct TranscriptFile {
    struct Block {
        /// 1-based line of the command in the file.
        var line: Int
        var command: String
        var expected: [String]
    }

    enum Chunk {
        /// Comments and blank lines, kept as they are.
        case text(String)
        case block(Block)
    }

    var chunks: [Chunk] = []

    var blocks: [Block] {
        chunks.compactMap {
            if case .block(let block) = $0 { return block }
            return nil
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        var line: Int
        var description: String
    }

    init(parsing text: String) throws(SyntaxError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") {
                chunks.append(.text(line))
                index += 1
                continue
            }
            guard index + 1 < lines.count, lines[index + 1] == "----" else {
                throw SyntaxError(line: index + 1, description: "a command must be followed by a '----' line")
            }
            var block = Block(line: index + 1, command: line, expected: [])
            index += 2
            while index < lines.count, !lines[index].trimmingCharacters(in: .whitespaces).isEmpty {
                block.expected.append(lines[index])
                index += 1
            }
            chunks.append(.block(block))
        }
    }

    /// The file with the output of each block replaced by `outputs[block.line]` where given.
    func rendered(with outputs: [Int: [String]]) -> String {
        var lines: [String] = []
        for chunk in chunks {
            switch chunk {
            case .text(let text):
                lines.append(text)
            case .block(let block):
                lines.append(block.command)
                lines.append("----")
                lines.append(contentsOf: outputs[block.line] ?? block.expected)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum Transcripts {
    static let directory = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "testdata")

    /// The transcript files, by name.
    static func names() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path(percentEncoded: false))) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted()
    }

    static var rewriting: Bool {
        ProcessInfo.processInfo.environment["REWRITE"] == "1"
    }

    /// A line diff of two outputs: unchanged lines start with two spaces, lines only in
    /// `expected` with `- `, lines only in `actual` with `+ ` (longest common subsequence).
    static func diff(expected: [String], actual: [String]) -> [String] {
        let n = expected.count
        let m = actual.count
        var common = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                common[i][j] =
                    expected[i] == actual[j] ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var lines: [String] = []
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n && j < m && expected[i] == actual[j] {
                lines.append("  " + expected[i])
                i += 1
                j += 1
            } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
                lines.append("- " + expected[i])
                i += 1
            } else {
                lines.append("+ " + actual[j])
                j += 1
            }
        }
        return lines
    }
}

@Suite("Engine transcripts", .onSimulationThread)
struct TranscriptTests {
    @Test("the transcripts are found next to this source")
    func transcriptsExist() {
        #expect(!Transcripts.names().isEmpty, "no transcripts in \(Transcripts.directory.path(percentEncoded: false))")
    }

    @Test("transcript", arguments: Transcripts.names())
    func transcript(_ name: String) throws {
        let url = Transcripts.directory.appending(path: name)
        let path = url.path(percentEncoded: false)
        func location(_ line: Int) -> SourceLocation {
            SourceLocation(fileID: "RaftCoreTests/\(name)", filePath: path, line: line, column: 1)
        }
        let file: TranscriptFile
        do {
            file = try TranscriptFile(parsing: try String(contentsOf: url, encoding: .utf8))
        } catch let error as TranscriptFile.SyntaxError {
            Issue.record("\(name):\(error.line): \(error)", sourceLocation: location(error.line))
            return
        }
        var cluster = TranscriptCluster()
        var outputs: [Int: [String]] = [:]
        var mismatches = 0
        for block in file.blocks {
            let actual: [String]
            do {
                let printed = try cluster.run(TranscriptCommand(parsing: block.command))
                actual = printed.isEmpty ? ["ok"] : printed
            } catch {
                Issue.record(
                    "\(name):\(block.line): `\(block.command)` failed: \(error)",
                    sourceLocation: location(block.line)
                )
                return
            }
            for violation in cluster.violations {
                Issue.record(
                    "\(name):\(block.line): `\(block.command)`: \(violation)",
                    sourceLocation: location(block.line)
                )
            }
            outputs[block.line] = actual
            if actual != block.expected && !Transcripts.rewriting {
                mismatches += 1
                let report =
                    ["\(name):\(block.line): the output of `\(block.command)` differs (- expected, + actual):"]
                    + Transcripts.diff(expected: block.expected, actual: actual)
                Issue.record(Comment(rawValue: report.joined(separator: "\n")), sourceLocation: location(block.line))
            }
        }
        if Transcripts.rewriting {
            try file.rendered(with: outputs).write(to: url, atomically: true, encoding: .utf8)
        } else if mismatches > 0 {
            Issue.record("\(name): \(mismatches) outputs differ; REWRITE=1 rewrites them (then check the diff)")
        }
    }
}
