//! A seccomp program that decides by system call number alone, laid out as a binary search
//! tree over the numbers.
//!
//! Why by hand: when a filter is attached, the kernel emulates it once for every system
//! call number to fill its per-number action cache, and a linear chain of comparisons (what
//! seccompiler emits) costs that emulation a walk of the whole chain per number — about
//! 190 µs per spawn for the deny list here. A tree costs log2(n) comparisons per number.
//! Rules on arguments stay with seccompiler, in a second, short filter.

use seccompiler::{sock_filter, BpfProgram};

/// `AUDIT_ARCH_X86_64`: the only architecture a worker's calls may come from.
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// Bit that marks x32 system call numbers on x86_64.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Entries at or below which a subtree is a linear chain: cheaper than more branching.
const CHAIN_ENTRIES_MAX: usize = 3;

/// The verdict for a return value of errno `errno`.
pub(crate) fn errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// Compiles `actions` (system call number, verdict) into a program that kills the process
/// for a foreign architecture, refuses every x32 number with `EPERM`, returns each listed
/// number's verdict, and allows every other call.
pub(crate) fn compile(actions: &[(u32, u32)]) -> BpfProgram {
    let mut sorted = actions.to_vec();
    sorted.sort_unstable();
    sorted.dedup_by_key(|(nr, _)| *nr);
    let mut program = vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
        jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, errno(libc::EPERM)),
    ];
    program.extend(tree(&sorted));
    program
}

/// The code for `entries` (sorted by number), with the number in the accumulator.
fn tree(entries: &[(u32, u32)]) -> Vec<sock_filter> {
    if entries.len() <= CHAIN_ENTRIES_MAX {
        let mut code = Vec::with_capacity(2 * entries.len() + 1);
        for &(nr, verdict) in entries {
            code.push(jump(BPF_JEQ_K, nr, 0, 1));
            code.push(stmt(BPF_RET_K, verdict));
        }
        code.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
        return code;
    }
    let (below, from) = entries.split_at(entries.len() / 2);
    let left = tree(below);
    let right = tree(from);
    let mut code = Vec::with_capacity(left.len() + right.len() + 2);
    // Numbers at or above the middle one go right, over the left subtree.
    match u8::try_from(left.len()) {
        Ok(skip) => code.push(jump(BPF_JGE_K, from[0].0, skip, 0)),
        Err(_) => {
            code.push(jump(BPF_JGE_K, from[0].0, 0, 1));
            code.push(stmt(BPF_JA, left.len() as u32));
        }
    }
    code.extend(left);
    code.extend(right);
    code
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The kernel's reading of the programs this module emits, for tests.
#[cfg(test)]
pub(crate) mod emulator {
    use super::*;

    /// Runs `program` as the kernel would for a call `nr` from `arch` (the subset of
    /// classic BPF this module emits); the verdict and the instructions it took.
    pub(crate) fn run(program: &[sock_filter], nr: u32, arch: u32) -> (u32, usize) {
        let mut a = 0u32;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            let insn = &program[pc];
            pc += 1;
            steps += 1;
            match insn.code {
                BPF_LD_W_ABS => {
                    a = match insn.k {
                        OFFSET_NR => nr,
                        OFFSET_ARCH => arch,
                        other => panic!("load of offset {other}"),
                    }
                }
                BPF_JEQ_K | BPF_JGE_K => {
                    let taken = if insn.code == BPF_JEQ_K {
                        a == insn.k
                    } else {
                        a >= insn.k
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                BPF_JA => pc += insn.k as usize,
                BPF_RET_K => return (insn.k, steps),
                other => panic!("opcode {other:#x} is not emitted here"),
            }
        }
    }

    pub(crate) fn verdict(program: &[sock_filter], nr: u32, arch: u32) -> u32 {
        run(program, nr, arch).0
    }

    /// The verdict of `program` for the native call `nr`.
    pub(crate) fn native_verdict(program: &[sock_filter], nr: u32) -> u32 {
        verdict(program, nr, AUDIT_ARCH_X86_64)
    }
}

#[cfg(test)]
mod tests {
    use super::emulator::{run, verdict};
    use super::*;

    // Goal: the tree gives exactly the listed verdicts and allows the rest, for every
    // number, at every size (including ones whose left subtrees need a long jump).
    // Method: emulate the program for each number against the table.
    #[test]
    fn every_number_gets_its_verdict() {
        for count in [0u32, 1, 3, 4, 7, 50, 200, 700] {
            let actions: Vec<(u32, u32)> = (0..count)
                .map(|i| {
                    let code = if i % 5 == 0 {
                        libc::ENOSYS
                    } else {
                        libc::EPERM
                    };
                    (i * 3 + 1, errno(code))
                })
                .collect();
            let program = compile(&actions);
            for nr in 0..(count * 3 + 10) {
                let expected = actions
                    .iter()
                    .find(|(n, _)| *n == nr)
                    .map_or(libc::SECCOMP_RET_ALLOW, |(_, v)| *v);
                let got = verdict(&program, nr, AUDIT_ARCH_X86_64);
                assert_eq!(got, expected, "nr {nr} of {count}");
            }
            let x32 = verdict(&program, X32_SYSCALL_BIT | 39, AUDIT_ARCH_X86_64);
            assert_eq!(x32, errno(libc::EPERM));
            let i386 = verdict(&program, 1, 0x4000_0003);
            assert_eq!(i386, libc::SECCOMP_RET_KILL_PROCESS);
        }
    }

    // Goal: the tree is what makes the filter cheap. Method: the longest walk over 100
    // entries stays near log2(100) comparisons plus the header, far below a chain's 100.
    #[test]
    fn walks_are_logarithmic() {
        let actions: Vec<(u32, u32)> = (0..100).map(|i| (i * 2, errno(libc::EPERM))).collect();
        let program = compile(&actions);
        let longest = (0..210)
            .map(|nr| run(&program, nr, AUDIT_ARCH_X86_64).1)
            .max()
            .unwrap_or(0);
        assert!(longest <= 20, "{longest} instructions");
    }
}
