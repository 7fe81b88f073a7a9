//! Behaviours the unseen-attack evaluation found missed (issue 15), each done for real
//! from a detached runner (not under cargo, whose build lineage rules except), with its
//! near misses asserted quiet.

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_decoded_payload_piped_into_a_shell_is_critical_and_decoding_to_a_file_is_not() {
    let runner = Runner::start("missed-b64");
    let agent = Agent::start(&["--events"]);
    let out = runner.path().join("decoded");
    // Log4Shell's second stage: brace expansion, no spaces ("echo vigil-b64-ran")
    let r = runner.run(&[
        "/bin/bash",
        "-c",
        "{echo,ZWNobyB2aWdpbC1iNjQtcmFu}|{base64,-d}|{bash,-i}",
    ]);
    assert!(r.out.contains("vigil-b64-ran"), "{} {}", r.out, r.err);
    // near miss: decoded into a file
    let near = format!("echo aGVsbG8= | base64 -d > {}", out.display());
    runner.run(&["/bin/bash", "-c", &near]);
    let (a, _) = expect_alert(
        &agent,
        "Decoded payload piped into a shell",
        "CRITICAL",
        "T1059.004",
        &["{base64,-d}|{bash,-i}"],
    );
    assert_eq!(a["proc"]["name"], "bash");
    let lines = agent.wait_for("the near miss's exec", WAIT, |l| {
        l.iter().any(|v| {
            v["evt"]["kind"] == "exec"
                && v["proc"]["cmdline"]
                    .as_str()
                    .is_some_and(|c| c.contains("aGVsbG8= | base64 -d >"))
        })
    });
    assert_no_alert(&lines, "Decoded payload piped into a shell", output_has("aGVsbG8="));
    agent.stop();
}

#[test]
fn a_setuid_search_is_a_warning_and_an_ordinary_find_is_not() {
    let runner = Runner::start("missed-suid");
    let agent = Agent::start(&["--events"]);
    runner.run(&["/usr/bin/find", "/usr/bin", "-perm", "-4000", "-type", "f"]);
    runner.run(&["/usr/bin/find", "/usr/bin", "-name", "vigil-missed-near"]);
    let (a, _) = expect_alert(
        &agent,
        "Search for setuid binaries",
        "WARNING",
        "T1083",
        &["-perm -4000"],
    );
    assert_eq!(a["proc"]["name"], "find");
    let lines = agent.wait_for("the near miss's exec", WAIT, |l| {
        l.iter().any(|v| {
            v["evt"]["kind"] == "exec"
                && v["proc"]["cmdline"]
                    .as_str()
                    .is_some_and(|c| c.contains("vigil-missed-near"))
        })
    });
    assert_no_alert(&lines, "Search for setuid binaries", output_has("vigil-missed-near"));
    agent.stop();
}

#[test]
fn timestomping_a_dropped_file_is_a_warning_and_touching_names_with_dashes_is_not() {
    let runner = Runner::start("missed-touch");
    let dir = runner.path().join("drop");
    std::fs::create_dir_all(&dir).expect("dir");
    let implant = dir.join("implant");
    std::fs::write(&implant, b"x").expect("implant");
    let implant = implant.display().to_string();
    let agent = Agent::start(&["--events"]);
    runner.run(&["/usr/bin/touch", "-r", "/bin/ls", &implant]);
    runner.run(&["/usr/bin/touch", "-t", "201901010000", &implant]);
    // near misses: a plain touch, and names that contain -t, -d, -r
    let near1 = dir.join("my-thing-r-d").display().to_string();
    runner.run(&["/usr/bin/touch", "-c", &near1]);
    runner.run(&["/usr/bin/touch", &near1]);
    expect_alert(
        &agent,
        "File times set to another file's or a past date",
        "WARNING",
        "T1070.006",
        &["touch -r /bin/ls"],
    );
    expect_alert(
        &agent,
        "File times set to another file's or a past date",
        "WARNING",
        "T1070.006",
        &["touch -t 201901010000"],
    );
    let lines = agent.wait_for("the near misses' execs", WAIT, |l| {
        l.iter()
            .filter(|v| {
                v["evt"]["kind"] == "exec"
                    && v["proc"]["cmdline"]
                        .as_str()
                        .is_some_and(|c| c.contains("my-thing-r-d"))
            })
            .count()
            >= 2
    });
    assert_no_alert(
        &lines,
        "File times set to another file's or a past date",
        output_has("my-thing-r-d"),
    );
    agent.stop();
}
