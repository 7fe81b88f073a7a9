//! Evaluation semantics: operators, precedence, lists, macros, exceptions,
//! appends/overrides, enabling, output formatting.

mod common;

use common::*;
use vigil_rules::{Field, LoadOptions, Loader};

fn proc_ev() -> Ev {
    Ev::new("execve")
        .s("proc.name", "bash")
        .s("proc.pname", "nginx")
        .s("proc.cmdline", "bash -c Curl http://x")
        .s("proc.exepath", "/usr/bin/bash")
        .i("proc.pid", 4242)
        .u("user.uid", 0)
        .u("proc.tty", 34816)
        .b("evt.is_open_write", true)
        .s("fd.name", "/etc/shadow")
        .s("fd.directory", "/etc")
        .s("fd.filename", "shadow")
        .s("proc.aname[2]", "sshd")
        .l("proc.aname", &["nginx", "sshd", "systemd"])
        .s("evt.arg.flags", "O_WRONLY|O_CREAT|O_TRUNC")
        .s("evt.arg[0]", "first")
        .s("proc.env[LD_PRELOAD]", "/tmp/evil.so")
        .l("proc.env", &["HOME=/root", "HTTP_PROXY=http://p"])
}

#[test]
fn comparison_operators() {
    let e = proc_ev();
    for (cond, want) in [
        ("proc.name = bash", true),
        ("proc.name == bash", true),
        ("proc.name = zsh", false),
        ("proc.name != zsh", true),
        ("proc.name != bash", false),
        ("proc.pid < 5000", true),
        ("proc.pid <= 4242", true),
        ("proc.pid > 4242", false),
        ("proc.pid >= 4242", true),
        ("proc.pid = 4242", true),
        ("proc.pid = 0x1092", true),
        ("user.uid = 0", true),
        ("proc.cmdline contains \"-c Curl\"", true),
        ("proc.cmdline contains curl", false),
        ("proc.cmdline icontains CURL", true),
        ("proc.cmdline bcontains 2d63", true),
        ("proc.cmdline bstartswith 62617368", true),
        ("proc.cmdline bstartswith 6261", true),
        ("proc.cmdline bstartswith 6162", false),
        ("proc.cmdline startswith \"bash -c\"", true),
        ("proc.cmdline endswith http://x", true),
        ("fd.name glob '/etc/*'", true),
        ("fd.name glob '/etc/s?adow'", true),
        ("fd.name glob '/etc/[a-r]*'", false),
        ("fd.name iglob '/ETC/SHA*'", true),
        ("fd.name regex '/etc/(shadow|passwd)'", true),
        ("fd.name regex 'shadow'", false),
        ("proc.name in (sh, bash, zsh)", true),
        ("proc.name in (sh, zsh)", false),
        ("proc.name in ()", false),
        ("proc.name intersects (bash)", true),
        ("fd.name pmatch (/etc, /var/log)", true),
        ("fd.name pmatch (/et)", false),
        ("fd.name pmatch (/e*)", true),
        ("proc.name exists", true),
        ("container.id exists", false),
        ("evt.is_open_write = true", true),
        ("evt.is_open_write = false", false),
        ("evt.is_open_write != false", true),
        ("evt.type = execve", true),
        ("evt.type in (open, execve)", true),
        ("evt.type != execve", false),
    ] {
        assert_eq!(cond_matches(cond, &e), want, "{cond}");
    }
}

#[test]
fn precedence_and_grouping() {
    let e = proc_ev();
    // not > and > or
    assert!(cond_matches(
        "proc.name = zsh or proc.name = bash and not user.uid = 1",
        &e
    ));
    assert!(!cond_matches(
        "(proc.name = zsh or proc.name = bash) and not user.uid = 0",
        &e
    ));
    assert!(cond_matches("not proc.name = zsh and proc.name = bash", &e));
    assert!(!cond_matches("not (proc.name = zsh or proc.name = bash)", &e));
    assert!(cond_matches("not not proc.name = bash", &e));
    assert!(cond_matches("proc.name=bash and(user.uid=0)", &e));
}

#[test]
fn field_arguments_and_multi_values() {
    let e = proc_ev();
    assert!(cond_matches("proc.aname[2] = sshd", &e));
    assert!(!cond_matches("proc.aname[3] = sshd", &e));
    // Without index: any ancestor.
    assert!(cond_matches("proc.aname = systemd", &e));
    assert!(cond_matches("proc.aname in (cron, sshd)", &e));
    assert!(!cond_matches("proc.aname = cron", &e));
    assert!(cond_matches("not proc.aname in (cron)", &e));
    assert!(cond_matches("evt.arg.flags contains O_TRUNC", &e));
    assert!(cond_matches("evt.arg[0] = first", &e));
    assert!(cond_matches("proc.env[LD_PRELOAD] endswith .so", &e));
    assert!(cond_matches("proc.env icontains http_proxy", &e));
    assert!(cond_matches("proc.name = val(proc.name)", &e));
    assert!(!cond_matches("proc.name = val(proc.pname)", &e));
    assert!(cond_matches("toupper(proc.name) = BASH", &e));
    assert!(cond_matches("tolower(proc.cmdline) contains curl", &e));
    assert!(cond_matches("basename(proc.exepath) = bash", &e));
}

#[test]
fn lists_nested_quoted_and_forward() {
    let y = r#"
- list: shells
  items: [bash, '"(sh)"', "zsh"]
- list: all_shells
  items: [shells, fish]
- rule: r
  desc: d
  condition: proc.name in (all_shells, later_list) and proc.pname in (web)
  output: o
  priority: INFO
- list: later_list
  items: [dash]
- list: web
  items: [nginx]
"#;
    assert!(matches(y, &proc_ev()));
    assert!(matches(y, &proc_ev().s("proc.name", "(sh)")));
    assert!(matches(y, &proc_ev().s("proc.name", "fish")));
    assert!(matches(y, &proc_ev().s("proc.name", "dash")));
    assert!(!matches(y, &proc_ev().s("proc.name", "ksh")));
    // Appending to a list.
    let y2 = format!("{y}\n- list: shells\n  items: [ksh]\n  append: true\n");
    assert!(matches(&y2, &proc_ev().s("proc.name", "ksh")));
    // New-style override append.
    let y3 = format!("{y}\n- list: web\n  items: [apache]\n  override:\n    items: append\n");
    assert!(matches(&y3, &proc_ev().s("proc.pname", "apache")));
    assert!(matches(&y3, &proc_ev()));
    // Replace.
    let y4 = format!("{y}\n- list: web\n  items: [apache]\n  override:\n    items: replace\n");
    assert!(!matches(&y4, &proc_ev()));
}

#[test]
fn macros_nested_append_and_redefine() {
    let y = r#"
- macro: is_shell
  condition: proc.name in (bash, sh)
- macro: shell_under_web
  condition: is_shell and web_parent
- macro: web_parent
  condition: proc.pname = nginx
- rule: r
  desc: d
  condition: spawned and shell_under_web
  output: o
  priority: INFO
- macro: spawned
  condition: evt.type = execve
"#;
    // web_parent is defined after shell_under_web: Falco forbids that for macros.
    let errs = errors(y);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("5:27: macro `web_parent` is used before it is defined"),
        "{errs:?}"
    );

    let y = r#"
- macro: is_shell
  condition: proc.name in (bash, sh)
- macro: web_parent
  condition: proc.pname = nginx
- macro: shell_under_web
  condition: is_shell and web_parent
- rule: r
  desc: d
  condition: spawned and shell_under_web
  output: o
  priority: INFO
- macro: spawned
  condition: evt.type = execve
"#;
    assert!(matches(y, &proc_ev()));
    assert!(!matches(y, &proc_ev().s("proc.pname", "apache")));
    // Append to a macro (old style) and with override.
    let y2 = format!("{y}\n- macro: web_parent\n  condition: or proc.pname = apache\n  append: true\n");
    assert!(matches(&y2, &proc_ev().s("proc.pname", "apache")));
    let y3 =
        format!("{y}\n- macro: web_parent\n  condition: or proc.pname = caddy\n  override:\n    condition: append\n");
    assert!(matches(&y3, &proc_ev().s("proc.pname", "caddy")));
    // Redefinition replaces.
    let y4 = format!("{y}\n- macro: web_parent\n  condition: proc.pname = caddy\n");
    assert!(!matches(&y4, &proc_ev()));
    assert!(matches(&y4, &proc_ev().s("proc.pname", "caddy")));
    // Macro bodies keep their grouping when inlined (`a or b` inside `x and m`).
    let y5 =
        "- macro: m\n  condition: proc.name = zsh or proc.name = bash\n".to_string() + &one_rule("user.uid = 1 and m");
    assert!(!matches(&y5, &proc_ev()));
}

#[test]
fn exceptions() {
    let base = r#"
- list: trusted
  items: [bash, fish]
- rule: r
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
  exceptions:
    - name: by_name
      fields: proc.name
      values: [trusted]
    - name: by_pair
      fields: [proc.pname, fd.name]
      comps: [=, startswith]
      values:
        - [apache, /etc]
        - [cron, /var]
    - name: by_list_in_tuple
      fields: [proc.pname, user.uid]
      comps: [in, =]
      values:
        - [[sshd, login], 7]
"#;
    let ev = proc_ev().s("proc.name", "zsh");
    assert!(matches(base, &ev));
    assert!(!matches(base, &proc_ev()), "proc.name bash is excepted via the list");
    assert!(!matches(base, &ev.clone().s("proc.pname", "apache")));
    assert!(matches(
        base,
        &ev.clone().s("proc.pname", "apache").s("fd.name", "/var/x")
    ));
    assert!(!matches(base, &ev.clone().s("proc.pname", "login").u("user.uid", 7)));
    assert!(matches(base, &ev.clone().s("proc.pname", "login").u("user.uid", 8)));
    // Appending values to an existing exception.
    let appended =
        format!("{base}\n- rule: r\n  exceptions:\n    - name: by_name\n      values: [zsh]\n  append: true\n");
    assert!(!matches(&appended, &ev));
    // Override-append a new exception.
    let ov = format!(
        "{base}\n- rule: r\n  exceptions:\n    - name: new_one\n      fields: [proc.name]\n      values: [[zsh]]\n  override:\n    exceptions: append\n"
    );
    assert!(!matches(&ov, &ev));
}

#[test]
fn rule_append_override_and_enable() {
    let base = one_rule("evt.type = execve and proc.name = bash");
    let e = proc_ev();
    assert!(matches(&base, &e));
    let app = format!("{base}\n- rule: r\n  condition: and user.uid = 1\n  append: true\n");
    assert!(!matches(&app, &e));
    let ov = format!("{base}\n- rule: r\n  condition: and user.uid = 0\n  override:\n    condition: append\n");
    assert!(matches(&ov, &e));
    let rep = format!("{base}\n- rule: r\n  condition: evt.type = open\n  override:\n    condition: replace\n");
    assert!(!matches(&rep, &e));
    let rs = rules(&format!(
        "{base}\n- rule: r\n  output: new %proc.name\n  priority: ERROR\n  override:\n    output: replace\n    priority: replace\n"
    ));
    let r = rs.rule("r").unwrap();
    assert_eq!(r.output.text, "new %proc.name");
    assert_eq!(r.priority, vigil_rules::Priority::Error);

    // Disable, then re-enable by name.
    let dis = format!("{base}\n- rule: r\n  enabled: false\n");
    let rs = rules(&dis);
    assert!(!rs.rule("r").unwrap().enabled);
    assert!(rs.candidates("execve").is_empty());
    let re = format!("{dis}\n- rule: r\n  enabled: true\n");
    let rs = rules(&re);
    assert!(rs.rule("r").unwrap().enabled);
    assert_eq!(rs.candidates("execve"), &[0]);
    let ov = format!("{dis}\n- rule: r\n  enabled: true\n  override:\n    enabled: replace\n");
    assert!(rules(&ov).rule("r").unwrap().enabled);
    // Programmatic toggles.
    let mut rs = rules(&base);
    assert!(rs.set_enabled("r", false));
    assert!(rs.candidates("execve").is_empty());
    assert!(!rs.set_enabled("nope", false));
}

#[test]
fn multiple_files_in_order() {
    let mut l = Loader::default();
    l.add_str("a.yaml", &one_rule("evt.type = execve and proc.name in (shells)"))
        .add_str("0.yaml", "- list: shells\n  items: [zsh]\n")
        .add_str("b.yaml", "- list: shells\n  items: [bash]\n  append: true\n");
    let rs = l.load().unwrap_or_else(|e| panic!("{e}"));
    assert!(rs.rule("r").unwrap().matches(&proc_ev()));
    assert_eq!(rs.report().files, vec!["a.yaml", "0.yaml", "b.yaml"]);
}

#[test]
fn priorities_case_insensitive() {
    for (p, want) in [
        ("emergency", "EMERGENCY"),
        ("Alert", "ALERT"),
        ("critical", "CRITICAL"),
        ("error", "ERROR"),
        ("warning", "WARNING"),
        ("Notice", "NOTICE"),
        ("informational", "INFORMATIONAL"),
        ("INFO", "INFORMATIONAL"),
        ("debug", "DEBUG"),
    ] {
        let rs = rules(&format!(
            "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: {p}\n"
        ));
        assert_eq!(rs.rule("r").unwrap().priority.as_str(), want);
    }
    assert!(vigil_rules::Priority::Critical > vigil_rules::Priority::Warning);
}

#[test]
fn output_formatting() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: \"%proc.name ran (%proc.cmdline) gp=%proc.aname[2] flags=%evt.arg.flags arg0=%evt.arg[0] img=%container.image.repository missing=%proc.cwd 100%% anc=%proc.aname file=%fd.name.\"\n  priority: INFO\n";
    let rs = rules(y);
    let r = rs.rule("r").unwrap();
    assert_eq!(
        r.output.format(&proc_ev()),
        "bash ran (bash -c Curl http://x) gp=sshd flags=O_WRONLY|O_CREAT|O_TRUNC arg0=first img=<NA> missing=<NA> 100% anc=nginx sshd systemd file=/etc/shadow."
    );
}

#[test]
fn unavailable_fields_are_false_and_reported() {
    let y = one_rule("evt.type = execve and not proc.vpgid.name in (nginx) and not proc.stdin.name = kube-system");
    let rs = rules(&y);
    // Even if the host had the value, the check is false (and `not` true).
    let e = proc_ev().s("proc.vpgid.name", "nginx");
    assert!(rs.rule("r").unwrap().matches(&e));
    let rep = rs.report();
    assert_eq!(rep.unavailable_fields["proc.vpgid.name"], vec!["r".to_string()]);
    assert!(rep.unavailable_fields.contains_key("proc.stdin.name"));
    // A host that populates it can say so.
    let rs = Loader::new(LoadOptions {
        available: vec![Field::ProcVpgidName],
        ..LoadOptions::default()
    })
    .add_str("t.yaml", &y)
    .load()
    .unwrap();
    assert!(!rs.rule("r").unwrap().matches(&e));
    // Evaluation of a rule depending only on an unavailable field: never indexed.
    let rs = rules(&one_rule("proc.vpgid.name = x"));
    assert!(rs.rule("r").unwrap().evt_types.is_empty());
}

#[test]
fn ip_and_ports() {
    let opts = LoadOptions {
        available: vec![Field::FdSnet, Field::FdSport, Field::FdSip, Field::FdNet],
        ..LoadOptions::default()
    };
    let y = "- list: rfc1918\n  items: ['\"10.0.0.0/8\"', '\"192.168.0.0/16\"']\n".to_string()
        + &one_rule(
            "evt.type = connect and fd.snet in (rfc1918) and fd.sport in (443, 8443) and fd.sip != \"10.9.9.9\"",
        );
    let rs = Loader::new(opts)
        .add_str("t.yaml", &y)
        .load()
        .unwrap_or_else(|e| panic!("{e}"));
    let r = rs.rule("r").unwrap();
    let e = Ev::new("connect")
        .ip("fd.snet", "10.1.2.3")
        .u("fd.sport", 443)
        .ip("fd.sip", "10.1.2.3");
    assert!(r.matches(&e));
    assert!(!r.matches(&e.clone().ip("fd.snet", "8.8.8.8")));
    assert!(!r.matches(&e.clone().u("fd.sport", 80)));
    assert!(!r.matches(&e.clone().ip("fd.sip", "10.9.9.9")));
}

#[test]
fn evt_type_index() {
    let y = r#"
- rule: a
  desc: d
  condition: evt.type in (open, openat) and fd.name = /x
  output: o
  priority: INFO
- rule: b
  desc: d
  condition: evt.type != open and proc.name = x
  output: o
  priority: INFO
  warn_evttypes: false
- rule: c
  desc: d
  condition: (evt.type = execve and proc.name = x) or (evt.type = connect and not proc.name = y)
  output: o
  priority: INFO
- rule: d
  desc: d
  condition: not evt.type in (open, execve) and not evt.type = unlink
  output: o
  priority: INFO
"#;
    let rs = rules(y);
    assert_eq!(rs.candidates("open"), &[0]);
    assert_eq!(rs.candidates("openat"), &[0, 1, 3]);
    assert_eq!(rs.candidates("execve"), &[1, 2]);
    assert_eq!(rs.candidates("connect"), &[1, 2, 3]);
    assert_eq!(rs.candidates("unlink"), &[1]);
    assert_eq!(rs.candidates("ptrace"), &[1, 3]);
    let c = rs.rule("c").unwrap();
    assert_eq!(format!("{:?}", c.evt_types), r#"Only({"connect", "execve"})"#);
    let warned: Vec<&str> = rs.report().warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].starts_with("rule `d` does not restrict `evt.type`"),
        "{warned:?}"
    );
}

#[test]
fn condition_tree_is_public_and_printable() {
    let y = "- macro: m\n  condition: proc.name in (bash, \"a b\")\n".to_string()
        + &one_rule("evt.type = execve and not m and fd.name pmatch (/etc)");
    let rs = rules(&y);
    let r = rs.rule("r").unwrap();
    let vigil_rules::RuleKind::Condition(c) = &r.kind else {
        panic!()
    };
    assert_eq!(
        c.to_string(),
        "evt.type = execve and not proc.name in (bash, \"a b\") and fd.name pmatch (/etc)"
    );
    let json = serde_json::to_string(c).unwrap();
    assert!(
        json.starts_with(r#"{"and":[{"check":{"lhs":"evt.type","op":"eq","values":["execve"],"available":true}}"#),
        "{json}"
    );
    let names: Vec<String> = c.fields().iter().map(|f| f.to_string()).collect();
    assert_eq!(names, vec!["evt.type", "proc.name", "fd.name"]);
}

#[test]
fn skip_if_unknown_filter_and_other_sources() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type=open and foo.bar = 1\n  output: o\n  priority: INFO\n  skip-if-unknown-filter: true\n- rule: k\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: INFO\n  source: k8s_audit\n";
    let rs = rules(y);
    assert!(rs.rules().is_empty());
    let skipped: Vec<&str> = rs.report().rules_skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, vec!["r", "k"]);
    assert!(rs.report().rules_skipped[1].reason.contains("k8s_audit"));
}
