import ArgumentParser
import Foundation
import WardenConnectors

/// Times `ArrowStream.read` over one Arrow IPC stream file: the median of several runs, in milliseconds, on stdout.
struct DecodeArrow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-arrow", abstract: "Decode an Arrow IPC stream as Warden reads Snowflake results; print the median milliseconds.")

    @Argument(help: "The Arrow IPC stream file.") var file: String
    @Option(help: "Runs to take the median of.") var runs: Int = 5

    func run() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        var times: [Double] = []
        var cells = 0
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            let stream = try ArrowStream.read(data)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
            cells = stream.rows.count * stream.fields.count
        }
        times.sort()
        print(String(format: "%.1f %d", times[times.count / 2], cells))
    }
}
