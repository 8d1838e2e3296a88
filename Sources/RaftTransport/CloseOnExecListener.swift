package import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP socket bound to `host:port` (with `SO_REUSEADDR`) and created close-on-exec, for a
/// `ServerBootstrap` to listen on.
///
/// NIO creates its sockets without `SOCK_CLOEXEC`. A process that spawns children (a host
/// embedded in an application, the test suite) can then hand a listening socket to a child
/// created at the same moment, and the child holds the port for its whole life: the node's
/// next bind of that port fails with "Address already in use". Seen in the test suite, where
/// a `rafthost` child held an in-process node's port on a descriptor it had inherited.
package func makeCloseOnExecListeningSocket(host: String, port: Int) throws -> NIOBSDSocket.Handle {
    let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
    #if canImport(Darwin)
    let descriptor = socket(address.protocol.rawValue, SOCK_STREAM, 0)
    if descriptor >= 0 { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    #elseif canImport(Glibc)
    // Glibc imports the socket types as an enum, Musl as plain integers.
    let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #else
    let descriptor = socket(address.protocol.rawValue, SOCK_STREAM | SOCK_CLOEXEC, 0)
    #endif
    guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
    var one: CInt = 1
    guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
        let failure = errno
        close(descriptor)
        throw IOError(errnoCode: failure, reason: "setsockopt(SO_REUSEADDR)")
    }
    let bound = address.withSockAddr { pointer, size in bind(descriptor, pointer, socklen_t(size)) }
    guard bound == 0 else {
        let failure = errno
        close(descriptor)
        throw IOError(errnoCode: failure, reason: "bind(\(host):\(port))")
    }
    return descriptor
}
