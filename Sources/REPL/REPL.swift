// The REPL front door: GNU readline on a terminal (line editing, history in the XDG state
// directory, tab completion from the command table), a plain line reader otherwise (no prompt,
// no echo: a pipe is a script). Every line goes to `DebuggerCommands.execute`, the same entry
// gdb's `monitor` uses.
//
//   vmxemu run IMAGE --repl [-x FILE]… [-ex CMD]… [--batch] [--no-history]
//
// Scripts (-x files and -ex commands in command-line order, then a non-terminal stdin) stop at the first result
// that is not ok: exit status 1 for a failing command or assertion, 2 for a usage error, 3 for
// a guest fatal event, N for `quit N`. A script that runs to its end exits with the guest's own
// status if the guest exited (port 0xF4), else 0. At the terminal a failing command only prints.
//
// Ctrl-C: at the prompt it clears the line; while `c`/`si`/`next-exit` run the machine it
// stops the guest (MachineController.interrupt) and the prompt returns.

import CReadline
import Debugger
import HostIO
import Machine
import X86

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct REPLOptions: Sendable {
    /// `-x FILE`, run in order before the `-ex` commands.
    public var scripts: [String] = []
    /// `-ex CMD`, run in order.
    public var commands: [String] = []
    /// One `-x FILE` or `-ex CMD` in command-line order.
    public enum Step: Sendable, Equatable { case script(String), command(String) }
    /// The -x files and -ex commands interleaved as the command line gave them (gdb's order);
    /// nil: every script, then every command.
    public var steps: [Step]?

    /// `-x`/`-ex` in the order they appear in `arguments` (a command line without the program
    /// name); nil unless they account for exactly `scripts` and `commands`.
    public static func orderedSteps(_ arguments: [String], scripts: [String], commands: [String]) -> [Step]? {
        var steps: [Step] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { break }
            if (a == "-x" || a == "-ex" || a == "--ex") && i + 1 < arguments.count {
                steps.append(a == "-x" ? .script(arguments[i + 1]) : .command(arguments[i + 1]))
                i += 2
                continue
            }
            if a.hasPrefix("-ex=") { steps.append(.command(String(a.dropFirst(4)))) }
            else if a.hasPrefix("-x=") { steps.append(.script(String(a.dropFirst(3)))) }
            i += 1
        }
        let s = steps.compactMap { if case .script(let p) = $0 { return p }; return nil }
        let c = steps.compactMap { if case .command(let l) = $0 { return l }; return nil }
        return s == scripts && c == commands ? steps : nil
    }
    /// `--batch`: exit after the scripts and commands (status 0 if all succeeded).
    public var batch = false
    /// History file on (default) or off (`--no-history`).
    public var history = true
    public var prompt = "(vmx) "
    /// `--json`: every result as one JSON line (as `set json on`).
    public var json = false
    public init() {}
}

/// SIGINT state shared with the signal handler.
nonisolated(unsafe) private var sigintPending: Int32 = 0
nonisolated(unsafe) private var readlineActive: Int32 = 0

public final class REPL: @unchecked Sendable {
    public let controller: MachineController
    public let options: REPLOptions
    private let write: (String) -> Void

    /// `write` receives everything the REPL prints (stdout by default).
    public init(controller: MachineController, options: REPLOptions, write: ((String) -> Void)? = nil) {
        self.controller = controller
        self.options = options
        self.write = write ?? REPL.writeStdout
    }

    static func writeStdout(_ s: String) {
        fflush(nil)
        writeAll(fd: 1, s)
    }

    var context: CommandContext {
        CommandContext(controller: controller, frontDoor: .repl, interruptRequested: { sigintPending != 0 })
    }

    /// Runs one line and prints its output; the result.
    @discardableResult
    public func runLine(_ line: String) -> CommandResult {
        sigintPending = 0
        let r = DebuggerCommands.execute(line, context: context)
        if !r.output.isEmpty { write(r.output) }
        return r
    }

    /// Runs lines as a script; the exit status that ends it, or nil when every line succeeded.
    public func runScript(_ lines: [String], name: String) -> Int32? {
        for (i, line) in lines.enumerated() {
            let r = runLine(line)
            if let status = r.scriptExitStatus {
                if case .quit = r.status {} else { eprint("vmxemu: \(name):\(i + 1): '\(line)' \(r.status == .guestFatal ? "ended in a guest fatal event" : "failed") (exit status \(status))") }
                return status
            }
        }
        return nil
    }

    /// The whole session: scripts, commands, then the terminal or stdin; the exit status.
    public func run() -> Int32 {
        installSIGINT()
        if options.json { DebugSession.of(controller).json = true }
        let steps = options.steps ?? (options.scripts.map(REPLOptions.Step.script) + options.commands.map(REPLOptions.Step.command))
        var exIndex = 0
        for step in steps {
            switch step {
            case .script(let path):
                guard let text = DebuggerCommands.readTextFileForREPL(path) else {
                    eprint("vmxemu: -x: cannot read '\(path)'" + (DebuggerCommands.isDirectory(path) ? ": it is a directory" : ""))
                    return 2
                }
                if let s = runScript(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), name: path) { return s }
            case .command(let line):
                exIndex += 1
                let r = runLine(line)
                if let status = r.scriptExitStatus {
                    if case .quit = r.status {} else { eprint("vmxemu: -ex:\(exIndex): '\(line)' \(r.status == .guestFatal ? "ended in a guest fatal event" : "failed") (exit status \(status))") }
                    return status
                }
            }
        }
        if options.batch { return guestExitStatus ?? 0 }
        if isatty(0) != 0 { return interactive() }
        // A pipe or file on stdin is a script: no prompt, no echo.
        var lines: [String] = []
        var n = 0
        while let line = readPlainLine() {
            n += 1
            lines = [line]
            let r = runLine(line)
            if let status = r.scriptExitStatus {
                if case .quit = r.status {} else { eprint("vmxemu: stdin:\(n): '\(line)' failed (exit status \(status))") }
                return status
            }
        }
        _ = lines
        return guestExitStatus ?? 0
    }

    /// The status the guest wrote to the debug-exit port, if it has exited: a script that ran
    /// to its end without a failing command or `quit N` ends with it, as a plain `run` does.
    var guestExitStatus: Int32? {
        controller.withStopped { $0.bus.exitRequest?.status } ?? nil
    }

    nonisolated(unsafe) static let stdinFile = fdopen(0, "r")

    func readPlainLine() -> String? {
        var buf: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(buf) }
        let n = getline(&buf, &cap, REPL.stdinFile)
        guard n >= 0, let b = buf else { return nil }
        var s = String(cString: b)
        while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
        return s
    }

    // MARK: The terminal

    func interactive() -> Int32 {
        REPLCompletion.install()
        let historyPath = options.history ? REPL.historyPath() : nil
        // History in memory always (up-arrow recall); on disk unless --no-history.
        using_history()
        stifle_history(1000)
        if let p = historyPath { read_history(p) }
        defer { if let p = historyPath { history_truncate_file(p, 1000) } }
        var previous = ""
        while true {
            readlineActive = 1
            let raw = readline(options.prompt)
            readlineActive = 0
            guard let raw else { write("\n"); return 0 }   // Ctrl-D
            let line = String(cString: raw)
            free(raw)
            let trimmed = line.trimmingBlanks
            if !trimmed.isEmpty, trimmed != previous {
                add_history(trimmed)
                if let p = historyPath { append_history(1, p) }
                previous = trimmed
            }
            let r = runLine(line)
            if case .quit(let n) = r.status { return n }
        }
    }

    /// $XDG_STATE_HOME/vmxemu/history, else ~/.local/state/vmxemu/history (created if missing).
    public static func historyPath(environment: [String: String]? = nil) -> String? {
        func env(_ k: String) -> String? {
            if let e = environment { return e[k] }
            return getenv(k).map { String(cString: $0) }
        }
        var base: String
        if let x = env("XDG_STATE_HOME"), x.hasPrefix("/") { base = x } else if let h = env("HOME"), !h.isEmpty { base = h + "/.local/state" } else { return nil }
        base += "/vmxemu"
        var dir = ""
        for part in base.split(separator: "/") {
            dir += "/" + part
            mkdir(dir, 0o700)
        }
        let path = base + "/history"
        let fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0o600)
        guard fd >= 0 else { return nil }
        close(fd)
        return path
    }

    func installSIGINT() {
        // A parent may hand SIGINT down blocked; Ctrl-C must reach us.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGINT) { _ in
            sigintPending = 1
            if readlineActive != 0 {
                // At the prompt: drop the line and start a fresh one.
                _ = Glibc.write(1, "\n", 1)
                rl_on_new_line()
                rl_replace_line("", 0)
                rl_redisplay()
            }
        }
    }
}

/// Completion from the command table (pure: testable without a terminal).
public enum REPLCompletion {
    /// Candidates for the word being typed, given the complete words before it.
    public static func candidates(wordsBefore: [String], prefix: String) -> [String] {
        let all: [String]
        if wordsBefore.isEmpty {
            all = DebuggerCommands.commandNames
        } else if case .success(let c) = DebuggerCommands.resolve(wordsBefore[0]) {
            all = c.completions(Array(wordsBefore.dropFirst()))
        } else {
            all = []
        }
        let p = prefix.lowercased()
        var seen = Set<String>()
        return all.filter { $0.lowercased().hasPrefix(p) && seen.insert($0).inserted }
    }

    /// Candidates for a whole line up to the cursor (the last word is the one being completed).
    public static func candidates(line: String) -> [String] {
        let endsInBlank = line.last.map { $0 == " " || $0 == "\t" } ?? true
        var words = DebuggerCommands.words(line)
        let prefix = endsInBlank ? "" : (words.popLast() ?? "")
        return candidates(wordsBefore: words, prefix: prefix)
    }

    nonisolated(unsafe) static var matches: [String] = []
    nonisolated(unsafe) static var index = 0

    static func install() {
        vmxemu_rl_setup { text, start, _ in
            vmxemu_rl_no_default_completion()
            let line = String(cString: vmxemu_rl_line())
            let utf8 = Array(line.utf8)
            let before = String(decoding: utf8.prefix(Int(max(0, start))), as: UTF8.self)
            let prefix = text.map { String(cString: $0) } ?? ""
            REPLCompletion.matches = REPLCompletion.candidates(wordsBefore: DebuggerCommands.words(before), prefix: prefix)
            return rl_completion_matches(text, { _, state in
                if state == 0 { REPLCompletion.index = 0 }
                guard REPLCompletion.index < REPLCompletion.matches.count else { return nil }
                defer { REPLCompletion.index += 1 }
                return strdup(REPLCompletion.matches[REPLCompletion.index])
            })
        }
    }
}

func eprint(_ s: String) {
    let t = s.hasSuffix("\n") ? s : s + "\n"
    fflush(nil)
    writeAll(fd: 2, t)
}

extension String {
    var trimmingBlanks: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}
