package import NIOCore
import Synchronization

/// Items sent from any thread and handled together on one event loop: the first item of a
/// burst schedules one run on the loop, and the items sent before it runs go with it. A
/// connection that writes what its items encode pays one hop to its loop and one flush per
/// burst instead of per item.
package final class EventLoopBatcher<Item: Sendable>: Sendable {
    private struct Pending: Sendable {
        var items: [Item] = []
        var scheduled = false
    }

    private let pending = Mutex(Pending())
    private let eventLoop: any EventLoop
    private let handle: @Sendable ([Item]) -> Void

    /// - Parameter handle: called on `eventLoop` with the items, in the order they were sent.
    package init(eventLoop: any EventLoop, handle: @escaping @Sendable ([Item]) -> Void) {
        self.eventLoop = eventLoop
        self.handle = handle
    }

    package func send(_ item: Item) {
        let schedule = pending.withLock { pending in
            pending.items.append(item)
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        guard schedule else { return }
        eventLoop.execute {
            let items = self.pending.withLock { pending in
                pending.scheduled = false
                let items = pending.items
                pending.items = []
                return items
            }
            self.handle(items)
        }
    }
}
