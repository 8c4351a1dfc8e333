// GDBRemote: the GDB remote serial protocol (no import of the emulator).
