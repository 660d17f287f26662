import Foundation

/// What `mtor doctor` sends `mtor-probe` on stdin: one HTTP request. The headers hold the
/// secret, so the request never goes on argv.
public struct ProbeRequest: Codable, Sendable {
    public var url: String
    public var method: String
    public var headers: [String: String]
    public var body: String?
    public var timeout: Double

    public init(url: String, method: String, headers: [String: String], body: String?, timeout: Double) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// The one JSON line `mtor-probe` prints: the HTTP status (null when no answer came, and
/// `error` says why), the latency, and the start of the body.
public struct ProbeAnswer: Codable, Sendable {
    public var status: Int?
    public var latencyMs: Int
    public var body: String
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case status, body, error, latencyMs = "latency_ms"
    }

    public init(status: Int?, latencyMs: Int, body: String, error: String?) {
        self.status = status
        self.latencyMs = latencyMs
        self.body = body
        self.error = error
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)   // null, not absent
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(body, forKey: .body)
        try c.encode(error, forKey: .error)
    }
}
