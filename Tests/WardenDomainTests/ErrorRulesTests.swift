import Foundation
import Testing
import WardenDomain

@Suite struct ErrorRulesTests {
    static let kinds: [(WardenError.Kind, Bool)] = [
        (.badRequest, false), (.unauthorized, false), (.forbidden, false), (.notFound, false), (.conflict, false),
        (.tooLarge, false), (.notImplemented, false), (.unavailable, true), (.internalError, true),
    ]

    /// By default only an unavailable service and the unexpected may pass with time; a refusal never does.
    @Test(arguments: kinds)
    func transienceFollowsTheKindUnlessSaid(kind: WardenError.Kind, transient: Bool) {
        #expect(WardenError(kind, code: .internal, message: "m").isTransient == transient)
        #expect(WardenError(kind, code: .internal, message: "m", isTransient: !transient).isTransient == !transient)
    }

    /// One code means one thing: no two catalog members share a raw value, and every raw value is `area.name`.
    @Test func catalogCodesAreUniqueAndWellFormed() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Sources/WardenDomain/Errors/WardenError+Code.swift")
        let text = try String(contentsOf: source, encoding: .utf8)
        let raws = text.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("static let"), let open = line.firstIndex(of: "\""), let close = line.lastIndex(of: "\""),
                  open < close else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        #expect(raws.count > 50)
        #expect(Set(raws).count == raws.count, "duplicated: \(Dictionary(grouping: raws, by: { $0 }).filter { $1.count > 1 }.keys)")
        for raw in raws where raw != "internal" {
            #expect(raw.wholeMatch(of: /[a-z][a-zA-Z]*\.[a-z][a-z_]*/) != nil, "\(raw)")
        }
    }
}
