//! Loading is bounded: inputs built to expand (YAML aliases of aliases, macros that use
//! the previous macro twice, lists of lists) or to nest without end get a positioned
//! error naming the limit, instead of running until killed. Each test also checks that
//! an input just inside the limit still loads, so the limits do not refuse real files.

mod common;

use common::errors;

fn rule(cond: &str) -> String {
    format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n")
}

/// Level 0 is a list of ten strings; each level after it a list of ten aliases of the
/// level before: level 10 alone would be 10^11 nodes.
fn alias_bomb(levels: usize) -> String {
    let mut y =
        String::from("- list: l0\n  items: &a0 [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for i in 1..=levels {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(",");
        y.push_str(&format!("- list: l{i}\n  items: &a{i} [{items}]\n"));
    }
    y
}

#[test]
fn nested_yaml_aliases_are_refused_where_they_cross_the_limit() {
    let e = errors(&alias_bomb(11));
    assert_eq!(e.len(), 1, "{e:?}");
    // Levels 0 to 4 hold 111,110 strings; each alias of level 4 repeats as many: the
    // eighth alias on level 5's line (12) crosses a million.
    assert!(e[0].starts_with("12:43: "), "{e:?}");
    assert!(e[0].contains("more than 1000000 YAML nodes"), "{e:?}");
    // Aliases as such are fine.
    let ok = "- list: l0\n  items: &a0 [x, y]\n- list: l1\n  items: *a0\n".to_string()
        + &rule("evt.type = open and proc.name in (l1)");
    vigil_rules::load_str("ok.yaml", &ok).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn deep_yaml_nesting_is_refused() {
    let deep = format!("- list: l\n  items: {}{}\n", "[".repeat(100), "]".repeat(100));
    let e = errors(&deep);
    assert_eq!(e.len(), 1, "{e:?}");
    // The file's own sequence and mapping are two levels: the 63rd bracket is the 65th.
    assert!(e[0].starts_with("2:72: YAML nested deeper than 64 levels"), "{e:?}");
}

/// m0 is one check; each mI is `(mI-1 or mI-1)`: m60 would inline 2^60 checks.
fn macro_chain(n: usize) -> String {
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..=n {
        y.push_str(&format!("- macro: m{i}\n  condition: (m{p} or m{p})\n", p = i - 1));
    }
    y + &rule(&format!("evt.type = open and m{n}"))
}

#[test]
fn a_doubling_macro_chain_is_refused_at_the_macro_that_crosses_the_limit() {
    let e = errors(&macro_chain(60));
    assert_eq!(e.len(), 1, "{e:?}");
    // mI holds 3 * 2^I - 1 nodes (m16: 196,607): m17 crosses 200,000 at its second use
    // of m16 (line 36, column 22), and nothing that uses m17 is reported again.
    assert_eq!(
        e[0],
        "36:22: the condition expands to more than 200000 nodes here (macros inlined, list values counted); \
         refused so loading and matching stay bounded"
    );
    vigil_rules::load_str("ok.yaml", &macro_chain(12)).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_doubling_list_chain_is_refused() {
    let mut y = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..=40 {
        y.push_str(&format!("- list: l{i}\n  items: [l{p}, l{p}]\n", p = i - 1));
    }
    y += &rule("evt.type = open and proc.name in (l40)");
    let e = errors(&y);
    assert_eq!(e.len(), 1, "{e:?}");
    // lI holds 2^(I+1) items: with l19 the lists hold 2^21 - 2 in all, past two million.
    assert!(
        e[0].starts_with("39:3: list `l19` takes the lists past 2000000 items"),
        "{e:?}"
    );
}

#[test]
fn deep_macro_nesting_is_refused() {
    // Each macro nests the previous one in a `not`: 300 levels once inlined.
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..=300 {
        y.push_str(&format!("- macro: m{i}\n  condition: not m{}\n", i - 1));
    }
    y += &rule("evt.type = open and m300");
    let e = errors(&y);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("nests more than 200 levels deep"), "{e:?}");
}
