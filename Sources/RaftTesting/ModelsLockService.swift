public import LockService

/// The sequential specification of ``LockService`` for ``LinearizabilityChecker``, one
/// partition per lock.
///
/// Clients do not see log time directly, so the model infers it: a grant reveals the time it
/// was applied (`expiresAt - leaseMs`), and log time never decreases. The state keeps a lower
/// bound on the current log time; an answer that needs a later time (a lease seen as expired)
/// raises the bound to the least time that explains it, which is the most permissive choice.
///
/// Fencing tokens come from one counter shared by all locks, so the model checks what a single
/// lock can see: every new grant carries a token above all earlier grants of that lock.
/// Checking each lock on its own ignores constraints between locks (their common log time and
/// token counter); it never rejects a correct history, and catches every violation visible on
/// one lock.
///
/// After an operation of unknown outcome the model may not know a holder's token or lease end;
/// it keeps them unknown until an answer reveals them.
public struct LockServiceModel: LinearizabilityModel {
    /// A client operation on the service: a command through the log or a query.
    public enum Input: Sendable, Hashable, CustomStringConvertible {
        case command(LockService.Command)
        case query(LockService.Query)

        /// The lock the operation is about: the partition it belongs to.
        public var lock: String {
            switch self {
            case .command(let command): command.lock
            case .query(let query): query.lock
            }
        }

        public var description: String {
            switch self {
            case .command(.acquire(let lock, let owner, let leaseMs)): "acquire(\(lock), \(owner), lease: \(leaseMs))"
            case .command(.renew(let lock, let owner, let token, let leaseMs)):
                "renew(\(lock), \(owner), token: \(token), lease: \(leaseMs))"
            case .command(.release(let lock, let owner, let token)): "release(\(lock), \(owner), token: \(token))"
            case .query(.holder(let lock)): "holder(\(lock))"
            }
        }
    }

    public typealias Output = LockService.Response

    /// What the model knows about one lock.
    public struct State: Hashable, Sendable {
        /// What is known of a holder; `nil` fields are not known yet.
        public struct Holder: Hashable, Sendable {
            public var owner: String
            public var token: UInt64?
            public var expiresAt: UInt64?

            func matches(_ holder: LockService.Holder) -> Bool {
                owner == holder.owner && (token ?? holder.token) == holder.token
                    && (expiresAt ?? holder.expiresAt) == holder.expiresAt
            }

            func matches(owner: String, token: UInt64) -> Bool {
                self.owner == owner && (self.token ?? token) == token
            }
        }

        /// The last holder granted, possibly expired since; `nil` after a release or an expiry.
        public var holder: Holder?
        /// Every earlier grant of this lock had a token at most this.
        public var lastToken: UInt64 = 0
        /// A lower bound on the current log time.
        public var minTime: UInt64 = 0
    }

    public init() {}

    public var initialState: State { State() }

    public func partition(of input: Input) -> String { input.lock }

    public func isReadOnly(_ input: Input) -> Bool {
        if case .query = input { true } else { false }
    }

    public func step(_ state: State, input: Input, output: LockService.Response?) -> [State] {
        switch (input, output) {
        case (.command(.acquire(_, let owner, let leaseMs)), .granted(let granted)?):
            guard granted.owner == owner, let time = applyTime(granted, leaseMs, state) else { return [] }
            var results: [State] = []
            if let holder = state.holder, holder.owner == owner, mayBeLive(holder, at: time),
                (holder.token ?? granted.token) == granted.token
            {
                results.append(grant(granted, state, time))
            }
            if mayBeExpired(state.holder, at: time), granted.token > state.lastToken {
                results.append(grant(granted, state, time))
            }
            return results
        case (.command(.acquire(_, let owner, _)), .held(let holder)?):
            guard holder.owner != owner else { return [] }
            return observeLive(holder, state).map { [$0] } ?? []
        case (.command(.acquire(_, let owner, _)), nil):
            var results = [state]
            if let holder = state.holder, holder.owner == owner {
                results.append(replacing(state, with: .init(owner: owner, token: holder.token, expiresAt: nil)))
            }
            var fresh = observeExpired(state)
            fresh.holder = .init(owner: owner, token: nil, expiresAt: nil)
            fresh.lastToken += 1
            results.append(fresh)
            return results
        case (.command(.renew(_, let owner, let token, let leaseMs)), .granted(let granted)?):
            guard granted.owner == owner, granted.token == token, let holder = state.holder,
                holder.matches(owner: owner, token: token),
                let time = applyTime(granted, leaseMs, state), mayBeLive(holder, at: time)
            else { return [] }
            return [grant(granted, state, time)]
        case (.command(.renew(_, let owner, let token, _)), nil):
            guard let holder = state.holder, holder.matches(owner: owner, token: token) else { return [state] }
            return [state, replacing(state, with: .init(owner: owner, token: token, expiresAt: nil))]
        case (.command(.release(_, let owner, let token)), .released?):
            guard let holder = state.holder, holder.matches(owner: owner, token: token),
                mayBeLive(holder, at: state.minTime)
            else { return [] }
            return [replacing(state, with: nil)]
        case (.command(.release(_, let owner, let token)), nil):
            guard let holder = state.holder, holder.matches(owner: owner, token: token) else { return [state] }
            return [state, replacing(state, with: nil)]
        case (.command(.renew(_, let owner, let token, _)), .notHolder(let current)?),
            (.command(.release(_, let owner, let token)), .notHolder(let current)?):
            guard let current else { return [observeExpired(state)] }
            guard current.owner != owner || current.token != token else { return [] }
            return observeLive(current, state).map { [$0] } ?? []
        case (.query(.holder), .holder(let current)?):
            guard let current else { return [observeExpired(state)] }
            return observeLive(current, state).map { [$0] } ?? []
        case (.query(.holder), nil):
            return [state]
        default:
            return []
        }
    }

    /// The log time at which `granted` was applied, if it is not before the known time.
    private func applyTime(_ granted: LockService.Holder, _ leaseMs: UInt64, _ state: State) -> UInt64? {
        guard granted.expiresAt >= leaseMs, granted.expiresAt - leaseMs >= state.minTime else { return nil }
        return granted.expiresAt - leaseMs
    }

    private func mayBeLive(_ holder: State.Holder, at time: UInt64) -> Bool {
        (holder.expiresAt ?? .max) > time
    }

    private func mayBeExpired(_ holder: State.Holder?, at time: UInt64) -> Bool {
        guard let holder, let expiresAt = holder.expiresAt else { return true }
        return expiresAt <= time
    }

    private func grant(_ granted: LockService.Holder, _ state: State, _ time: UInt64) -> State {
        var next = state
        next.holder = .init(owner: granted.owner, token: granted.token, expiresAt: granted.expiresAt)
        next.lastToken = max(state.lastToken, granted.token)
        next.minTime = time
        return next
    }

    private func replacing(_ state: State, with holder: State.Holder?) -> State {
        var next = state
        next.holder = holder
        return next
    }

    /// The state after an answer that saw `holder` live: it must be the known holder, and its
    /// lease must still run at some time not before the known time.
    private func observeLive(_ holder: LockService.Holder, _ state: State) -> State? {
        guard let known = state.holder, known.matches(holder), holder.expiresAt > state.minTime else {
            return nil
        }
        var next = replacing(state, with: .init(owner: holder.owner, token: holder.token, expiresAt: holder.expiresAt))
        next.lastToken = max(state.lastToken, holder.token)
        return next
    }

    /// The state after an answer that saw no live holder: the lease (if any) had ended, so log
    /// time had reached its end; the least such time is the most permissive.
    private func observeExpired(_ state: State) -> State {
        var next = replacing(state, with: nil)
        if let expiresAt = state.holder?.expiresAt {
            next.minTime = max(state.minTime, expiresAt)
        }
        return next
    }
}
