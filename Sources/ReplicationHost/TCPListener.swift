package import NIOCore
import NIOPosix
import RaftTransport
import Synchronization

/// What a ``TCPListener`` hands to the task serving an accepted connection: a
/// `NIOAsyncChannel`, or a channel whose handlers serve it (the HTTP port).
package protocol AcceptedConnection: Sendable {
    var channel: any Channel { get }
}

extension NIOAsyncChannel: AcceptedConnection {}

/// A listening TCP socket that serves each accepted connection in its own child task (a
/// `NIOAsyncChannel` server and a discarding task group), with `SO_REUSEADDR`, close-on-exec and
/// `TCP_NODELAY`; the node's client port and HTTP port are both one.
///
/// The connections it accepted and did not yet finish are tracked, so that a stop can close
/// them: ``stopAccepting()`` closes the socket and ``closeConnections()`` the open connections;
/// ``run(serving:)`` returns once both were called and every connection task ended.
package final class TCPListener<Connection: AcceptedConnection>: Sendable {
    /// Sets up an accepted channel's pipeline, on its event loop.
    package typealias Configure = @Sendable (any Channel) throws -> Connection
    private typealias Server = NIOAsyncChannel<Connection, Never>

    private struct State {
        var server: Server?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let host: String
    private let port: Int
    private let eventLoopGroup: any EventLoopGroup
    private let configure: Configure
    private let state = Mutex(State())

    package init(host: String, port: Int, eventLoopGroup: any EventLoopGroup, configure: @escaping Configure) {
        self.host = host
        self.port = port
        self.eventLoopGroup = eventLoopGroup
        self.configure = configure
    }

    /// Binds the listening socket and returns its port (useful with port 0).
    package func bind() async throws -> Int {
        let configure = configure
        let socket = try makeCloseOnExecListeningSocket(host: host, port: port)
        let server: Server = try await ServerBootstrap(group: eventLoopGroup)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(socket) { channel in
                channel.eventLoop.makeCompletedFuture { try configure(channel) }
            }
        let closeAtOnce = state.withLock { state in
            state.server = server
            return state.closed
        }
        if closeAtOnce {
            server.channel.close(promise: nil)
        }
        return server.channel.localAddress?.port ?? port
    }

    /// Accepts connections and runs `serve` for each (it owns the connection and closes it)
    /// until ``stopAccepting()`` and ``closeConnections()`` have both been called.
    package func run(serving serve: @escaping @Sendable (Connection) async -> Void) async throws {
        guard let server = state.withLock({ $0.server }) else {
            preconditionFailure("TCPListener.run(serving:) before bind()")
        }
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await self.track(connection, serve) }
                }
            }
        }
    }

    /// Closes the listening socket; connections already open keep being served.
    package func stopAccepting() {
        let server = state.withLock { state in
            state.closed = true
            return state.server
        }
        server?.channel.close(promise: nil)
    }

    /// Closes every open connection; one accepted from now on is closed at once.
    package func closeConnections() {
        let connections = state.withLock { state in
            state.closed = true
            defer { state.connections = [:] }
            return Array(state.connections.values)
        }
        for connection in connections {
            connection.close(promise: nil)
        }
    }

    private func track(_ connection: Connection, _ serve: (Connection) async -> Void) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let accepted = state.withLock { state in
            if !state.closed { state.connections[key] = channel }
            return !state.closed
        }
        guard accepted else {
            try? await channel.close()
            return
        }
        defer { _ = state.withLock { $0.connections.removeValue(forKey: key) } }
        await serve(connection)
    }
}
