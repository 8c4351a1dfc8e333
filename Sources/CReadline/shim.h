// GNU readline for the vmxemu REPL (libreadline-dev). readline.h needs stdio.h first.
// Swift 6 refuses to touch C global variables directly (shared mutable state), so the few
// readline globals the REPL sets are reached through these inline functions.
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/// The REPL's readline setup: our own SIGINT handling, the application name for ~/.inputrc,
/// completion from the command table, case-insensitive completion (VMCS field names).
static inline void vmxemu_rl_setup(rl_completion_func_t *complete) {
    rl_catch_signals = 0;
    rl_readline_name = "vmxemu";
    rl_attempted_completion_function = complete;
    rl_variable_bind("completion-ignore-case", "on");
}

/// Inside the completion function: no filename completion when we have no candidate.
static inline void vmxemu_rl_no_default_completion(void) { rl_attempted_completion_over = 1; }

/// The line being edited.
static inline const char *vmxemu_rl_line(void) { return rl_line_buffer ? rl_line_buffer : ""; }

/// Called by readline when a signal interrupted its read of the terminal (readline ≥ 6.3):
/// where the REPL acts on a Ctrl-C at the prompt, outside the signal handler.
static inline void vmxemu_rl_set_signal_hook(rl_hook_func_t *hook) { rl_signal_event_hook = hook; }
