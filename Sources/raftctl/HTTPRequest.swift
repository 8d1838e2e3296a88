import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RaftSecurity
import Synchronization

/// A complete HTTP answer, whatever its status.
struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// An HTTP exchange that got no complete answer: no connection, the connection closed early, or
/// time ran out.
struct HTTPRequestError: Error, CustomStringConvertible {
    /// Whether a connection was made, so that the request may have reached the server.
    var connected = true
    var description: String

    /// A failure to connect, briefly: "cannot connect: Connection refused".
    init(connecting error: any Error) {
        connected = false
        let reasons =
            switch error {
            case let error as NIOConnectionError where !error.connectionErrors.isEmpty:
                error.connectionErrors.map { failure in
                    (failure.error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(failure.error)"
                }
            case ChannelError.connectTimeout: ["no connection in time"]
            default: ["\(error)"]
            }
        description = "cannot connect: " + Set(reasons).sorted().joined(separator: ", ")
    }

    init(description: String) {
        self.description = description
    }
}

/// Where ``httpRequest(_:host:port:path:headers:body:timeout:connectTimeout:tls:token:bodyFile:)``
/// writes the body of a 200 answer as it arrives, instead of collecting it, so that a backup
/// of any size is never held as one array. Used by one request at a time.
final class BodyFile: @unchecked Sendable {
    let path: String
    private let handle: FileHandle
    /// Bytes of the current answer written so far.
    private(set) var written = 0
    /// Bytes received over all attempts: the request's timer reads it from another task.
    private let received = Atomic<Int>(0)

    /// Grows while an answer's body arrives (``httpRequest`` lets a transfer that makes
    /// progress run past its timeout).
    var progress: Int { received.load(ordering: .relaxed) }

    /// Creates (or empties) the file at `path`.
    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw RaftCtlError(.usage, "cannot create \(path)")
        }
        self.path = path
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    deinit {
        try? handle.close()
    }

    /// Empties the file: a new answer begins (an earlier attempt may have written part of one).
    func restart() throws {
        try handle.truncate(atOffset: 0)
        written = 0
    }

    func append(_ chunk: ByteBuffer) throws {
        try handle.write(contentsOf: Data(chunk.readableBytesView))
        written += chunk.readableBytes
        received.add(chunk.readableBytes, ordering: .relaxed)
    }

    /// Makes the file durable.
    func sync() throws {
        try handle.synchronize()
    }
}

/// One request on `host:port` over a fresh HTTP/1.1 connection, closed after the answer.
///
/// - Parameters:
///   - headers: sent after `host` and `connection: close`, and `content-length` when there is a body.
///   - body: the request body; `nil` sends none.
///   - timeout: how long the whole exchange may take, connecting included.
///   - connectTimeout: how long connecting may take (at most `timeout`), so that a caller with other nodes to
///     try gives up early on one that does not accept the connection.
///   - bodyFile: where the body of a 200 answer goes instead of ``HTTPResponse/body``. While
///     it arrives, `timeout` bounds each wait for more of it rather than the whole exchange,
///     so that a large backup is not cut off while it is being received.
func httpRequest(
    _ method: HTTPMethod,
    host: String,
    port: Int,
    path: String,
    headers: [(String, String)] = [],
    body: [UInt8]? = nil,
    timeout: Duration,
    connectTimeout: Duration? = nil,
    tls: ClientTLS? = nil,
    token: String? = nil,
    bodyFile: BodyFile? = nil
) async throws -> HTTPResponse {
    let deadline = ContinuousClock.now + timeout
    let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    let identityCheck: ServerIdentityCheck?
    do {
        (channel, identityCheck) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(min(timeout, connectTimeout ?? timeout)))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let check = try tls?.addClientHandlers(to: channel)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    let asyncChannel = try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                    return (asyncChannel, check)
                }
            }
    } catch {
        throw HTTPRequestError(connecting: error)
    }
    return try await withThrowingTaskGroup(of: HTTPResponse?.self) { group in
        group.addTask {
            try await channel.executeThenClose { inbound, outbound in
                if let identityCheck {
                    // Nothing, not even the token, is written before the server proves to be a node.
                    do {
                        try await identityCheck.verify(channel.channel)
                    } catch {
                        throw HTTPRequestError(connecting: error)
                    }
                }
                var requestHeaders = HTTPHeaders([("host", hostAndPort(host, port)), ("connection", "close")])
                if let body {
                    requestHeaders.add(name: "content-length", value: "\(body.count)")
                }
                requestHeaders.add(contentsOf: headers)
                if let token {
                    requestHeaders.add(name: "authorization", value: "Bearer \(token)")
                }
                let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: requestHeaders)
                try await outbound.write(.head(head))
                if let body, !body.isEmpty {
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                }
                try await outbound.write(.end(nil))
                var response = HTTPResponse(status: .ok, headers: [:], body: [])
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        response.status = head.status
                        response.headers = head.headers
                        if head.status == .ok { try bodyFile?.restart() }
                    case .body(let chunk):
                        if response.status == .ok, let bodyFile {
                            try bodyFile.append(chunk)
                        } else {
                            response.body += chunk.readableBytesView
                        }
                    case .end:
                        return response
                    }
                }
                throw HTTPRequestError(description: "the connection closed before the answer ended")
            }
        }
        group.addTask {
            var limit = deadline
            var seen = bodyFile?.progress ?? 0
            while true {
                try await Task.sleep(until: limit)
                let now = bodyFile?.progress ?? 0
                guard now > seen else { return nil }
                seen = now
                limit = .now + timeout
            }
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let response = first else {
            channel.channel.close(promise: nil)
            let stalled = (bodyFile?.progress ?? 0) > 0
            throw HTTPRequestError(
                description: stalled ? "no more of the answer within \(timeout)" : "no answer within \(timeout)"
            )
        }
        if response.status == .unauthorized || response.status == .forbidden {
            let text = String(decoding: response.body, as: UTF8.self)
            throw RaftCtlError(.denied, "HTTP \(response.status.code) \(response.status.reasonPhrase): \(text)")
        }
        return response
    }
}

/// `host:port`, with an IPv6 address in brackets: an address as a `host` header and messages show it.
func hostAndPort(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
