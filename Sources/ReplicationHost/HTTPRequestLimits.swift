import NIOHTTP1

/// What the HTTP port accepts in a request head, checked before anything else:
/// - HTTP/1.1 requests carry exactly one `Host` header (RFC 9112 §3.2): none or several is 400;
/// - at most ``maxHeaderCount`` (100) header fields, of at most ``maxHeaderBytes`` (16 KiB)
///   of names and values together: more is 431 (Request Header Fields Too Large).
///
/// The connection closes after such an answer.
enum HTTPRequestLimits {
    static let maxHeaderCount = 100
    static let maxHeaderBytes = 16 * 1024

    /// The answer refusing `head`, or `nil` when it is acceptable.
    static func check(_ head: HTTPRequestHead) -> HTTPAnswer? {
        var count = 0
        var bytes = 0
        var hosts = 0
        for (name, value) in head.headers {
            count += 1
            bytes += name.utf8.count + value.utf8.count
            if Self.isHost(name) { hosts += 1 }
        }
        if count > maxHeaderCount {
            return .error(
                .requestHeaderFieldsTooLarge,
                "\(count) header fields; at most \(maxHeaderCount) are accepted"
            )
        }
        if bytes > maxHeaderBytes {
            return .error(
                .requestHeaderFieldsTooLarge,
                "\(bytes) bytes of header fields; at most \(maxHeaderBytes) are accepted"
            )
        }
        let isHTTP11OrLater = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
        if hosts > 1 {
            return .error(.badRequest, "\(hosts) Host headers; a request carries exactly one")
        }
        if hosts == 0 && isHTTP11OrLater {
            return .error(.badRequest, "an HTTP/1.1 request must carry a Host header")
        }
        return nil
    }

    /// Whether a header name is `Host`, in any case, without lowercasing a copy per header.
    private static func isHost(_ name: String) -> Bool {
        name.utf8.count == 4 && zip(name.utf8, "host".utf8).allSatisfy { $0 | 0x20 == $1 }
    }
}
