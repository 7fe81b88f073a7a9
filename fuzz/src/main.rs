//! `vigil-afl TARGET`: runs one target of `vigil_fuzz::TARGETS` under AFL++ (persistent
//! mode: many inputs per process, so the built-in rules load once).

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(&(_, target)) = vigil_fuzz::TARGETS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = vigil_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("usage: vigil-afl TARGET   (one of: {})", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        target(data);
    });
}
