public import StateMachineHTTP

// The key/value API over HTTP, served under `/v1/groups/{group}/` (and `/v1/` for the first
// group of a cluster):
// - `GET kv/{key}[?consistency=stale]`: 200 and the raw value, 404 `{"error":"ErrNoKey"}`;
// - `PUT kv/{key}` (body = value): 200 `{"ok":true}`;
// - `POST kv/{key}/append` (body = value): 200 `{"ok":true}`;
// - `DELETE kv/{key}`: 200 `{"ok":true}` or 404 `{"error":"ErrNoKey"}`;
// - `POST kv/{key}/cas` with `{"expected": "old" | null, "new": "v"}`: 200
//   `{"swapped":true,"current":"v"}` or 409 `{"swapped":false,"current":"..." | null}`.
// The generic `command` and `query` endpoints take the JSON form of the Codable types:
// `{"put":{"key":"k","value":"v"}}`, `{"get":{"key":"k"}}`.
extension KeyValueStore: HTTPRoutable {
    public static var httpRoutes: [HTTPRoute<KeyValueStore>] {
        [
            .query(
                "GET",
                "kv/{key}",
                { request throws(HTTPRouteError) in
                    .get(key: try request.parameter("key"))
                },
                response: { response, _ in
                    switch response {
                    case .value(let value): .bytes(200, Array(value.utf8))
                    case .noKey: noKey
                    default: .error(500, "unexpected answer to a get: \(response)")
                    }
                }
            ),
            .command(
                "PUT",
                "kv/{key}",
                { request throws(HTTPRouteError) in
                    .put(key: try request.parameter("key"), value: try request.text())
                },
                response: writeAnswer
            ),
            .command(
                "DELETE",
                "kv/{key}",
                { request throws(HTTPRouteError) in
                    .delete(key: try request.parameter("key"))
                },
                response: writeAnswer
            ),
            .command(
                "POST",
                "kv/{key}/append",
                { request throws(HTTPRouteError) in
                    .append(key: try request.parameter("key"), value: try request.text())
                },
                response: writeAnswer
            ),
            .command(
                "POST",
                "kv/{key}/cas",
                { request throws(HTTPRouteError) in
                    let key = try request.parameter("key")
                    let body = try request.json(
                        CompareAndSwapBody.self,
                        expected: #"{"expected": "old" | null, "new": "value"}"#
                    )
                    return .compareAndSwap(key: key, expected: body.expected, new: body.new)
                },
                response: writeAnswer
            ),
        ]
    }

    /// `{"ok":true}`, the answer to every successful write: encoded once, it is the hot path.
    private static let okTrue = PluginResponse.json(200, ["ok": true])
    private static let noKey = PluginResponse.error(404, "ErrNoKey")

    private static func writeAnswer(_ response: Response, _ request: PluginRequest) -> PluginResponse {
        switch response {
        case .ok: okTrue
        case .noKey: noKey
        case .compareAndSwap(let swapped, let current):
            .json(swapped ? 200 : 409, CompareAndSwapAnswer(swapped: swapped, current: current))
        case .value: .error(500, "unexpected answer to a command: \(response)")
        }
    }

    private struct CompareAndSwapBody: Decodable {
        var expected: String?
        var new: String
    }

    private struct CompareAndSwapAnswer: Encodable {
        var swapped: Bool
        var current: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(swapped, forKey: .swapped)
            // `null`, not a missing member, for a missing key.
            try container.encode(current, forKey: .current)
        }

        enum CodingKeys: String, CodingKey { case swapped, current }
    }
}
