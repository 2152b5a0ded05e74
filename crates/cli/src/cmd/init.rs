//! `taxonomist init`: a commented taxonomist.toml from what the site holds.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use taxonomist_model::Policy;
use taxonomist_site::config::{CONFIG_FILE, read_config_with};

use crate::Exit;
use crate::args::{Global, InitArgs};
use crate::output;

/// A top-level content folder that looks like a taxonomy Hugo does not know about:
/// it holds term pages (`<slug>/_index.md` or `<slug>.md`) with an `Instructions` key.
fn detect_extra_taxonomies(content: &Path, known: &[String]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(content) else {
        return found;
    };
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if known.contains(&name) || name.starts_with('.') {
            continue;
        }
        let Ok(children) = std::fs::read_dir(&dir) else {
            continue;
        };
        let count = children
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter_map(|p| {
                let file = if p.is_dir() {
                    p.join("_index.md")
                } else {
                    p.clone()
                };
                let is_md = file.extension().is_some_and(|x| x == "md");
                let is_list = file.file_name().is_some_and(|n| n == "_index.md") && !p.is_dir();
                (is_md && !is_list).then_some(file)
            })
            .filter(|f| {
                std::fs::read_to_string(f)
                    .is_ok_and(|t| t.lines().take(400).any(|l| l.starts_with("Instructions:")))
            })
            .count();
        if count > 0 {
            found.push((name, count));
        }
    }
    found
}

fn count_terms(content: &Path, taxonomy: &str) -> usize {
    std::fs::read_dir(content.join(taxonomy))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    let p = e.path();
                    (p.is_dir() && p.join("_index.md").is_file())
                        || (p.extension().is_some_and(|x| x == "md")
                            && p.file_name().is_some_and(|n| n != "_index.md"))
                })
                .count()
        })
        .unwrap_or(0)
}

pub fn render(root: &Path) -> anyhow::Result<String> {
    let config = read_config_with(root, None)?;
    let content = root.join(&config.content_dir);
    let hugo_names: Vec<String> = config.taxonomies.iter().map(|t| t.name.clone()).collect();
    let extra = detect_extra_taxonomies(&content, &hugo_names);

    let mut s = String::new();
    let _ = writeln!(
        s,
        "# taxonomist configuration, written by `taxonomist init`."
    );
    let _ = writeln!(
        s,
        "# Every setting is optional; the commented values are the defaults."
    );
    let files: Vec<String> = config
        .hugo
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let _ = writeln!(
        s,
        "# Hugo config: {}; content dir: {}",
        if files.is_empty() {
            "(none)".to_string()
        } else {
            files.join(", ")
        },
        config.content_dir.display()
    );
    s.push_str(
        "\n[site]\n\
         # content_dir = \"content\"     # overrides Hugo's contentDir\n\
         # include = [\"blog/**\"]       # only these pages (globs relative to the content dir)\n\
         # exclude = [\"drafts/**\"]     # never these\n\
         # sections = false             # classify section pages (_index.md) too\n\
         \n[levels]\n\
         # primary = 80.0\n# secondary = 60.0\n# tertiary = 40.0\n",
    );
    let mut write_tax = |name: &str, note: String| {
        let p = Policy::default_for(name);
        let _ = writeln!(s, "\n[taxonomies.{name}]");
        let _ = writeln!(s, "# {note}");
        let _ = writeln!(
            s,
            "# key = \"{name}\"              # the front-matter key pages list terms under"
        );
        let _ = writeln!(s, "# max = {}", p.max);
        let _ = writeln!(s, "# min_score = {:.1}", p.min_score);
        match &p.fallback {
            Some(f) => {
                let _ = writeln!(s, "# fallback = {f:?}");
            }
            None => {
                let _ = writeln!(
                    s,
                    "# fallback = \"\"               # a term written when nothing qualifies"
                );
            }
        }
        let _ = writeln!(
            s,
            "# mode = \"replace\"            # or \"merge\": keep what a person listed, add the selection"
        );
    };
    for name in &hugo_names {
        let n = count_terms(&content, name);
        let note = if n == 0 {
            format!(
                "from the Hugo config; no term pages found under {}/{name}/ yet",
                config.content_dir.display()
            )
        } else {
            format!("from the Hugo config; {n} term pages")
        };
        write_tax(name, note);
    }
    for (name, n) in &extra {
        write_tax(
            name,
            format!(
                "not in the Hugo config: {n} term pages with Instructions under {}/{name}/",
                config.content_dir.display()
            ),
        );
    }
    Ok(s)
}

pub fn run(global: &Global, args: &InitArgs) -> anyhow::Result<Exit> {
    let text = render(&global.site)?;
    if args.stdout {
        let mut out = output::stdout();
        out.write_all(text.as_bytes())?;
        output::finish(out)?;
        return Ok(Exit::Ok);
    }
    let path = global.site.join(CONFIG_FILE);
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            anyhow::bail!(
                "{} already exists; not overwriting it (remove it first, or use --stdout to see what init would write)",
                path.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().ok();
    let store = taxonomist_store::Store::open(&global.site);
    std::fs::create_dir_all(store.root())
        .with_context(|| format!("creating {}", store.root().display()))?;
    store.ensure_gitignore()?;
    eprintln!("wrote {}", path.display());
    Ok(Exit::Ok)
}
