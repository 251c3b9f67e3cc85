//! `rentops-plugin-tools`: packaging commands for rule plugins (see the library docs).
//!
//!   rentops-plugin-tools componentize <core.wasm> -o <plugin.wasm> [--table rules.toml]
//!   rentops-plugin-tools embed-table <plugin.wasm> --table <rules.toml|rules.json> -o <out.wasm>
//!   rentops-plugin-tools inspect <plugin.wasm>
//!
//! Exit status: 0 ok, 1 the input is not an acceptable plugin / table, 2 usage or I/O error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rentops_plugin_tools as tools;
use rentops_rules::RulesTable;

#[derive(Parser)]
#[command(name = "rentops-plugin-tools", about = "Package and check rentops rule plugins (WebAssembly components)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Turn a wasm32-unknown-unknown guest module into a component (optionally with a rules table).
    Componentize {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Rules table to package (TOML, or normalized JSON when it ends in .json).
        #[arg(long)]
        table: Option<PathBuf>,
    },
    /// Add or replace the packaged rules table of a component.
    EmbedTable {
        input: PathBuf,
        #[arg(long)]
        table: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check a component and print its imports, exports, contract version and table.
    Inspect { input: PathBuf },
}

enum Fail {
    Usage(String),
    Reject(String),
}

fn read(path: &Path) -> Result<Vec<u8>, Fail> {
    std::fs::read(path).map_err(|e| Fail::Usage(format!("cannot read {}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Fail> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Fail::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    // Write next to the target and rename, so a reader never sees half a plugin.
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Fail::Usage(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Fail::Usage(format!("cannot write {}: {e}", path.display())))
}

fn load_table(path: &Path) -> Result<RulesTable, Fail> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Fail::Usage(format!("cannot read {}: {e}", path.display())))?;
    let name = path.display().to_string();
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        RulesTable::from_json(&text)
    } else {
        RulesTable::from_toml(&text)
    };
    parsed.map_err(|e| Fail::Reject(e.named(name).to_string()))
}

fn reject(e: tools::ToolsError) -> Fail {
    Fail::Reject(e.to_string())
}

fn run(cli: Cli) -> Result<(), Fail> {
    match cli.cmd {
        Cmd::Componentize { input, output, table } => {
            let table = table.as_deref().map(load_table).transpose()?;
            let bytes = tools::package(&read(&input)?, table.as_ref()).map_err(reject)?;
            let report = tools::check_plugin(&bytes).map_err(reject)?;
            write(&output, &bytes)?;
            println!(
                "{}: {} bytes, contract {}{}",
                output.display(),
                bytes.len(),
                report.contract.unwrap_or_default(),
                if report.table.is_some() { ", with rules table" } else { "" }
            );
        }
        Cmd::EmbedTable { input, table, output } => {
            let table = load_table(&table)?;
            let bytes = tools::embed_table(&read(&input)?, &table.to_json()).map_err(reject)?;
            tools::check_plugin(&bytes).map_err(reject)?;
            write(&output, &bytes)?;
            println!("{}: {} bytes, rules table \"{}\" {}", output.display(), bytes.len(), table.name, table.version);
        }
        Cmd::Inspect { input } => {
            let bytes = read(&input)?;
            let report = tools::inspect(&bytes).map_err(reject)?;
            println!("file:     {}", input.display());
            println!("size:     {} bytes", report.size);
            println!("contract: {}", report.contract.as_deref().unwrap_or("(none)"));
            println!("imports:  {}", if report.imports.is_empty() { "none".into() } else { report.imports.join(", ") });
            println!("exports:  {}", report.exports.join(", "));
            match &report.table {
                None => println!("table:    none (the plugin's built-in rules)"),
                Some(json) => match RulesTable::from_json(json) {
                    Ok(t) => println!("table:    \"{}\" {} ({} bytes)", t.name, t.version, json.len()),
                    Err(e) => println!("table:    INVALID: {e}"),
                },
            }
            tools::check_plugin(&bytes).map_err(reject)?;
            println!("verdict:  ok, a rentops rule plugin");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Reject(msg)) => {
            eprintln!("rentops-plugin-tools: {msg}");
            ExitCode::from(1)
        }
        Err(Fail::Usage(msg)) => {
            eprintln!("rentops-plugin-tools: {msg}");
            ExitCode::from(2)
        }
    }
}
