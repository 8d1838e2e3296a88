import Logging
import NIOCore
import NIOSSL
import RaftSecurity

extension ChannelPipeline.SynchronousOperations {
    /// The first handlers of an accepted client or HTTP connection: the guard that closes a
    /// connection speaking TLS to a plaintext port (or the reverse) with one log line, then TLS
    /// with the context of the moment when the port has one (a reload changes it for the
    /// connections accepted afterwards).
    func addSecurityHandlers(
        tls: TLSContextSource?,
        port: String,
        limiter: PortGuard.Limiter,
        logger: Logger
    ) throws {
        try addHandler(PortGuard(expectsTLS: tls != nil, port: port, logger: logger, limiter: limiter))
        if let tls {
            try addHandler(NIOSSLServerHandler(context: tls.context))
            try addHandler(TLSFailureLogger(port: port, logger: logger))
        }
    }
}

extension Channel {
    /// The identities the certificate of the other side names; empty without TLS or without a
    /// certificate. Call it once data has arrived (the handshake is then complete).
    func peerIdentities() async -> [CertificateIdentity] {
        let channel = self
        return (try? await eventLoop.submit { channel.pipeline.syncOperations.peerIdentities() }.get()) ?? []
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// ``NIOCore/Channel/peerIdentities()`` from the channel's event loop.
    func peerIdentities() -> [CertificateIdentity] {
        let certificate = try? nioSSL_peerCertificate()
        return certificate.flatMap { $0 }.map(CertificateIdentity.identities(of:)) ?? []
    }
}

/// Logs a failed TLS handshake (a certificate from another CA, an expired one, none where one
/// is required) once, at warning, and closes the connection.
final class TLSFailureLogger: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let port: String
    private let logger: Logger

    init(port: String, logger: Logger) {
        self.port = port
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            let remote = context.channel.remoteAddress.map { "\($0)" } ?? "unknown"
            logger.warning(
                "Refused TLS connection on the \(port) port",
                metadata: ["remote": "\(remote)", "error": "\(error)"]
            )
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
