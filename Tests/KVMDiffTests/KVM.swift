// The host CPU as an oracle: one KVM virtual machine (on this host PVM, where CPL3 guest code runs
// natively on the AMD core) made with raw ioctls through Glibc. The guest image (page tables, GDT,
// IDT, TSS, HLT handlers) is the one `GuestImage` writes, shared with our core's machine.

#if canImport(Glibc)
import Glibc
#endif

// MARK: - ioctl request numbers (linux/kvm.h; _IO/_IOR/_IOW with type 0xAE)

enum KVMIoctl {
    static func io(_ nr: UInt) -> UInt { 0xAE00 | nr }
    static func ior(_ nr: UInt, _ size: Int) -> UInt { (2 << 30) | (UInt(size) << 16) | 0xAE00 | nr }
    static func iow(_ nr: UInt, _ size: Int) -> UInt { (1 << 30) | (UInt(size) << 16) | 0xAE00 | nr }

    static let getAPIVersion = io(0x00)
    static let createVM = io(0x01)
    static let getVCPUMmapSize = io(0x04)
    static let createVCPU = io(0x41)
    static let setUserMemoryRegion = iow(0x46, 32)
    static let run = io(0x80)
    static let getRegs = ior(0x81, MemoryLayout<KVMRegs>.size)
    static let setRegs = iow(0x82, MemoryLayout<KVMRegs>.size)
    static let getSregs = ior(0x83, MemoryLayout<KVMSregs>.size)
    static let setSregs = iow(0x84, MemoryLayout<KVMSregs>.size)
    static let getFPU = ior(0x8C, MemoryLayout<KVMFPU>.size)
    static let setFPU = iow(0x8D, MemoryLayout<KVMFPU>.size)
    static let getXSAVE = ior(0xA4, 4096)
    static let setXSAVE = iow(0xA5, 4096)
}

/// struct kvm_regs (144 bytes): note the order rax rbx rcx rdx rsi rdi rsp rbp.
struct KVMRegs {
    var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    var rsi: UInt64 = 0, rdi: UInt64 = 0, rsp: UInt64 = 0, rbp: UInt64 = 0
    var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    var rip: UInt64 = 0, rflags: UInt64 = 0

    /// In the architectural order rax rcx rdx rbx rsp rbp rsi rdi r8…r15.
    var gprs: [UInt64] {
        get { [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15] }
        set {
            rax = newValue[0]; rcx = newValue[1]; rdx = newValue[2]; rbx = newValue[3]
            rsp = newValue[4]; rbp = newValue[5]; rsi = newValue[6]; rdi = newValue[7]
            r8 = newValue[8]; r9 = newValue[9]; r10 = newValue[10]; r11 = newValue[11]
            r12 = newValue[12]; r13 = newValue[13]; r14 = newValue[14]; r15 = newValue[15]
        }
    }
}

/// struct kvm_segment (24 bytes).
struct KVMSegment {
    var base: UInt64 = 0
    var limit: UInt32 = 0
    var selector: UInt16 = 0
    var type: UInt8 = 0, present: UInt8 = 0, dpl: UInt8 = 0, db: UInt8 = 0, s: UInt8 = 0
    var l: UInt8 = 0, g: UInt8 = 0, avl: UInt8 = 0, unusable: UInt8 = 0, padding: UInt8 = 0
}

/// struct kvm_dtable (16 bytes).
struct KVMDtable {
    var base: UInt64 = 0
    var limit: UInt16 = 0
    var padding: (UInt16, UInt16, UInt16) = (0, 0, 0)
}

/// struct kvm_sregs (312 bytes).
struct KVMSregs {
    var cs = KVMSegment(), ds = KVMSegment(), es = KVMSegment(), fs = KVMSegment()
    var gs = KVMSegment(), ss = KVMSegment(), tr = KVMSegment(), ldt = KVMSegment()
    var gdt = KVMDtable(), idt = KVMDtable()
    var cr0: UInt64 = 0, cr2: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt64 = 0, cr8: UInt64 = 0
    var efer: UInt64 = 0, apicBase: UInt64 = 0
    var interruptBitmap: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
}

/// struct kvm_fpu (416 bytes): the FXSAVE image, rearranged.
struct KVMFPU {
    var fpr: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var fcw: UInt16 = 0, fsw: UInt16 = 0
    var ftwx: UInt8 = 0, pad1: UInt8 = 0
    var lastOpcode: UInt16 = 0
    var lastIP: UInt64 = 0, lastDP: UInt64 = 0
    var xmm: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var mxcsr: UInt32 = 0, pad2: UInt32 = 0
}

enum KVMExit {
    static let hlt: UInt32 = 5
    static let shutdown: UInt32 = 8
    static let failEntry: UInt32 = 9
    static let internalError: UInt32 = 17
    static func name(_ r: UInt32) -> String {
        switch r {
        case 0: return "UNKNOWN"; case 1: return "EXCEPTION"; case 2: return "IO"; case 5: return "HLT"
        case 6: return "MMIO"; case 8: return "SHUTDOWN"; case 9: return "FAIL_ENTRY"; case 17: return "INTERNAL_ERROR"
        default: return "exit \(r)"
        }
    }
}

/// One VM with one vCPU and the guest RAM mapped into this process.
final class KVMMachine {
    let kvm: Int32
    let vm: Int32
    var vcpu: Int32 = -1
    var run: UnsafeMutableRawPointer? = nil
    let runSize: Int
    let ram: UnsafeMutableRawPointer
    let ramSize: Int

    /// nil and a reason when KVM cannot be used here.
    static func open(ramSize: Int) -> (KVMMachine?, String?) {
        let kvm = Glibc.open("/dev/kvm", O_RDWR | O_CLOEXEC)
        if kvm < 0 { return (nil, "cannot open /dev/kvm: \(String(cString: strerror(errno)))") }
        let version = ioctl(kvm, KVMIoctl.getAPIVersion, 0)
        if version != 12 { close(kvm); return (nil, "KVM_GET_API_VERSION is \(version), not 12") }
        let vm = ioctl(kvm, KVMIoctl.createVM, 0)
        if vm < 0 { let e = errno; close(kvm); return (nil, "KVM_CREATE_VM failed: \(String(cString: strerror(e)))") }
        let size = ioctl(kvm, KVMIoctl.getVCPUMmapSize, 0)
        if size <= 0 { close(vm); close(kvm); return (nil, "KVM_GET_VCPU_MMAP_SIZE failed") }
        guard let mem = mmap(nil, ramSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              mem != MAP_FAILED else { close(vm); close(kvm); return (nil, "mmap of guest RAM failed") }
        var region = (UInt32(0), UInt32(0), UInt64(0), UInt64(ramSize), UInt64(UInt(bitPattern: mem)))
        if withUnsafeMutablePointer(to: &region, { ioctl(vm, KVMIoctl.setUserMemoryRegion, $0) }) < 0 {
            let e = errno; munmap(mem, ramSize); close(vm); close(kvm)
            return (nil, "KVM_SET_USER_MEMORY_REGION failed: \(String(cString: strerror(e)))")
        }
        let m = KVMMachine(kvm: kvm, vm: vm, runSize: Int(size), ram: mem, ramSize: ramSize)
        if let why = m.createVCPU() { return (nil, why) }
        return (m, nil)
    }

    private init(kvm: Int32, vm: Int32, runSize: Int, ram: UnsafeMutableRawPointer, ramSize: Int) {
        self.kvm = kvm; self.vm = vm; self.runSize = runSize; self.ram = ram; self.ramSize = ramSize
    }

    /// Make (or remake, after an internal error) the vCPU and map its kvm_run area.
    func createVCPU() -> String? {
        if let r = run { munmap(r, runSize); run = nil }
        if vcpu >= 0 { close(vcpu); vcpu = -1 }
        // A new vCPU id each time: ids of closed vCPUs are not reusable in every kernel.
        vcpuID += 1
        let fd = ioctl(vm, KVMIoctl.createVCPU, CInt(vcpuID))
        if fd < 0 { return "KVM_CREATE_VCPU failed: \(String(cString: strerror(errno)))" }
        guard let r = mmap(nil, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), r != MAP_FAILED else {
            close(fd); return "mmap of kvm_run failed"
        }
        vcpu = fd; run = r
        return nil
    }
    private var vcpuID: Int = -1

    deinit {
        if let r = run { munmap(r, runSize) }
        if vcpu >= 0 { close(vcpu) }
        close(vm); close(kvm)
        munmap(ram, ramSize)
    }

    func setRegs(_ r: KVMRegs) -> Bool {
        var r = r
        return withUnsafeMutablePointer(to: &r) { ioctl(vcpu, KVMIoctl.setRegs, $0) } == 0
    }
    func getRegs() -> KVMRegs? {
        var r = KVMRegs()
        return withUnsafeMutablePointer(to: &r) { ioctl(vcpu, KVMIoctl.getRegs, $0) } == 0 ? r : nil
    }
    func setSregs(_ s: KVMSregs) -> Bool {
        var s = s
        return withUnsafeMutablePointer(to: &s) { ioctl(vcpu, KVMIoctl.setSregs, $0) } == 0
    }
    func getSregs() -> KVMSregs? {
        var s = KVMSregs()
        return withUnsafeMutablePointer(to: &s) { ioctl(vcpu, KVMIoctl.getSregs, $0) } == 0 ? s : nil
    }
    func setFPU(_ f: KVMFPU) -> Bool {
        var f = f
        return withUnsafeMutablePointer(to: &f) { ioctl(vcpu, KVMIoctl.setFPU, $0) } == 0
    }
    func getFPU() -> KVMFPU? {
        var f = KVMFPU()
        return withUnsafeMutablePointer(to: &f) { ioctl(vcpu, KVMIoctl.getFPU, $0) } == 0 ? f : nil
    }

    /// The legacy FXSAVE region of KVM_GET_XSAVE (the first 512 bytes of the 4 KiB area).
    func getXSAVE() -> [UInt8]? {
        var b = [UInt8](repeating: 0, count: 4096)
        return b.withUnsafeMutableBytes { ioctl(vcpu, KVMIoctl.getXSAVE, $0.baseAddress!) } == 0 ? b : nil
    }
    func setXSAVE(_ b: [UInt8]) -> Bool {
        var b = b
        return b.withUnsafeMutableBytes { ioctl(vcpu, KVMIoctl.setXSAVE, $0.baseAddress!) } == 0
    }

    /// KVM_RUN once; the exit reason, or nil if the ioctl failed (errno in `lastError`).
    func runOnce() -> UInt32? {
        while true {
            if ioctl(vcpu, KVMIoctl.run, 0) == 0 { break }
            if errno == EINTR || errno == EAGAIN { continue }
            lastError = String(cString: strerror(errno))
            return nil
        }
        return run!.load(fromByteOffset: 8, as: UInt32.self)
    }
    var lastError = ""
}
