use thiserror::Error;

#[derive(Debug, Error)]
pub enum SensorError {
    #[error("vigil needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load eBPF programs; run it with sudo")]
    NotRoot,
    #[error("this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing); vigil needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    #[error("opening the BPF object failed: {0}")]
    Open(String),
    #[error("loading the BPF object failed: {0}")]
    Load(String),
    #[error("ring buffer setup failed: {0}")]
    RingBuffer(String),
    #[error("reading kernel statistics failed: {0}")]
    Stats(String),
    #[error("running a program with BPF_PROG_TEST_RUN failed: {0}")]
    TestRun(String),
    #[error("updating kernel filter maps failed: {0}")]
    Filter(String),
}
