//! Load errors: every mistake is reported at `file:line:col` with a message
//! saying what was expected.

mod common;

use common::errors;

/// The single error of `yaml`, as `line:col: message`.
fn one(yaml: &str) -> String {
    let e = errors(yaml);
    assert_eq!(e.len(), 1, "expected one error, got {e:?}");
    e.into_iter().next().unwrap_or_default()
}

fn rule(cond_line: &str) -> String {
    format!("- rule: r\n  desc: d\n{cond_line}\n  output: o\n  priority: INFO\n")
}

#[test]
fn missing_value_after_operator() {
    assert_eq!(
        one(&rule("  condition: proc.name =")),
        "3:25: expected a value after `=`, found the end of the condition"
    );
}

#[test]
fn unknown_field_with_suggestion() {
    assert_eq!(
        one(&rule("  condition: evt.type = execve and proc.nmae = bash")),
        "3:36: unknown field `proc.nmae` (did you mean `proc.name`?)"
    );
}

#[test]
fn undefined_macro_with_suggestion() {
    let y = "- macro: spawned_process\n  condition: evt.type = execve\n".to_string()
        + &rule("  condition: spawned_proces and proc.name = x");
    assert_eq!(
        one(&y),
        "5:14: macro `spawned_proces` is not defined (did you mean `spawned_process`?)"
    );
}

#[test]
fn macro_cycle() {
    let y = "- macro: a\n  condition: proc.name = x\n- macro: b\n  condition: a\n- macro: a\n  condition: b or proc.name = y\n"
        .to_string()
        + &rule("  condition: evt.type = execve and a");
    assert_eq!(one(&y), "4:14: macros `a` and `b` form a cycle");
    let y =
        "- macro: a\n  condition: a and proc.name = x\n".to_string() + &rule("  condition: evt.type = execve and a");
    assert_eq!(
        one(&y),
        "2:14: macro `a` is used before it is defined (a macro may only use macros defined above it)"
    );
}

#[test]
fn operator_type_mismatch() {
    assert_eq!(
        one(&rule("  condition: evt.type = execve and proc.pid startswith 12")),
        "3:45: operator `startswith` needs a string field, `proc.pid` is a number"
    );
    assert_eq!(
        one(&rule("  condition: evt.type = execve and proc.name > 3")),
        "3:46: operator `>` needs a numeric field, `proc.name` is a string"
    );
}

#[test]
fn bad_number_value() {
    assert_eq!(
        one(&rule("  condition: evt.type = execve and user.uid = root")),
        "3:47: `root` is not a number, but `user.uid` is a number"
    );
}

#[test]
fn bad_value_from_a_list_points_at_the_list_item() {
    let y = "- list: ports\n  items: [80, http]\n".to_string()
        + &rule("  condition: evt.type = connect and fd.sport in (ports)");
    assert_eq!(
        one(&y),
        "2:15: `http` is not a port number (0-65535), but `fd.sport` is a port"
    );
}

#[test]
fn unbalanced_parenthesis() {
    assert_eq!(
        one(&rule(
            "  condition: evt.type = execve and (proc.name = a or proc.name = b"
        )),
        "3:36: unbalanced parenthesis: this `(` is never closed"
    );
    assert_eq!(
        one(&rule("  condition: evt.type = execve and proc.name = a)")),
        "3:49: unbalanced parenthesis: `)` has no matching `(`"
    );
}

#[test]
fn position_inside_folded_block() {
    let y = "- rule: r\n  desc: d\n  condition: >\n    evt.type = execve\n    and proc.name in (a, b\n    and user.uid = 0\n  output: o\n  priority: INFO\n";
    assert_eq!(one(y), "6:5: expected `,` or `)` in the value list, found `and`");
}

#[test]
fn position_inside_literal_block_and_quoted() {
    let y = "- rule: r\n  desc: d\n  condition: |\n    evt.type = execve\n      and proc.nam = x\n  output: o\n  priority: INFO\n";
    assert_eq!(one(y), "5:11: unknown field `proc.nam` (did you mean `proc.name`?)");
    let y =
        "- rule: r\n  desc: d\n  condition: \"evt.type = execve and\n    fd.nme = x\"\n  output: o\n  priority: INFO\n";
    assert_eq!(one(y), "4:5: unknown field `fd.nme` (did you mean `fd.name`?)");
    let y = "- rule: r\n  desc: d\n  condition: 'evt.type = execve and proc.name = ''x'' and\n    bad.field = 1'\n  output: o\n  priority: INFO\n";
    assert_eq!(one(y), "4:5: unknown field `bad.field`");
}

#[test]
fn position_inside_plain_multiline() {
    let y = "- rule: r\n  desc: d\n  condition: (evt.type = execve\n     and proc.name bash)\n  output: o\n  priority: INFO\n";
    assert_eq!(
        one(y),
        "4:20: expected an operator after `proc.name` (one of =, !=, <, <=, >, >=, contains, icontains, bcontains, startswith, bstartswith, endswith, glob, iglob, regex, in, intersects, pmatch, exists), found `bash)`"
    );
}

#[test]
fn bad_yaml() {
    let e = errors("- rule: r\n  desc: [unclosed\n  condition: x\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("3:12: invalid YAML"), "{e:?}");
}

#[test]
fn item_that_is_neither() {
    assert_eq!(
        one("- rules: r\n  desc: d\n"),
        "1:3: item is neither a `list`, a `macro` nor a `rule` (it has `rules`, `desc`)"
    );
    assert_eq!(
        one("- just a string\n"),
        "1:3: each item must be a mapping (`- rule: ...`), found a scalar"
    );
    assert_eq!(
        one("rule: r\n"),
        "1:1: a rules file must be a sequence of items (`- rule: ...`), found a mapping"
    );
}

#[test]
fn missing_condition_output_priority() {
    assert_eq!(
        one("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n"),
        "1:3: rule `r` has no `condition`"
    );
    assert_eq!(
        one("- rule: r\n  desc: d\n  condition: evt.type=open\n  priority: INFO\n"),
        "1:3: rule `r` has no `output`"
    );
    assert_eq!(
        one("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n"),
        "1:3: rule `r` has no `priority`"
    );
    assert_eq!(one("- macro: m\n"), "1:3: macro `m` has no `condition`");
    assert_eq!(one("- list: l\n"), "1:3: list `l` has no `items`");
}

#[test]
fn append_to_undefined() {
    assert_eq!(
        one("- rule: r\n  condition: and proc.name = x\n  append: true\n"),
        "1:3: cannot append to rule `r`: it is not defined earlier"
    );
    assert_eq!(
        one("- macro: m\n  condition: or x\n  append: true\n"),
        "1:3: cannot append to macro `m`: it is not defined earlier"
    );
    assert_eq!(
        one("- list: l\n  items: [a]\n  override:\n    items: append\n"),
        "1:3: cannot append to list `l`: it is not defined earlier"
    );
    assert_eq!(
        one("- rule: nope\n  enabled: false\n"),
        "1:3: rule `nope` is not defined (an item with only `enabled` changes a rule defined earlier)"
    );
}

#[test]
fn bad_priority() {
    assert_eq!(
        one("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: URGENT\n"),
        "5:13: invalid priority `URGENT`: expected one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL (or INFO), DEBUG"
    );
}

#[test]
fn bad_sequence_duration_and_shape() {
    let y = "- rule: s\n  desc: d\n  sequence:\n    within: 60 seconds\n    steps:\n      - condition: evt.type = open\n      - condition: evt.type = execve\n  output: o\n  priority: INFO\n";
    assert_eq!(
        one(y),
        "4:13: invalid duration `60 seconds`: expected a positive number followed by a unit (ns, us, ms, s, m, h, d), e.g. `60s`"
    );
    let y = "- rule: s\n  desc: d\n  sequence:\n    within: 1m\n    by: family\n    steps:\n      - condition: evt.type = open\n      - condition: evt.type = execve\n  output: o\n  priority: INFO\n";
    assert_eq!(
        one(y),
        "5:9: invalid sequence `by: family`: expected process, lineage or any"
    );
    let y = "- rule: s\n  desc: d\n  sequence:\n    within: 1m\n    steps:\n      - condition: evt.type = open\n        key: fd.nam\n      - condition: evt.type = execve\n  output: o\n  priority: INFO\n";
    assert_eq!(one(y), "7:14: unknown field `fd.nam` (did you mean `fd.name`?)");
}

#[test]
fn bad_rate_limit() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  rate_limit: {scope: galaxy, burst: 1, per: 1s}\n";
    assert_eq!(
        one(y),
        "6:23: invalid rate limit scope `galaxy`: expected process, executable, parent or global"
    );
}

#[test]
fn unknown_output_field() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: \"file %fd.nme opened\"\n  priority: INFO\n";
    assert_eq!(
        one(y),
        "4:17: unknown field `%fd.nme` in output (did you mean `%fd.name`?)"
    );
}

#[test]
fn field_argument_errors() {
    assert_eq!(
        one(&rule("  condition: evt.type=open and proc.name[1] = x")),
        "3:32: field `proc.name` does not take an argument"
    );
    assert_eq!(
        one(&rule("  condition: evt.type=open and proc.aname[x] = y")),
        "3:32: the argument of `proc.aname` must be a number, e.g. `proc.aname[1]`"
    );
    assert_eq!(
        one(&rule("  condition: evt.type=open and evt.arg = y")),
        "3:32: field `evt.arg` needs an argument, e.g. `evt.arg[...]` or `evt.arg.NAME`"
    );
}

#[test]
fn list_used_as_macro_and_bad_regex() {
    let y = "- list: l\n  items: [a]\n".to_string() + &rule("  condition: evt.type=open and l");
    assert_eq!(
        one(&y),
        "5:32: `l` is a list, not a macro: use it as a value, e.g. `proc.name in (l)`"
    );
    let e = one(&rule("  condition: evt.type=open and fd.name regex '(unclosed'"));
    assert!(e.starts_with("3:46: invalid regular expression `(unclosed`"), "{e}");
}

#[test]
fn exception_shape_errors() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n      values: [[a, b]]\n";
    assert_eq!(
        one(y),
        "9:14: exception `e` has 2 fields but 1 comps: they must have equal length"
    );
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      values: [[a]]\n";
    assert_eq!(one(y), "9:16: exception `e` has 2 fields but this value has 1 entries");
}

#[test]
fn all_errors_of_a_file_are_collected() {
    let y = "- rule: a\n  desc: d\n  condition: proc.nme = x\n  output: o\n  priority: INFO\n- rule: b\n  desc: d\n  condition: evt.type = open and\n  output: o\n  priority: LOUD\n- macro: m\n  condition: (x\n";
    let e = errors(y);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].starts_with("10:13: invalid priority"), "{e:?}");
    assert!(e[1].starts_with("12:14: unbalanced parenthesis"), "{e:?}");
    assert!(e[2].starts_with("3:14: unknown field `proc.nme`"), "{e:?}");
}

#[test]
fn error_display_format() {
    let err = vigil_rules::load_str("rules/x.yaml", &rule("  condition: proc.name =")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rules/x.yaml:3:25: expected a value after `=`, found the end of the condition"
    );
}

#[test]
fn malformed_inputs_never_panic() {
    let samples = [
        "",
        "-",
        "- rule:",
        "- rule: r\n  condition: [",
        "[[[[",
        "- list: l\n  items: {a: b}\n",
        "- rule: r\n  desc: d\n  condition: \"\\\"\"\n  output: o\n  priority: INFO\n",
        "- rule: r\n  desc: d\n  condition: ((((((((((((((((((((\n  output: o\n  priority: INFO\n",
        "- macro: m\n  condition: m\n",
        "- rule: r\n  desc: d\n  condition: evt.type in (a,\n  output: '%'\n  priority: x\n",
        "- rule: r\n  desc: d\n  condition: x = 'é\n  output: o\n  priority: INFO\n",
        "- rule: r\n  desc: d\n  sequence: 5\n  output: o\n  priority: INFO\n",
        "- rule: r\n  exceptions: [1, {name: x, fields: {a: b}}]\n  append: true\n",
        "&a [*a]",
        "- !!binary aGVsbG8=\n",
        "\t- x",
        "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  rate_limit: []\n",
    ];
    for s in samples {
        let _ = vigil_rules::load_str("fuzz.yaml", s);
    }
    let deep = format!("{}{}", "(".repeat(5000), ")".repeat(5000));
    let _ = vigil_rules::load_str("deep.yaml", &rule(&format!("  condition: {deep}")));
}

#[test]
fn macros_for_other_sources_are_not_errors() {
    // Unused macro with an unknown field: a warning (Falco only validates
    // fields when a rule of the source uses the macro).
    let y = "- macro: k8s_create\n  condition: ka.verb = create\n- rule: k\n  desc: d\n  condition: k8s_create\n  output: o\n  priority: INFO\n  source: k8s_audit\n";
    let rs = vigil_rules::load_str("t.yaml", y).unwrap_or_else(|e| panic!("{e}"));
    let w: Vec<String> = rs.report().warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        vec!["t.yaml:2:14: warning: in macro `k8s_create` (not used by any rule): unknown field `ka.verb`"]
    );
    // A syntax error is an error even in an unused macro.
    assert_eq!(
        one("- macro: m\n  condition: proc.name = (\n"),
        "2:26: expected a value after `=`, found `(`"
    );
    // Used by a syscall rule: an error, reported once at the macro.
    let y = "- macro: m\n  condition: ka.verb = create\n".to_string()
        + &rule("  condition: evt.type = open and m")
        + "- rule: r2\n  desc: d\n  condition: evt.type = open and m\n  output: o\n  priority: INFO\n";
    assert_eq!(one(&y), "2:14: unknown field `ka.verb`");
}

#[test]
fn exception_field_errors_point_into_the_exception() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.nme]\n      values: [[a, b]]\n";
    assert_eq!(one(y), "8:27: unknown field `fd.nme` (did you mean `fd.name`?)");
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: proc.pid\n      values: [abc]\n";
    assert_eq!(one(y), "9:16: `abc` is not a number, but `proc.pid` is a number");
}

#[test]
fn errors_in_appended_text_point_at_the_appending_file() {
    let mut l = vigil_rules::Loader::default();
    l.add_str("base.yaml", &rule("  condition: evt.type = open")).add_str(
        "local.yaml",
        "- rule: r\n  condition: and proc.nmae = x\n  override:\n    condition: append\n",
    );
    let e = l.load().unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(
        e.errors[0].to_string(),
        "local.yaml:2:18: unknown field `proc.nmae` (did you mean `proc.name`?)"
    );
    let mut l = vigil_rules::Loader::default();
    l.add_str("base.yaml", "- macro: m\n  condition: proc.name = a\n")
        .add_str(
            "local.yaml",
            "- macro: m\n  condition: or proc.name =\n  append: true\n",
        )
        .add_str("rules.yaml", &rule("  condition: evt.type = open and m"));
    let e = l.load().unwrap_err();
    assert_eq!(
        e.errors[0].to_string(),
        "local.yaml:2:28: expected a value after `=`, found the end of the condition"
    );
}

#[test]
fn missing_file_is_an_error() {
    let e = vigil_rules::load_files(&["/nonexistent/rules.yaml"]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/rules.yaml:0:0: cannot read rules file"),
        "{e}"
    );
}
