public import StateMachineHTTP

// The lock API over HTTP, served under `/v1/groups/{group}/`:
// - `GET locks/{lock}[?consistency=stale]`: 200 `{"owner":..,"token":..,"expiresAt":..}` or 404
//   `{"error":"no holder"}`;
// - `POST locks/{lock}/acquire` with `{"owner":"a","leaseMs":10000}`: 200 with the holder, 409
//   `{"error":"held","holder":{...}}` when someone else holds it;
// - `POST locks/{lock}/renew` with `{"owner":"a","token":7,"leaseMs":10000}` and
//   `POST locks/{lock}/release` with `{"owner":"a","token":7}`: 200, or 409
//   `{"error":"not holder","holder":...}`.
extension LockService: HTTPRoutable {
    public static var httpRoutes: [HTTPRoute<LockService>] {
        [
            .query(
                "GET",
                "locks/{lock}",
                { request throws(HTTPRouteError) in
                    .holder(lock: try request.parameter("lock"))
                },
                response: { response, _ in
                    switch response {
                    case .holder(let holder?): .json(200, HolderAnswer(holder))
                    case .holder(nil): .error(404, "no holder")
                    default: .error(500, "unexpected answer to a holder query: \(response)")
                    }
                }
            ),
            lockCommand("acquire"),
            lockCommand("renew"),
            lockCommand("release"),
        ]
    }

    private static func lockCommand(_ action: String) -> HTTPRoute<LockService> {
        .command(
            "POST",
            "locks/{lock}/\(action)",
            { request throws(HTTPRouteError) in
                let lock = try request.parameter("lock")
                let body = try request.json(LockBody.self, expected: #"{"owner": "...", "token": n, "leaseMs": n}"#)
                switch (action, body.token, body.leaseMs) {
                case ("acquire", _, let leaseMs?):
                    return .acquire(lock: lock, owner: body.owner, leaseMs: leaseMs)
                case ("renew", let token?, let leaseMs?):
                    return .renew(lock: lock, owner: body.owner, token: token, leaseMs: leaseMs)
                case ("release", let token?, _):
                    return .release(lock: lock, owner: body.owner, token: token)
                default:
                    let needs =
                        ["acquire": "owner, leaseMs", "renew": "owner, token, leaseMs"][action] ?? "owner, token"
                    throw HTTPRouteError("\(action) needs \(needs)")
                }
            },
            response: { response, _ in
                switch response {
                case .granted(let holder): .json(200, HolderAnswer(holder))
                case .released: .json(200, ["released": true])
                case .held(let holder): .json(409, LockRefusal(error: "held", holder: HolderAnswer(holder)))
                case .notHolder(let current):
                    .json(409, LockRefusal(error: "not holder", holder: current.map(HolderAnswer.init)))
                case .holder: .error(500, "unexpected answer to a command: \(response)")
                }
            }
        )
    }

    private struct LockBody: Decodable {
        var owner: String
        var token: UInt64?
        var leaseMs: UInt64?
    }

    private struct HolderAnswer: Encodable {
        var owner: String
        var token: UInt64
        var expiresAt: UInt64

        init(_ holder: LockService.Holder) {
            owner = holder.owner
            token = holder.token
            expiresAt = holder.expiresAt
        }
    }

    private struct LockRefusal: Encodable {
        var error: String
        var holder: HolderAnswer?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(error, forKey: .error)
            // `null`, not a missing member, when nobody holds the lock.
            try container.encode(holder, forKey: .holder)
        }

        enum CodingKeys: String, CodingKey { case error, holder }
    }
}
