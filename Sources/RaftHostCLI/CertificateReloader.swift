import Logging
import ReplicationHost
import ServiceLifecycle
import UnixSignals

/// Reloads a node's TLS certificates and keys on every SIGHUP: connections opened afterwards
/// use the new files, open ones finish with the old. A reload that fails keeps the old
/// material and logs why.
struct CertificateReloader: Service {
    let node: RaftNode
    let logger: Logger

    func run() async throws {
        guard node.tls != nil else {
            // Nothing to reload; wait for the stop so that the group does not end early.
            try? await gracefulShutdown()
            return
        }
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            logger.info("SIGHUP: reloading TLS certificates")
            try? node.reloadTLS()
        }
    }
}
