//! Writes the shipped sample (`sample/` at the repository root) for `SampleSpec::demo()`.
//! `cargo run -p rentops-sample --example generate [-- <dir>]`. The operator command
//! `rentops sample generate` does the same.

fn main() -> std::process::ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample"));
    match rentops_sample::write_all(&dir, &rentops_sample::SampleSpec::demo()) {
        Ok(()) => {
            println!("sample written to {}", dir.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("could not write the sample to {}: {e}", dir.display());
            std::process::ExitCode::FAILURE
        }
    }
}
