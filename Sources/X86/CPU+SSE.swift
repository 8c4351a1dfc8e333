/// SSE, SSE2, SSE3, SSSE3, SSE4.1, SSE4.2 (SDM Vol. 1 ch. 10–12; Vol. 2 instruction pages).
/// Floating-point arithmetic runs on the host SSE unit through CFPU (see `cfpu.h`).
import CFPU

extension CPU {
    /// SSE instructions (`Op.sse`): imm2 = map << 8 | opcode | mandatory-prefix column << 16
    /// (map 1 = 0F, 2 = 0F 38, 3 = 0F 3A; column 0 none, 1 66, 2 F3, 3 F2 as in `OpcodeTables`);
    /// imm = the imm8 where the form has one; reg/rm/mem from ModRM (register numbers with REX).
    @inline(never) func executeSSE(_ i: UnsafePointer<Insn>) throws(Fault) {
        throw unimplementedStop("SSE instruction (not yet implemented)")
    }
}
