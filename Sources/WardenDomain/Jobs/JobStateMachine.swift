public import Foundation

/// The life of a job: what each event does to it, decided here and only persisted by the store.
///
///     created ─claim─▶ active ─succeed─▶ completed
///     retry ──claim─▶ active ─fail─▶ retry (attempts left, transient) | failed
///     active ─wait (what it needs is busy)─▶ retry, shortly, the attempt not counted
///     active ─claim (lease expired: taken over)─▶ active
///     created, retry, active ─cancel─▶ cancelled
public enum JobStateMachine {
    public enum Event: Sendable, Equatable {
        /// A worker claims the job: new, a retry that is due, or an active job whose lease expired.
        case claim
        case succeed
        /// `permanent`: waiting cannot help (invalid input, a refusal, a missing record).
        case fail(permanent: Bool)
        /// The run found what it needs held by other work (`job.busy`): it did nothing, so its attempt does not count,
        /// and it runs again shortly rather than after a failure's growing backoff. Bounded by the other work's lease.
        case wait
        case cancel
    }

    /// The job after an event: its state, its attempt count and, for a retry, when it may run again.
    public struct Transition: Sendable, Equatable {
        public var state: JobState
        public var attempts: Int
        public var runAfter: Date?

        public init(state: JobState, attempts: Int, runAfter: Date? = nil) {
            self.state = state
            self.attempts = attempts
            self.runAfter = runAfter
        }
    }

    /// What `event` does to a job in `state` that has run `attempts` times of `maxAttempts`; nil when the event
    /// cannot happen in that state (a final job never changes).
    public static func transition(from state: JobState, on event: Event, attempts: Int, maxAttempts: Int,
                                  now: Date) -> Transition? {
        switch (state, event) {
        case (.created, .claim), (.retry, .claim), (.active, .claim):
            return Transition(state: .active, attempts: attempts + 1)
        case (.active, .succeed):
            return Transition(state: .completed, attempts: attempts)
        case (.active, .fail(let permanent)):
            guard !permanent, attempts < maxAttempts else { return Transition(state: .failed, attempts: attempts) }
            return Transition(state: .retry, attempts: attempts, runAfter: now.addingTimeInterval(Job.backoff(afterAttempt: attempts)))
        case (.active, .wait):
            return Transition(state: .retry, attempts: max(0, attempts - 1), runAfter: now.addingTimeInterval(Job.busyRetryDelay))
        case (.created, .cancel), (.retry, .cancel), (.active, .cancel):
            return Transition(state: .cancelled, attempts: attempts)
        case (.created, _), (.retry, _), (.active, _), (.completed, _), (.failed, _), (.cancelled, _), (.expired, _):
            return nil
        }
    }

    /// What a run that threw `error` means: nil when the job was taken over by another worker (nothing is
    /// recorded: the other worker owns it now), else a failure that is permanent unless the error says waiting may
    /// help, or a wait when other work holds what it needs. An error Warden did not expect is retried.
    public static func event(after error: any Error) -> Event? {
        guard let error = error as? WardenError else { return .fail(permanent: false) }
        if error.code == .jobLeaseLost { return nil }
        if error.code == .jobBusy { return .wait }
        return .fail(permanent: !error.isTransient)
    }
}
