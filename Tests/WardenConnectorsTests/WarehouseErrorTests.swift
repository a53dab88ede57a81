import Testing
import WardenConnectors
import WardenDomain

@Suite struct WarehouseErrorTests {
    let settings = ConnectionSettings(technology: .redshift, hostname: "wh.example.com", port: 5439, database: "dev",
                                      username: "analyst", password: "hunter2-secret", ssl: true)

    @Test func queryFailuresNeverRepeatThePassword() {
        let error = WarehouseError.queryFailed(settings, reason: "syntax error near \"hunter2-secret\"")

        #expect(error.message == "The warehouse at wh.example.com:5439 could not run a query: syntax error near \"********\"")
        #expect(error.code.rawValue == "warehouse.query_failed")
        #expect(error.kind == .badRequest)
    }

    @Test(arguments: [(Duration.seconds(1), "1 second"), (.seconds(30), "30 seconds"), (.milliseconds(1500), "1.5 seconds")])
    func timeoutsSayHowLongWasWaited(limit: Duration, text: String) {
        let error = WarehouseError.timeout(settings, after: limit)

        #expect(error.message == "The warehouse at wh.example.com:5439 did not answer within \(text)")
    }

    /// Only what may pass with time is retried: never rejected credentials or an unusable name.
    @Test func onlyWhatMayPassIsTransient() {
        let transient = [WarehouseError.unreachable(settings, reason: "refused"), WarehouseError.timeout(settings, after: .seconds(1)),
                         WarehouseError.queryFailed(settings, reason: "connection reset")]
        let permanent = [WarehouseError.authenticationFailed(settings), WarehouseError.databaseNotFound(settings),
                         WarehouseError.tlsFailed(settings, reason: "untrusted"), WarehouseError.invalidIdentifier("a\u{0}b")]

        #expect(transient.allSatisfy { $0.isTransient })
        #expect(permanent.allSatisfy { !$0.isTransient }, "\(permanent.filter(\.isTransient).map(\.code))")
    }

    @Test func ipv6HostsAreBracketed() {
        var settings = settings
        settings.hostname = "::1"

        #expect(WarehouseError.unreachable(settings, reason: "Connection refused").message
                == "Could not connect to the warehouse at [::1]:5439: Connection refused")
    }

    @Test func invalidIdentifiersAreShownEscaped() {
        let error = WarehouseError.invalidIdentifier("bell\u{7}")

        #expect(error.message.hasPrefix("\"bell\\u{07}\" cannot be used as a warehouse identifier"))
    }
}
