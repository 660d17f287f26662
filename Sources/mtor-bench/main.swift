/// `mtor-bench`: how fast mtor hands a spec to its harness, against the shell loops a user
/// would otherwise write — one run, one machine, ratios.
///
/// Reproduce the README table with:
///
///     swift build -c release && .build/release/mtor-bench --json-out /tmp/bench.json
///
/// `--quick` runs the same workloads with small counts (a smoke run, seconds not minutes);
/// `--only latency,throughput,idle,memory,status` picks sections; `--dir DIR` puts the
/// temporary spools on another filesystem (default `$TMPDIR` or `/tmp`); `--keep` leaves them.
import Foundation

exit(Bench.main(Array(CommandLine.arguments.dropFirst())))
