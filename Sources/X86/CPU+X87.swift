/// The x87 FPU (SDM Vol. 1 ch. 8 "Programming with the x87 FPU"), and FXSAVE/FXRSTOR.
/// Arithmetic runs on the host FPU through CFPU (see `cfpu.h`).
import CFPU

/// The x87 register file and its control/status state.
public struct X87State: Sendable {
    public init() {}
}

extension CPU {
    /// x87 instructions (`Op.x87`: imm2 = the escape D8…DF as 0…7, 8 = FWAIT; sub = ModRM.reg,
    /// rm = ModRM.rm, mem = memory form) and `Op.fxsave` (sub 0 = FXSAVE, 1 = FXRSTOR).
    @inline(never) func executeX87(_ i: UnsafePointer<Insn>) throws(Fault) {
        throw unimplementedStop("x87 instruction (not yet implemented)")
    }
}
