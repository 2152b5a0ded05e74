//! Dev tool: writes a loaded site as JSON (pages with plain text, terms with parsed
//! Instructions) for calibration experiments. `cargo run --release -p taxonomist-embedded
//! --example dump_site -- SITE [TAXONOMIST_TOML] > site.json`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let site = args.next().ok_or("usage: dump_site SITE [CONFIG]")?;
    let opts = taxonomist_site::LoadOptions {
        config: args.next().map(Into::into),
        ..Default::default()
    };
    let site = taxonomist_site::load(site.as_ref(), &opts)?;
    serde_json::to_writer(std::io::stdout().lock(), &site)?;
    Ok(())
}
