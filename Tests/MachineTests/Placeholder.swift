import Testing

@Test func placeholder_MachineTests() { #expect(1 + 1 == 2) }
