public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Child processes for tests, through posix_spawn: each child is reaped here, by its pid, and waited for on a thread of
/// its own, never on the concurrency pool's.
public enum TestProcess {
    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `arguments[0]` with `arguments`; its standard input comes from `input` (a file descriptor) or nowhere,
    /// its standard output goes to `output` or nowhere.
    public static func spawn(_ arguments: [String], input: Int32? = nil, output: Int32? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard result == 0 else { throw Failed(description: "could not start \(arguments[0]): error \(result)") }
        return pid
    }

    /// Runs `arguments` to the end, `input` on its standard input, and returns what it wrote to standard output;
    /// throws when it exits unsuccessfully.
    public static func output(of arguments: [String], input: Data = Data()) async throws -> Data {
        var fds: [Int32] = [0, 0], ins: [Int32] = [0, 0]
        // Close-on-exec from the start, so that no child spawned meanwhile by another test inherits an end (a write end
        // left open in any child would keep a reader from ever ending); posix_spawn's dup2 gives the child its own.
        guard systemPipe2(&fds, O_CLOEXEC) == 0 else { throw Failed(description: "no pipe") }
        guard systemPipe2(&ins, O_CLOEXEC) == 0 else {
            close(fds[0])
            close(fds[1])
            throw Failed(description: "no pipe")
        }
        let pid: pid_t
        do {
            pid = try spawn(arguments, input: ins[0], output: fds[1])
        } catch {
            for fd in fds + ins { close(fd) }
            throw error
        }
        close(fds[1])
        close(ins[0])
        let (reader, writer) = (fds[0], ins[1])
        Thread {
            input.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(writer, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
                }
            }
            close(writer)
        }.start()
        let (data, status) = await withCheckedContinuation { (continuation: CheckedContinuation<(Data, Int32), Never>) in
            Thread {
                var data = Data()
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = read(reader, &buffer, buffer.count)
                    if count > 0 { data.append(contentsOf: buffer[0..<count]) } else if count == 0 || errno != EINTR { break }
                }
                close(reader)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: (data, status))
            }.start()
        }
        // Exited normally with status 0: the low seven bits are the terminating signal, the next eight the exit status.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw Failed(description: "\(arguments.prefix(2).joined(separator: " ")) failed (wait status \(status))")
        }
        return data
    }
}

/// glibc's pipe2, which the Glibc module leaves out (it is declared only under _GNU_SOURCE).
@_silgen_name("pipe2")
private func systemPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
