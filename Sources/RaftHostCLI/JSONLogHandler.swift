import Foundation
import Logging
import Synchronization

/// A log handler that writes one JSON object per line: `timestamp` (ISO 8601, UTC, with
/// milliseconds), `level`, `label`, `message`, `source`, then every metadata key as a field of
/// its own (`raft.group`, `raft.term`, ...), and `error` when the event carries one.
///
/// A metadata key that is one of those field names is written as `metadata.<key>` instead, so
/// that no line has a key twice. Metadata strings stay strings; dictionaries and arrays become
/// JSON objects and arrays. The log call's metadata wins over the provider's, which wins over
/// the logger's.
struct JSONLogHandler: LogHandler {
    /// The fields every line has, in the order they are written.
    static let reservedFields: Set<String> = ["timestamp", "level", "label", "message", "source", "error"]

    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// Receives each line, without its newline.
    private let write: @Sendable (String) -> Void

    /// A handler that hands each line to `write`.
    init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// A handler that writes to standard error, one whole line per write.
    static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> Self {
        Self(label: label, metadataProvider: metadataProvider, write: StandardError.writeLine)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        write(line(for: event, at: Date()))
    }

    /// The JSON object of `event`, logged at `date`.
    func line(for event: LogEvent, at date: Date) -> String {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let own = event.metadata {
            merged.merge(own) { _, new in new }
        }
        var out = "{"
        Self.appendField("timestamp", .string(Self.timestamp(date)), to: &out, first: true)
        Self.appendField("level", .string(event.level.rawValue), to: &out)
        Self.appendField("label", .string(label), to: &out)
        Self.appendField("message", .string(event.message.description), to: &out)
        Self.appendField("source", .string(event.source), to: &out)
        if let error = event.error {
            Self.appendField("error", .string(String(describing: error)), to: &out)
        }
        for key in merged.keys.sorted() {
            let name = Self.reservedFields.contains(key) ? "metadata." + key : key
            Self.appendField(name, merged[key]!, to: &out)
        }
        out += "}"
        return out
    }

    // MARK: - Encoding

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static func timestamp(_ date: Date) -> String {
        timestampStyle.format(date)
    }

    private static func appendField(
        _ name: String,
        _ value: Logger.Metadata.Value,
        to out: inout String,
        first: Bool = false
    ) {
        if !first { out += "," }
        appendString(name, to: &out)
        out += ":"
        appendValue(value, to: &out)
    }

    private static func appendValue(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let string):
            appendString(string, to: &out)
        case .stringConvertible(let convertible):
            appendString(convertible.description, to: &out)
        case .dictionary(let dictionary):
            out += "{"
            for (offset, key) in dictionary.keys.sorted().enumerated() {
                appendField(key, dictionary[key]!, to: &out, first: offset == 0)
            }
            out += "}"
        case .array(let array):
            out += "["
            for (offset, element) in array.enumerated() {
                if offset > 0 { out += "," }
                appendValue(element, to: &out)
            }
            out += "]"
        }
    }

    /// `string` as a JSON string: quotes, backslashes and control characters escaped.
    static func appendString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Standard error, written one whole line at a time so that lines of concurrent loggers never
/// interleave.
enum StandardError {
    private static let lock = Mutex(())

    @Sendable static func writeLine(_ line: String) {
        let data = Data((line + "\n").utf8)
        lock.withLock { _ in FileHandle.standardError.write(data) }
    }
}
