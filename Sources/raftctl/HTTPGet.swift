import NIOCore
import NIOHTTP1
import NIOPosix

/// A failed HTTP GET: no connection, no complete answer in time, or a status other than 200.
struct HTTPGetError: Error, CustomStringConvertible {
    var description: String
}

/// `GET path` on `host:port` over a fresh HTTP/1.1 connection; the body of a 200 answer.
///
/// Gives up after `timeout` (connecting included).
func httpGet(host: String, port: Int, path: String, timeout: Duration) async throws -> [UInt8] {
    let deadline = ContinuousClock.now + timeout
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(TimeAmount(timeout))
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                    wrappingChannelSynchronously: channel)
            }
        }
    return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
        group.addTask {
            try await channel.executeThenClose { inbound, outbound in
                let headers = HTTPHeaders([("host", "\(host):\(port)"), ("connection", "close")])
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
                var status = HTTPResponseStatus.ok
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head): status = head.status
                    case .body(let chunk): body += chunk.readableBytesView
                    case .end:
                        guard status == .ok else {
                            throw HTTPGetError(description: "HTTP \(status.code) \(status.reasonPhrase)")
                        }
                        return body
                    }
                }
                throw HTTPGetError(description: "the connection closed before the answer ended")
            }
        }
        group.addTask {
            try await Task.sleep(until: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let body = first else {
            channel.channel.close(promise: nil)
            throw HTTPGetError(description: "no answer within \(timeout)")
        }
        return body
    }
}
