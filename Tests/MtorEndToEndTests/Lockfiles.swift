/// Lockfiles for the tests: the real `claude` harness pointed at scripted providers.
enum Lockfiles {
    static let claudeHarness = """
        "claude": {
          "argv": ["claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
                   "--allowedTools", "Bash(git add:*)", "Bash(git commit:*)", "--model", "{model}"],
          "prompt": "stdin", "stream": "claude-stream-json",
          "auth_headers": { "ANTHROPIC_AUTH_TOKEN": "bearer", "ANTHROPIC_API_KEY": "x-api-key" },
          "base_url_env": "ANTHROPIC_BASE_URL",
          "env": { "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1" }
        }
        """

    /// One provider entry: name, base URL, auth variable, secret variable.
    struct Entry {
        var name: String
        var baseURL: String
        var authEnv = "ANTHROPIC_AUTH_TOKEN"
        var secretEnv = "SCRIPTED_KEY"
        var harness = "claude"
        var concurrency = 2
        var env = ""
    }

    static func make(_ providers: [Entry], extraHarnesses: String = "", default name: String? = nil) -> String {
        let entries = providers.map { p in
            """
            "\(p.name)": { "harness": "\(p.harness)", "api": "anthropic", "base_url": "\(p.baseURL)",
              "auth_env": "\(p.authEnv)", "secret_env": "\(p.secretEnv)", "model": "claude-sonnet-4-5",
              "concurrency": \(p.concurrency)\(p.env.isEmpty ? "" : ", \"env\": {\(p.env)}") }
            """
        }.joined(separator: ",\n")
        return """
        {
          "schema": "mtor.providers/1",
          "default": "\(name ?? providers.first?.name ?? "local")",
          "harnesses": {
            \(claudeHarness),
            "sh": { "argv": ["/bin/sh", "-s"], "prompt": "stdin" }\(extraHarnesses.isEmpty ? "" : ",\n" + extraHarnesses)
          },
          "providers": {
            "local": { "harness": "sh" }\(entries.isEmpty ? "" : ",\n" + entries)
          }
        }
        """
    }
}
