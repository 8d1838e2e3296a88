/// Parsers for the scalar notations of cluster.yaml. They return `nil` for malformed text and
/// leave the wording of errors to the decoder, which knows the key.
enum Scalars {
    static let durationUnits: [(unit: String, nanoseconds: Int)] = [
        ("ns", 1), ("µs", 1_000), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    static let sizeUnits: [(unit: String, bytes: Int)] = [
        ("", 1), ("B", 1),
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
    ]

    /// `50ms`, `1.5s`, `2m`, `100us`: a non-negative decimal number with a unit, which is
    /// required because a bare number is ambiguous. Precision finer than 1ns is rejected.
    static func duration(_ text: String) -> Duration? {
        guard let nanoseconds = quantity(text, units: durationUnits, unitRequired: true) else { return nil }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// `duration` in the largest unit that states it exactly, such as `500ms`, for messages.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        let unit = durationUnits.last { nanoseconds % $0.nanoseconds == 0 } ?? durationUnits[0]
        return "\(nanoseconds / unit.nanoseconds)\(unit.unit)"
    }

    /// `1048576`, `64KiB`, `1MiB`, `1MB` (10^6), `1.5GiB`: a non-negative decimal number of bytes
    /// with an optional unit. A fraction must come to a whole number of bytes.
    static func size(_ text: String) -> Int? {
        quantity(text, units: sizeUnits, unitRequired: false)
    }

    /// A number (`123`, `1.25`) times a unit, computed in integers so that `1.1s` is exact; `nil`
    /// when malformed, inexact or too large for `Int`.
    private static func quantity(
        _ text: String,
        units: [(String, Int)],
        unitRequired: Bool
    ) -> Int? {
        let numberEnd = text.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? text.endIndex
        let number = text[..<numberEnd]
        let unit = text[numberEnd...]
        guard
            !(unitRequired && unit.isEmpty),
            let multiplier = units.first(where: { $0.0 == unit })?.1
        else { return nil }

        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard
            let wholeText = parts.first, !wholeText.isEmpty, let whole = Int(wholeText),
            case (let wholeValue, let overflow) = whole.multipliedReportingOverflow(by: multiplier), !overflow
        else { return nil }
        guard parts.count == 2 else { return wholeValue }

        // The fraction `d1 d2 ... dn` adds d * multiplier / 10^n, which must be a whole number.
        let fractionText = parts[1]
        guard !fractionText.isEmpty, fractionText.count <= 18, let fraction = Int(fractionText) else { return nil }
        var scale = 1
        for _ in 0..<fractionText.count { scale *= 10 }
        let (scaled, scaledOverflow) = fraction.multipliedReportingOverflow(by: multiplier)
        guard !scaledOverflow, scaled % scale == 0 else { return nil }
        let (total, totalOverflow) = wholeValue.addingReportingOverflow(scaled / scale)
        return totalOverflow ? nil : total
    }

    enum AddressResult: Equatable {
        case valid(host: String, port: Int)
        case malformed
        case portOutOfRange
    }

    /// `host:port` or `[ipv6]:port`. Ports are 1...65535; the host is not resolved.
    static func address(_ text: String) -> AddressResult {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .malformed }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), host.contains(":") else { return .malformed }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .malformed }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            // An IPv6 address needs brackets, or its last group would read as the port.
            guard !host.contains(":") else { return .malformed }
        }
        guard
            !host.isEmpty,
            !host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "[" || $0 == "]" }),
            !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return .malformed }
        guard portText.count <= 5, let port = Int(portText), (1...65535).contains(port) else {
            return .portOutOfRange
        }
        return .valid(host: String(host), port: port)
    }

    /// Letters, digits, `-`, `_` and `.`, not starting with `.`: safe as a directory name.
    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix(".")
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// The candidate closest to `word` by case-insensitive edit distance, if it is close enough
    /// to be a likely typo: at most a third of the candidate's length, and at least 2, apart.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let target = Array(word.lowercased())
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(target, Array(candidate.lowercased()))
            if distance <= max(2, candidate.count / 3), distance < best?.distance ?? .max {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Levenshtein distance: insertions, deletions and substitutions, one row at a time.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension ClusterConfiguration {
    /// A size written as in the file (`1048576`, `64KiB`, `16MiB`, `1MB`), for command lines
    /// that take one; nil when malformed.
    package static func parseSize(_ text: String) -> Int? {
        Scalars.size(text)
    }
}
