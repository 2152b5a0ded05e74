//! `taxonomist model fetch`.

use taxonomist_embed::{MiniLm, StaticModel};

use crate::Exit;
use crate::args::{Global, ModelArgs, ModelCommand};
use crate::engines::{EngineFlags, model_dir};

pub fn run(_global: &Global, args: &ModelArgs) -> anyhow::Result<Exit> {
    match &args.command {
        ModelCommand::Fetch {
            model_dir: dir,
            no_static,
        } => {
            let flags = EngineFlags {
                embedder: None,
                model_dir: dir.clone(),
                learn_from: None,
            };
            let dir = model_dir(&flags)?;
            eprintln!("taxonomist: all-MiniLM-L6-v2 verified in {}", dir.display());
            if !no_static {
                let m = MiniLm::load(&dir)?;
                let path = StaticModel::default_path(&dir);
                if !path.exists() {
                    eprintln!(
                        "taxonomist: building the static model (one time, about 35 s on 2 cores)…"
                    );
                }
                let (_, report) = StaticModel::load_or_build(
                    &dir,
                    m.model_sha256(),
                    None,
                    Default::default(),
                    &mut |_, _| {},
                )?;
                for w in report.warnings {
                    eprintln!("warning: {w}");
                }
                if report.built {
                    eprintln!(
                        "taxonomist: static model built in {:.1} s: {}",
                        report.build_seconds,
                        path.display()
                    );
                } else {
                    eprintln!("taxonomist: static model ready: {}", path.display());
                }
            }
            Ok(Exit::Ok)
        }
    }
}
