/// Thrown when an operation runs past its time limit.
struct DeadlineExceeded: Error {
    var limit: Duration
}

/// Runs `operation`, giving up after `limit` with `DeadlineExceeded`.
///
/// The operation and a sleep race in a task group; whichever finishes first wins and the other is
/// cancelled. The group waits for the loser before returning, so the operation must end promptly when
/// cancelled: the connector makes sure of that by closing the connection a cancelled query runs on.
func withDeadline<Result: Sendable>(
    _ limit: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded(limit: limit)
        }
        defer { group.cancelAll() }
        // Two children, so there is always a first result (or error).
        return try await group.next()!
    }
}
