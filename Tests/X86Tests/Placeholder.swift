import Testing

@Test func placeholder_X86Tests() { #expect(1 + 1 == 2) }
