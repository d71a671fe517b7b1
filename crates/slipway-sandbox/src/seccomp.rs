//! The seccomp filter of tenant code: a deny-list of what an app or a build
//! never needs and what would let it out of its sandbox or at the kernel —
//! new namespaces and mounts, tracing other processes, the kernel keyring,
//! BPF, modules, reboot, clock and swap changes, handle-based opens,
//! io_uring (its own syscall surface, beyond the filter's sight). Modelled on
//! Docker's default profile. Denied calls fail with EPERM, so programs that
//! probe for a feature carry on; `clone3` fails with ENOSYS instead, which
//! makes libc fall back to `clone`, whose flags the filter can see.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// Refused outright.
const DENIED: &[i64] = &[
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_syslog,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_lookup_dcookie,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_vhangup,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_fanotify_init,
];

/// Socket families tenant code has no business with: VM sockets (they reach the
/// hypervisor, past every nftables rule), raw packet access, kernel crypto and
/// key sockets, and the rare protocols behind many past kernel bugs.
const DENIED_SOCKET_FAMILIES: [i32; 16] = [
    libc::AF_VSOCK,
    libc::AF_PACKET,
    libc::AF_KEY,
    libc::AF_ALG,
    libc::AF_BLUETOOTH,
    libc::AF_CAN,
    libc::AF_TIPC,
    libc::AF_RDS,
    libc::AF_XDP,
    libc::AF_PPPOX,
    libc::AF_LLC,
    libc::AF_X25,
    libc::AF_AX25,
    libc::AF_APPLETALK,
    libc::AF_IPX,
    43, // AF_SMC (not named by the libc crate)
];

/// Terminal ioctls that push input into, or take over, a terminal.
const DENIED_IOCTLS: [u64; 2] = [libc::TIOCSTI, libc::TIOCLINUX];

/// Namespace flags `clone` may not carry.
const NAMESPACE_FLAGS: [u64; 8] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWTIME as u64,
];

#[derive(Debug, thiserror::Error)]
#[error("the seccomp filter could not be built: {0}")]
pub struct SeccompError(String);

fn arch() -> Result<seccompiler::TargetArch, SeccompError> {
    std::env::consts::ARCH.try_into().map_err(|err: seccompiler::BackendError| SeccompError(err.to_string()))
}

/// The two programs to load: the EPERM deny-list (with `clone`'s namespace
/// flags) and the ENOSYS one for `clone3`.
pub(crate) fn filters() -> Result<[BpfProgram; 2], SeccompError> {
    let error = |err: seccompiler::BackendError| SeccompError(err.to_string());
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> = DENIED.iter().map(|&call| (call, Vec::new())).collect();
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            let condition =
                SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(flag), flag).map_err(error)?;
            SeccompRule::new(vec![condition]).map_err(error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_clone, clone_rules);
    let argument_is = |index: u8, value: u64| -> Result<SeccompRule, SeccompError> {
        let condition =
            SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value).map_err(error)?;
        SeccompRule::new(vec![condition]).map_err(error)
    };
    let socket_rules =
        DENIED_SOCKET_FAMILIES.iter().map(|&family| argument_is(0, family as u64)).collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_socket, socket_rules.clone());
    denied.insert(libc::SYS_socketpair, socket_rules);
    let ioctl_rules = DENIED_IOCTLS.iter().map(|&request| argument_is(1, request)).collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_ioctl, ioctl_rules);
    let eperm = SeccompFilter::new(denied, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch()?)
        .map_err(error)?;
    let clone3: BTreeMap<i64, Vec<SeccompRule>> = [(libc::SYS_clone3, Vec::new())].into();
    let enosys = SeccompFilter::new(clone3, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), arch()?)
        .map_err(error)?;
    let compile = |filter: SeccompFilter| BpfProgram::try_from(filter).map_err(error);
    Ok([compile(eperm)?, compile(enosys)?])
}

/// x32 system calls (numbers with bit 30 set) run the same kernel code under
/// other numbers, which the deny-list above would not see: refused outright.
/// A hand-written program, since the filter compiler cannot compare numbers.
#[cfg(target_arch = "x86_64")]
fn x32_refused() -> BpfProgram {
    use seccompiler::sock_filter;
    const LOAD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS, offset 0 = seccomp_data.nr
    const JUMP_GE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const X32_BIT: u32 = 0x4000_0000;
    let errno = 0x0005_0000 | libc::EPERM as u32; // SECCOMP_RET_ERRNO
    let allow = 0x7fff_0000; // SECCOMP_RET_ALLOW
    vec![
        sock_filter { code: LOAD_NR, jt: 0, jf: 0, k: 0 },
        sock_filter { code: JUMP_GE, jt: 0, jf: 1, k: X32_BIT },
        sock_filter { code: RETURN, jt: 0, jf: 0, k: errno },
        sock_filter { code: RETURN, jt: 0, jf: 0, k: allow },
    ]
}

/// Loads the filters into the calling (single-threaded) process; they pass to everything it execs.
pub(crate) fn apply() -> Result<(), SeccompError> {
    for program in filters()? {
        seccompiler::apply_filter(&program).map_err(|err| SeccompError(err.to_string()))?;
    }
    #[cfg(target_arch = "x86_64")]
    seccompiler::apply_filter(&x32_refused()).map_err(|err| SeccompError(err.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filters_compile_for_this_architecture() {
        let [eperm, enosys] = super::filters().expect("filters");
        assert!(eperm.len() > super::DENIED.len(), "one jump per denied call at least");
        assert!(!enosys.is_empty());
    }
}
