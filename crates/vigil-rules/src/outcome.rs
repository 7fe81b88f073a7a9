//! Can a condition hold for a call that failed? The kernel drops failed file calls that
//! no enabled rule could match, before it reads a path or a string: most rules ask for
//! success (`fd.num >= 0`, `evt.failed = false`, Falco's `open_read`), and failed opens
//! are everywhere (the dynamic loader probing library directories at every exec,
//! interpreters' imports, compilers' include paths).
//!
//! The condition is evaluated in three-valued logic over what is known of such an event:
//! its type, that it failed (`evt.failed = true`, `evt.rawres < 0`, `evt.res` an errno
//! name, and for the calls that return an fd, `fd.num = -1`). Every other check is
//! *unknown*. Only a condition that is *false* whatever the unknowns are lets the kernel
//! drop the event: the answer is sound, never narrower than the rules.

use crate::ast::Op;
use crate::condition::{Check, Condition, Matcher, Operand};
use crate::fields::Field;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn of(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// What is known of the call the kernel is about to judge.
struct Known<'a> {
    evt_type: &'a str,
    /// It failed; otherwise it is a successful open that did not create its file.
    failed: bool,
    /// The call returns an fd (open, openat, openat2, creat, memfd_create): `fd.num` is -1.
    returns_fd: bool,
}

/// Could `c` hold for a failed call of `evt_type`? `returns_fd`: the call's result is
/// an fd, so that `fd.num` of a failure is -1.
pub(crate) fn may_match_failed(c: &Condition, evt_type: &str, returns_fd: bool) -> bool {
    eval(
        c,
        &Known {
            evt_type,
            failed: true,
            returns_fd,
        },
    ) != Tri::False
}

/// Could `c` hold for a successful open of `evt_type` that did not create its file
/// (`evt.is_open_create = false`)? Rules that only want created files leave every other
/// open of their paths to the kernel (filter.h OPEN_CREATED_BIT): a rule on new files in
/// /etc must not make every read of /etc cross.
pub(crate) fn may_match_open_not_created(c: &Condition, evt_type: &str) -> bool {
    eval(
        c,
        &Known {
            evt_type,
            failed: false,
            returns_fd: true,
        },
    ) != Tri::False
}

fn eval(c: &Condition, k: &Known<'_>) -> Tri {
    match c {
        Condition::Bool(b) => Tri::of(*b),
        Condition::And(v) => v.iter().fold(Tri::True, |acc, x| match (acc, eval(x, k)) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }),
        Condition::Or(v) => v.iter().fold(Tri::False, |acc, x| match (acc, eval(x, k)) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }),
        Condition::Not(x) => eval(x, k).not(),
        Condition::Check(ch) => check(ch, k),
    }
}

fn check(ch: &Check, k: &Known<'_>) -> Tri {
    // A check on a field the host does not fill is always false (as the engine has it).
    if !ch.available {
        return Tri::False;
    }
    let Operand::Field(f) = &ch.lhs else {
        return Tri::Unknown;
    };
    match f.field {
        Field::EvtType => string_check(ch, |s| s == k.evt_type),
        Field::EvtFailed => match (&ch.matcher, ch.op) {
            (Matcher::One(l), Op::Eq) => l.boolean.map_or(Tri::Unknown, |b| Tri::of(b == k.failed)),
            (Matcher::One(l), Op::Ne) => l.boolean.map_or(Tri::Unknown, |b| Tri::of(b != k.failed)),
            _ => Tri::Unknown,
        },
        Field::EvtIsOpenCreate if !k.failed => match (&ch.matcher, ch.op) {
            (Matcher::One(l), Op::Eq) => l.boolean.map_or(Tri::Unknown, |b| Tri::of(!b)),
            (Matcher::One(l), Op::Ne) => l.boolean.map_or(Tri::Unknown, Tri::of),
            _ => Tri::Unknown,
        },
        // what follows is known of failures only
        _ if !k.failed => Tri::Unknown,
        // evt.res of a failure is an errno name, never SUCCESS
        Field::EvtRes => match (&ch.matcher, ch.op) {
            (Matcher::One(l), Op::Eq) if &*l.text == "SUCCESS" => Tri::False,
            (Matcher::One(l), Op::Ne) if &*l.text == "SUCCESS" => Tri::True,
            _ => Tri::Unknown,
        },
        // a negative number, which one unknown
        Field::EvtRawres => number_check(ch, |op, n| match op {
            Op::Ge | Op::Gt if n >= 0 => Tri::False,
            Op::Lt | Op::Le if n >= 0 => Tri::True,
            Op::Eq if n >= 0 => Tri::False,
            Op::Ne if n >= 0 => Tri::True,
            _ => Tri::Unknown,
        }),
        Field::FdNum if k.returns_fd => number_check(ch, |op, n| {
            Tri::of(match op {
                Op::Eq => n == -1,
                Op::Ne => n != -1,
                Op::Lt => -1 < n,
                Op::Le => -1 <= n,
                Op::Gt => -1 > n,
                Op::Ge => -1 >= n,
                _ => return Tri::Unknown,
            })
        }),
        _ => Tri::Unknown,
    }
}

/// A comparison of a number field with one literal number.
fn number_check(ch: &Check, f: impl Fn(Op, i128) -> Tri) -> Tri {
    match &ch.matcher {
        Matcher::One(l) => l.num.map_or(Tri::Unknown, |n| f(ch.op, n)),
        _ => Tri::Unknown,
    }
}

/// `=`, `!=` or `in` on a string field whose value is known (`is` says which).
fn string_check(ch: &Check, is: impl Fn(&str) -> bool) -> Tri {
    match (&ch.matcher, ch.op) {
        (Matcher::One(l), Op::Eq) => Tri::of(is(&l.text)),
        (Matcher::One(l), Op::Ne) => Tri::of(!is(&l.text)),
        (Matcher::Set(s), Op::In) => Tri::of(s.strs.iter().any(|x| is(x))),
        _ => Tri::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use crate::RuleSet;

    fn cond(c: &str) -> RuleSet {
        crate::load_str(
            "t.yaml",
            &format!("- rule: r\n  desc: d\n  condition: {c}\n  output: o\n  priority: INFO\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn may(c: &str, ty: &str) -> bool {
        let set = cond(c);
        set.may_match_failed(ty, true)
    }

    #[test]
    fn success_requirements_exclude_failures() {
        assert!(!may(
            "evt.type = openat and fd.num >= 0 and fd.name = /etc/shadow",
            "openat"
        ));
        assert!(!may("evt.type in (open, openat) and evt.failed = false", "openat"));
        assert!(!may("evt.type = openat and evt.res = SUCCESS", "openat"));
        assert!(!may("evt.type = openat and evt.rawres >= 0", "openat"));
        assert!(!may("evt.type = openat and not evt.failed = true", "openat"));
        // another event type entirely
        assert!(!may("evt.type = connect and fd.sport = 80", "openat"));
    }

    #[test]
    fn rules_on_created_files_leave_other_opens() {
        let only_created = cond("evt.type = openat and evt.is_open_create = true and fd.name startswith /etc/");
        assert!(!only_created.may_match_open_not_created("openat"));
        let negated = cond("evt.type = openat and not evt.is_open_create = false and fd.directory = /etc");
        assert!(!negated.may_match_open_not_created("openat"));
        // near misses: either kind of open, or failures only
        assert!(cond("evt.type = openat and fd.name startswith /etc/").may_match_open_not_created("openat"));
        assert!(
            cond("evt.type = openat and (evt.is_open_create = true or proc.name = x)")
                .may_match_open_not_created("openat")
        );
        assert!(!cond("evt.type = openat and evt.failed = true").may_match_open_not_created("openat"));
        assert!(cond("evt.type = openat and evt.is_open_create = false").may_match_open_not_created("openat"));
    }

    #[test]
    fn anything_else_keeps_failures() {
        assert!(may("evt.type = openat and fd.name = /etc/shadow", "openat"));
        assert!(may("evt.type = openat and evt.failed = true", "openat"));
        assert!(may("evt.type = openat and evt.res = ENOENT", "openat"));
        assert!(may("evt.type = openat and fd.num < 0", "openat"));
        assert!(may("(evt.type = openat and fd.num >= 0) or proc.name = x", "openat"));
        assert!(may("proc.name = x", "openat"));
        assert!(may("evt.type = openat and not (fd.num >= 0)", "openat"));
    }
}
