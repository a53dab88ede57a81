/// Small text rules shared by validators.
public enum Text {
    /// Non-empty, at most `maxLength` characters, and free of control characters.
    public static func isPrintable(_ text: String, maxLength: Int) -> Bool {
        !text.isEmpty && text.count <= maxLength
            && !text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// A deliberately loose e-mail check: something, one `@`, something with a dot.
    public static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return isPrintable(text, maxLength: 320) && !text.contains(" ")
    }
}
