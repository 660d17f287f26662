/// Names inotify or a rescan offered from inbox/, in arrival order, each at most once, until the
/// worker reads them into its `QueueBook`.
struct InboxQueue {
    private var order: [String] = []
    private var head = 0
    private var members: Set<String> = []
    private var ignored: Set<String> = []

    var isEmpty: Bool { head >= order.count }
    var count: Int { order.count - head }

    mutating func offer(_ name: String) {
        guard !ignored.contains(name), members.insert(name).inserted else { return }
        order.append(name)
    }

    mutating func next() -> String? {
        guard head < order.count else { return nil }
        let name = order[head]
        head += 1
        members.remove(name)
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return name
    }

    /// Never offers `name` again (a file the worker will not touch).
    mutating func ignore(_ name: String) { ignored.insert(name) }
}
