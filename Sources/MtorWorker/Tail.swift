/// The last `limit` bytes of a stream, for sidecar tails.
struct Tail {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var total = 0

    init(limit: Int = 2048) { self.limit = limit }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        total += chunk.count
        bytes.append(contentsOf: chunk.suffix(limit))
        if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}
