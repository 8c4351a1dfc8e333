import ArgumentParser
import HostIO
import Machine
import REPL
import X86

#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses of `vmxemu run` (documented in the README):
enum ExitStatus {
    /// A bad image or bad arguments.
    static let usage: Int32 = 2
    /// Guest fatal: triple fault, or halted with nothing that could wake it.
    static let guestFatal: Int32 = 3
    /// The guest executed an instruction vmxemu does not implement.
    static let unimplemented: Int32 = 4
    /// `--timeout` or `--max-instructions` stopped a runaway guest (as `timeout(1)`).
    static let runaway: Int32 = 124
    /// gdb's `kill` ended the machine (as a process killed by SIGKILL).
    static let killedByDebugger: Int32 = 137
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a multiboot (v1) kernel, as qemu-system-x86_64 -kernel does.",
        discussion: """
        The kernel is entered in 32-bit protected mode with paging off, EAX=0x2BADB002 and EBX \
        pointing at the multiboot information (memory map, command line, modules).

        Devices: a 16550 UART at 0x3F8 (COM1) whose output goes to stdout (or --serial file:PATH); \
        a debug-exit port at 0xF4 — writing v ends the run with exit status v (with \
        --qemu-exit-status: (v<<1)|1, as QEMU's isa-debug-exit); a console at port 0xE9. \
        Unmapped ports read all-ones; unbacked physical memory reads all-ones.

        Exit status: the guest's (via port 0xF4); 2 bad image or arguments; 3 triple fault or a \
        halt nothing can wake; 4 an instruction vmxemu does not implement; 124 --timeout or \
        --max-instructions reached; 137 killed from gdb.

        Debugging with gdb: --gdb [HOST:]PORT starts a gdb server (host 127.0.0.1 unless given; \
        port 0 picks a free one), -s is --gdb 1234, -S (--wait-gdb) keeps the CPU stopped until \
        gdb resumes it. Then: gdb -x gdb/vmxemu.gdb IMAGE, (gdb) target remote :1234. One gdb at a \
        time; after it detaches the machine keeps its state for the next one.
        """
    )

    @Argument(help: "The kernel image: an ELF32/ELF64 multiboot kernel (or a.out-kludge image).")
    var image: String?

    @Option(name: .long, help: ArgumentHelp("Boot firmware instead of a kernel: the ROM ends at 4 GiB, the CPU starts at the reset vector in real mode.", valueName: "ROM"))
    var bios: String?

    @Option(name: [.short, .long], help: "Guest RAM, e.g. 128M, 1G (a bare number is MiB).")
    var memory: String = "128M"

    @Option(name: .long, help: "The kernel command line (multiboot cmdline).")
    var append: String = ""

    @Option(name: .long, help: ArgumentHelp("A boot module: 'FILE[ ARGS]' (repeatable).", valueName: "FILE[ ARGS]"))
    var module: [String] = []

    @Option(name: .long, help: ArgumentHelp("Where COM1 output goes: stdio or file:PATH.", valueName: "stdio|file:PATH"))
    var serial: String = "stdio"

    @Flag(name: .long, help: "Map a debug-exit write of v to exit status (v<<1)|1, as QEMU's isa-debug-exit.")
    var qemuExitStatus = false

    @Option(name: .long, help: "Stop the guest after this many seconds of wall time (exit status 124).")
    var timeout: Double?

    @Option(name: .long, help: "Stop the guest after this many instructions (exit status 124).")
    var maxInstructions: UInt64?

    @Flag(name: [.short, .long], help: "Print nothing but the guest's output and errors.")
    var quiet = false

    @Option(name: .customLong("gdb"), help: ArgumentHelp("Start a gdb server on [HOST:]PORT (host 127.0.0.1 unless given; port 0 = any free port).", valueName: "[HOST:]PORT"))
    var gdb: String?

    @Flag(name: .customShort("s"), help: "Shorthand for --gdb 1234 (as QEMU's -s).")
    var gdbDefaultPort = false

    @Flag(name: [.customShort("S"), .customLong("wait-gdb")], help: "Do not start the CPU until gdb resumes it (implies -s without --gdb).")
    var waitGDB = false

    @Flag(name: .long, help: "Stop the CPU at the start and read debugger commands (readline at a terminal; see 'help' at the prompt). Works with --gdb.")
    var repl = false

    @Option(name: .customShort("x"), help: ArgumentHelp("Run the REPL commands in FILE (repeatable; implies --repl).", valueName: "FILE"))
    var commandFiles: [String] = []

    @Option(name: .customLong("ex", withSingleDash: true), help: ArgumentHelp("Run one REPL command (repeatable; -x and -ex run in command-line order, as gdb does; implies --repl).", valueName: "CMD"))
    var exCommands: [String] = []

    @Flag(name: .long, help: "Exit after the -x/-ex commands (status 0, or the first failure's: 1 command or assert, 2 usage, 3 guest fatal).")
    var batch = false

    @Flag(name: .customLong("no-history"), help: "Do not read or write the REPL history ($XDG_STATE_HOME/vmxemu/history).")
    var noHistory = false

    func run() throws {
        guard let mem = parseSize(memory), mem >= 2 << 20 else {
            eprint("vmxemu: --memory '\(memory)' is not a size of at least 2M (examples: 128M, 1G)")
            throw ExitCode(ExitStatus.usage)
        }
        if (image == nil) == (bios == nil) {
            eprint("vmxemu: give either a kernel IMAGE or --bios ROM (see vmxemu run --help)")
            throw ExitCode(ExitStatus.usage)
        }
        let path = image ?? bios ?? ""
        var endpoint: GDBEndpoint?
        if let gdb {
            guard let e = GDBEndpoint.parse(gdb) else {
                eprint("vmxemu: --gdb '\(gdb)' is not [HOST:]PORT (examples: 1234, 127.0.0.1:1234, [::1]:1234)")
                throw ExitCode(ExitStatus.usage)
            }
            endpoint = e
        } else if gdbDefaultPort || waitGDB {
            endpoint = GDBEndpoint(host: GDBEndpoint.defaultHost, port: GDBEndpoint.defaultPort)
        }
        let wantsREPL = repl || batch || !commandFiles.isEmpty || !exCommands.isEmpty
        if wantsREPL && (timeout != nil || maxInstructions != nil) {
            eprint("vmxemu: --timeout and --max-instructions cannot be combined with the REPL")
            throw ExitCode(ExitStatus.usage)
        }
        if endpoint != nil && (timeout != nil || maxInstructions != nil) {
            eprint("vmxemu: --timeout and --max-instructions cannot be combined with a gdb server")
            throw ExitCode(ExitStatus.usage)
        }
        guard let kernel = readFile(path) else {
            eprint("vmxemu: cannot read \(image != nil ? "image" : "firmware") '\(path)': \(String(cString: strerror(errno)))")
            throw ExitCode(ExitStatus.usage)
        }
        var modules: [BootModule] = []
        for spec in module {
            let parts = spec.split(separator: " ", maxSplits: 1)
            let path = parts.first.map(String.init) ?? ""
            guard let bytes = readFile(path) else {
                eprint("vmxemu: cannot read module '\(path)': \(String(cString: strerror(errno)))")
                throw ExitCode(ExitStatus.usage)
            }
            modules.append(BootModule(contents: bytes, commandLine: spec))
        }
        let sink: ConsoleSink
        do { sink = try SerialTarget(parsing: serial).makeSink() } catch {
            eprint("vmxemu: --serial: \(error)")
            throw ExitCode(ExitStatus.usage)
        }
        let machine = Machine(memoryBytes: mem, console: sink, qemuExitStatus: qemuExitStatus)
        if bios != nil {
            guard machine.powerOn(firmware: kernel) else {
                eprint("vmxemu: \(path): a firmware image must be 1 byte to 16 MiB")
                throw ExitCode(ExitStatus.usage)
            }
        } else {
            do {
                try machine.boot(kernel: kernel, commandLine: append, modules: modules)
            } catch {
                eprint("vmxemu: \(path): \(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        for w in machine.image?.warnings ?? [] { eprint("vmxemu: warning: \(w)") }
        if wantsREPL {
            var options = REPLOptions()
            options.scripts = commandFiles
            options.commands = exCommands
            options.steps = REPLOptions.orderedSteps(Array(CommandLine.arguments.dropFirst()), scripts: commandFiles, commands: exCommands)
            options.batch = batch
            options.history = !noHistory
            throw ExitCode(REPLRun.run(machine: machine, imagePath: image ?? bios, endpoint: endpoint, options: options, quiet: quiet))
        }
        if let endpoint {
            // The image is loaded before gdb can connect (docs/DESIGN.md, "The gdb context model"): breakpoints are never lost.
            let status = GDBRun.run(machine: machine, imagePath: image ?? bios, endpoint: endpoint,
                                    waitForGDB: waitGDB, quiet: quiet)
            throw ExitCode(status)
        }
        let start = monotonicSeconds()
        let stop = machine.run(maxInstructions: maxInstructions, timeout: timeout)
        let elapsed = monotonicSeconds() - start
        let n = machine.cpu.instructions
        let stats = "\(n) instructions in \(String(format3(elapsed)))s (\(String(format3(Double(n) / max(elapsed, 1e-9) / 1e6))) MIPS)"
        switch stop {
        case .exit(let status):
            if !quiet {
                if qemuExitStatus, let v = machine.bus.exitRequest?.value {
                    eprint("vmxemu: guest wrote \(v) to port 0xF4: exit status \(status) = (\(v)<<1)|1 under --qemu-exit-status (\(stats))")
                } else {
                    eprint("vmxemu: guest exited with status \(status) (\(stats))")
                }
            }
            throw ExitCode(status)
        case .instructionLimit(let k):
            eprint("vmxemu: stopped after --max-instructions \(k)\n" + machine.report())
            throw ExitCode(ExitStatus.runaway)
        case .timeout(let s):
            eprint("vmxemu: stopped after --timeout \(s)s (\(stats))\n" + machine.report())
            throw ExitCode(ExitStatus.runaway)
        case .cpu(let cause):
            switch cause {
            case .unimplemented:
                eprint("vmxemu: stopped: \(cause)\n" + machine.report())
                throw ExitCode(ExitStatus.unimplemented)
            default:
                eprint("vmxemu: stopped: \(cause)\n" + machine.report())
                throw ExitCode(ExitStatus.guestFatal)
            }
        }
    }
}

func format3(_ v: Double) -> String {
    let scaled = (v * 1000).rounded() / 1000
    return "\(scaled)"
}
