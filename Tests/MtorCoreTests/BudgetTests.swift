import Foundation
import Testing
@testable import MtorCore

@Suite("Budget: prices, running cost, caps")
struct BudgetCoreTests {
    static let price = Budget.Price(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75)

    @Test("tokens are priced per million at each rate; a missing cache rate prices at input")
    func pricing() {
        let t = Budget.Tokens(input: 1_000_000, output: 100_000, cacheRead: 200_000, cacheWrite: 40_000)
        #expect(abs(Self.price.cost(t) - (3 + 1.5 + 0.06 + 0.15)) < 1e-12)
        let bare = Budget.Price(input: 2, output: 10)
        #expect(abs(bare.cost(t) - (2 + 1 + 0.4 + 0.08)) < 1e-12, "cache tokens at the input rate")
    }

    @Test("caps: over max_cost_usd (earlier attempts counted), past max_turns; at the cap is not over")
    func caps() {
        let limits = Budget.TaskLimits(maxCostUSD: 1, maxTurns: 3, spentBefore: 0.4, turnsBefore: 1)
        #expect(limits.exceeded(cost: 0.6, turns: 2) == nil)
        #expect(limits.exceeded(cost: 0.61, turns: 2)?.contains("spent $1.01, over its cap max_cost_usd: $1.00") == true)
        #expect(limits.exceeded(cost: 0.1, turns: 3)?.contains("model turn 4, over its cap max_turns: 3") == true)
        #expect(Budget.TaskLimits(maxCostUSD: 1).exceeded(cost: nil, turns: 99) == nil)
    }

    @Test("refusal: a cap with no token counts, or a cost cap or daily budget with no price, is refused; turns alone need no price")
    func refusal() {
        let cost = Budget.TaskLimits(maxCostUSD: 1)
        #expect(Budget.refusal(cost, stream: nil, harness: "sh", price: Self.price, provider: "p", model: "m", dailyBudget: false)?.contains("reports no token counts") == true)
        #expect(Budget.refusal(cost, stream: "claude-stream-json", harness: "claude", price: nil, provider: "p", model: "m", dailyBudget: false)?.contains("no price for model 'm'") == true)
        #expect(Budget.refusal(cost, stream: "codex-json", harness: "codex", price: Self.price, provider: "p", model: "m", dailyBudget: false) == nil)
        #expect(Budget.refusal(Budget.TaskLimits(maxTurns: 2), stream: "claude-stream-json", harness: "claude", price: nil, provider: "p", model: "m", dailyBudget: false) == nil)
        #expect(Budget.refusal(Budget.TaskLimits(), stream: "claude-stream-json", harness: "claude", price: nil, provider: "p", model: "m", dailyBudget: true)?.contains("budget_usd_per_day") == true)
        #expect(Budget.refusal(Budget.TaskLimits(), stream: nil, harness: "sh", price: nil, provider: nil, model: nil, dailyBudget: false) == nil)
    }

    @Test("UTC days: the day of a time and the start of the next")
    func days() {
        let t = 1_764_806_400.0 + 3600 * 23.5 // 2025-12-04T23:30:00Z
        #expect(Budget.day(t) == "2025-12-04")
        #expect(Budget.nextDay(after: t) == 1_764_806_400 + 86400)
        #expect(Budget.day(Budget.nextDay(after: t)) == "2025-12-05")
    }

    @Test("Claude Code stream: a message counts once (its assistant events repeat), message_delta raises its output; the result corrects the total")
    func claudeLive() {
        var s = StreamScanner(format: "claude-stream-json")
        let usage = #""usage":{"input_tokens":1000,"cache_creation_input_tokens":10,"cache_read_input_tokens":50,"output_tokens":1}"#
        s.feed(Array("""
            {"type":"stream_event","event":{"type":"message_start","message":{"id":"m1",\(usage)}}}
            {"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"a"}],\(usage)}}
            {"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","name":"Read"}],\(usage)}}
            {"type":"stream_event","event":{"type":"message_delta","usage":{"output_tokens":200}}}
            {"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"b"}],\(usage)}}

            """.utf8))
        #expect(s.liveTurns == 2)
        #expect(s.live == Budget.Tokens(input: 2000, output: 201, cacheRead: 100, cacheWrite: 20))
        s.feed(Array(#"{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":2000,"output_tokens":400,"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}"#.utf8) + [10])
        #expect(s.finalTokens == Budget.Tokens(input: 2000, output: 400, cacheRead: 100, cacheWrite: 20))
    }

    @Test("Codex stream: turn.completed is a running total; its cached input tokens are priced apart from the rest")
    func codexLive() {
        var s = StreamScanner(format: "codex-json")
        s.feed(Array("""
            {"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":5}}
            {"type":"turn.completed","usage":{"input_tokens":300,"cached_input_tokens":90,"output_tokens":20}}

            """.utf8))
        #expect(s.live == Budget.Tokens(input: 210, output: 20, cacheRead: 90, cacheWrite: 0))
        #expect(s.liveTurns == 2)
    }

    @Test("Aider: each Tokens line adds, with k and M suffixes and cache counts")
    func aiderLive() {
        var s = StreamScanner(format: StreamScanner.aiderText)
        s.feed(Array("Tokens: 2.6k sent, 48 received. Cost: $0.0086 message, $0.0086 session.\nTokens: 1.2k sent, 1.0k cache write, 20 cache hit, 1.5M received.\n".utf8))
        #expect(s.live == Budget.Tokens(input: 3800, output: 1_500_048, cacheRead: 20, cacheWrite: 1000))
        #expect(s.liveTurns == 2)
    }

    @Test("spec keys: max_cost_usd takes dollars, max_turns a whole number; nonsense is refused naming the key", arguments: [
        ("max_cost_usd: 0.5", "ok"), ("max_cost_usd: 2", "ok"), ("max_cost_usd: \"$1.25\"", "ok"), ("max_cost_usd: 0", "max_cost_usd"),
        ("max_cost_usd: -1", "max_cost_usd"), ("max_cost_usd: lots", "max_cost_usd"), ("max_turns: 3", "ok"), ("max_turns: 0", "max_turns"), ("max_turns: 1.5", "max_turns"),
    ])
    func specKeys(line: String, expected: String) {
        let text = "---\nrepo: /r\n\(line)\n---\nDo it.\n"
        do {
            let spec = try Spec.parse(text, home: "/h")
            #expect(expected == "ok", "accepted: \(line)")
            #expect(spec.maxCostUSD != nil || spec.maxTurns != nil)
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }
}
