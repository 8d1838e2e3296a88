import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RaftSecurity

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

/// One request on `host:port` over a fresh HTTP/1.1 connection, closed after the answer.
///
/// - Parameters:
///   - headers: sent after `host` and `connection: close`, and `content-length` when there is a body.
///   - body: the request body; `nil` sends none.
///   - timeout: how long the whole exchange may take, connecting included.
///   - connectTimeout: how long connecting may take (at most `timeout`), so that a caller with other nodes to
///     try gives up early on one that does not accept the connection.
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
    token: String? = nil
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
                    case .body(let chunk):
                        response.body += chunk.readableBytesView
                    case .end:
                        return response
                    }
                }
                throw HTTPRequestError(description: "the connection closed before the answer ended")
            }
        }
        group.addTask {
            try await Task.sleep(until: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let response = first else {
            channel.channel.close(promise: nil)
            throw HTTPRequestError(description: "no answer within \(timeout)")
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
