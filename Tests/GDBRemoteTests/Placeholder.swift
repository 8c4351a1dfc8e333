import Testing

@Test func placeholder_GDBRemoteTests() { #expect(1 + 1 == 2) }
