//! Dev tool: embeds a JSON array of strings with MiniLM (or the static model with
//! `--static`) and writes little-endian f32 rows to OUT.
use std::io::Write;

use taxonomist_embed::{Embedder, MiniLm, StaticModel, fetch};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let use_static = args.iter().any(|a| a == "--static");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (input, out) = (
        pos.first()
            .ok_or("usage: embed_texts IN.json OUT.f32 [--static]")?,
        pos.get(1).ok_or("OUT")?,
    );
    let texts: Vec<String> = serde_json::from_reader(std::fs::File::open(input)?)?;
    let dir = fetch::ensure(&fetch::FetchOptions::from_env(), &mut |e| eprintln!("{e}"))?;
    let model = MiniLm::load(&dir)?;
    let t = std::time::Instant::now();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vecs = if use_static {
        let (sm, _) = StaticModel::load_or_build(
            &dir,
            model.model_sha256(),
            None,
            Default::default(),
            &mut |_, _| {},
        )?;
        sm.embed(&refs)?
    } else {
        model.embed(&refs)?
    };
    eprintln!("{} texts in {:.1}s", texts.len(), t.elapsed().as_secs_f64());
    let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
    for v in vecs {
        for x in v {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    Ok(())
}
