//! `taxonomist inspect`.

use taxonomist_report::Inspect;

use crate::Exit;
use crate::args::{Format, Global, InspectArgs};
use crate::cmd::load_site;
use crate::output;

pub fn run(global: &Global, args: &InspectArgs) -> anyhow::Result<Exit> {
    let site = load_site(global, &args.only)?;
    let report = Inspect::new(&site);
    let mut out = output::stdout();
    match global.format {
        Format::Json => report.write_json(&mut out)?,
        Format::Text | Format::Reference => {
            let order: Vec<String> = site.taxonomies.iter().map(|t| t.name.clone()).collect();
            report.write_text(&mut out, &order, args.limit)?;
        }
    }
    output::finish(out)?;
    if site.has_errors() {
        let n = report.errors.len();
        eprintln!(
            "taxonomist: {n} file{} could not be loaded (listed above); the rest loaded",
            if n == 1 { "" } else { "s" }
        );
        return Ok(Exit::Findings);
    }
    Ok(Exit::Ok)
}
