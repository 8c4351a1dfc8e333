import ArgumentParser
import Foundation
import HostIO
import Machine
import X86

#if canImport(Glibc)
import Glibc
#endif

/// `vmxemu bench`: guest MIPS on the GuestImages benchmark loops (docs/DESIGN.md, "Hot-loop rules", "Measure":
/// release build, fixed images, MIPS = instructions / wall time, median of several runs).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure guest MIPS on the benchmark images (build with -c release).",
        discussion: "Runs GuestImages/build/bench-*.elf several times each and prints the median MIPS."
    )

    @Option(help: "Directory holding the built benchmark images.")
    var dir: String = "GuestImages/build"

    @Option(help: "Runs per image (the median is reported).")
    var runs: Int = 5

    @Option(help: "Also write the results as a Markdown table to this file.")
    var output: String?

    @Option(help: "Images to run (default: bench-int bench-call bench-copy).")
    var images: [String] = ["bench-int", "bench-call", "bench-copy"]

    func run() throws {
        var load = ""
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            load = " Load average before the run: " + text.split(separator: " ").prefix(3).joined(separator: " ") + "."
        }
        var rows: [(String, UInt64, Double, Double, Double, Double)] = []
        for name in images {
            let path = "\(dir)/\(name).elf"
            guard let kernel = try? HostFile.read(path, limit: HostFile.imageLimit, why: "the image limit") else {
                eprint("vmxemu bench: cannot read \(path) (run `make -C GuestImages` first)")
                throw ExitCode(2)
            }
            var mips: [Double] = []
            var count: UInt64 = 0
            for _ in 0..<max(1, runs) {
                let m = Machine(memoryBytes: 128 << 20, console: NullSink())
                try m.boot(kernel: kernel)
                let t0 = monotonicSeconds()
                let stop = m.run(timeout: 600)
                let dt = monotonicSeconds() - t0
                guard stop == .exit(status: 0) else {
                    eprint("vmxemu bench: \(name) did not exit 0: \(stop)\n" + m.report())
                    throw ExitCode(1)
                }
                count = m.cpu.instructions
                mips.append(Double(count) / dt / 1e6)
            }
            mips.sort()
            let median = mips[mips.count / 2]
            rows.append((name, count, median, Double(count) / median / 1e6, mips.first!, mips.last!))
            print("\(name): \(count) instructions, median \(format1(median)) MIPS over \(mips.count) runs (min \(format1(mips.first!)), max \(format1(mips.last!)))")
        }
        if let output {
            var md = "`vmxemu bench --runs \(runs)` (release build), \(ProcessInfo.processInfo.processorCount) cores.\(load)\n\n"
            md += "| image | instructions | median MIPS | min–max MIPS | seconds (median) |\n|---|---:|---:|---:|---:|\n"
            for r in rows { md += "| \(r.0) | \(r.1) | \(format1(r.2)) | \(format1(r.4))–\(format1(r.5)) | \(format3(r.3)) |\n" }
            guard let f = fopen(output, "w") else { eprint("vmxemu bench: cannot write \(output)"); throw ExitCode(2) }
            fputs(md, f); fclose(f)
        }
    }
}

func format1(_ v: Double) -> String { "\((v * 10).rounded() / 10)" }
