import Glibc
import SimulationThread
import Testing

@testable import RaftStorage

@Suite(.onSimulationThread) struct FileIOTests {
    /// /dev/full fails every write with ENOSPC, which is how a full disk looks to the storage.
    @Test(.enabled(if: access("/dev/full", W_OK) == 0))
    func aFullDeviceIsReportedWithPathOffsetAndAdvice() throws {
        let fd = try FileIO.open("/dev/full", O_WRONLY)
        defer { FileIO.close(fd) }
        let error = #expect(throws: StorageError.self) { try FileIO.write(fd, [1, 2, 3], at: 4096, path: "/dev/full") }
        #expect(error?.code == .noSpace)
        #expect(error?.errno == ENOSPC)
        #expect(error?.path == "/dev/full")
        #expect(error?.offset == 4096)
        #expect(error?.description.contains("free space") == true)
    }

    @Test func aFileWhereTheDirectoryShouldBeIsReported() throws {
        try withTemporaryDirectory { base in
            let path = base + "/file"
            let fd = try FileIO.open(path, O_WRONLY | O_CREAT)
            FileIO.close(fd)
            let error = #expect(throws: StorageError.self) { _ = try DiskStorage(directory: path) }
            #expect(error?.path == path)
            #expect(error?.errno == ENOTDIR)
        }
    }
}
