// GDBRemote — the GDB remote serial protocol for vmxemu. Imports nothing of the emulator.
//
// Three parts that never blur (daniel5151/gdbstub's split):
//
//   wire      PacketCodec.swift   PacketDecoder (byte-at-a-time receive state machine),
//                                 PacketEncoder (framing, checksum, escapes, optional RLE)
//             Packet.swift        GDBPacket.parse: payload → typed packet, or GDBPacketError
//             Reply.swift         GDBReply / GDBStopReply: typed replies → payloads
//             ThreadID.swift      pP.T thread ids
//   target    Target.swift        GDBTarget (base) + optional capability protocols;
//                                 GDBCapabilities derives qSupported from what is implemented
//   arch      RegisterLayout.swift  the x86-64 register table → g/G/p/P encoding and target.xml
//   files     HostFiles.swift     read-only vFile service for the exec files the target names
//
// and two drivers of them:
//
//   Session.swift    GDBSession: the protocol state machine (bytes in → bytes out), transport-free
//   GDBServer.swift  GDBServer: swift-nio TCP listener feeding one GDBSession, one gdb at a time
//
// Using it from the emulator (the Debugger module's adapter):
//
//     final class MachineTarget: GDBTarget, GDBSoftwareBreakpoints, GDBExtendedMode, … { … }
//     let server = GDBServer(target: MachineTarget(machine), host: "127.0.0.1", port: 1234)
//     try server.startBlocking()            // or `try await server.start()`; returns the port
//     …                                      // the machine runs on its own thread
//     try await server.shutdown()
//
// Threading contract for the adapter:
//   * every GDBTarget method is called on the server's event-loop thread, and — except
//     `interrupt()` — only while the machine is stopped (breakpoint removal after an abrupt
//     disconnect is deferred until the stop);
//   * `resume(_:stops:)` returns at once; the machine thread later calls `stops.report(event)`
//     exactly once. Reporting from inside `resume` is also safe: the report hops to the loop.
//   * honour `GDBResumeRequest.onlyThread` (stop in that thread) and `attachedProcesses` (stop
//     only there); the session re-resumes the target and logs if a report breaks either rule.
//
// Diagnostics go to stderr (GDBLog.stderrSink) or to the `log` closure you pass; never stdout.
