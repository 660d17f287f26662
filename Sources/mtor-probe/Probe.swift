/// `mtor-probe`: makes the one HTTP request `mtor doctor` sends to a provider, through the
/// system's libcurl (blocking in poll: waiting on a silent provider costs no CPU), or with
/// URLSession where libcurl cannot be loaded (URLSession on Linux spins a core while it waits).
///
/// It is a separate executable so that only it links FoundationNetworking (libcurl and ~30
/// TLS/Kerberos/LDAP libraries, ~6 MB resident): the `mtor` binary, worker included, never
/// loads them. `mtor` finds it next to itself (or at `$MTOR_PROBE`).
///
/// Reads one request as JSON on stdin — the headers carry the secret, so nothing goes on argv:
///
///     {"url": "...", "method": "POST", "headers": {"name": "value"}, "body": "...", "timeout": 15}
///
/// and prints one JSON line on stdout:
///
///     {"status": 401, "latency_ms": 23, "body": "<first 400 bytes>", "error": null}
///
/// `status` is null when no HTTP answer came; `error` then says why. Exit 0 whenever that line
/// was printed, 2 when the request on stdin cannot be read.
import Foundation
import MtorCore
import CMtorHTTP
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Carries a URLSession answer back to the waiting thread.
final class ResponseBox: @unchecked Sendable {  // `lock` guards the writes; the waiting thread reads only after `semaphore` is signalled
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private(set) var data: Data?
    private(set) var response: HTTPURLResponse?
    private(set) var error: (any Error)?

    func set(_ d: Data?, _ r: HTTPURLResponse?, _ e: (any Error)?) {
        lock.withLock {
            data = d
            response = r
            error = e
        }
        semaphore.signal()
    }

    func wait(_ seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("mtor-probe: \(message)\n".utf8))
    exit(2)
}

func answer(_ a: ProbeAnswer) -> Never {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var line = (try? encoder.encode(a)) ?? Data(#"{"status":null,"latency_ms":0,"body":"","error":"cannot encode the answer"}"#.utf8)
    line.append(UInt8(ascii: "\n"))
    FileHandle.standardOutput.write(line)
    exit(0)
}

/// The whole probe, nonisolated (top-level code in main.swift is @MainActor): reads the request, answers, exits.
func probe() -> Never {
    if CommandLine.arguments.count > 1 {
        fail("takes no arguments; the request comes as JSON on stdin (see `mtor doctor`)")
    }
    let input = FileHandle.standardInput.readDataToEndOfFile()
    let request: ProbeRequest
    do {
        request = try JSONDecoder().decode(ProbeRequest.self, from: input)
    } catch {
        fail("stdin is not a request: \(error)")
    }
    guard let url = URL(string: request.url) else { fail("'\(request.url)' is not a URL") }
    let timeout = request.timeout
    var urlRequest = URLRequest(url: url, timeoutInterval: timeout)
    urlRequest.httpMethod = request.method
    for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
        urlRequest.setValue(value, forHTTPHeaderField: name)
    }
    if let body = request.body { urlRequest.httpBody = Data(body.utf8) }

    let start = Date()
    if let curled = viaCurl(request, timeout: timeout, start: start) { answer(curled) }

    let box = ResponseBox()
    let session = URLSession(configuration: .ephemeral)
    let task = session.dataTask(with: urlRequest) { data, response, error in
        box.set(data, response as? HTTPURLResponse, error)
    }
    task.resume()
    let finished = box.wait(timeout + 2)
    session.invalidateAndCancel()
    let latency = Int(Date().timeIntervalSince(start) * 1000)
    guard finished, let response = box.response else {
        let why = finished ? (box.error.map { "\($0.localizedDescription)" } ?? "no response") : "no answer within \(Int(timeout)) s"
        answer(ProbeAnswer(status: nil, latencyMs: latency, body: "", error: why))
    }
    answer(ProbeAnswer(status: response.statusCode, latencyMs: latency,
                       body: String(decoding: (box.data ?? Data()).prefix(400), as: UTF8.self), error: nil))
}

/// The request through libcurl; nil when libcurl cannot be loaded here.
func viaCurl(_ request: ProbeRequest, timeout: Double, start: Date) -> ProbeAnswer? {
    let lines = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
    var pointers: [UnsafePointer<CChar>?] = lines.map { UnsafePointer(strdup($0)!) }
    pointers.append(nil)
    defer { pointers.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
    var status = 0
    var body = [CChar](repeating: 0, count: 400)
    var length = 0
    var error = [CChar](repeating: 0, count: 512)
    let rc = pointers.withUnsafeBufferPointer { headers in
        mtor_http_request(request.url, request.method, headers.baseAddress, request.body, Int(timeout * 1000), &status,
                          &body, body.count, &length, &error, error.count)
    }
    let latency = Int(Date().timeIntervalSince(start) * 1000)
    let said = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    switch rc {
    case 0:
        let bytes = body.prefix(length).map { UInt8(bitPattern: $0) }
        return ProbeAnswer(status: status, latencyMs: latency, body: String(decoding: bytes, as: UTF8.self), error: nil)
    case 1:
        return ProbeAnswer(status: nil, latencyMs: latency, body: "", error: said)
    case 3:  // libcurl's CURLE_OPERATION_TIMEDOUT
        return ProbeAnswer(status: nil, latencyMs: latency, body: "", error: "no answer within \(Int(timeout)) s (\(said))")
    default:
        return nil
    }
}
