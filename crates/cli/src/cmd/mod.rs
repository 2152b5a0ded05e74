//! One module per subcommand.

pub mod bench;
pub mod init;
pub mod inspect;

use taxonomist_model::Site;

use crate::args::Global;

/// Loads the site named by `--site`, with `--drafts` and `only` globs.
pub fn load_site(global: &Global, only: &[String]) -> anyhow::Result<Site> {
    let opts = taxonomist_site::LoadOptions {
        drafts: global.drafts,
        only: only.to_vec(),
        config: global.config.clone(),
    };
    let site = taxonomist_site::load(&global.site, &opts)?;
    Ok(site)
}
