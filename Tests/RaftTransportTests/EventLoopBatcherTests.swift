import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import RaftTransport

@Suite("EventLoopBatcher")
struct EventLoopBatcherTests {
    @Test("items sent before the loop runs are handled in one call, in order; a later burst in the next")
    func burstsAreHandledTogether() {
        let loop = EmbeddedEventLoop()
        let calls = Mutex<[[Int]]>([])
        let batcher = EventLoopBatcher<Int>(eventLoop: loop) { items in calls.withLock { $0.append(items) } }
        for item in 1...3 { batcher.send(item) }
        #expect(calls.withLock { $0 }.isEmpty)
        loop.run()
        batcher.send(4)
        loop.run()
        loop.run()
        #expect(calls.withLock { $0 } == [[1, 2, 3], [4]])
    }

    @Test("items sent from many threads at once all arrive, each thread's in its own order")
    func concurrentSenders() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let received = Mutex<[Int]>([])
        let (done, finished) = AsyncStream.makeStream(of: Void.self)
        let senders = 8
        let perSender = 2_000
        let batcher = EventLoopBatcher<Int>(eventLoop: loop) { items in
            loop.preconditionInEventLoop()
            let total = received.withLock { received in
                received.append(contentsOf: items)
                return received.count
            }
            if total == senders * perSender { finished.yield() }
        }
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    for index in 0..<perSender { batcher.send(sender * perSender + index) }
                }
            }
        }
        var iterator = done.makeAsyncIterator()
        await iterator.next()
        let all = received.withLock { $0 }
        #expect(all.count == senders * perSender)
        for sender in 0..<senders {
            let mine = all.filter { $0 / perSender == sender }
            #expect(mine == Array(sender * perSender..<(sender + 1) * perSender))
        }
    }
}
