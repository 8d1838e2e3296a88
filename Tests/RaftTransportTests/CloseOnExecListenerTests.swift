import Foundation
import RaftTransport
import Testing

@Suite("Close-on-exec listening sockets")
struct CloseOnExecListenerTests {
    @Test("the socket is close-on-exec, bound with SO_REUSEADDR, and a taken port is refused naming it")
    func closeOnExec() throws {
        let socket = try makeCloseOnExecListeningSocket(host: "127.0.0.1", port: 0)
        defer { close(socket) }
        #expect(fcntl(socket, F_GETFD) & FD_CLOEXEC != 0, "a spawned child would inherit the listener")
        var reuse: CInt = 0
        var size = socklen_t(MemoryLayout<CInt>.size)
        #expect(getsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, &size) == 0 && reuse == 1)

        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        #expect(named == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(listen(socket, 1) == 0)
        #expect {
            _ = try makeCloseOnExecListeningSocket(host: "127.0.0.1", port: port)
        } throws: { error in
            "\(error)".contains("bind(127.0.0.1:\(port))") && "\(error)".contains("in use")
        }
    }
}
