package import Logging
package import NIOCore
import Synchronization

/// The first handler of an accepted connection: it looks at the first byte and closes the
/// connection at once, with one log line, when a client speaks TLS to a plaintext port (a TLS
/// record starts with 0x16, a handshake) or something else to a TLS port. Otherwise it passes
/// the bytes on and leaves the pipeline.
///
/// A client that retries would log a line per attempt: the lines of one port are limited to
/// one per ``Limiter/interval`` (10 s), which counts the connections closed in between.
///
/// Neither the native protocol (a frame starts with the high byte of its length, 0 for any
/// frame the codec accepts) nor HTTP (a method name) starts with 0x16.
package final class PortGuard: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = ByteBuffer

    private let expectsTLS: Bool
    private let port: String
    private let logger: Logger
    private let limiter: Limiter

    /// Shared by the connections of one port: at most one log line per interval.
    package final class Limiter: Sendable {
        package static let interval = Duration.seconds(10)
        private let state = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

        package init() {}

        /// `nil` when this event is not to be logged; otherwise how many were not logged since
        /// the last line.
        func admit() -> Int? {
            state.withLock { state in
                let now = ContinuousClock.now
                if let last = state.last, now - last < Self.interval {
                    state.suppressed += 1
                    return nil
                }
                defer { state = (now, 0) }
                return state.suppressed
            }
        }
    }

    /// - Parameters:
    ///   - expectsTLS: whether the port serves TLS.
    ///   - port: how the log names the port ("client", "HTTP", "peer").
    ///   - limiter: shared by the connections of the port.
    package init(expectsTLS: Bool, port: String, logger: Logger, limiter: Limiter) {
        self.expectsTLS = expectsTLS
        self.port = port
        self.logger = logger
        self.limiter = limiter
    }

    /// The content type of a TLS handshake record, the first byte of a ClientHello.
    static let tlsHandshakeRecord: UInt8 = 0x16

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
            context.fireChannelRead(data)
            return
        }
        let looksLikeTLS = first == Self.tlsHandshakeRecord
        if looksLikeTLS != expectsTLS {
            let remote = context.channel.remoteAddress.map { "\($0)" } ?? "unknown"
            let what =
                expectsTLS
                ? "plaintext on the TLS \(port) port" : "a TLS ClientHello on the plaintext \(port) port"
            if let suppressed = limiter.admit() {
                logger.warning(
                    "Closing connection: \(what)",
                    metadata: ["remote": "\(remote)", "closedSinceLastLine": "\(suppressed)"]
                )
            }
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
