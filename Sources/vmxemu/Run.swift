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
    /// The largest `--timeout`, in seconds (about 11.6 days): beyond it a deadline means nothing.
    static let maxTimeout: Double = 1_000_000

    static let configuration = CommandConfiguration(
        abstract: "Boot a multiboot (v1) kernel, as qemu-system-x86_64 -kernel does.",
        discussion: """
        The kernel is entered in 32-bit protected mode with paging off, EAX=0x2BADB002 and EBX \
        pointing at the multiboot information (memory map, command line, modules).

        Devices: a 16550 UART at 0x3F8 (COM1) whose output goes to stdout (or --serial file:PATH); \
        a debug-exit port at 0xF4 — writing v ends the run with exit status v (with \
        --qemu-exit-status: (v<<1)|1, as QEMU's isa-debug-exit), of which an exit status keeps \
        the low 8 bits (a warning says so when that drops bits); with --debugcon, QEMU's debug \
        console at port 0xE9. Unmapped ports read all-ones; unbacked physical memory reads all-ones.

        Exit status: the guest's (via port 0xF4); 2 bad image or arguments; 3 triple fault or a \
        halt nothing can wake; 4 an instruction vmxemu does not implement; 124 --timeout or \
        --max-instructions reached; 137 killed from gdb.

        Limits: the image is a regular file of at most 1 GiB, each module at most the guest RAM; \
        --memory at most the host's physical RAM (and 64G), reserved and committed only as the \
        guest touches it; --timeout is a number of seconds in (0, 1000000], kept to within 0.1 s.

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

    @Option(name: .long, help: ArgumentHelp("Give the guest QEMU's debug console at port 0xE9, writing to stdout or a file (off by default, as in QEMU).", valueName: "stdio|file:PATH"))
    var debugcon: String?

    @Flag(name: .long, help: "Map a debug-exit write of v to exit status (v<<1)|1, as QEMU's isa-debug-exit.")
    var qemuExitStatus = false

    @Option(name: .long, help: "Stop the guest after this many seconds of wall time, at most 1000000 (exit status 124).")
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

    @Flag(name: .long, help: "Exit after the -x/-ex commands (the first failure's status: 1 command or assert, 2 usage, 3 guest fatal; else the guest's exit status if it exited, else 0).")
    var batch = false

    @Flag(name: .customLong("no-history"), help: "Do not read or write the REPL history ($XDG_STATE_HOME/vmxemu/history).")
    var noHistory = false

    @Flag(name: .long, help: "Script runs: every command's result as one JSON object per line on stdout (the guest's serial output goes to stderr unless --serial names a file).")
    var json = false

    func run() throws {
        guard let mem = parseSize(memory), mem >= 2 << 20 else {
            eprint("vmxemu: --memory '\(memory)' is not a size of at least 2M (examples: 128M, 1G)")
            throw ExitCode(ExitStatus.usage)
        }
        let ramLimit = HostMemory.guestRAMLimit
        guard mem <= ramLimit else {
            let why = HostMemory.physicalBytes.map { $0 <= HostMemory.cap ? "this host's physical RAM" : "vmxemu's cap" } ?? "vmxemu's cap"
            eprint("vmxemu: --memory '\(memory)' is more than the limit of \(HostMemory.describe(ramLimit)) (\(why))")
            throw ExitCode(ExitStatus.usage)
        }
        if let timeout, !(timeout > 0 && timeout <= Run.maxTimeout) {
            eprint("vmxemu: --timeout '\(timeout)' is not a number of seconds in (0, \(Int(Run.maxTimeout))]")
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
        if json && !wantsREPL {
            eprint("vmxemu: --json is for script runs (-x, -ex, --batch, --repl): it makes each command's result a JSON line")
            throw ExitCode(ExitStatus.usage)
        }
        if wantsREPL && (timeout != nil || maxInstructions != nil) {
            eprint("vmxemu: --timeout and --max-instructions cannot be combined with the REPL")
            throw ExitCode(ExitStatus.usage)
        }
        if endpoint != nil && (timeout != nil || maxInstructions != nil) {
            eprint("vmxemu: --timeout and --max-instructions cannot be combined with a gdb server")
            throw ExitCode(ExitStatus.usage)
        }
        let kernel: [UInt8]
        do {
            kernel = try bios == nil
                ? HostFile.read(path, limit: HostFile.imageLimit, why: "the image limit")
                : HostFile.read(path, limit: UInt64(PhysicalMemory.romLimit), why: "the firmware limit")
        } catch {
            eprint("vmxemu: cannot read \(image != nil ? "image" : "firmware") '\(path)': \(error)")
            throw ExitCode(ExitStatus.usage)
        }
        var modules: [BootModule] = []
        // A module must fit in guest RAM below 4 GiB: a larger file is refused before it is read.
        let moduleLimit = min(mem, 1 << 32)
        for spec in module {
            let parts = spec.split(separator: " ", maxSplits: 1)
            let path = parts.first.map(String.init) ?? ""
            do {
                let bytes = try HostFile.read(path, limit: moduleLimit, why: "guest RAM below 4 GiB")
                modules.append(BootModule(contents: bytes, commandLine: spec))
            } catch {
                eprint("vmxemu: cannot read module '\(path)': \(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        let sink: ConsoleSink
        do {
            let target = try SerialTarget(parsing: serial)
            // With --json stdout carries the JSON lines only: the guest's serial output moves to stderr.
            if json && target == .stdio { sink = FileDescriptorSink(fileDescriptor: 2) } else { sink = try target.makeSink() }
        } catch {
            eprint("vmxemu: --serial: \(error)")
            throw ExitCode(ExitStatus.usage)
        }
        var debugconSink: ConsoleSink?
        if let debugcon {
            do {
                // stdio shares standard output with COM1 (one sink, so their bytes stay in order).
                let target = try SerialTarget(parsing: debugcon)
                debugconSink = target == .stdio && (try? SerialTarget(parsing: serial)) == .stdio ? sink : try target.makeSink()
            } catch {
                eprint("vmxemu: --debugcon: \(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        guard let ram = PhysicalMemory(reserving: mem) else {
            eprint("vmxemu: cannot reserve \(HostMemory.describe(mem)) of guest RAM: \(String(cString: strerror(errno)))")
            throw ExitCode(ExitStatus.usage)
        }
        let machine = Machine(memory: ram, console: sink, qemuExitStatus: qemuExitStatus, debugcon: debugconSink)
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
            options.json = json
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
            if let req = machine.bus.exitRequest, req.truncated {
                let asked = qemuExitStatus ? "(\(req.value)<<1)|1 = \(req.requested) under --qemu-exit-status" : "\(req.requested)"
                eprint("vmxemu: warning: the guest asked to exit with \(asked), which does not fit an exit status (8 bits); exiting with its low 8 bits, \(status)")
            }
            if !quiet {
                if let cause = machine.bus.exitRequest?.cause {
                    eprint("vmxemu: \(cause): exit status \(status) (\(stats))")
                } else if qemuExitStatus, let v = machine.bus.exitRequest?.value {
                    eprint("vmxemu: guest wrote \(v) to port 0xF4: exit status \(status) \(machine.bus.exitRequest?.truncated == true ? "from" : "=") (\(v)<<1)|1 under --qemu-exit-status (\(stats))")
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
