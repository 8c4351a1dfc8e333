// Random differential testing of the X86 core against the host CPU through /dev/kvm (issue 3, item 6).
import Testing
